"""Shopify refunds -> canonical Returns, on Shopify's sample refund of its sample order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from structlog.testing import capture_logs

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import TenderType
from retailhub.canonical.returns import ReturnStatus, returnable_faults
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import order_to_canonical, refund_to_canonical

Sample = Callable[[str], dict[str, Any]]


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def test_the_sample_refund_pays_back_what_its_transaction_paid(shopify: Sample) -> None:
    with capture_logs() as logs:
        refund = refund_to_canonical(shopify("refund"))
    assert refund.return_id == "SHOPIFY-REFUND-509562969"
    assert refund.external_ids == {"shopify": "509562969"}
    assert refund.original_order_id == "SHOPIFY-ORDER-450789469"
    assert refund.currency == "USD"
    assert (refund.initiated_channel, refund.received_channel) == (Channel.WEB, Channel.WEB)
    assert refund.status is ReturnStatus.REFUNDED
    assert [(ln.sku, ln.original_line_id, ln.quantity) for ln in refund.lines] == [
        ("IPOD2008BLACK", "703073504", Decimal(1)),
        ("IPOD2008GREEN", "466157049", Decimal(1)),
    ]
    [tender] = refund.refund_tenders
    assert (tender.type, tender.amount, tender.reference) == (
        TenderType.CARD,
        usd("209.00"),
        "authorization-key",
    )
    # The lines are worth 2 x (199.00 + 3.98 tax) but 209.00 was paid back: the money paid is the
    # refund, spread over the lines by value, and the gap is logged.
    assert refund.refund_total == usd("209.00")
    assert [ln.refund_amount for ln in refund.lines] == [usd("104.50"), usd("104.50")]
    assert [ln.tax_lines[0].amount for ln in refund.lines] == [usd("3.98"), usd("3.98")]
    assert all(ln.restock for ln in refund.lines)
    assert [entry["path"] for entry in logs] == ["$.transactions"]


def test_the_sample_refund_is_returnable_against_the_sample_order(shopify: Sample) -> None:
    order = order_to_canonical(shopify("order"))
    refund = refund_to_canonical(shopify("refund"), shopify("order"))
    assert refund.original_order_id == order.order_id
    assert returnable_faults(order, [], refund) == []


def modern_refund(shopify: Sample) -> dict[str, Any]:
    """A refund as Shopify sends it today: subtotal and tax per line, restock type, location,
    and the line item left for the order to supply."""
    raw = shopify("refund")
    raw.pop("restock")
    first, second = raw["refund_line_items"]
    first.update(subtotal="199.00", total_tax="11.94", restock_type="return", location_id=905684977)
    second.update(subtotal="199.00", total_tax="11.94", restock_type="no_restock")
    second.pop("line_item")
    raw["transactions"][0]["amount"] = "421.88"
    return raw


def test_a_modern_refund_uses_shopifys_line_values(shopify: Sample) -> None:
    with capture_logs() as logs:
        refund = refund_to_canonical(
            modern_refund(shopify), shopify("order"), location_code_by_id={905684977: "DC-EAST"}
        )
    assert logs == []
    assert [ln.refund_amount for ln in refund.lines] == [usd("210.94"), usd("210.94")]
    assert [ln.restock for ln in refund.lines] == [True, False]
    assert refund.lines[1].sku == "IPOD2008GREEN"
    assert refund.received_location == "DC-EAST"


def test_a_refund_without_money_is_goods_received(shopify: Sample) -> None:
    raw = shopify("refund")
    raw["transactions"] = []
    refund = refund_to_canonical(raw, shopify("order"))
    assert refund.status is ReturnStatus.RECEIVED
    assert refund.refund_total == usd("405.96")


def test_an_eu_refund_keeps_vat_inside_the_line_value(shopify: Sample) -> None:
    order = {**shopify("order"), "currency": "EUR", "taxes_included": True}
    raw = shopify("refund")
    raw["transactions"][0].update(amount="199.00", currency="EUR")
    raw["refund_line_items"] = raw["refund_line_items"][:1]
    refund = refund_to_canonical(raw, order)
    assert refund.refund_total == Money.of("199.00", "EUR")
    assert refund.lines[0].refund_amount == Money.of("199.00", "EUR")


def broken(refund: dict[str, Any], order: dict[str, Any] | None, change: Any) -> MappingError:
    change(refund)
    with pytest.raises(MappingError) as caught:
        refund_to_canonical(refund, order)
    return caught.value


@pytest.mark.parametrize(
    ("change", "with_order", "path"),
    [
        (lambda raw: raw.update(order_id=1), True, "$.order_id"),
        (lambda raw: raw.update(refund_line_items=[]), False, "$.refund_line_items"),
        (lambda raw: raw["transactions"][0].pop("currency"), False, "$.transactions"),
        (
            lambda raw: raw["transactions"][0].update(amount=209.0),
            False,
            "$.transactions[0].amount",
        ),
        (
            lambda raw: raw["refund_line_items"][0].update(line_item=None, line_item_id=1),
            True,
            "$.refund_line_items[0].line_item",
        ),
        (
            lambda raw: raw["refund_line_items"][1]["line_item"].update(sku=None),
            False,
            "$.refund_line_items[1].line_item.sku",
        ),
        (
            lambda raw: raw["refund_line_items"][0].update(quantity=-1),
            False,
            "$.refund_line_items[0].quantity",
        ),
    ],
)
def test_a_bad_refund_names_its_id_and_the_field(
    shopify: Sample, change: Any, with_order: bool, path: str
) -> None:
    error = broken(shopify("refund"), shopify("order") if with_order else None, change)
    assert (error.resource, error.resource_id, error.path) == ("refund", "509562969", path)
