"""The order-status projection: each system's outcome per order, so the cross-system status of
any order can be queried.

One row per order and system (`erp`, `stock`, `loyalty`, `crm`), written by that system's
subscription through `HandlerContext.transaction`, so the row commits exactly when the bus marks
the event handled: outcome, external reference (ERP posting id, loyalty member), points earned,
the attempt that succeeded, and when.

Failures are not written here: a failing handler's writes roll back with its attempt. The bus
already keeps them — a retrying event with its attempts and last error, a dead letter with its
payload — so `order_status` overlays the bus's held events of the order on the rows: retrying
or parked is `pending`, dead-lettered is `failed`, each with attempts and the last error. No
second write path can then disagree with the bus, and a `bus.retry` that succeeds turns the
system `done` in the same commit that clears the dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from retailhub.bus.port import EventBus, HeldEvent, HoldState, Selection, Transaction
from retailhub.flows.storage import Reader, placeholders

SYSTEMS = ("erp", "stock", "loyalty", "crm")
SUBSCRIPTION_PREFIX = "o2c."

TABLE = "o2c_order_status"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    order_id   TEXT NOT NULL,
    system     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reference  TEXT,
    points     INTEGER,
    detail     TEXT,
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, system)
)
"""


class Outcome(StrEnum):
    """Where one system stands with one order."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    REVERSED = "reversed"
    """What was done was undone because the order was cancelled (points, stock)."""
    ATTENTION = "attention"
    """Left by earlier versions, before the ERP port could cancel a sale order: the order was
    cancelled after posting and reconciliation or an operator takes it from here."""


SETTLED = frozenset({Outcome.DONE, Outcome.SKIPPED, Outcome.REVERSED, Outcome.ATTENTION})


@dataclass(frozen=True)
class SystemStatus:
    """One system's outcome for one order."""

    system: str
    outcome: Outcome
    reference: str | None = None
    points: int | None = None
    detail: str | None = None
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CrossSystemStatus:
    """The cross-system status of one order: every system, pending when nothing is known yet."""

    order_id: str
    systems: dict[str, SystemStatus] = field(default_factory=dict)

    def outcome(self, system: str) -> Outcome:
        """The named system's outcome."""
        return self.systems[system].outcome

    @property
    def settled(self) -> bool:
        """True when no system has work left or failed."""
        return all(s.outcome in SETTLED for s in self.systems.values())

    @property
    def failed(self) -> list[str]:
        """The systems whose subscription dead-lettered this order."""
        return [name for name, s in self.systems.items() if s.outcome is Outcome.FAILED]


def subscription_name(system: str) -> str:
    """The bus subscription that carries orders to `system`."""
    return f"{SUBSCRIPTION_PREFIX}{system}"


async def create_order_status_table(transaction: Transaction) -> None:
    """Create the projection's table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(DDL)


async def record(transaction: Transaction, order_id: str, status: SystemStatus) -> None:
    """Write one system's outcome for an order, replacing what was there."""
    columns = (
        "order_id",
        "system",
        "outcome",
        "reference",
        "points",
        "detail",
        "attempts",
        "last_error",
        "updated_at",
    )
    marks = ", ".join(placeholders(transaction, len(columns)))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    at = status.updated_at or datetime.now(UTC)
    await transaction.execute(
        f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({marks})"
        f" ON CONFLICT (order_id, system) DO UPDATE SET {updates}",
        (
            order_id,
            status.system,
            status.outcome.value,
            status.reference,
            status.points,
            status.detail,
            status.attempts,
            status.last_error,
            at.isoformat(),
        ),
    )


async def recorded(reader: Reader, order_id: str) -> dict[str, SystemStatus]:
    """The rows the subscriptions committed for an order, by system."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT system, outcome, reference, points, detail, attempts, last_error, updated_at"
        f" FROM {TABLE} WHERE order_id = {mark}",
        (order_id,),
    )
    return {
        row[0]: SystemStatus(
            system=row[0],
            outcome=Outcome(row[1]),
            reference=row[2],
            points=row[3],
            detail=row[4],
            attempts=row[5],
            last_error=row[6],
            updated_at=datetime.fromisoformat(row[7]),
        )
        for row in rows
    }


async def held_for_order(bus: EventBus, order_id: str) -> list[HeldEvent]:
    """The order's events the order-to-cash subscriptions hold back (retrying, dead, parked)."""
    held = await bus.held(Selection(key=order_id))
    return [h for h in held if h.subscription.startswith(SUBSCRIPTION_PREFIX)]


def _from_held(held: HeldEvent) -> SystemStatus:
    system = held.subscription.removeprefix(SUBSCRIPTION_PREFIX)
    last = held.attempts[-1].at if held.attempts else None
    if held.state is HoldState.DEAD:
        return SystemStatus(
            system,
            Outcome.FAILED,
            attempts=len(held.attempts),
            last_error=held.error,
            detail=f"dead-lettered at position {held.position}",
            updated_at=last,
        )
    detail = (
        "parked behind an earlier event of the order"
        if held.state is HoldState.PARKED
        else f"retrying; next attempt at {held.next_attempt_at}"
    )
    return SystemStatus(
        system,
        Outcome.PENDING,
        attempts=len(held.attempts),
        last_error=held.error,
        detail=detail,
        updated_at=last,
    )


async def order_status(
    reader: Reader, order_id: str, held: Iterable[HeldEvent] = ()
) -> CrossSystemStatus:
    """The order's status in every system: committed rows, overlaid with the bus's held events
    (pass `await held_for_order(bus, order_id)`), and `pending` where nothing is known yet."""
    systems = {name: SystemStatus(name, Outcome.PENDING) for name in SYSTEMS}
    systems.update(await recorded(reader, order_id))
    for one in sorted(held, key=lambda h: h.position):
        status = _from_held(one)
        if status.system in systems and (
            status.outcome is Outcome.FAILED or systems[status.system].outcome is not Outcome.FAILED
        ):
            systems[status.system] = status
    return CrossSystemStatus(order_id, systems)


async def amend(
    transaction: Transaction, order_id: str, system: str, *, detail: str, points: int | None
) -> None:
    """Add what a later event learnt (points noted on the CRM) to a system's row, keeping its
    outcome and reference."""
    marks = placeholders(transaction, 5)
    await transaction.execute(
        f"UPDATE {TABLE} SET detail = {marks[0]}, points = {marks[1]}, updated_at = {marks[2]}"
        f" WHERE order_id = {marks[3]} AND system = {marks[4]}",
        (detail, points, datetime.now(UTC).isoformat(), order_id, system),
    )
