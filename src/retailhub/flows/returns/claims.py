"""Returned quantities claimed against the lines bought, across every channel, atomically.

Each accepted return holds a claim on its order: `requested` (started online, goods not yet
back), `claimed` (goods received, refund under way or done). A return is checked by the
canonical guard (`returnable_faults`) against every other live claim of its order, in the same
transaction that records its claim, with the order's ledger row locked on PostgreSQL (SQLite
has one writer): two tills returning the same receipt at once cannot both pass.

Goods received for a return requested online fulfil the request: the request is the one
whose id is the receipt's, else the oldest open request of the order whose lines cover what
came back. The request's claim passes to the receipt, and its CRM case is the one closed.
A refund that could not finish releases its claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from retailhub.bus.port import Transaction
from retailhub.canonical.errors import Fault
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return, returnable_faults
from retailhub.flows.returns.ledger import ORDERS_TABLE
from retailhub.flows.returns.sql import Statement, execute_all
from retailhub.flows.storage import is_postgres, placeholders

CLAIMS_TABLE = "returns_claims"
CLAIMS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (
    return_id          TEXT PRIMARY KEY,
    order_id           TEXT NOT NULL,
    state              TEXT NOT NULL,
    body               TEXT NOT NULL,
    request_id         TEXT,
    points_recredited  INTEGER NOT NULL,
    claimed_at         TEXT NOT NULL
)
"""
CLAIMS_INDEX = f"CREATE INDEX IF NOT EXISTS {CLAIMS_TABLE}_order ON {CLAIMS_TABLE} (order_id)"


class ClaimState(StrEnum):
    """Where a return's claim on its order stands."""

    REQUESTED = "requested"
    CLAIMED = "claimed"
    FULFILLED = "fulfilled"
    """A request whose goods came back under another return id, which holds the claim now."""
    RELEASED = "released"


LIVE = (ClaimState.REQUESTED, ClaimState.CLAIMED)


@dataclass(frozen=True)
class ClaimDecision:
    """The guard's answer: accepted (with the request it fulfils), or refused with faults."""

    accepted: bool
    faults: tuple[Fault, ...] = ()
    request_id: str | None = None
    points_recredited_before: int = 0

    @property
    def reason(self) -> str:
        """The refusal in one line, each fault with its JSON path."""
        return "; ".join(str(f) for f in self.faults)


@dataclass(frozen=True)
class Claim:
    """One return's claim on its order: its state and the return as claimed."""

    return_id: str
    state: ClaimState
    document: Return
    request_id: str | None
    points: int


