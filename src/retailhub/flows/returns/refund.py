"""The return-to-refund saga: goods received → claim → credit note → points → restock → platform
refund → case closed, each a coarse durable step, compensated in reverse if one fails for good.

Steps (DBOS steps of the `return_to_refund` saga, one workflow per return id):

1. `claim`: the order from the ledger (or the commerce platform), the guard, and the claim of
   the returned quantities, in one hub transaction. Refused → `crm_refusal` notes the reason on
   a case, and the saga ends refused with nothing to undo. Undone last: the claim is released
   (unless something could not be undone) and the case is left open with a note.
2. `erp_credit_note`: `ErpPort.post_credit_note` under `<workflow id>:erp`; undone by
   `void_credit_note` under the same key (a no-op when nothing was written).
3. `loyalty_return`: `LoyaltyPort.register_return` reverses what the returned lines earned,
   campaign bonus included, and re-credits points that paid for them; undone by cancelling
   each of its transfers.
4. `restock`: `ErpPort.adjust_stock` per restocked line at the receiving location, each line
   recorded as it is done; undone by reversing exactly the recorded lines.
5. `commerce_refund`: `CommercePort.refund_return` when the order was sold on the platform and
   the platform has not refunded it itself; money cannot be called back, so it runs last.
6. `close`: the CRM case closed with what was done, the refunded state recorded and
   `retail.return.refunded.v1` published in one hub transaction. A CRM failure here leaves the
   refund standing (it is complete) and raises an alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from retailhub.bus.port import EventBus
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import CommercePort, CrmPort, ErpPort, LoyaltyPort, PointsOutcome
from retailhub.flows.alerts import Alert, BusAlertSink, record_alert
from retailhub.flows.returns.calls import Attempted, CallPolicy, attempt
from retailhub.flows.returns.claims import (
    ClaimDecision,
    claim_received,
    record_points_recredited,
    release_claim,
)
from retailhub.flows.returns.crm import buyer_contact
from retailhub.flows.returns.decisions import (
    WEB_LOCATION,
    RestockLine,
    case_opening_text,
    case_subject,
    money_refunded_at_till,
    platform_refund,
    refunded_by_platform,
    restock_lines,
    sold_on_platform,
    with_refund_tenders,
)
from retailhub.flows.returns.events import refunded_event
from retailhub.flows.returns.ledger import keep_order, sold_order
from retailhub.flows.returns.restocked import record_restocked, restocked_lines
from retailhub.flows.returns.status import (
    Outcome,
    ReturnState,
    case_of,
    record_return,
    record_system,
    system_outcomes,
)
from retailhub.flows.sagas import Saga, SagaSteps, StepRetry
from retailhub.flows.sagas.saga import SagaAborted

T = TypeVar("T")

SAGA_NAME = "return_to_refund"
ONE_TRY = StepRetry(max_attempts=1)
"""Calls retry inside their step (`CallPolicy`); DBOS runs each step once."""


@dataclass(frozen=True)
class ReturnSettings:
    """Where web goods are restocked, how calls retry, how long to wait for an unknown order."""

    web_location: str = WEB_LOCATION
    calls: CallPolicy = field(default_factory=CallPolicy)
    order_wait_s: float = 30.0
    """A till's return can overtake its sale's event on the bus: wait this long for the sale."""
    order_poll_s: float = 0.5


@dataclass(frozen=True)
class Claimed:
    """What the claim step decided, with what later steps need (picklable, checkpointed)."""

    accepted: bool
    reason: str
    request_id: str | None
    case_id: str | None
    document: dict[str, Any]
    order: dict[str, Any] | None


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


class OrderNotKnown(Exception):
    """The return names an order the hub has not seen yet."""


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

    def saga(self) -> Saga[dict[str, Any], RefundResult]:
        """The saga to register (before the runtime launches) and start per return id."""
        return Saga(SAGA_NAME, self.body, self.alerts, step_retry=ONE_TRY)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> Attempted[T]:
        return await attempt(call, self.settings.calls)

    # The body.

    async def body(self, steps: SagaSteps, payload: dict[str, Any]) -> RefundResult:
        """Run one return's refund; raise SagaAborted to have done steps compensated."""
        received = Return.model_validate(payload)
        claimed = await steps.step("claim", lambda: self.claim(received), compensate=self.release)
        if not claimed.accepted:
            await steps.step("crm_refusal", lambda: self.note_refusal(received, claimed))
            return RefundResult(received.return_id, ReturnState.REFUSED, claimed.reason)
        document = Return.model_validate(claimed.document)
        order = Order.model_validate(claimed.order) if claimed.order else None
        key = steps.key
        credit = await steps.step(
            "erp_credit_note",
            lambda: self.post_credit_note(document, key("erp")),
            compensate=lambda done: self.void_credit_note(document, key("erp")),
        )
        _abort_unless(credit, "erp_credit_note")
        points = await steps.step(
            "loyalty_return",
            lambda: self.reverse_points(document, order, key("loyalty")),
            compensate=lambda done: self.cancel_points(document, done, key("loyalty")),
        )
        _abort_unless(points, "loyalty_return")
        lines = restock_lines(document, self.settings.web_location)
        if lines:
            stocked = await steps.step(
                "restock",
                lambda: self.restock(document, lines, key("restock")),
                compensate=lambda done: self.unstock(document, key("restock")),
            )
            _abort_unless(stocked, "restock")
        refund: Attempted[str | None] = Attempted(None)
        if self._platform_owes(document, order):
            refund = await steps.step(
                "commerce_refund", lambda: self.refund_on_platform(document, key("commerce"))
            )
            _abort_unless(refund, "commerce_refund")
        return await steps.step(
            "close",
            lambda: self.close(document, claimed, credit, points, refund),
        )

    def _platform_owes(self, document: Return, order: Order | None) -> bool:
        commerce = self.ports.commerce
        return (
            commerce is not None
            and sold_on_platform(order, commerce.name)
            and not refunded_by_platform(document, commerce.name)
        )

    # 1. Claim, refusal, release.

    async def claim(self, received: Return) -> Claimed:
        """Find the order, then check and claim the returned quantities in one transaction."""
        order = await self._order(received.original_order_id)
        async with self.bus.transaction() as transaction:
            if order is not None:
                await keep_order(transaction, order, replace=False)
                order = await sold_order(transaction, order.order_id, lock=True)
            decision = (
                ClaimDecision(False, (), None)
                if order is None and received.original_order_id
                else await claim_received(transaction, order, received)
            )
            reason = decision.reason or (
                "" if decision.accepted else f"order {received.original_order_id} is not known"
            )
            document = (
                with_refund_tenders(received, order, decision.points_recredited_before)
                if decision.accepted
                else received
            )
            case_id = (
                await case_of(transaction, decision.request_id) if decision.request_id else None
            )
            state = ReturnState.RECEIVED if decision.accepted else ReturnState.REFUSED
            await record_return(
                transaction,
                received.return_id,
                state,
                order_id=received.original_order_id,
                request_id=decision.request_id,
                case_id=case_id,
                reason=reason or None,
            )
            await record_system(
                transaction,
                received.return_id,
                "guard",
                Outcome.DONE if decision.accepted else Outcome.FAILED,
                reference=decision.request_id,
                detail=reason or "quantities claimed",
            )
        return Claimed(
            decision.accepted,
            reason,
            decision.request_id,
            case_id,
            document.model_dump(mode="json"),
            order.model_dump(mode="json") if order is not None else None,
        )

    async def _order(self, order_id: str | None) -> Order | None:
        """The order from the ledger, else the platform; waits a while for one not seen yet."""
        if order_id is None:
            return None
        retrying = AsyncRetrying(
            stop=stop_after_delay(self.settings.order_wait_s),
            wait=wait_fixed(self.settings.order_poll_s),
            retry=retry_if_exception_type(OrderNotKnown),
            reraise=True,
        )
        try:
            async for tried in retrying:
                with tried:
                    return await self._known_order(order_id)
        except OrderNotKnown:
            return None
        return None

    async def _known_order(self, order_id: str) -> Order:
        async with self.bus.transaction() as transaction:
            order = await sold_order(transaction, order_id)
        if order is None and self.ports.commerce is not None:
            order = await self.ports.commerce.get_order(order_id)
        if order is None:
            raise OrderNotKnown(order_id)
        return order

    async def note_refusal(self, received: Return, claimed: Claimed) -> None:
        """Put the refusal on a CRM case for customer service; alert when the till paid out."""
        order = Order.model_validate(claimed.order) if claimed.order else None
        key = f"return:{claimed.request_id or received.return_id}"
        text = f"Return {received.return_id} refused: {claimed.reason}"
        opened = await self._call(lambda: self._case(received, order, claimed.case_id, key, text))
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

    async def _case(
        self, document: Return, order: Order | None, case_id: str | None, key: str, text: str
    ) -> str:
        """The return's open case (the request's, when there was one), with `text` noted."""
        crm = self.ports.crm
        if case_id is None:
            contact = await buyer_contact(crm, order)
            case_id = await crm.open_case(contact, case_subject(document), text, key)
        else:
            await crm.update_case(case_id, status="open", text=text)
        return case_id

    async def release(self, claimed: Claimed) -> None:
        """Undone last: release the claim unless something stands, note the case, record it."""
        if not claimed.accepted:
            return
        document = Return.model_validate(claimed.document)
        return_id = document.return_id
        async with self.bus.transaction() as transaction:
            outcomes = await system_outcomes(transaction, return_id)
        standing = sorted(
            s for s, (o, _) in outcomes.items() if o is Outcome.DONE and s not in ("guard", "crm")
        )
        failed = [f"{s}: {d}" for s, (o, d) in outcomes.items() if o is Outcome.FAILED]
        reason = "; ".join(failed) or "a step failed"
        text = f"Refund of return {return_id} stopped: {reason}. " + (
            "Everything done was undone; the goods are not refunded."
            if not standing
            else f"Still standing, for an operator: {', '.join(standing)}."
        )
        order = Order.model_validate(claimed.order) if claimed.order else None
        key = f"return:{claimed.request_id or return_id}"
        noted = await self._call(lambda: self._case(document, order, claimed.case_id, key, text))
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
                ReturnState.COMPENSATED if not standing else ReturnState.ATTENTION,
                case_id=noted.value,
                reason=reason,
            )

    # 2. ERP credit note.

    async def post_credit_note(self, document: Return, key: str) -> Attempted[str]:
        """Issue the credit note under the return's key and record it."""
        erp = self.ports.erp
        posted = await self._call(lambda: erp.post_credit_note(document, key))
        value = Attempted(posted.value.external_id if posted.value else None, posted.error)
        await self._record(
            document.return_id, "erp", value, detail=f"credit note {document.refund_total}"
        )
        return value

    async def void_credit_note(self, document: Return, key: str) -> None:
        """Void whatever credit note was written under the key (none: nothing to do)."""
        await self.ports.erp.void_credit_note(key)
        await self._reversed(document.return_id, "erp", "credit note voided")

    # 3. Loyalty.

    async def reverse_points(
        self, document: Return, order: Order | None, key: str
    ) -> Attempted[PointsOutcome]:
        """Reverse the points the returned lines earned and re-credit points that paid for them."""
        if not _has_member(document, order):
            await self._skipped(document.return_id, "loyalty", "no loyalty member on the sale")
            return Attempted(PointsOutcome("", 0))
        loyalty = self.ports.loyalty
        outcome = await self._call(lambda: loyalty.register_return(document, key))
        points = outcome.value
        async with self.bus.transaction() as transaction:
            if points is None:
                await record_system(
                    transaction,
                    document.return_id,
                    "loyalty",
                    Outcome.FAILED,
                    detail=outcome.error,
                )
            else:
                reversed_ = -sum(r.points for r in points.transactions if r.points < 0)
                recredited = document.points_refunded()
                await record_system(
                    transaction,
                    document.return_id,
                    "loyalty",
                    Outcome.DONE if points.member_id else Outcome.SKIPPED,
                    reference=points.member_id or None,
                    points=points.points,
                    detail=f"{reversed_} points reversed, {recredited} re-credited",
                )
                await record_points_recredited(transaction, document.return_id, recredited)
        return outcome

    async def cancel_points(
        self, document: Return, done: Attempted[PointsOutcome], key: str
    ) -> None:
        """Cancel the return's transfers; after a failed call, find them by registering again
        (the platform answers a repeated document with its first registration)."""
        loyalty = self.ports.loyalty
        outcome = done.value
        if outcome is None:
            if done.refused:
                return
            outcome = await loyalty.register_return(document, key)
        elif not outcome.member_id:
            return
        for row in outcome.transactions:
            await loyalty.cancel_transfer(row.transaction_id)
        async with self.bus.transaction() as transaction:
            await record_points_recredited(transaction, document.return_id, 0)
        await self._reversed(document.return_id, "loyalty", "points transfers cancelled")

    # 4. Restock.

    async def restock(self, document: Return, lines: list[RestockLine], key: str) -> Attempted[int]:
        """Put the restocked lines back on hand where the goods arrived, recording each one."""
        erp = self.ports.erp

        async def put_back() -> int:
            done = {line.line_id for line in await self._restocked(document.return_id)}
            for line in lines:
                if line.line_id in done:
                    continue
                await erp.adjust_stock(
                    line.sku, line.location, line.quantity, f"{key}:{line.line_id}"
                )
                async with self.bus.transaction() as transaction:
                    await record_restocked(transaction, document.return_id, line)
            return len(lines)

        stocked = await self._call(put_back)
        where = ", ".join(sorted({line.location for line in lines}))
        await self._record(document.return_id, "stock", stocked, detail=f"restocked at {where}")
        return stocked

    async def _restocked(self, return_id: str) -> list[RestockLine]:
        async with self.bus.transaction() as transaction:
            return await restocked_lines(transaction, return_id)

    async def unstock(self, document: Return, key: str) -> None:
        """Take back off hand exactly the lines recorded as restocked."""
        for line in await self._restocked(document.return_id):
            await self.ports.erp.adjust_stock(
                line.sku, line.location, -line.quantity, f"{key}:{line.line_id}:undo"
            )
        await self._reversed(document.return_id, "stock", "restock reversed")

    # 5. Platform refund.

    async def refund_on_platform(self, document: Return, key: str) -> Attempted[str | None]:
        """Refund on the commerce platform what it still owes (goods only if the till paid)."""
        commerce = self.ports.commerce
        assert commerce is not None
        owed = platform_refund(document)
        refunded: Attempted[str | None] = await self._call(
            lambda: commerce.refund_return(owed, key)
        )
        await self._record(
            document.return_id, "commerce", refunded, detail=f"refunded {owed.refund_total}"
        )
        return refunded

    # 6. Close.

    async def close(
        self,
        document: Return,
        claimed: Claimed,
        credit: Attempted[str],
        points: Attempted[PointsOutcome],
        refund: Attempted[str | None],
    ) -> RefundResult:
        """Close the case with what was done; record the refund and publish it, atomically."""
        order = Order.model_validate(claimed.order) if claimed.order else None
        moved = points.value.points if points.value else 0
        text = (
            f"Return {document.return_id} refunded: {document.refund_total}, credit note "
            f"{credit.value}, {moved} loyalty points"
            + (f", platform refund {refund.value}" if refund.value else "")
            + "."
        )
        key = f"return:{claimed.request_id or document.return_id}"
        crm = self.ports.crm

        async def close_case() -> str:
            case_id = await self._case(
                document, order, claimed.case_id, key, case_opening_text(document)
            )
            await crm.update_case(case_id, status="closed", text=text)
            return case_id

        closed = await self._call(close_case)
        async with self.bus.transaction() as transaction:
            await record_system(
                transaction,
                document.return_id,
                "crm",
                Outcome.DONE if closed.ok else Outcome.FAILED,
                reference=closed.value,
                detail="case closed" if closed.ok else closed.error,
            )
            await record_return(
                transaction,
                document.return_id,
                ReturnState.REFUNDED,
                case_id=closed.value,
                reason=None if closed.ok else f"refunded; CRM case not closed: {closed.error}",
            )
            if claimed.request_id and claimed.request_id != document.return_id:
                await record_return(
                    transaction,
                    claimed.request_id,
                    ReturnState.REFUNDED,
                    reason=f"goods received as {document.return_id}",
                )
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
            credit_note=credit.value,
            points=moved,
            platform_refund=refund.value,
            case_id=closed.value,
        )

    # Status rows.

    async def _record(
        self, return_id: str, system: str, done: Attempted[Any], *, detail: str
    ) -> None:
        reference = done.value if isinstance(done.value, str) else None
        async with self.bus.transaction() as transaction:
            await record_system(
                transaction,
                return_id,
                system,
                Outcome.DONE if done.ok else Outcome.FAILED,
                reference=reference,
                detail=detail if done.ok else done.error,
            )

    async def _skipped(self, return_id: str, system: str, detail: str) -> None:
        async with self.bus.transaction() as transaction:
            await record_system(transaction, return_id, system, Outcome.SKIPPED, detail=detail)

    async def _reversed(self, return_id: str, system: str, detail: str) -> None:
        """Mark a system's work undone; a failed call stays failed, with the undo noted."""
        async with self.bus.transaction() as transaction:
            now = (await system_outcomes(transaction, return_id)).get(system)
            if now is not None and now[0] is Outcome.FAILED:
                await record_system(
                    transaction, return_id, system, Outcome.FAILED, detail=f"{now[1]} ({detail})"
                )
            else:
                await record_system(transaction, return_id, system, Outcome.REVERSED, detail=detail)


def _abort_unless(done: Attempted[Any], step: str) -> None:
    """Stop the saga (compensating what was done) when a step's call failed for good."""
    if not done.ok:
        raise SagaAborted(step, done.error or "failed")


def _has_member(document: Return, order: Order | None) -> bool:
    """True when the sale or the return names someone the loyalty platform may know."""
    if document.loyalty_card or document.points_refunded():
        return True
    return order is not None and bool(order.loyalty_card or order.email)
