"""The return-status projection: where each return stands overall and in each system.

`returns_status` holds one row per return (its state, the order, the online request it
fulfils, the CRM case, the reason of a refusal or failure); `returns_system_status` one row per
return and system (`guard`, `erp`, `loyalty`, `stock`, `commerce`, `crm`) with the outcome and
the system's reference (credit note, member, refund id, case id). The request handler and each
saga step write their rows as they go, so `return_status` answers while a refund is under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from retailhub.bus.port import Transaction
from retailhub.flows.returns.sql import Statement
from retailhub.flows.storage import Reader, placeholders

SYSTEMS = ("guard", "erp", "loyalty", "stock", "commerce", "crm")
RETURNS_TABLE = "returns_status"
SYSTEMS_TABLE = "returns_system_status"
RETURNS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RETURNS_TABLE} (
    return_id  TEXT PRIMARY KEY,
    order_id   TEXT,
    state      TEXT NOT NULL,
    request_id TEXT,
    case_id    TEXT,
    reason     TEXT,
    updated_at TEXT NOT NULL
)
"""
SYSTEMS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SYSTEMS_TABLE} (
    return_id  TEXT NOT NULL,
    system     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reference  TEXT,
    points     INTEGER,
    detail     TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (return_id, system)
)
"""


class ReturnState(StrEnum):
    """Where a return stands as a whole."""

    REQUESTED = "requested"
    """Started online and accepted by the guard; goods not back yet."""
    RECEIVED = "received"
    """Goods received and claimed: the refund is under way."""
    REFUNDED = "refunded"
    REFUSED = "refused"
    """The guard refused it (over-return, duplicate, unknown or cancelled order)."""
    COMPENSATED = "compensated"
    """A step failed for good and everything done was undone: no refund was made."""
    ATTENTION = "attention"
    """Something could not be undone, or the refund stands with a follow-up left: an operator
    has an alert."""


class Outcome(StrEnum):
    """Where one system stands with one return."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    REVERSED = "reversed"
    """Done, then undone by the saga's compensation."""
    ATTENTION = "attention"
    """Done (or maybe partly done) and could not be undone: an operator has an alert."""


@dataclass(frozen=True)
class SystemOutcome:
    """One system's outcome for one return, with its reference there."""

    system: str
    outcome: Outcome
    reference: str | None = None
    points: int | None = None
    detail: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ReturnStatusView:
    """A return across systems: its state, and every system (pending when nothing is known)."""

    return_id: str
    state: ReturnState
    order_id: str | None = None
    request_id: str | None = None
    case_id: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    systems: dict[str, SystemOutcome] = field(default_factory=dict)

    def outcome(self, system: str) -> Outcome:
        """The named system's outcome."""
        return self.systems[system].outcome

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as `GET /v1/returns/{id}` answers."""
        return {
            "return_id": self.return_id,
            "state": self.state.value,
            "order_id": self.order_id,
            "request_id": self.request_id,
            "case_id": self.case_id,
            "reason": self.reason,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "systems": {
                name: {
                    "outcome": s.outcome.value,
                    "reference": s.reference,
                    "points": s.points,
                    "detail": s.detail,
                    "updated_at": s.updated_at.isoformat() if s.updated_at else None,
                }
                for name, s in self.systems.items()
            },
        }


async def create_status_tables(transaction: Transaction) -> None:
    """Create the projection's tables if missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(RETURNS_DDL)
    await transaction.execute(SYSTEMS_DDL)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def return_statement(
    reader: object,
    return_id: str,
    state: ReturnState,
    *,
    order_id: str | None = None,
    request_id: str | None = None,
    case_id: str | None = None,
    reason: str | None = None,
) -> Statement:
    """The write of a return's overall state; unset fields keep what an earlier write recorded."""
    marks = ", ".join(placeholders(reader, 7))
    return (
        f"INSERT INTO {RETURNS_TABLE} (return_id, order_id, state, request_id, case_id, reason,"
        f" updated_at) VALUES ({marks}) ON CONFLICT (return_id) DO UPDATE SET"
        f" state = excluded.state,"
        f" order_id = COALESCE(excluded.order_id, {RETURNS_TABLE}.order_id),"
        f" request_id = COALESCE(excluded.request_id, {RETURNS_TABLE}.request_id),"
        f" case_id = COALESCE(excluded.case_id, {RETURNS_TABLE}.case_id),"
        f" reason = excluded.reason, updated_at = excluded.updated_at",
        (return_id, order_id, state.value, request_id, case_id, reason, _now()),
    )


