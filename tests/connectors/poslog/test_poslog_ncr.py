"""Every transaction of the real NCR ACS files maps, with the figures the XML states."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from poslog_samples import NCR_51TX, NCR_SMALL, POSLOG_SAMPLES

from retailhub.canonical.order import Order, OrderStatus, TenderType
from retailhub.canonical.product import UnitOfMeasure
from retailhub.connectors.poslog import PoslogTranslation, poslog_to_canonical

SHARED_FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "poslog"


@pytest.fixture(scope="module")
def small() -> PoslogTranslation:
    return poslog_to_canonical(NCR_SMALL.read_bytes())


@pytest.fixture(scope="module")
def day() -> PoslogTranslation:
    return poslog_to_canonical(NCR_51TX.read_bytes())


def _order(translation: PoslogTranslation, order_id: str) -> Order:
    return next(o for o in translation.orders if o.order_id == order_id)


def test_small_file_maps_its_sale_and_skips_the_sign_on(small: PoslogTranslation) -> None:
    assert small.failures == ()
    assert small.control_transactions_skipped == 1
    assert [o.order_id for o in small.orders] == ["POS-9-20170930-34-161"]
    assert small.returns == []


def test_small_file_keeps_the_receipt_keys_and_the_business_day(small: PoslogTranslation) -> None:
    order = small.orders[0]
    assert order.pos is not None
    assert (order.pos.store, order.pos.workstation, order.pos.sequence) == ("9", "34", "161")
    assert order.pos.business_day == date(2017, 9, 30)
    assert order.pos.operator == "94"
    assert order.location == "9"
    assert order.placed_at == datetime(2017, 10, 1, 2, 2, 54, tzinfo=UTC)


def test_weighed_apple_is_sold_by_the_pound_under_its_plu(small: PoslogTranslation) -> None:
    (line,) = small.orders[0].lines
    assert line.quantity == Decimal("0.42")
    assert line.unit_of_measure is UnitOfMeasure.LB
    assert line.unit_price.amount == Decimal("2.99")
    assert line.extended_amount is not None
    assert line.extended_amount.amount == Decimal("1.26")
    assert line.sku == "00000000067591"
    assert line.gtin is None, "a padded 5-digit PLU is not a GTIN"


def test_loyalty_reward_loyalty_card_and_debit_tender(small: PoslogTranslation) -> None:
    order = small.orders[0]
    (discount,) = order.order_discounts
    assert (discount.amount.amount, discount.promotion_id) == (Decimal("0.19"), "5123")
    assert order.loyalty_card == "0000000000000040000066677"
    (tender,) = order.tenders
    assert (tender.type, tender.amount.amount, tender.reference) == (
        TenderType.CARD,
        Decimal("1.07"),
        "734277",
    )
    assert order.totals.grand_total.amount == Decimal("1.07")
    assert order.totals.tax_total.amount == Decimal("0.00")
    assert order.prices_include_tax is False
    assert order.status is OrderStatus.COMPLETED


def test_every_retail_transaction_of_the_day_maps(day: PoslogTranslation) -> None:
    assert day.failures == ()
    assert len(day.orders) == 42
    assert day.returns == []
    assert day.control_transactions_skipped == 9
    assert len({o.order_id for o in day.orders}) == 42
    assert sum(o.totals.grand_total.amount for o in day.orders) == Decimal("2643.72")
    assert Counter(t.type for o in day.orders for t in o.tenders) == {
        TenderType.CARD: 35,
        TenderType.CASH: 7,
    }


def test_weighed_lines_are_in_pounds_and_every_line_has_a_sku(day: PoslogTranslation) -> None:
    lines = [line for order in day.orders for line in order.lines]
    assert len(lines) == 543
    assert sum(1 for line in lines if line.unit_of_measure is UnitOfMeasure.LB) == 164
    assert all(line.sku for line in lines)


def test_cash_change_is_change_not_a_tender(day: PoslogTranslation) -> None:
    order = _order(day, "POS-9-20171001-34-100")
    assert [(t.type, t.amount.amount) for t in order.tenders] == [
        (TenderType.CASH, Decimal("20.00"))
    ]
    assert order.change_given is not None
    assert order.change_given.amount == Decimal("2.62")
    assert order.totals.grand_total.amount == Decimal("17.38")


def test_debit_cash_back_is_paid_out_as_change(day: PoslogTranslation) -> None:
    order = _order(day, "POS-9-20171001-3-90")
    assert [(t.type, t.amount.amount) for t in order.tenders] == [
        (TenderType.CARD, Decimal("89.34"))
    ]
    assert order.change_given is not None
    assert order.change_given.amount == Decimal("20.00")
    assert order.totals.grand_total.amount == Decimal("69.34")
    assert order.totals.tax_total.amount == Decimal("5.57")


def test_a_void_drops_the_reversal_and_the_line_it_cancels(day: PoslogTranslation) -> None:
    order = _order(day, "POS-9-20171001-1-376")
    frozen_veg = [ln.line_id for ln in order.lines if ln.sku == "00021908501406"]
    assert frozen_veg == ["15", "16"], "17 was rung up and voided by reversal line 18"
    assert len(order.lines) == 72
    assert order.totals.grand_total.amount == Decimal("354.21")
    assert order.totals.tax_total.amount == Decimal("5.32")


def test_multi_buy_and_pack_prices_use_the_price_actually_paid(day: PoslogTranslation) -> None:
    avocado = _order(day, "POS-9-20171001-3-86").lines[0]
    assert avocado.title == "AVOCADO HASS OR"
    assert (avocado.quantity, avocado.unit_price.amount) == (Decimal("1"), Decimal("3.00"))
    eggs = next(ln for ln in _order(day, "POS-9-20171001-2-300").lines if ln.line_id == "18")
    assert eggs.quantity == Decimal("12")
    assert eggs.extended_amount is not None
    assert eggs.extended_amount.amount == Decimal("5.69")
    assert eggs.unit_price.amount == Decimal("0.474167")


def test_bottle_deposit_refund_is_money_off_the_basket(day: PoslogTranslation) -> None:
    order = _order(day, "POS-9-20171001-34-101")
    (refund,) = order.order_discounts
    assert refund.amount.amount == Decimal("2.00")
    assert refund.description == "BOTTLE REFUND (item 00000000054409)"
    assert order.totals.grand_total.amount == Decimal("11.88")


def test_member_basket_reward_and_card(day: PoslogTranslation) -> None:
    order = _order(day, "POS-9-20171001-1-377")
    assert order.loyalty_card == "0000000000000002067842957"
    assert [(d.amount.amount, d.promotion_id) for d in order.order_discounts] == [
        (Decimal("22.26"), "5081")
    ]
    assert order.totals.grand_total.amount == Decimal("202.84")


def test_scanned_items_carry_their_gtin(day: PoslogTranslation) -> None:
    line = next(ln for ln in _order(day, "POS-9-20171001-1-376").lines if ln.line_id == "2")
    assert (line.sku, line.gtin) == ("00018627703389", "00018627703389")


@pytest.mark.parametrize("name", ["ncr-acs-small.xml", "ncr-acs-51tx.xml"])
def test_shipped_copies_are_the_vendor_files_unchanged(name: str) -> None:
    shared = SHARED_FIXTURES / name
    if not shared.exists():
        pytest.skip(f"{shared} is not on this machine")
    assert (POSLOG_SAMPLES / name).read_bytes() == shared.read_bytes()
