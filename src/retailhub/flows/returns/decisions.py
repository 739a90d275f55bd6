"""Pure decisions of return-to-refund: what the refund pays back in points and money, what goes
back on the shelf, and what the commerce platform is asked to refund. No I/O, so recovery of a
saga re-decides them the same way and the tests can state them as properties."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, Tender, TenderType
from retailhub.canonical.returns import Return, ReturnLine

WEB_LOCATION = "WEB"


@dataclass(frozen=True)
class RestockLine:
    """One returned line going back on the shelf: which line, which SKU, how many, where."""

    line_id: str
    sku: str
    quantity: Decimal
    location: str


def points_share(order: Order, document: Return, recredited_before: int) -> int:
    """Loyalty points that paid for the returned goods, owed back to the member.

    The order's points tender is shared across its value: the return gets the fraction of the
    points equal to its refund over the order's grand total, rounded half up, and never more
    than the points not yet given back by earlier returns of the order.
    """
    spent = order.points_spent()
    grand = order.totals.grand_total.amount
    if spent <= 0 or grand <= 0:
        return 0
    fraction = min(Decimal(1), document.refund_total.amount / grand)
    owed = int((spent * fraction).to_integral_value(rounding=ROUND_HALF_UP))
    return max(0, min(owed, spent - recredited_before))


def with_refund_tenders(document: Return, order: Order | None, recredited_before: int) -> Return:
    """The return with the tenders it pays back, filled in from the original sale when unstated.

    A till states its refund tenders and an online request may; when none are stated and the
    sale was paid partly with points, the points share goes back as a points tender (worth the
    same fraction of the order's points tender money) and the rest as the sale's first other
    tender. Stated tenders are kept as they are.
    """
    if document.refund_tenders or order is None:
        return document
    points = points_share(order, document, recredited_before)
    if points <= 0:
        return document
    currency = document.currency
    points_tender = next(t for t in order.tenders if t.type is TenderType.LOYALTY_POINTS)
    spent = order.points_spent()
    value = Money(amount=points_tender.amount.amount * points / spent, currency=currency).rounded()
    value = min(value, document.refund_total, key=lambda m: m.amount)
    tenders = [Tender(type=TenderType.LOYALTY_POINTS, amount=value, points=points)]
    rest = document.refund_total - value
    if not rest.is_zero():
        money_type = next(
            (t.type for t in order.tenders if t.type is not TenderType.LOYALTY_POINTS),
            TenderType.CARD,
        )
        tenders.append(Tender(type=money_type, amount=rest))
    return Return.model_validate({**document.model_dump(), "refund_tenders": tenders})


def restock_lines(document: Return, web_location: str = WEB_LOCATION) -> list[RestockLine]:
    """The lines that go back on the shelf where the goods were received (restock, with a SKU)."""
    location = document.received_location or (
        web_location if document.received_channel is not Channel.STORE else None
    )
    if location is None:
        location = document.initiated_location or web_location
    return [
        RestockLine(line.line_id, line.sku, line.quantity, location)
        for line in document.lines
        if line.restock and line.sku is not None
    ]


def sold_on_platform(order: Order | None, platform: str) -> bool:
    """True when the original order was sold on the commerce platform (it carries its id)."""
    return order is not None and platform in order.external_ids


def refunded_by_platform(document: Return, platform: str) -> bool:
    """True when the return is the platform's own refund (it was refunded there already)."""
    return platform in document.external_ids


def money_refunded_at_till(document: Return) -> bool:
    """True when goods came back to a store whose till paid the refund out in money."""
    return document.received_channel is Channel.STORE and any(
        t.type is not TenderType.LOYALTY_POINTS for t in document.refund_tenders
    )


def platform_refund(document: Return) -> Return:
    """The return as the commerce platform should refund it: only what it still owes in money.

    Goods whose money the till already paid out are recorded with no money (a second payout
    would refund twice); points that paid are given back by the loyalty platform, not the
    payment gateway, so their share is left out; the rest is spread over the lines by value.
    Goods go back on the platform's books without a restock: stock is the ERP's, restocked by
    the saga where the goods arrived.
    """
    currency = document.currency
    if money_refunded_at_till(document):
        owed = Money.zero(currency)
    else:
        points = sum_money(
            (t.amount for t in document.refund_tenders if t.type is TenderType.LOYALTY_POINTS),
            currency,
        )
        owed = document.refund_total - points
    weights = [line.refund_amount.amount for line in document.lines]
    shares = (owed.allocate(weights) if sum(weights) > 0 and not owed.is_zero() else None) or [
        Money.zero(currency)
    ] * len(document.lines)
    lines = [
        ReturnLine.model_validate({**line.model_dump(), "refund_amount": share, "restock": False})
        for line, share in zip(document.lines, shares, strict=True)
    ]
    tenders = [t for t in document.refund_tenders if t.type is not TenderType.LOYALTY_POINTS]
    if owed.is_zero() or sum_money((t.amount for t in tenders), currency) != owed:
        tenders = []
    return Return.model_validate(
        {
            **document.model_dump(),
            "lines": [line.model_dump() for line in lines],
            "refund_total": owed,
            "refund_tenders": [t.model_dump() for t in tenders],
        }
    )


def case_subject(document: Return) -> str:
    """The CRM case's subject for a return."""
    order = document.original_order_id or "no receipt"
    return f"Return {document.return_id} of order {order}"


def case_opening_text(document: Return) -> str:
    """What the case says when it opens: the lines asked back and the refund."""
    lines = ", ".join(f"{line.quantity} x {line.sku or line.gtin}" for line in document.lines)
    return (
        f"Return of {lines} ({document.refund_total}) started via "
        f"{document.initiated_channel.value}."
    )