async def record_return(
    transaction: Transaction,
    return_id: str,
    state: ReturnState,
    *,
    order_id: str | None = None,
    request_id: str | None = None,
    case_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Write a return's overall state; unset fields keep what an earlier write recorded."""
    await transaction.execute(
        *return_statement(
            transaction,
            return_id,
            state,
            order_id=order_id,
            request_id=request_id,
            case_id=case_id,
            reason=reason,
        )
    )


async def record_system(
    transaction: Transaction,
    return_id: str,
    system: str,
    outcome: Outcome,
    *,
    reference: str | None = None,
    points: int | None = None,
    detail: str | None = None,
) -> None:
    """Write one system's outcome for a return, replacing what was there."""
    await record_systems(
        transaction, return_id, [SystemOutcome(system, outcome, reference, points, detail)]
    )


def systems_statement(
    reader: object, return_id: str, outcomes: Sequence[SystemOutcome]
) -> Statement:
    """The write of several systems' outcomes for a return, as one statement."""
    for outcome in outcomes:
        if outcome.system not in SYSTEMS:
            raise ValueError(f"unknown system {outcome.system!r}; one of {', '.join(SYSTEMS)}")
    now = _now()
    values: list[str] = []
    parameters: list[Any] = []
    for n, outcome in enumerate(outcomes):
        marks = placeholders(reader, 7, start=1 + 7 * n)
        values.append(f"({', '.join(marks)})")
        parameters.extend(
            (
                return_id,
                outcome.system,
                outcome.outcome.value,
                outcome.reference,
                outcome.points,
                outcome.detail,
                now,
            )
        )
    return (
        f"INSERT INTO {SYSTEMS_TABLE} (return_id, system, outcome, reference, points, detail,"
        f" updated_at) VALUES {', '.join(values)} ON CONFLICT (return_id, system) DO UPDATE SET"
        " outcome = excluded.outcome, reference = excluded.reference,"
        " points = excluded.points, detail = excluded.detail, updated_at = excluded.updated_at",
        parameters,
    )


async def record_systems(
    transaction: Transaction, return_id: str, outcomes: Sequence[SystemOutcome]
) -> None:
    """Write several systems' outcomes for a return in one statement."""
    if outcomes:
        await transaction.execute(*systems_statement(transaction, return_id, outcomes))


async def system_outcomes(reader: Reader, return_id: str) -> dict[str, tuple[Outcome, str]]:
    """Each system's recorded outcome and detail for a return (systems not yet reached absent)."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT system, outcome, detail FROM {SYSTEMS_TABLE} WHERE return_id = {mark}",
        (return_id,),
    )
    return {system: (Outcome(outcome), detail or "") for system, outcome, detail in rows}


async def case_of(reader: Reader, return_id: str) -> str | None:
    """The CRM case recorded for a return (or the request it fulfils), if any."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT case_id FROM {RETURNS_TABLE} WHERE return_id = {mark}", (return_id,)
    )
    return rows[0][0] if rows and rows[0][0] else None


async def return_status(reader: Reader, return_id: str) -> ReturnStatusView | None:
    """Where a return stands in every system; None when the hub has never heard of it."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT order_id, state, request_id, case_id, reason, updated_at FROM {RETURNS_TABLE}"
        f" WHERE return_id = {mark}",
        (return_id,),
    )
    if not rows:
        return None
    order_id, state, request_id, case_id, reason, updated_at = rows[0]
    (mark,) = placeholders(reader, 1)
    found = await reader.fetch_all(
        f"SELECT system, outcome, reference, points, detail, updated_at FROM {SYSTEMS_TABLE}"
        f" WHERE return_id = {mark}",
        (return_id,),
    )
    systems = {name: SystemOutcome(name, Outcome.PENDING) for name in SYSTEMS}
    for system, outcome, reference, points, detail, at in found:
        systems[system] = SystemOutcome(
            system, Outcome(outcome), reference, points, detail, datetime.fromisoformat(at)
        )
    return ReturnStatusView(
        return_id,
        ReturnState(state),
        order_id,
        request_id,
        case_id,
        reason,
        datetime.fromisoformat(updated_at),
        systems,
    )
