"""Receiving a return: the original order found, the guard, and the claim of the quantities.

The first thing the saga does with goods received. The order comes from the returns ledger,
else from the commerce platform (a web order sold before the hub listened); a till's return
can overtake its sale's event on the bus, so an order not known yet is waited for a while. The
guard and the claim then run in one hub transaction with the order's row held, and the
return's state is written with them, batched into one hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from retailhub.bus.port import EventBus
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import CommercePort
from retailhub.flows.returns.claims import ClaimDecision, claim_received, order_and_claims
from retailhub.flows.returns.decisions import with_refund_tenders
from retailhub.flows.returns.ledger import keep_order, sold_order
from retailhub.flows.returns.sql import Statement, execute_all
from retailhub.flows.returns.status import (
    Outcome,
    ReturnState,
    SystemOutcome,
    case_of,
    return_statement,
    systems_statement,
)


@dataclass(frozen=True)
class Claimed:
    """What the claim step decided, with what later steps need (picklable, checkpointed)."""

    accepted: bool
    reason: str
    request_id: str | None
    case_id: str | None
    document: dict[str, Any]
    order: dict[str, Any] | None

    @property
    def case_key(self) -> str:
        """The CRM case's idempotency key: the online request's id, else the return's."""
        return f"return:{self.request_id or Return.model_validate(self.document).return_id}"

    def sold(self) -> Order | None:
        """The original order, when the hub knows it."""
        return Order.model_validate(self.order) if self.order else None


class OrderNotKnown(Exception):
    """The return names an order the hub has not seen yet."""


class Receiving:
    """Claims received returns over the hub's bus, with the platform as a fallback for orders."""

    def __init__(
        self,
        bus: EventBus,
        commerce: CommercePort | None,
        *,
        order_wait_s: float,
        order_poll_s: float,
    ) -> None:
        self.bus, self.commerce = bus, commerce
        self.order_wait_s, self.order_poll_s = order_wait_s, order_poll_s

    async def claim(self, received: Return) -> Claimed:
        """Check and claim the returned quantities in one transaction with the order's row.

        An order the ledger does not keep yet is looked for on the platform and waited for
        (outside the transaction), then the claim runs in a second one.
        """
        found = await self._claim(received, None)
        if found is not None:
            return found
        order = await self._order(received.original_order_id)
        claimed = await self._claim(received, order)
        assert claimed is not None
        return claimed

    async def _claim(self, received: Return, fetched: Order | None) -> Claimed | None:
        """The claim, or None when the ledger lacks the order and nothing was fetched yet."""
        order_id = received.original_order_id
        async with self.bus.transaction() as transaction:
            if fetched is not None:
                await keep_order(transaction, fetched, replace=False)
            order, claims = (
                await order_and_claims(transaction, order_id) if order_id else (None, [])
            )
            if order is None and order_id and fetched is None:
                return None
            writes: list[Statement] = []
            decision = (
                ClaimDecision(False, (), None)
                if order is None and order_id
                else await claim_received(transaction, order, received, claims, writes)
            )
            reason = decision.reason or (
                "" if decision.accepted else f"order {order_id} is not known"
            )
            document = (
                with_refund_tenders(received, order, decision.points_recredited_before)
                if decision.accepted
                else received
            )
            case_id = (
                await case_of(transaction, decision.request_id) if decision.request_id else None
            )
            writes.append(
                return_statement(
                    transaction,
                    received.return_id,
                    ReturnState.RECEIVED if decision.accepted else ReturnState.REFUSED,
                    order_id=order_id,
                    request_id=decision.request_id,
                    case_id=case_id,
                    reason=reason or None,
                )
            )
            if not decision.accepted:
                guard = SystemOutcome("guard", Outcome.FAILED, detail=reason)
                writes.append(systems_statement(transaction, received.return_id, [guard]))
            await execute_all(transaction, writes)
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
            stop=stop_after_delay(self.order_wait_s),
            wait=wait_fixed(self.order_poll_s),
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
        if order is None and self.commerce is not None:
            order = await self.commerce.get_order(order_id)
        if order is None:
            raise OrderNotKnown(order_id)
        return order
