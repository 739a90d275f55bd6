"""The catalogue's tables in the hub's database (SQLite and PostgreSQL alike).

- `catalogue_cursor`: per stream (`products`, `inventory`, `prices`) where the poller stands:
  the moment its next "changed since" read starts from, when it last polled, its last error.
- `catalogue_captured`: per stream and key, the fingerprint and sequence last published (and,
  for items, the item itself), so a re-read publishes only what changed.
- `catalogue_applied`: per target (`commerce.products`, `pos.prices`, ...) and key, the
  sequence last applied there (and, for items, the item, which the variants of a listing are
  rebuilt from). The sequence guard reads it.
- `catalogue_refusals`: each stale or out-of-order update a target refused, once per event.
- `catalogue_load` and `catalogue_load_items`: the bulk load's checkpoint and the items it
  has sent, batch by batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from retailhub.bus.port import Transaction

DDL = (
    """CREATE TABLE IF NOT EXISTS catalogue_cursor (
        stream     TEXT PRIMARY KEY,
        position   TEXT,
        polled_at  TEXT,
        published  BIGINT NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS catalogue_captured (
        stream      TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        sequence    BIGINT NOT NULL,
        body        TEXT,
        PRIMARY KEY (stream, key)
    )""",
    """CREATE TABLE IF NOT EXISTS catalogue_applied (
        target     TEXT NOT NULL,
        key        TEXT NOT NULL,
        sequence   BIGINT NOT NULL,
        listing    TEXT,
        body       TEXT,
        applied_at TEXT NOT NULL,
        PRIMARY KEY (target, key)
    )""",
    "CREATE INDEX IF NOT EXISTS catalogue_applied_listing ON catalogue_applied (target, listing)",
    """CREATE TABLE IF NOT EXISTS catalogue_refusals (
        target       TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        key          TEXT NOT NULL,
        sequence     BIGINT NOT NULL,
        last_applied BIGINT NOT NULL,
        refused_at   TEXT NOT NULL,
        PRIMARY KEY (target, event_id)
    )""",
    """CREATE TABLE IF NOT EXISTS catalogue_load (
        load_id     INTEGER PRIMARY KEY,
        state       TEXT NOT NULL,
        batch_size  INTEGER NOT NULL,
        batches     INTEGER NOT NULL,
        items       INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        last_error  TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS catalogue_load_items (
        sku   TEXT PRIMARY KEY,
        batch INTEGER NOT NULL
    )""",
)


async def create_catalogue_tables(transaction: Transaction) -> None:
    """Create every catalogue table if it is missing (idempotent)."""
    for statement in DDL:
        await transaction.execute(statement)


def now_text() -> str:
    """Now in UTC as ISO 8601, as the catalogue's tables store moments."""
    return datetime.now(UTC).isoformat()
