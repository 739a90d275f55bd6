"""The customer sync tables in the hub database, created idempotently (SQLite and PostgreSQL).

All of them are written through the bus's transaction, so a profile change, its golden record,
audit trail, conflicts, fingerprints and the propagation events it publishes commit together
with the event's handled mark, or not at all.

- `customer_sync_golden`: one row per golden customer, the evidence as a JSON document (what
  `records.golden_document` writes), and as read projections the resolved customer and its
  lineage when it was last saved.
- `customer_sync_keys`: the identity index, every key value of a golden customer (system ids as
  `shopify:6000000001`, the golden id, loyalty cards, emails, phones) -> the golden id.
- `customer_sync_audit`: the append-only trail, one row per fact (`audit.AuditRecord`).
- `customer_sync_conflicts`: field conflicts and identity conflicts, open until closed.
- `customer_sync_fingerprints`: what the hub sent each system, per customer and field.
- `customer_sync_lock`: one row every intake takes first, so two changes of one person never
  decide from the same stale golden record (PostgreSQL holds the row lock to commit; SQLite
  writes one transaction at a time anyway).
"""

from __future__ import annotations

from retailhub.bus.port import Transaction
from retailhub.flows.storage import is_postgres

GOLDEN = "customer_sync_golden"
KEYS = "customer_sync_keys"
AUDIT = "customer_sync_audit"
CONFLICTS = "customer_sync_conflicts"
FINGERPRINTS = "customer_sync_fingerprints"
LOCK = "customer_sync_lock"


def _audit_ddl(postgres: bool) -> str:
    seq = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    return f"""
CREATE TABLE IF NOT EXISTS {AUDIT} (
    seq         {seq},
    customer_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_json    TEXT,
    new_json    TEXT,
    system      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT,
    recorded_at TEXT NOT NULL,
    UNIQUE (event_id, kind, customer_id, field, target)
)
"""


STATEMENTS = (
    f"""
CREATE TABLE IF NOT EXISTS {GOLDEN} (
    customer_id TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    customer    TEXT NOT NULL,
    lineage     TEXT NOT NULL,
    updated_at  TEXT NOT NULL
)
""",
    f"""
CREATE TABLE IF NOT EXISTS {KEYS} (
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (key, value, customer_id)
)
""",
    f"CREATE INDEX IF NOT EXISTS {KEYS}_by_customer ON {KEYS} (customer_id)",
    f"CREATE INDEX IF NOT EXISTS {AUDIT}_by_customer ON {AUDIT} (customer_id, seq)",
    f"""
CREATE TABLE IF NOT EXISTS {CONFLICTS} (
    customer_id       TEXT NOT NULL,
    field             TEXT NOT NULL,
    challenger_system TEXT NOT NULL,
    challenger_event  TEXT NOT NULL,
    kind              TEXT NOT NULL,
    standing_system   TEXT,
    standing_json     TEXT,
    challenger_json   TEXT,
    reason            TEXT NOT NULL,
    opened_at         TEXT NOT NULL,
    closed_at         TEXT,
    closed_by_event   TEXT,
    PRIMARY KEY (customer_id, field, challenger_system, challenger_event)
)
""",
    f"""
CREATE TABLE IF NOT EXISTS {FINGERPRINTS} (
    system      TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    digest      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (system, customer_id, field)
)
""",
    f"CREATE TABLE IF NOT EXISTS {LOCK} (name TEXT PRIMARY KEY, turns BIGINT NOT NULL)",
    f"INSERT INTO {LOCK} (name, turns) VALUES ('intake', 0) ON CONFLICT (name) DO NOTHING",
)


async def create_customer_sync_tables(transaction: Transaction) -> None:
    """Create every customer sync table that is missing."""
    await transaction.execute(_audit_ddl(is_postgres(transaction)))
    for statement in STATEMENTS:
        await transaction.execute(statement)


async def take_turn(transaction: Transaction) -> None:
    """Serialise customer sync writers: the first statement of every intake and link."""
    await transaction.execute(f"UPDATE {LOCK} SET turns = turns + 1 WHERE name = 'intake'")
