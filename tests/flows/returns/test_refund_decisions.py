"""The pure decisions of a refund: the points share owed back, the tenders filled in from the
sale, what the commerce platform is asked to refund, and what goes back on the shelf."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.flows.returns.decisions import (
    platform_refund,
    points_share,
    restock_lines,
    with_refund_tenders,
)

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


def eur(amount: str | Decimal | int) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def sale(cents: list[int], points: int) -> Order:
    lines = [
        OrderLine(
            line_id=str(n), sku=f"SKU-{n}", quantity=Decimal(1), unit_price=eur(Decimal(c) / 100)
        )
        for n, c in enumerate(cents, 1)
    ]
    total = sum_money((line.net for line in lines), "EUR")
    by_points = eur(Decimal(points) / 100)
    tenders = [Tender(type=TenderType.CARD, amount=total - by_points)]
    if points:
        tenders.insert(0, Tender(type=TenderType.LOYALTY_POINTS, amount=by_points, points=points))
    return Order(
        order_id="POS-1",
        channel=Channel.STORE,
        location="AMS01",
        currency="EUR",
        prices_include_tax=True,
        placed_at=AT,
        lines=lines,
        tenders=tenders,
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=total),
    )


def back(order: Order, line_ids: list[str], *, tenders: list[Tender] | None = None) -> Return:
    lines = [
        ReturnLine(
            line_id=str(n),
            original_line_id=line_id,
            sku=f"SKU-{line_id}",
            quantity=Decimal(1),
            refund_amount=next(ln.net for ln in order.lines if ln.line_id == line_id),
        )
        for n, line_id in enumerate(line_ids, 1)
    ]
    return Return(
        return_id="R-1",
        original_order_id=order.order_id,
        initiated_channel=Channel.STORE,
        received_channel=Channel.STORE,
        received_location="AMS01",
        currency="EUR",
        lines=lines,
        refund_tenders=tenders or [],
        refund_total=sum_money((ln.refund_amount for ln in lines), "EUR"),
        status=ReturnStatus.RECEIVED,
        created_at=AT,
    )


@given(
    cents=st.lists(st.integers(min_value=500, max_value=20_000), min_size=1, max_size=5),
    points=st.integers(min_value=0, max_value=400),
    data=st.data(),
)
def test_the_points_given_back_never_exceed_what_paid_and_add_up_to_it(
    cents: list[int], points: int, data: st.DataObject
) -> None:
    order = sale(cents, points)
    ids = [line.line_id for line in order.lines]
    order_of_return = data.draw(st.permutations(ids))
    given_back = 0
    for line_id in order_of_return:
        document = back(order, [line_id])
        share = points_share(order, document, given_back)
        assert 0 <= share <= points - given_back
        filled = with_refund_tenders(document, order, given_back)
        assert filled.points_refunded() == share
        assert sum_money((t.amount for t in filled.refund_tenders), "EUR") in (
            filled.refund_total,
            Money.zero("EUR"),
        )
        given_back += share
    assert abs(given_back - points) <= len(ids)


def test_stated_tenders_are_kept_as_the_till_paid_them() -> None:
    order = sale([1000, 2000], 300)
    document = back(order, ["1"], tenders=[Tender(type=TenderType.CASH, amount=eur(10))])
    assert with_refund_tenders(document, order, 0) == document


def test_the_points_share_goes_back_as_points_and_the_rest_as_the_sale_was_paid() -> None:
    order = sale([1000, 3000], 400)
    filled = with_refund_tenders(back(order, ["2"]), order, 0)
    assert [(t.type, t.amount, t.points) for t in filled.refund_tenders] == [
        (TenderType.LOYALTY_POINTS, eur("3.00"), 300),
        (TenderType.CARD, eur("27.00"), None),
    ]


def test_the_platform_refunds_no_money_the_till_paid_out() -> None:
    order = sale([1000], 0)
    document = back(order, ["1"], tenders=[Tender(type=TenderType.CASH, amount=eur(10))])
    owed = platform_refund(document)
    assert owed.refund_total == Money.zero("EUR")
    assert owed.refund_tenders == []
    assert [line.restock for line in owed.lines] == [False]


def test_the_platform_refunds_the_money_part_only() -> None:
    order = sale([1000, 3000], 400)
    filled = with_refund_tenders(back(order, ["2"]), order, 0).model_copy(
        update={"received_channel": Channel.WEB, "received_location": None}
    )
    owed = platform_refund(filled)
    assert owed.refund_total == eur("27.00")
    assert [(t.type, t.amount) for t in owed.refund_tenders] == [(TenderType.CARD, eur("27.00"))]


def test_restocked_lines_go_back_where_the_goods_arrived() -> None:
    order = sale([1000, 2000], 0)
    document = back(order, ["1", "2"])
    damaged = document.model_copy(
        update={
            "lines": [document.lines[0], document.lines[1].model_copy(update={"restock": False})]
        }
    )
    assert [(r.sku, r.location) for r in restock_lines(damaged)] == [("SKU-1", "AMS01")]
    online = document.model_copy(
        update={"received_channel": Channel.WEB, "received_location": None}
    )
    assert {r.location for r in restock_lines(online, "DC1")} == {"DC1"}
