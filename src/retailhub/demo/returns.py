"""Returns of the trading day: goods brought back to a store, from a store sale or from a web
order whose return the shopper started online, as the tills and the web shop report them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import sum_money
from retailhub.canonical.order import Order, Tender, TenderType
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus


def brought_back(
    order: Order, return_id: str, store: str, at: datetime, *, paid_at_till: bool
) -> Return:
    """One unit of the order's first line received at `store`; the till pays it back by card
    unless the platform the order was paid on refunds it (`paid_at_till` false)."""
    line = order.lines[0]
    refund = (line.net * (Decimal(1) / line.quantity)).rounded()
    total = sum_money([refund], order.currency)
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=Channel.STORE,
        initiated_location=store,
        received_channel=Channel.STORE,
        received_location=store,
        loyalty_card=order.loyalty_card,
        customer_id=order.customer_id,
        currency=order.currency,
        lines=[
            ReturnLine(
                line_id="1",
                original_line_id=line.line_id,
                sku=line.sku,
                quantity=Decimal(1),
                refund_amount=refund,
            )
        ],
        refund_tenders=[Tender(type=TenderType.CARD, amount=total)] if paid_at_till else [],
        refund_total=total,
        status=ReturnStatus.REFUNDED if paid_at_till else ReturnStatus.RECEIVED,
        created_at=at,
    )


def requested_online(goods: Return, at: datetime) -> Return:
    """The same goods as the return the shopper started on the web shop before bringing them."""
    return Return.model_validate(
        {
            **goods.model_dump(),
            "return_id": f"{goods.return_id}-RMA",
            "initiated_channel": Channel.WEB,
            "initiated_location": None,
            "received_channel": None,
            "received_location": None,
            "refund_tenders": [],
            "status": ReturnStatus.REQUESTED,
            "created_at": at,
        }
    )
