"""The pure parts the connector adds: Link header cursors, refusal reasons, web prices as
variant updates, returns as refund requests, and the keys that make writes repeatable."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.promotion import Promotion, PromotionStatus, Reward, RewardType
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.shopify.client import next_page_info, refusal_reasons
from retailhub.connectors.shopify.connector import (
    ShopifyConnector,
    discount_code,
    promotion_marker,
    refund_note,
)
from retailhub.connectors.shopify.prices import variant_price_body
from retailhub.connectors.shopify.refunds import refund_from_canonical
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.runner import load_emulators
from retailhub.sandbox.shopify import ShopifyEmulator

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_next_cursor_is_read_from_shopifys_link_header() -> None:
    # The header as Shopify's pagination guide shows it, previous and next.
    header = (
        "<https://shop.myshopify.com/admin/api/2024-10/products.json?page_info=hijgklmn&limit=3>;"
        ' rel="previous", '
        "<https://shop.myshopify.com/admin/api/2024-10/products.json?page_info=abcdefg&limit=3>;"
        ' rel="next"'
    )
    assert next_page_info(header) == "abcdefg"
    last = '<https://shop.myshopify.com/admin/api/2024-10/products.json?page_info=x&limit=3>; rel="previous"'
    assert next_page_info(last) is None
    assert next_page_info(None) is None


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        (
            {"errors": {"title": ["can't be blank"], "email": ["is invalid", "is taken"]}},
            ["title: can't be blank", "email: is invalid", "email: is taken"],
        ),
        ({"errors": "Not Found"}, ["Not Found"]),
        ({"errors": ["Inventory item is not stocked"]}, ["Inventory item is not stocked"]),
        ("<html>Bad gateway</html>", ["<html>Bad gateway</html>"]),
    ],
)
def test_refusal_reasons_read_each_shopify_error_shape(body: object, reasons: list[str]) -> None:
    refused = RequestRefused("shopify", "POST", "/admin/api/2024-10/x.json", 422, body)
    assert refusal_reasons(refused) == reasons


def web_price(**changes: object) -> Price:
    price = Price(
        sku="SKU-10001",
        channel=Channel.WEB,
        list_price=Money.of("4.99", "EUR"),
        valid_from=NOW,
    )
    return price.model_copy(update=changes)


def test_a_sale_is_the_price_with_the_list_price_struck_out() -> None:
    body = variant_price_body(web_price(sale_price=Money.of("3.74", "EUR")), 808950810, "EUR")
    assert body == {"id": 808950810, "price": "3.74", "compare_at_price": "4.99"}
    assert variant_price_body(web_price(), 1, "EUR")["compare_at_price"] is None


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"channel": Channel.STORE}, "$.channel"),
        ({"store": "AMS01"}, "$.store"),
        ({"list_price": Money.of("4.99", "USD")}, "$.list_price"),
    ],
)
def test_prices_shopify_cannot_hold_are_refused(changes: dict[str, object], path: str) -> None:
    with pytest.raises(MappingError) as refused:
        variant_price_body(web_price(**changes), 1, "EUR")
    assert refused.value.path == path
    assert refused.value.resource_id == f"SKU-10001@{web_price(**changes).channel.value}"


def web_return(*lines: ReturnLine) -> Return:
    total = Money.of(sum((line.refund_amount.amount for line in lines), Decimal(0)), "EUR")
    return Return(
        return_id="RET-1",
        original_order_id="SHOPIFY-ORDER-450789469",
        initiated_channel=Channel.WEB,
        currency="EUR",
        lines=list(lines),
        refund_total=total,
        status=ReturnStatus.REQUESTED,
        created_at=NOW,
    )


def returned(line_id: str, quantity: str = "1", *, restock: bool = True) -> ReturnLine:
    weighed = Decimal(quantity) != Decimal(quantity).to_integral_value()
    return ReturnLine(
        unit_of_measure=UnitOfMeasure.KG if weighed else UnitOfMeasure.EACH,
        line_id=f"R{line_id}",
        original_line_id=line_id,
        sku="IPOD2008GREEN",
        quantity=Decimal(quantity),
        refund_amount=Money.of("199.00", "EUR"),
        restock=restock,
    )


def test_a_return_becomes_a_refund_against_the_sale() -> None:
    sale = {"id": 389404469, "kind": "sale", "gateway": "bogus", "status": "success"}
    body = refund_from_canonical(
        web_return(returned("466157049"), returned("518995019", restock=False)),
        "retailhub:return:RET-1",
        parent_transaction=sale,
        location_id=905684977,
    )
    assert body == {
        "note": "retailhub:return:RET-1",
        "notify": False,
        "refund_line_items": [
            {
                "line_item_id": 466157049,
                "quantity": 1,
                "restock_type": "return",
                "location_id": 905684977,
            },
            {"line_item_id": 518995019, "quantity": 1, "restock_type": "no_restock"},
        ],
        "transactions": [
            {"parent_id": 389404469, "amount": "398.00", "kind": "refund", "gateway": "bogus"}
        ],
    }


def test_a_refund_without_a_sale_records_goods_only() -> None:
    body = refund_from_canonical(web_return(returned("466157049")), "n")
    assert "transactions" not in body


@pytest.mark.parametrize(
    ("line", "path"),
    [
        (returned("POS-LINE-3"), "$.lines[0].original_line_id"),
        (returned("466157049", "0.5"), "$.lines[0].quantity"),
    ],
)
def test_returns_shopify_cannot_refund_are_refused(line: ReturnLine, path: str) -> None:
    with pytest.raises(MappingError) as refused:
        refund_from_canonical(web_return(line), "n")
    assert (refused.value.resource_id, refused.value.path) == ("RET-1", path)


def test_keys_that_make_writes_repeatable() -> None:
    promotion = Promotion(
        promotion_id="summer/sale.2026",
        version=3,
        name="Summer sale",
        source="hub",
        channels=[Channel.WEB],
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(10)),
        valid_from=NOW,
        valid_to=datetime(2026, 7, 1, tzinfo=UTC),
        status=PromotionStatus.ACTIVE,
    )
    assert promotion_marker(promotion) == "[summer/sale.2026 v3]"
    assert discount_code(promotion) == "SUMMER-SALE-2026-V3"
    assert refund_note("return:RET-1") == "retailhub:return:RET-1"


def test_the_sandbox_finds_the_shopify_emulator() -> None:
    assert load_emulators()["shopify"] is ShopifyEmulator


def test_the_connector_is_built_from_an_estate_files_options() -> None:
    options = {"shop_currency": "EUR", "page_size": 100, "location_ids": {"WEB": 70000000001}}
    shop = ShopifyConnector.from_options(
        "http://127.0.0.1:8701", "token", ResiliencePolicy(), options
    )
    assert (shop.shop_currency, shop.page_size) == ("EUR", 100)
    with pytest.raises(ValueError, match="no option 'currency'"):
        ShopifyConnector.from_options(
            "http://127.0.0.1:8701", "t", ResiliencePolicy(), {"currency": "EUR"}
        )


async def test_a_location_map_from_options_is_used_as_given() -> None:
    options = {"location_ids": {"WEB": 70000000001}}
    shop = ShopifyConnector.from_options("http://127.0.0.1:9", "token", ResiliencePolicy(), options)
    assert await shop.location_ids() == {"WEB": 70000000001}
    assert await shop.location_codes() == {70000000001: "WEB"}
    await shop.close()
