"""The pure order-to-cash decisions: stock moves per line, their keys and their reversal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, OrderStatus, Totals
from retailhub.canonical.product import UnitOfMeasure
from retailhub.flows.order_to_cash.decisions import (
    StockSettings,
    cancel_stock_moves,
    is_completed,
    order_note,
    sale_stock_moves,
    stock_location,
    unmovable_lines,
)

GTIN = "8799999000017"


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """Completed orders of one to six lines, some weighed, some known by GTIN only, in a store
    or on the web, with or without a location."""
    lines = []
    for n in range(1, draw(st.integers(1, 6)) + 1):
        weighed = draw(st.booleans())
        quantity = (
            Decimal(draw(st.integers(1, 5000))).scaleb(-3)
            if weighed
            else Decimal(draw(st.integers(1, 9)))
        )
        by_gtin = draw(st.booleans()) and n > 1
        lines.append(
            OrderLine(
                line_id=f"L{n}",
                sku=None if by_gtin else f"SKU-{draw(st.integers(1, 4))}",
                gtin=GTIN if by_gtin else None,
                quantity=quantity,
                unit_of_measure=UnitOfMeasure.KG if weighed else UnitOfMeasure.EACH,
                unit_price=Money(
                    amount=Decimal(draw(st.integers(0, 9999))).scaleb(-2), currency="EUR"
                ),
            )
        )
    channel = draw(st.sampled_from([Channel.STORE, Channel.WEB]))
    location = draw(st.sampled_from([None, "AMS01", "WEB"]))
    if channel is Channel.STORE and location is None:
        location = "RTM02"
    total = sum_money((line.net for line in lines), "EUR")
    return Order(
        order_id=f"ORDER-{draw(st.integers(1, 10**6))}",
        channel=channel,
        location=location,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime(2026, 11, 27, 12, tzinfo=UTC),
        lines=lines,
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=total),
    )


@given(orders(), st.sampled_from(["WEB", "DC01"]))
def test_a_sale_takes_each_line_once_from_its_location(order: Order, web: str) -> None:
    settings = StockSettings(web_location=web)
    moves = sale_stock_moves(order, settings)
    moved = {move.key for move in moves}
    assert len(moved) == len(moves)
    assert moved == {f"{order.order_id}:{ln.line_id}" for ln in order.lines if ln.sku}
    assert {m.key.rsplit(":", 1)[1] for m in moves} | set(unmovable_lines(order)) == {
        ln.line_id for ln in order.lines
    }
    for move, line in zip(moves, [ln for ln in order.lines if ln.sku], strict=True):
        assert move.sku == line.sku
        assert move.delta == -line.quantity
        assert move.location == (order.location or web)
    assert stock_location(order, settings) == (order.location or web)


@given(orders())
def test_a_cancellation_puts_back_exactly_what_the_sale_took(order: Order) -> None:
    settings = StockSettings()
    sale, back = sale_stock_moves(order, settings), cancel_stock_moves(order, settings)
    net: dict[tuple[str, str], Decimal] = {}
    for move in [*sale, *back]:
        net[(move.sku, move.location)] = net.get((move.sku, move.location), Decimal(0)) + move.delta
    assert set(net.values()) <= {Decimal(0)}
    assert not {m.key for m in sale} & {m.key for m in back}


@given(orders())
def test_an_erp_that_delivers_itself_leaves_stock_to_the_erp(order: Order) -> None:
    settings = StockSettings(erp_moves_stock=True)
    assert sale_stock_moves(order, settings) == []
    assert cancel_stock_moves(order, settings) == []


@given(orders())
def test_only_a_completed_sale_is_posted_moved_and_accrued(order: Order) -> None:
    assert is_completed(order, cancelled_event=False)
    assert not is_completed(order, cancelled_event=True)
    pending = order.model_copy(update={"status": OrderStatus.PENDING})
    assert not is_completed(pending, cancelled_event=False)


@given(orders())
def test_the_order_note_names_the_order_its_lines_and_total(order: Order) -> None:
    note = order_note(order)
    assert note.startswith(f"Order {order.order_id} ")
    assert f"{len(order.lines)} line" in note
    assert str(order.totals.grand_total) in note
