"""The return-to-refund saga: goods received → claim → book (credit note, points, restock, case)
→ platform refund → case closed, as few coarse durable steps, undone in reverse if one fails.

Steps of the `return_to_refund` saga (one DBOS workflow per return id):

1. `claim_and_book`: the claim — the order from the ledger (or the commerce platform), the
   guard, and the claim of the returned quantities, in one hub transaction; refused, the
   reason is noted on a CRM case and the saga ends refused with nothing to undo. Then the
   booking (booking.py), at once: `ErpPort.post_credit_note`, `LoyaltyPort.register_return`
   (reversal of what the lines earned, campaign bonus included, and re-credit of points that
   paid for them), `ErpPort.adjust_stock` per restocked line where the goods arrived, and the
   CRM case. Undone by voiding the credit note, cancelling the points transfers, taking the
   restocked lines back off hand, then releasing the claim (unless something could not be
   undone) and leaving the case open with a note.
2. `settle`: `CommercePort.refund_return` when the order was sold on the platform and the
   platform has not refunded it itself (money cannot be called back, so it comes after
   everything that can be undone; failing, the saga aborts and the booking is undone); then
   the CRM case closed with what was done, and every system's outcome, the refunded state and
   `retail.return.refunded.v1` in one hub transaction. A CRM failure here leaves the refund
   standing (it is complete) and raises an alert.

Two steps, because DBOS checkpoints each (a few ms of CPU, and the GIL, per step). Each
external call carries a key from the workflow id (`return_to_refund:<return id>:erp`...), so a
step re-run after a crash repeats calls, never effects. A booking that fails aborts the saga
as `book_return`, a platform refund that fails as `commerce_refund` (the alert names them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from retailhub.bus.port import EventBus
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import CommercePort, CrmPort, ErpPort, LoyaltyPort
from retailhub.flows.alerts import Alert, BusAlertSink, record_alert
from retailhub.flows.returns.booking import BOOKED_SYSTEMS, Booked, Booking, UndoFailed
from retailhub.flows.returns.calls import Attempted, CallPolicy, attempt
from retailhub.flows.returns.claims import (
    points_statement,
    record_points_recredited,
    release_claim,
)
from retailhub.flows.returns.decisions import (
    WEB_LOCATION,
    money_refunded_at_till,
    platform_refund,
    refunded_by_platform,
    restock_lines,
    sold_on_platform,
)
from retailhub.flows.returns.events import refunded_event
from retailhub.flows.returns.outcomes import refund_outcomes
from retailhub.flows.returns.receiving import Claimed, Receiving
from retailhub.flows.returns.sql import execute_all
from retailhub.flows.returns.status import (
    Outcome,
    ReturnState,
    SystemOutcome,
    record_return,
    record_system,
    record_systems,
    return_statement,
    system_outcomes,
    systems_statement,
)
from retailhub.flows.sagas import Saga, SagaSteps, StepRetry
from retailhub.flows.sagas.saga import SagaAborted

T = TypeVar("T")

SAGA_NAME = "return_to_refund"
STEP_RETRY = StepRetry(max_attempts=3, interval=0.5, backoff=2.0)
"""Calls retry inside their step (`CallPolicy`) and answer rather than raise; DBOS retries a
step only for what raises — the hub's own database — and every write in a step is safe to
repeat."""


@dataclass(frozen=True)
class ReturnSettings:
    """Where web goods are restocked, how calls retry, how long to wait for an unknown order."""

    web_location: str = WEB_LOCATION
    calls: CallPolicy = field(default_factory=CallPolicy)
    order_wait_s: float = 30.0
    """A till's return can overtake its sale's event on the bus: wait this long for the sale."""
    order_poll_s: float = 0.5


@dataclass(frozen=True)
class Taken:
    """The first step's result: the claim, and the booking (None when the claim was refused)."""

    claimed: Claimed
    booked: Booked | None


@dataclass(frozen=True)
class RefundResult:
    """How a return ended: refunded or refused (a compensated saga's outcome says the rest)."""

    return_id: str
    state: ReturnState
    reason: str = ""
    credit_note: str | None = None
    points: int = 0
    platform_refund: str | None = None
    case_id: str | None = None


@dataclass(frozen=True)
class ReturnPorts:
    """The systems a return touches, behind their ports (commerce is optional)."""

    erp: ErpPort
    loyalty: LoyaltyPort
    crm: CrmPort
    commerce: CommercePort | None = None


