"""Alerts for operators: what a flow could not finish or found wrong, kept in the hub's database.

A saga that compensated, a reconciliation discrepancy or an offline redemption the loyalty
platform rejected later each becomes one alert, identified by its kind and business key, so a
flow that raises the same alert again (a redelivered event, a re-run) updates it instead of
paging twice. Alerts stay open until an operator or a successful repair resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from retailhub.bus.port import EventBus, Transaction
from retailhub.flows.sagas.saga import SagaAlert
from retailhub.flows.storage import placeholders

TABLE = "hub_alerts"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    kind           TEXT NOT NULL,
    key            TEXT NOT NULL,
    summary        TEXT NOT NULL,
    detail         TEXT NOT NULL,
    needs_operator INTEGER NOT NULL,
    raised_at      TEXT NOT NULL,
    times_raised   INTEGER NOT NULL,
    resolved_at    TEXT,
    PRIMARY KEY (kind, key)
)
"""


@dataclass(frozen=True)
class Alert:
    """One thing an operator should look at: its kind, the business key, and what happened."""

    kind: str
    key: str
    summary: str
    detail: str = ""
    needs_operator: bool = False


@dataclass(frozen=True)
class RecordedAlert:
    """An alert as stored: when it was last raised, how often, and whether it is resolved."""

    alert: Alert
    raised_at: datetime
    times_raised: int
    resolved_at: datetime | None


async def create_alerts_table(transaction: Transaction) -> None:
    """Create the alerts table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(DDL)


async def record_alert(transaction: Transaction, alert: Alert) -> None:
    """Record an alert once per (kind, key); raising it again updates it and reopens it."""
    await create_alerts_table(transaction)
    marks = ", ".join(placeholders(transaction, 6))
    await transaction.execute(
        f"INSERT INTO {TABLE} (kind, key, summary, detail, needs_operator, raised_at,"
        f" times_raised, resolved_at) VALUES ({marks}, 1, NULL)"
        " ON CONFLICT (kind, key) DO UPDATE SET summary = excluded.summary,"
        " detail = excluded.detail, needs_operator = excluded.needs_operator,"
        f" raised_at = excluded.raised_at, times_raised = {TABLE}.times_raised + 1,"
        " resolved_at = NULL",
        (
            alert.kind,
            alert.key,
            alert.summary,
            alert.detail,
            int(alert.needs_operator),
            datetime.now(UTC).isoformat(),
        ),
    )


async def resolve_alert(transaction: Transaction, kind: str, key: str) -> bool:
    """Mark an open alert resolved; False when there was no open alert of that kind and key."""
    await create_alerts_table(transaction)
    kind_mark, key_mark = placeholders(transaction, 2)
    found = await transaction.fetch_all(
        f"SELECT 1 FROM {TABLE} WHERE kind = {kind_mark} AND key = {key_mark}"
        " AND resolved_at IS NULL",
        (kind, key),
    )
    if not found:
        return False
    at_mark, kind_mark, key_mark = placeholders(transaction, 3)
    await transaction.execute(
        f"UPDATE {TABLE} SET resolved_at = {at_mark} WHERE kind = {kind_mark} AND key = {key_mark}",
        (datetime.now(UTC).isoformat(), kind, key),
    )
    return True


async def open_alerts(reader: Transaction, kind_prefix: str | None = None) -> list[RecordedAlert]:
    """Unresolved alerts, newest first, optionally only kinds starting with `kind_prefix`."""
    await create_alerts_table(reader)
    statement = (
        "SELECT kind, key, summary, detail, needs_operator, raised_at, times_raised, resolved_at"
        f" FROM {TABLE} WHERE resolved_at IS NULL"
    )
    parameters: tuple[str, ...] = ()
    if kind_prefix is not None:
        (mark,) = placeholders(reader, 1)
        statement += f" AND kind LIKE {mark}"
        parameters = (f"{kind_prefix}%",)
    rows = await reader.fetch_all(statement + " ORDER BY raised_at DESC, kind, key", parameters)
    return [_recorded(row) for row in rows]


def _recorded(row: tuple[Any, ...]) -> RecordedAlert:
    kind, key, summary, detail, needs_operator, raised_at, times_raised, resolved_at = row
    return RecordedAlert(
        Alert(kind, key, summary, detail, bool(needs_operator)),
        datetime.fromisoformat(raised_at),
        int(times_raised),
        datetime.fromisoformat(resolved_at) if resolved_at else None,
    )


def saga_alert(alert: SagaAlert) -> Alert:
    """The operator alert for a saga that did not complete: what failed and what is left."""
    summary = f"{alert.saga} {alert.status.value} at step {alert.failed_step}: {alert.reason}"
    parts = []
    if alert.compensated:
        parts.append(f"undone: {', '.join(alert.compensated)}")
    if alert.not_compensated:
        parts.append(f"left for an operator: {', '.join(alert.not_compensated)}")
    return Alert(
        alert.saga,
        alert.workflow_id,
        summary,
        "; ".join(parts),
        needs_operator=alert.needs_operator,
    )


class BusAlertSink:
    """The sagas' `AlertSink` on the hub's database: one alert per saga workflow."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def raise_alert(self, alert: SagaAlert) -> None:
        """Record the saga's alert, kind = saga name, key = workflow id (safe to repeat)."""
        await self.record(saga_alert(alert))

    async def record(self, alert: Alert) -> None:
        """Record any alert in its own transaction."""
        async with self._bus.transaction() as transaction:
            await record_alert(transaction, alert)