async def create_claims_table(transaction: Transaction) -> None:
    """Create the claims table and its index if missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(CLAIMS_DDL)
    await transaction.execute(CLAIMS_INDEX)


async def claims_of(transaction: Transaction, order_id: str) -> list[Claim]:
    """Every claim on an order, oldest first."""
    (mark,) = placeholders(transaction, 1)
    found = await transaction.fetch_all(
        f"SELECT return_id, state, body, request_id, points_recredited FROM {CLAIMS_TABLE}"
        f" WHERE order_id = {mark} ORDER BY claimed_at, return_id",
        (order_id,),
    )
    return [
        Claim(r[0], ClaimState(r[1]), Return.model_validate_json(r[2]), r[3], int(r[4]))
        for r in found
    ]


async def order_and_claims(
    transaction: Transaction, order_id: str
) -> tuple[Order | None, list[Claim]]:
    """The order as the ledger keeps it, with every claim on it; the order's row is held until
    the transaction ends, so claims on one order queue.

    On PostgreSQL the row is locked first and the claims read by the next statement: a query
    that waited for a lock sees the locked row anew but other tables as they were when it
    started, so it would miss the claim that the lock's holder just committed. On SQLite (one
    writer: the transaction already excludes every other) one query reads both.
    """
    (mark,) = placeholders(transaction, 1)
    if is_postgres(transaction):
        await transaction.fetch_all(
            f"SELECT 1 FROM {ORDERS_TABLE} WHERE order_id = {mark} FOR UPDATE", (order_id,)
        )
    rows = await transaction.fetch_all(
        f"SELECT o.body, c.return_id, c.state, c.body, c.request_id, c.points_recredited"
        f" FROM {ORDERS_TABLE} o LEFT JOIN {CLAIMS_TABLE} c ON c.order_id = o.order_id"
        f" WHERE o.order_id = {mark} ORDER BY c.claimed_at, c.return_id",
        (order_id,),
    )
    if not rows:
        return None, []
    order = Order.model_validate_json(rows[0][0])
    claims = [
        Claim(r[1], ClaimState(r[2]), Return.model_validate_json(r[3]), r[4], int(r[5]))
        for r in rows
        if r[1] is not None
    ]
    return order, claims


async def live_claims(transaction: Transaction, order_id: str) -> list[Claim]:
    """The claims on an order that hold quantities: requested or claimed."""
    return [c for c in await claims_of(transaction, order_id) if c.state in LIVE]


def _covers(request: Return, received: Return) -> bool:
    """True when every line that came back was asked back in the request, in that quantity."""
    asked: dict[str, Decimal] = {}
    for line in request.lines:
        if line.original_line_id:
            asked[line.original_line_id] = asked.get(line.original_line_id, Decimal(0)) + (
                line.quantity
            )
    for line in received.lines:
        key = line.original_line_id
        if key is None or asked.get(key, Decimal(0)) < line.quantity:
            return False
        asked[key] -= line.quantity
    return True


def _fulfilled_request(rows: Sequence[Claim], received: Return) -> Claim | None:
    """The open online request that these received goods fulfil, if any."""
    requests = [r for r in rows if r.state is ClaimState.REQUESTED]
    same_id = next((r for r in requests if r.return_id == received.return_id), None)
    if same_id is not None:
        return same_id
    return next((r for r in requests if _covers(r.document, received)), None)


def _claim_statement(
    reader: object,
    document: Return,
    state: ClaimState,
    request_id: str | None,
    points: int = 0,
) -> Statement:
    marks = ", ".join(placeholders(reader, 7))
    return (
        f"INSERT INTO {CLAIMS_TABLE} (return_id, order_id, state, body, request_id,"
        f" points_recredited, claimed_at) VALUES ({marks}) ON CONFLICT (return_id) DO UPDATE"
        " SET state = excluded.state, body = excluded.body, request_id = excluded.request_id,"
        " points_recredited = excluded.points_recredited",
        (
            document.return_id,
            document.original_order_id or "",
            state.value,
            document.model_dump_json(),
            request_id,
            points,
            datetime.now(UTC).isoformat(),
        ),
    )


async def _write(
    transaction: Transaction,
    document: Return,
    state: ClaimState,
    request_id: str | None,
    points: int = 0,
) -> None:
    await transaction.execute(*_claim_statement(transaction, document, state, request_id, points))


def _state_statement(reader: object, return_id: str, state: ClaimState) -> Statement:
    state_mark, id_mark = placeholders(reader, 2)
    return (
        f"UPDATE {CLAIMS_TABLE} SET state = {state_mark} WHERE return_id = {id_mark}",
        (state.value, return_id),
    )


async def _set_state(transaction: Transaction, return_id: str, state: ClaimState) -> None:
    await transaction.execute(*_state_statement(transaction, return_id, state))


async def claim_received(
    transaction: Transaction,
    order: Order | None,
    document: Return,
    claims: Sequence[Claim] | None = None,
    defer: list[Statement] | None = None,
) -> ClaimDecision:
    """Claim the quantities of goods received, or refuse them with the guard's faults.

    The caller holds the order's ledger row locked (`order_and_claims`, which also gives the
    `claims` on it). Idempotent: a return already claimed is accepted again with the request
    it fulfilled. A receipt-less return (no original order) claims nothing: there is no sale
    to check it against. With `defer`, the claim's writes are appended there for the caller to
    run (`execute_all`) in this transaction, with its own.
    """
    if order is None:
        return ClaimDecision(True)
    rows = list(claims) if claims is not None else await claims_of(transaction, order.order_id)
    own = next((r for r in rows if r.return_id == document.return_id), None)
    if own is not None and own.state is ClaimState.CLAIMED:
        return ClaimDecision(
            True, request_id=own.request_id, points_recredited_before=_points(rows, own)
        )
    request = _fulfilled_request(rows, document)
    earlier = [
        r.document
        for r in rows
        if r.state in LIVE
        and r.return_id not in {document.return_id, getattr(request, "return_id", None)}
    ]
    faults = returnable_faults(order, earlier, document)
    if faults:
        return ClaimDecision(False, tuple(faults))
    request_id = request.return_id if request is not None else None
    writes: list[Statement] = []
    if request is not None and request.return_id != document.return_id:
        writes.append(_state_statement(transaction, request.return_id, ClaimState.FULFILLED))
    writes.append(_claim_statement(transaction, document, ClaimState.CLAIMED, request_id))
    if defer is not None:
        defer.extend(writes)
    else:
        await execute_all(transaction, writes)
    return ClaimDecision(True, request_id=request_id, points_recredited_before=_points(rows, None))


def _points(rows: Sequence[Claim], own: Claim | None) -> int:
    """Points re-credited by the order's other claimed returns."""
    return sum(r.points for r in rows if r.state is ClaimState.CLAIMED and r is not own)


async def claim_requested(
    transaction: Transaction, order: Order, document: Return
) -> ClaimDecision:
    """Hold the quantities of a return requested online, or refuse it with the guard's faults."""
    rows = await claims_of(transaction, order.order_id)
    own = next((r for r in rows if r.return_id == document.return_id), None)
    if own is not None and own.state in LIVE:
        return ClaimDecision(True, request_id=document.return_id)
    earlier = [r.document for r in rows if r.state in LIVE]
    faults = returnable_faults(order, earlier, document)
    if faults:
        return ClaimDecision(False, tuple(faults))
    await _write(transaction, document, ClaimState.REQUESTED, document.return_id)
    return ClaimDecision(True, request_id=document.return_id)


def points_statement(reader: object, return_id: str, points: int) -> Statement:
    """The write remembering the points a claimed return gave back (later returns of the order
    share the rest)."""
    points_mark, id_mark = placeholders(reader, 2)
    return (
        f"UPDATE {CLAIMS_TABLE} SET points_recredited = {points_mark} WHERE return_id = {id_mark}",
        (points, return_id),
    )


async def record_points_recredited(transaction: Transaction, return_id: str, points: int) -> None:
    """Remember the points a claimed return gave back, so later returns share the rest."""
    await transaction.execute(*points_statement(transaction, return_id, points))


async def release_claim(transaction: Transaction, return_id: str) -> None:
    """Give back the quantities of a return whose refund was undone; its request reopens."""
    (mark,) = placeholders(transaction, 1)
    rows = await transaction.fetch_all(
        f"SELECT request_id FROM {CLAIMS_TABLE} WHERE return_id = {mark}", (return_id,)
    )
    if not rows:
        return
    await _set_state(transaction, return_id, ClaimState.RELEASED)
    request_id = rows[0][0]
    if request_id and request_id != return_id:
        await _set_state(transaction, request_id, ClaimState.REQUESTED)
