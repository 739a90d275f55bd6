"""What reconciliation found, kept in the hub's database: one row per discrepancy (kind and
key), open until a later run of its day no longer finds it.

A run records every discrepancy it found (a repeat updates the row and counts it) and resolves
the open ones of its day, and store when it ran for one, that it did not find again; their
operator alerts are resolved in the same transaction. A repair is noted on its row; the row
stays open until a re-run confirms the repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from retailhub.bus.port import Transaction
from retailhub.flows.alerts import create_alerts_table, resolve_alert
from retailhub.flows.reconciliation.discrepancies import Discrepancy, DiscrepancyKind
from retailhub.flows.storage import Reader, placeholders

TABLE = "reconciliation_discrepancies"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    kind           TEXT NOT NULL,
    key            TEXT NOT NULL,
    business_day   TEXT NOT NULL,
    store          TEXT NOT NULL,
    body           TEXT NOT NULL,
    first_found_at TEXT NOT NULL,
    last_found_at  TEXT NOT NULL,
    times_found    INTEGER NOT NULL,
    repaired_at    TEXT,
    repair_note    TEXT,
    resolved_at    TEXT,
    PRIMARY KEY (kind, key)
)
"""


@dataclass(frozen=True)
class Finding:
    """A discrepancy as recorded: how often found, whether repaired, whether resolved."""

    discrepancy: Discrepancy
    first_found_at: datetime
    last_found_at: datetime
    times_found: int
    repaired_at: datetime | None
    repair_note: str | None
    resolved_at: datetime | None


async def create_findings_table(transaction: Transaction) -> None:
    """Create the discrepancies table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(DDL)


async def record_findings(
    transaction: Transaction,
    business_day: date,
    store: str | None,
    found: Sequence[Discrepancy],
) -> list[Discrepancy]:
    """Record a run's discrepancies and resolve the open ones of its scope it did not find
    again (and their alerts); returns the resolved ones."""
    now = datetime.now(UTC).isoformat()
    for one in found:
        marks = ", ".join(placeholders(transaction, 7))
        await transaction.execute(
            f"INSERT INTO {TABLE} (kind, key, business_day, store, body, first_found_at,"
            f" last_found_at, times_found) VALUES ({marks}, 1)"
            " ON CONFLICT (kind, key) DO UPDATE SET business_day = excluded.business_day,"
            " store = excluded.store, body = excluded.body,"
            f" last_found_at = excluded.last_found_at, times_found = {TABLE}.times_found + 1,"
            " resolved_at = NULL",
            (
                one.kind.value,
                one.key,
                one.business_day.isoformat(),
                one.store,
                orjson.dumps(one.to_json()).decode(),
                now,
                now,
            ),
        )
    seen = {(one.kind.value, one.key) for one in found}
    gone = [f.discrepancy for f in await open_findings(transaction, business_day, store)]
    gone = [d for d in gone if (d.kind.value, d.key) not in seen]
    await create_alerts_table(transaction)
    for one in gone:
        at, kind, key = placeholders(transaction, 3)
        await transaction.execute(
            f"UPDATE {TABLE} SET resolved_at = {at} WHERE kind = {kind} AND key = {key}",
            (now, one.kind.value, one.key),
        )
        await resolve_alert(transaction, one.kind.alert_kind, one.key)
    return gone


_SELECT = (
    "SELECT body, first_found_at, last_found_at, times_found, repaired_at, repair_note,"
    f" resolved_at FROM {TABLE}"
)


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _finding(row: Sequence[Any]) -> Finding:
    body, first, last, times, repaired, note, resolved = row
    first_at, last_at = datetime.fromisoformat(first), datetime.fromisoformat(last)
    return Finding(
        Discrepancy.from_json(orjson.loads(body)),
        first_at,
        last_at,
        int(times),
        _moment(repaired),
        note,
        _moment(resolved),
    )


async def open_findings(
    reader: Reader, business_day: date | None = None, store: str | None = None
) -> list[Finding]:
    """Unresolved discrepancies, optionally of one day and one store, by day, store, kind, key."""
    clauses: list[str] = ["resolved_at IS NULL"]
    parameters: list[str] = []
    if business_day is not None:
        clauses.append(f"business_day = {placeholders(reader, 1, start=len(parameters) + 1)[0]}")
        parameters.append(business_day.isoformat())
    if store is not None:
        clauses.append(f"store = {placeholders(reader, 1, start=len(parameters) + 1)[0]}")
        parameters.append(store)
    rows = await reader.fetch_all(
        f"{_SELECT} WHERE {' AND '.join(clauses)} ORDER BY business_day, store, kind, key",
        parameters,
    )
    return [_finding(row) for row in rows]


async def finding(reader: Reader, kind: DiscrepancyKind, key: str) -> Finding | None:
    """One recorded discrepancy by kind and key, resolved or not."""
    kind_mark, key_mark = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"{_SELECT} WHERE kind = {kind_mark} AND key = {key_mark}", (kind.value, key)
    )
    return _finding(rows[0]) if rows else None


async def note_repair(transaction: Transaction, discrepancy: Discrepancy, note: str) -> None:
    """Note on the discrepancy's row what its repair did (it stays open until a re-run)."""
    at, text, kind, key = placeholders(transaction, 4)
    await transaction.execute(
        f"UPDATE {TABLE} SET repaired_at = {at}, repair_note = {text}"
        f" WHERE kind = {kind} AND key = {key}",
        (datetime.now(UTC).isoformat(), note, discrepancy.kind.value, discrepancy.key),
    )
