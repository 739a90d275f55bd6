"""Shopify orders -> canonical Orders, on Shopify's own sample order and on variants of it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import OrderStatus, TenderType
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import order_to_canonical

Sample = Callable[[str], dict[str, Any]]


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def test_the_sample_order_keeps_shopifys_totals(shopify: Sample) -> None:
    with capture_logs() as logs:
        order = order_to_canonical(shopify("order"))
    assert order.order_id == "SHOPIFY-ORDER-450789469"
    assert order.external_ids == {"shopify": "450789469"}
    assert order.channel is Channel.WEB
    assert order.currency == "USD"
    assert not order.prices_include_tax
    assert order.customer_ids == {"shopify": "207119551"}
    assert order.email == "bob.norman@hostmail.com"
    assert [line.sku for line in order.lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    assert [line.line_id for line in order.lines] == ["466157049", "518995019", "703073504"]
    assert order.totals.grand_total == usd("409.94")
    assert order.totals.tax_total == usd("11.94")
    assert order.totals.shipping == usd("0.00")
    assert order.rounding_difference is None
    # 409.94 = subtotal 398.00 + tax 11.94 + free shipping. Shopify's sample lists three lines of
    # 199.00 under that subtotal and a TENOFF code whose 10.00 its totals never took off: the
    # 199.00 gap becomes one order discount saying what it is, and it is logged.
    assert order.computed_grand_total() == usd("398.00") + usd("11.94")
    assert [d.amount for d in order.order_discounts] == [usd("199.00")]
    assert order.order_discounts[0].code is None
    assert order.totals.discount_total == usd("199.00")
    assert {entry["path"] for entry in logs} == {"$.total_line_items_price", "$.subtotal_price"}


def test_an_authorised_web_order_is_completed_so_it_reaches_the_erp(shopify: Sample) -> None:
    order = order_to_canonical(shopify("order"))
    assert order.status is OrderStatus.COMPLETED
    assert order.tenders == []


def test_the_sample_authorisation_is_the_card_tender(shopify: Sample) -> None:
    raw = {**shopify("order"), "transactions": [shopify("transaction")]}
    order = order_to_canonical(raw)
    [tender] = order.tenders
    assert tender.type is TenderType.CARD
    assert tender.amount == usd("409.94")
    assert tender.reference == "XXXX-XXXX-XXXX-4242"


def test_a_captured_authorisation_is_paid_once(shopify: Sample) -> None:
    authorisation = shopify("transaction")
    capture = {**authorisation, "id": 389404470, "kind": "capture", "parent_id": 389404469}
    failed = {**authorisation, "id": 389404471, "kind": "sale", "status": "failure"}
    raw = {**shopify("order"), "financial_status": "paid"}
    raw["transactions"] = [authorisation, capture, failed]
    assert [t.amount for t in order_to_canonical(raw).tenders] == [usd("409.94")]


@pytest.mark.parametrize(
    ("financial_status", "status"),
    [
        ("pending", OrderStatus.PENDING),
        ("partially_paid", OrderStatus.PENDING),
        ("expired", OrderStatus.PENDING),
        ("authorized", OrderStatus.COMPLETED),
        ("paid", OrderStatus.COMPLETED),
        ("partially_refunded", OrderStatus.COMPLETED),
        ("refunded", OrderStatus.COMPLETED),
        ("voided", OrderStatus.CANCELLED),
        (None, OrderStatus.PENDING),
    ],
)
def test_financial_status_decides_the_order_status(
    shopify: Sample, financial_status: str | None, status: OrderStatus
) -> None:
    raw = {**shopify("order"), "financial_status": financial_status}
    assert order_to_canonical(raw).status is status


def test_a_cancelled_order_is_cancelled_whatever_was_paid(shopify: Sample) -> None:
    raw = {
        **shopify("order"),
        "financial_status": "paid",
        "cancelled_at": "2008-01-11T09:00:00-05:00",
    }
    assert order_to_canonical(raw).status is OrderStatus.CANCELLED


def test_a_shopify_pos_sale_is_a_store_sale_at_the_estates_location(shopify: Sample) -> None:
    location = shopify("location")
    raw = {**shopify("order"), "source_name": "pos", "location_id": location["id"]}
    order = order_to_canonical(raw, location_code_by_id={location["id"]: "NYC05"})
    assert (order.channel, order.location) == (Channel.STORE, "NYC05")
    assert order_to_canonical(raw).location == f"SHOPIFY-{location['id']}"


def eu_order(shopify: Sample) -> dict[str, Any]:
    """The sample order as a German shop sends it: EUR, 19 % VAT inside the prices, a 10.00 code
    allocated across the lines, shipping 4.90 with its VAT, paid by card."""
    raw = shopify("order")
    raw.update(
        currency="EUR",
        taxes_included=True,
        financial_status="paid",
        total_line_items_price="597.00",
        total_discounts="10.00",
        subtotal_price="587.00",
        total_tax="94.50",
        total_price="591.90",
        discount_applications=[
            {
                "type": "discount_code",
                "code": "TENOFF",
                "value": "10.00",
                "value_type": "fixed_amount",
                "allocation_method": "across",
                "target_selection": "all",
                "target_type": "line_item",
            }
        ],
        shipping_lines=[
            {
                "title": "DHL Paket",
                "price": "4.90",
                "discounted_price": "4.90",
                "tax_lines": [{"title": "MwSt", "price": "0.78", "rate": 0.19}],
            }
        ],
        transactions=[
            {
                "id": 1,
                "kind": "sale",
                "status": "success",
                "amount": "591.90",
                "currency": "EUR",
                "gateway": "shopify_payments",
            }
        ],
    )
    for line, allocated in zip(raw["line_items"], ["3.33", "3.33", "3.34"], strict=True):
        line["discount_allocations"] = [{"amount": allocated, "discount_application_index": 0}]
        line["tax_lines"] = [{"title": "MwSt", "price": "31.24", "rate": 0.19}]
    return raw


def test_an_eu_order_adds_up_with_vat_inside_the_prices(shopify: Sample) -> None:
    order = order_to_canonical(eu_order(shopify))
    assert order.prices_include_tax
    assert order.currency == "EUR"
    assert [line.net for line in order.lines] == [eur("195.67"), eur("195.67"), eur("195.66")]
    assert order.lines[0].discounts[0].code == "TENOFF"
    assert order.order_discounts == []
    assert order.totals.discount_total == eur("10.00")
    assert order.lines[0].tax_lines[0].rate == Decimal("0.19")
    # VAT is inside the lines, so the grand total is lines less discounts plus shipping, not + tax.
    assert order.totals.grand_total == eur("587.00") + eur("4.90") == eur("591.90")
    assert order.totals.tax_total == eur("94.50")
    assert order.status is OrderStatus.COMPLETED
    assert order.tendered == eur("591.90")


def test_a_discount_code_that_accounts_for_the_subtotal_is_the_order_discount(
    shopify: Sample,
) -> None:
    raw = shopify("order")
    raw["line_items"] = raw["line_items"][:2]
    raw.update(subtotal_price="388.00", total_discounts="10.00", total_price="399.94")
    order = order_to_canonical(raw)
    [discount] = order.order_discounts
    assert (discount.amount, discount.code) == (usd("10.00"), "TENOFF")


def test_shipping_is_net_of_its_discounts(shopify: Sample) -> None:
    raw = shopify("order")
    raw["shipping_lines"] = [
        {
            "title": "Express",
            "price": "15.00",
            "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
        }
    ]
    raw["total_price"] = "419.94"
    assert order_to_canonical(raw).totals.shipping == usd("10.00")


def broken(raw: dict[str, Any], change: Any) -> MappingError:
    change(raw)
    with pytest.raises(MappingError) as caught:
        order_to_canonical(raw)
    return caught.value


def test_an_order_without_id_is_refused_at_its_id(shopify: Sample) -> None:
    error = broken(shopify("order"), lambda raw: raw.pop("id"))
    assert (error.resource, error.resource_id, error.path) == ("order", None, "$.id")


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda raw: raw["line_items"][1].update(price=199.0), "$.line_items[1].price", "float"),
        (lambda raw: raw["line_items"][0].pop("price"), "$.line_items[0].price", "missing"),
        (
            lambda raw: raw["line_items"][2].update(
                price_set={"shop_money": {"amount": "199.00", "currency_code": "XYZ"}}
            ),
            "$.line_items[2].price_set",
            "'XYZ'",
        ),
        (lambda raw: raw.update(currency="XYZ"), "$.currency", "ISO 4217"),
        (lambda raw: raw["line_items"][0].update(sku=""), "$.line_items[0].sku", "SKU"),
        (
            lambda raw: raw["line_items"][0].update(quantity=0),
            "$.line_items[0].quantity",
            "positive",
        ),
        (lambda raw: raw.update(total_price="500.00"), "$.total_price", "does not add up"),
        (lambda raw: raw.update(total_tax="eleven"), "$.total_tax", "not a decimal"),
        (lambda raw: raw.update(financial_status="gifted"), "$.financial_status", "gifted"),
        (lambda raw: raw.update(created_at="2008-01-10"), "$.created_at", "offset"),
        (lambda raw: raw.update(line_items=[]), "$.line_items", "at least one"),
        (lambda raw: raw.update(subtotal_price="600.00"), "$.subtotal_price", "more than"),
    ],
)
def test_a_bad_order_names_its_id_and_the_field(
    shopify: Sample, change: Any, path: str, reason: str
) -> None:
    error = broken(shopify("order"), change)
    assert (error.resource, error.resource_id, error.path) == ("order", "450789469", path)
    assert reason in error.reason
    assert str(error).startswith(f"order 450789469: {path}: ")


def test_tenders_that_do_not_cover_a_paid_order_are_refused_at_the_transactions(
    shopify: Sample,
) -> None:
    short = {**shopify("transaction"), "kind": "sale", "amount": "100.00"}
    error = broken(
        shopify("order"), lambda raw: raw.update(financial_status="paid", transactions=[short])
    )
    assert error.path == "$.transactions"
    assert "do not cover" in error.reason


def test_a_transaction_in_another_currency_is_refused(shopify: Sample) -> None:
    foreign = {**shopify("transaction"), "currency": "EUR"}
    error = broken(shopify("order"), lambda raw: raw.update(transactions=[foreign]))
    assert error.path == "$.transactions[0].currency"


CENT = Decimal("0.01")


@st.composite
def shop_orders(draw: st.DrawFn) -> tuple[dict[str, Any], Decimal]:
    """A Shopify order whose totals add up as Shopify adds them, and its total price."""
    included = draw(st.booleans())
    rate = draw(st.sampled_from([Decimal(0), Decimal("0.07"), Decimal("0.19"), Decimal("0.21")]))
    lines, subtotal, total_tax = [], Decimal(0), Decimal(0)
    for i in range(draw(st.integers(1, 5))):
        price = Decimal(draw(st.integers(0, 100_000))) * CENT
        quantity = draw(st.integers(1, 5))
        off = Decimal(draw(st.integers(0, int(price * quantity * 100)))) * CENT
        net = price * quantity - off
        share = rate / (1 + rate) if included else rate
        tax = (net * share).quantize(CENT)
        subtotal, total_tax = subtotal + net, total_tax + tax
        lines.append(
            {
                "id": i + 1,
                "sku": f"SKU-{i}",
                "price": str(price),
                "quantity": quantity,
                "discount_allocations": [{"amount": str(off), "discount_application_index": 0}],
                "tax_lines": [{"title": "VAT", "price": str(tax), "rate": float(rate)}],
            }
        )
    shipping = Decimal(draw(st.integers(0, 2_000))) * CENT
    total = subtotal + shipping + (0 if included else total_tax)
    order = {
        "id": 1,
        "currency": draw(st.sampled_from(["EUR", "USD", "GBP"])),
        "taxes_included": included,
        "created_at": "2026-11-27T10:00:00+01:00",
        "financial_status": "paid",
        "discount_applications": [{"type": "manual", "title": "staff"}],
        "line_items": lines,
        "shipping_lines": [{"title": "post", "price": str(shipping)}],
        "subtotal_price": str(subtotal),
        "total_tax": str(total_tax),
        "total_price": str(total),
    }
    return order, total


@given(shop_orders())
def test_any_order_that_adds_up_in_shopify_adds_up_in_canonical(
    generated: tuple[dict[str, Any], Decimal],
) -> None:
    raw, total = generated
    order = order_to_canonical(raw)
    assert order.totals.grand_total.amount == total
    assert order.computed_grand_total().amount == total
    assert order.rounding_difference is None
    assert order.order_discounts == []
