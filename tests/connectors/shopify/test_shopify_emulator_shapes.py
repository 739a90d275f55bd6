"""The emulator checked against Shopify's published payloads: the shopify_python_api fixtures in
`retailhub.samples.shopify` (MIT, see its NOTICE.md). Every key of each fixture resource must be
in the emulator's answer, recursively, with the same JSON type wherever both hold a value
(nullable fields are null in one or the other depending on the data, as in Shopify).

One documented difference: a price rule's `value` is a JSON number in the 2017 fixture, while
API version 2024-10, which the connector and emulator speak, returns it as a decimal string
(`"-10.0"`); the connector reads both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from shopify_sandbox import place_order

from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.connectors.shopify.mapping import (
    customer_to_canonical,
    inventory_level_to_canonical,
    order_to_canonical,
    product_to_canonical,
    refund_to_canonical,
)
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import ShopifyEmulator

SHOPIFY_SAMPLES = Path(__file__).resolve().parents[3] / "src" / "retailhub" / "samples" / "shopify"

NEWER_IN_2024_10 = {("price_rule", "$.value")}
"""Fields whose JSON type changed between the fixture and the API version emulated."""


def json_type(value: Any) -> str:
    """The JSON type of a parsed value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def differences(fixture: Any, answer: Any, path: str = "$") -> list[str]:
    """Where `answer` lacks a key of `fixture` or holds another JSON type, as JSON paths."""
    if fixture is None or answer is None:
        return []
    if json_type(fixture) != json_type(answer):
        return [f"{path}: {json_type(answer)} instead of {json_type(fixture)}"]
    found: list[str] = []
    if isinstance(fixture, dict):
        for key, value in fixture.items():
            if key not in answer:
                found.append(f"{path}.{key}: missing")
            else:
                found += differences(value, answer[key], f"{path}.{key}")
    elif isinstance(fixture, list) and fixture:
        for i, item in enumerate(answer):
            found += differences(fixture[0], item, f"{path}[{i}]")
    return found


def published(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SHOPIFY_SAMPLES / f"{name}.json").read_bytes())
    return document[name]  # type: ignore[no-any-return]


def assert_shaped_like_fixture(name: str, answer: dict[str, Any]) -> None:
    found = [
        d
        for d in differences(published(name), answer)
        if (name, d.split(":")[0]) not in NEWER_IN_2024_10
    ]
    assert found == [], f"the emulator's {name} differs from Shopify's: {found}"


async def get(shop: ShopifyConnector, resource: str, key: str) -> dict[str, Any]:
    body = (await shop.client.http.request("GET", shop.client.path(resource))).body
    found: dict[str, Any] = body[key]
    return found


@pytest.fixture
async def sold(connector: ShopifyConnector, small_estate: Estate) -> dict[str, Any]:
    """An order by an estate customer, half refunded back to the web warehouse."""
    email = small_estate.customers[1].shop_view.primary_email
    placed = await place_order(connector, small_estate.products[2].sku, 2, email=email)
    transactions = await connector.client.transactions(placed["id"])
    line = placed["line_items"][0]
    refund = {
        "note": "shape check",
        "refund_line_items": [
            {
                "line_item_id": line["id"],
                "quantity": 1,
                "restock_type": "return",
                "location_id": (await connector.location_ids())["WEB"],
            }
        ],
        "transactions": [
            {"parent_id": transactions[0]["id"], "amount": line["price"], "kind": "refund"}
        ],
    }
    await connector.client.create_refund(placed["id"], refund)
    order = await connector.client.order(placed["id"])
    assert order is not None
    return order


async def test_orders_refunds_and_transactions_are_shaped_like_shopifys(
    connector: ShopifyConnector, sold: dict[str, Any]
) -> None:
    assert_shaped_like_fixture("order", sold)
    refunds = await connector.client.refunds(sold["id"])
    assert_shaped_like_fixture("refund", refunds[0])
    transactions = await connector.client.transactions(sold["id"])
    assert_shaped_like_fixture("transaction", transactions[0])
    assert order_to_canonical(sold).order_id == f"SHOPIFY-ORDER-{sold['id']}"
    assert refund_to_canonical(refunds[0], sold).refund_total.amount > 0


async def test_customers_are_shaped_like_shopifys(
    connector: ShopifyConnector, sold: dict[str, Any]
) -> None:
    customer = await get(connector, f"customers/{sold['customer']['id']}", "customer")
    assert customer["last_order_id"] == sold["id"]
    assert_shaped_like_fixture("customer", customer)
    assert customer_to_canonical(customer).identities == {"shopify": str(customer["id"])}


async def test_products_variants_and_locations_are_shaped_like_shopifys(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    ref = await connector.variant(small_estate.products[0].sku)
    product = await get(connector, f"products/{ref.product_id}", "product")
    assert_shaped_like_fixture("product", product)
    assert_shaped_like_fixture(
        "variant", await get(connector, f"variants/{ref.variant_id}", "variant")
    )
    [mapped] = product_to_canonical(product)
    assert (mapped.sku, mapped.gtins) == (
        small_estate.products[0].sku,
        small_estate.products[0].gtins,
    )
    for location in await connector.client.locations():
        assert_shaped_like_fixture("location", location)


async def test_inventory_levels_are_shaped_like_shopifys(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    sku = small_estate.products[0].sku
    ref = await connector.variant(sku)
    levels = [level async for level in connector.client.inventory_levels([ref.inventory_item_id])]
    assert len(levels) == len(small_estate.stores)
    for level in levels:
        assert_shaped_like_fixture("inventory_level", level)
        assert inventory_level_to_canonical(level, {ref.inventory_item_id: sku}).sku == sku


async def test_price_rules_and_discount_codes_are_shaped_like_shopifys(
    connector: ShopifyConnector, emulator: ShopifyEmulator
) -> None:
    fields = {
        "title": "BOGO",
        "target_type": "line_item",
        "target_selection": "all",
        "allocation_method": "across",
        "value_type": "percentage",
        "value": "-100.0",
        "once_per_customer": True,
        "customer_selection": "all",
        "starts_at": "2026-05-30T04:13:56Z",
    }
    rule = await connector.client.create_price_rule(fields)
    assert rule["value"] == "-100.0"
    read = await connector.client.price_rule(rule["id"])
    assert read is not None
    assert_shaped_like_fixture("price_rule", read)
    code = await connector.client.create_discount_code(rule["id"], "25OFF")
    assert_shaped_like_fixture("discount_code", code)
    assert_shaped_like_fixture(
        "discount_code", (await connector.client.discount_codes(rule["id"]))[0]
    )


def test_the_comparison_finds_a_missing_key_and_a_changed_type() -> None:
    fixture = {"id": 1, "lines": [{"price": "1.00", "rate": 0.06}], "note": None}
    answer = {"id": "1", "lines": [{"rate": 0.09}], "note": "x"}
    assert differences(fixture, answer) == [
        "$.id: string instead of number",
        "$.lines[0].price: missing",
    ]
