"""The `o2c.loyalty` subscription: a completed order of a member earns points once, under the
loyalty platform's own earning rules (base points and campaign bonuses by SKU and channel are
the platform's to compute, never the hub's).

Who earns: the order's loyalty card, else the member found by the order's email or by the
member id the order carries for the loyalty system; an order of nobody the platform knows is
`skipped`. The sale is registered under the order id, so a repeat returns the first accrual.
When points were credited, `POINTS_ACCRUED` is published in the handler's transaction for the
CRM note. A cancelled order earns nothing; if it had earned already, its accrual transfers are
cancelled on the platform, `POINTS_REVERSED` is published and the row turns `reversed`
(reconciliation looks for accruals on cancelled orders; this leaves none).
"""

from __future__ import annotations

from retailhub.bus.port import EventBus, Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.loyalty import LoyaltyTransactionType
from retailhub.canonical.order import Order
from retailhub.connectors.ports import LoyaltyPort
from retailhub.flows.order_to_cash.decisions import is_completed, sale_key
from retailhub.flows.order_to_cash.events import (
    POINTS_ACCRUED,
    POINTS_REVERSED,
    PointsMoved,
    is_cancellation,
    order_of,
    points_event,
)
from retailhub.flows.order_to_cash.status import Outcome, SystemStatus, record, recorded

SYSTEM = "loyalty"


async def member_order(loyalty: LoyaltyPort, order: Order) -> Order | None:
    """The order as the platform can match it to a member, or None when it belongs to nobody
    the platform knows. A member found by email or member id is matched by their card."""
    if order.loyalty_card:
        return order
    member_id = order.customer_ids.get(loyalty.name)
    member = None
    if member_id:
        member = await loyalty.find_member(member_id=member_id)
    if member is None and order.email:
        member = await loyalty.find_member(email=order.email)
    if member is None:
        return None
    if member.card_numbers:
        return order.model_copy(update={"loyalty_card": member.card_numbers[0]})
    return order if order.email else None


def accrue_points(loyalty: LoyaltyPort, bus: EventBus) -> Handler:
    """The handler registering completed sales with the loyalty platform."""

    async def on_sale(order: Order, context: HandlerContext) -> SystemStatus:
        matched = await member_order(loyalty, order)
        if matched is None:
            return SystemStatus(
                SYSTEM,
                Outcome.SKIPPED,
                detail="no loyalty card or known member",
                attempts=context.attempt,
            )
        outcome = await loyalty.register_sale(matched, sale_key(order.order_id))
        if not outcome.member_id:
            return SystemStatus(
                SYSTEM,
                Outcome.DONE,
                points=0,
                detail=f"card {matched.loyalty_card} matched no member: nothing credited",
                attempts=context.attempt,
            )
        if outcome.points > 0:
            accrued = PointsMoved(order, outcome.member_id, outcome.points)
            event = points_event(POINTS_ACCRUED, accrued)
            await bus.publish([event], transaction=context.transaction)
        return SystemStatus(
            SYSTEM,
            Outcome.DONE,
            reference=outcome.member_id,
            points=outcome.points,
            detail=f"{len(outcome.transactions)} ledger row(s)",
            attempts=context.attempt,
        )

    async def on_cancel(order: Order, context: HandlerContext) -> SystemStatus:
        before = (await recorded(context.transaction, order.order_id)).get(SYSTEM)
        if before is None or before.outcome is not Outcome.DONE or not before.reference:
            return SystemStatus(
                SYSTEM,
                Outcome.SKIPPED,
                detail="cancelled: no points were accrued",
                attempts=context.attempt,
            )
        accruals = [
            row
            for row in await loyalty.ledger(before.reference)
            if row.order_id == order.order_id and row.type is LoyaltyTransactionType.ACCRUAL
        ]
        for row in accruals:
            await loyalty.cancel_transfer(row.transaction_id)
        taken_back = sum(row.points for row in accruals)
        if taken_back > 0:
            reversal = points_event(
                POINTS_REVERSED, PointsMoved(order, before.reference, taken_back)
            )
            await bus.publish([reversal], transaction=context.transaction)
        return SystemStatus(
            SYSTEM,
            Outcome.REVERSED,
            reference=before.reference,
            points=before.points,
            detail=f"cancelled: {len(accruals)} accrual transfer(s) cancelled",
            attempts=context.attempt,
        )

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        order = order_of(event)
        if is_completed(order, is_cancellation(event)):
            status = await on_sale(order, context)
        elif is_cancellation(event):
            status = await on_cancel(order, context)
        else:
            status = SystemStatus(
                SYSTEM, Outcome.SKIPPED, detail="not completed yet", attempts=context.attempt
            )
        await record(context.transaction, order.order_id, status)

    return handle
