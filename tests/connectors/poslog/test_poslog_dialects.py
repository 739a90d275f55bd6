"""POSLog as other vendors write it maps too: Futura/roqqio (EU, VAT-inclusive) and Visma Retail."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from poslog_samples import FUTURA, VISMA

from retailhub.canonical.order import Order, OrderStatus, TenderType
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import Return, ReturnReason, ReturnStatus
from retailhub.connectors.poslog import PoslogTranslation, poslog_to_canonical


@pytest.fixture(scope="module")
def futura() -> PoslogTranslation:
    return poslog_to_canonical(FUTURA.read_bytes())


@pytest.fixture(scope="module")
def visma() -> PoslogTranslation:
    return poslog_to_canonical(VISMA.read_bytes())


def _by_id(translation: PoslogTranslation) -> dict[str, Order | Return]:
    return {(d.order_id if isinstance(d, Order) else d.return_id): d for d in translation.documents}


def test_futura_file_maps_sale_cancelled_basket_and_return(futura: PoslogTranslation) -> None:
    assert futura.failures == ()
    assert futura.control_transactions_skipped == 1
    assert list(_by_id(futura)) == [
        "POS-2104-20261120-210402-4712",
        "POS-2104-20261120-210402-4713",
        "POS-2104-20261120-210402-4714",
    ]


def test_business_unit_is_the_store_and_currency_comes_from_attributes(
    futura: PoslogTranslation,
) -> None:
    sale = futura.orders[0]
    assert sale.location == "2104"
    assert sale.pos is not None
    assert sale.pos.store == "2104"
    assert sale.pos.business_day == date(2026, 11, 20)
    assert sale.currency == "EUR"


def test_vat_inclusive_lines_with_tax_lines_and_a_promotion(futura: PoslogTranslation) -> None:
    sale = futura.orders[0]
    assert sale.prices_include_tax is True
    shirt, socks, sweets = sale.lines
    assert (shirt.sku, shirt.gtin) == ("8712001004179", "08712001004179"), "POSItemID names it"
    assert [(t.name, t.rate, t.amount.amount) for t in shirt.tax_lines] == [
        ("BTW hoog 21%", Decimal("0.21"), Decimal("6.940"))
    ]
    assert [(d.amount.amount, d.promotion_id) for d in socks.discounts] == [
        (Decimal("0.800"), "PROMO-2026-47")
    ]
    assert (sweets.quantity, sweets.unit_of_measure) == (Decimal("0.2560"), UnitOfMeasure.KG)
    assert (sweets.sku, sweets.gtin) == ("2201", None)
    assert sale.totals.tax_total.amount == Decimal("8.490")


def test_cash_rounding_and_a_tender_change_line(futura: PoslogTranslation) -> None:
    sale = futura.orders[0]
    assert sale.totals.rounding is not None
    assert sale.totals.rounding.amount == Decimal("0.010")
    assert sale.totals.grand_total.amount == Decimal("50.950")
    assert [(t.type, t.amount.amount) for t in sale.tenders] == [
        (TenderType.CASH, Decimal("60.000"))
    ]
    assert sale.change_given is not None
    assert sale.change_given.amount == Decimal("9.050")
    assert sale.customer_id == "31000418"
    assert sale.loyalty_card == "NL3100041807"


def test_cancelled_transaction_is_a_cancelled_order_not_a_live_one(
    futura: PoslogTranslation,
) -> None:
    cancelled = _by_id(futura)["POS-2104-20261120-210402-4713"]
    assert isinstance(cancelled, Order)
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.tenders == []


def test_negative_quantity_sale_with_a_link_is_a_return(futura: PoslogTranslation) -> None:
    (returned,) = futura.returns
    assert returned.original_order_id == "POS-2104-20261120-210402-4712"
    (line,) = returned.lines
    assert (line.original_line_id, line.quantity) == ("1", Decimal("1.0000"))
    assert returned.refund_total.amount == Decimal("19.990")
    assert [(t.type, t.reference) for t in returned.refund_tenders] == [
        (TenderType.CARD, "************7731")
    ]
    assert returned.status is ReturnStatus.REFUNDED
    assert (returned.received_channel, returned.received_location) == ("store", "2104")


def test_visma_file_skips_sign_on_and_till_loan(visma: PoslogTranslation) -> None:
    assert visma.failures == ()
    assert visma.control_transactions_skipped == 2
    assert (len(visma.orders), len(visma.returns)) == (1, 2)


def test_prefixed_namespace_padded_numbers_and_a_voided_line(visma: PoslogTranslation) -> None:
    sale = visma.orders[0]
    assert sale.order_id == "POS-NO-0412-20261121-3-814"
    assert sale.pos is not None
    assert (sale.pos.workstation, sale.pos.sequence) == ("03", "000814")
    assert [ln.line_id for ln in sale.lines] == ["1", "3", "4"], "line 2 was voided"
    assert sale.prices_include_tax is True
    assert sale.totals.tax_total.amount == Decimal("34.98")
    assert sale.totals.grand_total.amount == Decimal("252.20")
    assert sale.customer_ids == {"pos": "K-558120"}
    assert sale.loyalty_card == "7070412000931"


def test_loyalty_points_gift_card_and_cash_with_change(visma: PoslogTranslation) -> None:
    sale = visma.orders[0]
    assert [(t.type, t.amount.amount, t.points) for t in sale.tenders] == [
        (TenderType.LOYALTY_POINTS, Decimal("52.20"), 522),
        (TenderType.GIFT_CARD, Decimal("100.00"), None),
        (TenderType.CASH, Decimal("200.00"), None),
    ]
    assert sale.points_spent() == 522
    assert sale.change_given is not None
    assert sale.change_given.amount == Decimal("100.00")


def test_return_line_with_transaction_link_and_refund_tender(visma: PoslogTranslation) -> None:
    returned = _by_id(visma)["POS-NO-0412-20261121-3-815"]
    assert isinstance(returned, Return)
    assert returned.original_order_id == "POS-NO-0412-20261121-3-814"
    (line,) = returned.lines
    assert (line.original_line_id, line.reason) == ("1", ReturnReason.DAMAGED)
    assert line.refund_amount.amount == Decimal("89.90")
    assert [(t.type, t.amount.amount) for t in returned.refund_tenders] == [
        (TenderType.CARD, Decimal("89.90"))
    ]


def test_receiptless_negative_quantity_return_refunded_as_store_credit(
    visma: PoslogTranslation,
) -> None:
    returned = _by_id(visma)["POS-NO-0412-20261121-3-816"]
    assert isinstance(returned, Return)
    assert returned.is_receiptless
    (line,) = returned.lines
    assert (line.sku, line.quantity, line.reason) == (
        "4711",
        Decimal("1"),
        ReturnReason.CHANGED_MIND,
    )
    assert [(t.type, t.amount.amount, t.reference) for t in returned.refund_tenders] == [
        (TenderType.STORE_CREDIT, Decimal("42.50"), "KN-0412-20261121-0007")
    ]
    assert returned.refund_total.amount == Decimal("42.50")
