"""Smaller variations real files show: other spellings of the same facts, and the mapping options."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from poslog_samples import NCR_51TX, NCR_SMALL

from retailhub.canonical.order import Order, OrderStatus, TenderType
from retailhub.canonical.product import UnitOfMeasure
from retailhub.connectors.poslog import poslog_to_canonical

ONE_SALE = """<POSLog xmlns="http://www.nrf-arts.org/IXRetail/namespace/">
<Transaction {flags}>
  <RetailStoreID>S001</RetailStoreID><WorkstationID>1</WorkstationID>
  <SequenceNumber>42</SequenceNumber><BusinessDayDate>2026-03-02</BusinessDayDate>
  <EndDateTime>2026-03-02T18:30:00+01:00</EndDateTime><CurrencyCode>EUR</CurrencyCode>
  <RetailTransaction>
    <LineItem><SequenceNumber>1</SequenceNumber>
      <Sale><ItemID>SKU-1</ItemID><RegularSalesUnitPrice>10.00</RegularSalesUnitPrice>
        <ExtendedAmount>10.00</ExtendedAmount><Quantity>1</Quantity></Sale></LineItem>
    <LineItem><SequenceNumber>2</SequenceNumber>
      <Tender TenderType="{tender}"><Amount>10.00</Amount><Points>100</Points></Tender></LineItem>
    <Total TotalType="TransactionGrandAmount">10.00</Total>
    <Total TotalType="TransactionTaxAmount">1.60</Total>
  </RetailTransaction>
</Transaction></POSLog>"""


def _one_sale(flags: str = "", tender: str = "LoyaltyPoints") -> Order:
    translation = poslog_to_canonical(ONE_SALE.format(flags=flags, tender=tender).encode())
    assert translation.failures == ()
    (order,) = translation.orders
    return order


def test_loyalty_points_tender_with_bare_points_and_inferred_vat() -> None:
    order = _one_sale()
    assert [(t.type, t.points) for t in order.tenders] == [(TenderType.LOYALTY_POINTS, 100)]
    assert order.prices_include_tax is True, "only the tax-inclusive sum gives the grand total"
    assert order.placed_at == datetime(2026, 3, 2, 18, 30, tzinfo=timezone(timedelta(hours=1)))


def test_cancel_flag_on_the_transaction_cancels_the_order() -> None:
    assert _one_sale(flags='CancelFlag="true"').status is OrderStatus.CANCELLED


def test_an_unknown_tender_type_is_kept_as_other() -> None:
    (tender,) = _one_sale(tender="Cheque").tenders
    assert (tender.type, tender.points) == (TenderType.OTHER, None)


def test_resumed_transaction_link_is_not_a_return() -> None:
    translation = poslog_to_canonical(NCR_51TX.read_bytes())
    resumed = next(o for o in translation.orders if o.order_id == "POS-9-20171001-31-114")
    assert resumed.totals.grand_total.amount == Decimal("20.45")


def test_times_without_offset_are_read_in_the_store_time_zone() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    order = poslog_to_canonical(NCR_SMALL.read_bytes(), store_timezone=pacific).orders[0]
    assert order.placed_at == datetime(2017, 10, 1, 2, 2, 54, tzinfo=pacific)


def test_weight_unit_can_be_set_when_the_file_names_none() -> None:
    order = poslog_to_canonical(NCR_SMALL.read_bytes(), weight_unit=UnitOfMeasure.KG).orders[0]
    assert order.lines[0].unit_of_measure is UnitOfMeasure.KG