class ReturnToRefund:
    """The saga's steps and compensations over the hub's bus and the ports."""

    def __init__(
        self,
        bus: EventBus,
        ports: ReturnPorts,
        alerts: BusAlertSink,
        settings: ReturnSettings | None = None,
    ) -> None:
        self.bus, self.ports, self.alerts = bus, ports, alerts
        self.settings = settings or ReturnSettings()
        self.booking = Booking(ports.erp, ports.loyalty, ports.crm, self.settings.calls)
        self.receiving = Receiving(
            bus,
            ports.commerce,
            order_wait_s=self.settings.order_wait_s,
            order_poll_s=self.settings.order_poll_s,
        )

    def saga(self) -> Saga[dict[str, Any], RefundResult]:
        """The saga to register (before the runtime launches) and start per return id."""
        return Saga(SAGA_NAME, self.body, self.alerts, step_retry=STEP_RETRY)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> Attempted[T]:
        return await attempt(call, self.settings.calls)

    async def body(self, steps: SagaSteps, payload: dict[str, Any]) -> RefundResult:
        """Run one return's refund; raise SagaAborted to have what was done undone."""
        received = Return.model_validate(payload)
        taken = await steps.step(
            "claim_and_book",
            lambda: self.claim_and_book(received, steps.key),
            compensate=lambda done: self.undo(done, steps.key),
        )
        claimed, booked = taken.claimed, taken.booked
        if booked is None:
            return RefundResult(received.return_id, ReturnState.REFUSED, claimed.reason)
        if booked.failures():
            raise SagaAborted("book_return", "; ".join(booked.failures()))
        settled = await steps.step("settle", lambda: self.settle(claimed, booked, steps.key))
        if settled.value is None:
            raise SagaAborted("commerce_refund", settled.error or "failed")
        return settled.value

    async def claim_and_book(self, received: Return, key: Callable[[str], str]) -> Taken:
        """Claim the quantities; then book the return in every system, or note the refusal."""
        claimed = await self.receiving.claim(received)
        if not claimed.accepted:
            await self.note_refusal(received, claimed)
            return Taken(claimed, None)
        document = Return.model_validate(claimed.document)
        lines = restock_lines(document, self.settings.web_location)
        case = (claimed.case_id, claimed.case_key)
        booked = await self.booking.book(document, claimed.sold(), lines, case, key)
        return Taken(claimed, booked)

    async def settle(
        self, claimed: Claimed, booked: Booked, key: Callable[[str], str]
    ) -> Attempted[RefundResult]:
        """The platform's refund when it owes one, then the case closed and the refund recorded;
        the platform's failure instead when its refund failed for good (nothing recorded)."""
        document = Return.model_validate(claimed.document)
        refund: Attempted[str] = Attempted()
        if self._platform_owes(document, claimed.sold()):
            refund = await self.refund_on_platform(document, key("commerce"))
            if not refund.ok:
                return Attempted(error=refund.error, refused=refund.refused)
        return Attempted(await self.close(document, claimed, booked, refund))

    async def undo(self, taken: Taken, key: Callable[[str], str]) -> None:
        """Undo the booking, then release the claim (kept if something stands), note the case.

        When an undo fails, the claim is still settled (kept, the case noted, the return in
        attention) before the failure is raised for the saga to retry and, in the end, alert.
        """
        if taken.booked is None:
            return
        document = Return.model_validate(taken.claimed.document)
        try:
            await self.unbook(document, taken.booked, key)
        finally:
            await self.release(taken.claimed, taken.booked.case.value)

    def _platform_owes(self, document: Return, order: Order | None) -> bool:
        commerce = self.ports.commerce
        return (
            commerce is not None
            and sold_on_platform(order, commerce.name)
            and not refunded_by_platform(document, commerce.name)
        )

    # Refusal.

    async def note_refusal(self, received: Return, claimed: Claimed) -> None:
        """Put the refusal on a CRM case for customer service; alert when the till paid out."""
        text = f"Return {received.return_id} refused: {claimed.reason}"
        opened = await self._call(
            lambda: self._note_on_case(received, claimed, claimed.case_id, text, status="open")
        )
        async with self.bus.transaction() as transaction:
            await record_system(
                transaction,
                received.return_id,
                "crm",
                Outcome.DONE if opened.ok else Outcome.FAILED,
                reference=opened.value,
                detail=text if opened.ok else opened.error,
            )
            if opened.ok:
                await record_return(
                    transaction,
                    received.return_id,
                    ReturnState.REFUSED,
                    case_id=opened.value,
                    reason=claimed.reason,
                )
            if money_refunded_at_till(received):
                await record_alert(
                    transaction,
                    Alert(
                        f"{SAGA_NAME}.refused",
                        received.return_id,
                        f"the till refunded {received.refund_total} for a refused return",
                        claimed.reason,
                        needs_operator=True,
                    ),
                )

    async def _note_on_case(
        self, document: Return, claimed: Claimed, case_id: str | None, text: str, *, status: str
    ) -> str:
        """The return's case (opened once per key if need be) moved to `status` with `text`."""
        case_id = await self.booking.case(document, claimed.sold(), (case_id, claimed.case_key))
        await self.ports.crm.update_case(case_id, status=status, text=text)
        return case_id

    # Failure and compensation.

    async def unbook(self, document: Return, booked: Booked, key: Callable[[str], str]) -> None:
        """Undo the booking; record each system's outcome, also when an undo failed."""
        try:
            outcomes = await self.booking.unbook(document, booked, key)
        except UndoFailed as failed:
            await self._record_outcomes(document.return_id, failed.outcomes)
            raise
        await self._record_outcomes(document.return_id, outcomes)

    async def _record_outcomes(self, return_id: str, outcomes: list[SystemOutcome]) -> None:
        async with self.bus.transaction() as transaction:
            await record_systems(transaction, return_id, outcomes)
            if any(o.system == "loyalty" and o.outcome is Outcome.REVERSED for o in outcomes):
                await record_points_recredited(transaction, return_id, 0)

    async def release(self, claimed: Claimed, case_id: str | None) -> None:
        """Undone last: release the claim unless something stands, note the case (the one the
        booking opened, when it did), record it."""
        if not claimed.accepted:
            return
        document = Return.model_validate(claimed.document)
        return_id = document.return_id
        async with self.bus.transaction() as transaction:
            outcomes = await system_outcomes(transaction, return_id)
        standing = sorted(
            s
            for s, (o, _) in outcomes.items()
            if o is Outcome.ATTENTION or (o is Outcome.DONE and s in (*BOOKED_SYSTEMS, "commerce"))
        )
        failed = [
            f"{s}: {d}"
            for s, (o, d) in outcomes.items()
            if o in (Outcome.FAILED, Outcome.ATTENTION)
        ]
        reason = "; ".join(failed) or "a step failed"
        text = f"Refund of return {return_id} stopped: {reason}. " + (
            "Everything done was undone; the goods are not refunded."
            if not standing
            else f"Still standing, for an operator: {', '.join(standing)}."
        )
        case = case_id or claimed.case_id
        noted = await self._call(
            lambda: self._note_on_case(document, claimed, case, text, status="open")
        )
        async with self.bus.transaction() as transaction:
            if not standing:
                await release_claim(transaction, return_id)
            await record_system(
                transaction,
                return_id,
                "crm",
                Outcome.DONE if noted.ok else Outcome.FAILED,
                reference=noted.value,
                detail="case left open: " + text if noted.ok else noted.error,
            )
            await record_return(
                transaction,
                return_id,
                ReturnState.ATTENTION if standing else ReturnState.COMPENSATED,
                case_id=noted.value,
                reason=reason,
            )

    # Platform refund.

    async def refund_on_platform(self, document: Return, key: str) -> Attempted[str]:
        """Refund on the commerce platform what it still owes (goods only if the till paid)."""
        commerce = self.ports.commerce
        assert commerce is not None
        owed = platform_refund(document)
        refunded = await self._call(lambda: commerce.refund_return(owed, key))
        if refunded.ok:
            return refunded
        if not refunded.refused:
            # A timeout or a 5xx may have reached the platform: say where to look.
            refunded = Attempted(
                error=f"{refunded.error} (the platform may hold a refund under {key}: check it)"
            )
        async with self.bus.transaction() as transaction:
            await record_system(
                transaction, document.return_id, "commerce", Outcome.FAILED, detail=refunded.error
            )
        return refunded

    # Close.

    async def close(
        self, document: Return, claimed: Claimed, booked: Booked, refund: Attempted[str]
    ) -> RefundResult:
        """Close the case with what was done; record the refund and publish it, atomically."""
        points = booked.points.value
        moved = points.points if points else 0
        text = (
            f"Return {document.return_id} refunded: {document.refund_total}, credit note "
            f"{booked.credit.value}, {moved} loyalty points"
            + (f", platform refund {refund.value}" if refund.value else "")
            + "."
        )
        case_id = booked.case.value or claimed.case_id
        closed = await self._call(
            lambda: self._note_on_case(document, claimed, case_id, text, status="closed")
        )
        async with self.bus.transaction() as transaction:
            outcomes = refund_outcomes(document, claimed, booked, refund, closed)
            writes = [
                systems_statement(transaction, document.return_id, outcomes),
                return_statement(
                    transaction,
                    document.return_id,
                    ReturnState.REFUNDED,
                    case_id=closed.value,
                    reason=None if closed.ok else f"refunded; CRM case not closed: {closed.error}",
                ),
            ]
            if document.points_refunded():
                writes.append(
                    points_statement(transaction, document.return_id, document.points_refunded())
                )
            if claimed.request_id and claimed.request_id != document.return_id:
                writes.append(
                    return_statement(
                        transaction,
                        claimed.request_id,
                        ReturnState.REFUNDED,
                        reason=f"goods received as {document.return_id}",
                    )
                )
            await execute_all(transaction, writes)
            if not closed.ok:
                await record_alert(
                    transaction,
                    Alert(
                        f"{SAGA_NAME}.crm",
                        document.return_id,
                        "refunded, but the CRM case could not be closed",
                        closed.error or "",
                    ),
                )
            await self.bus.publish([refunded_event(document)], transaction=transaction)
        return RefundResult(
            document.return_id,
            ReturnState.REFUNDED,
            credit_note=booked.credit.value,
            points=moved,
            platform_refund=refund.value,
            case_id=closed.value,
        )
