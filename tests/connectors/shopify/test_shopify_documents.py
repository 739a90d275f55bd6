"""Finding Shopify resources however they are wrapped, and mapping every shipped sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import orjson
import pytest

from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import (
    ResourceKind,
    customer_to_canonical,
    inventory_level_to_canonical,
    order_to_canonical,
    price_rule_to_canonical,
    product_to_canonical,
    refund_to_canonical,
    shopify_documents,
)

SAMPLES = Path(__file__).resolve().parents[3] / "src" / "retailhub" / "samples" / "shopify"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "shopify"


def read(name: str) -> Any:
    return orjson.loads((SAMPLES / f"{name}.json").read_bytes())


@pytest.mark.parametrize("kind", get_args(ResourceKind))
def test_every_wrapping_yields_the_same_resources(kind: ResourceKind) -> None:
    wrapped = read(kind)
    [resource] = shopify_documents(wrapped, kind)
    assert resource == wrapped[kind]
    assert shopify_documents(resource, kind) == [resource]
    assert shopify_documents([resource, resource], kind) == [resource, resource]
    assert shopify_documents({f"{kind}s": [resource]}, kind) == [resource]
    assert shopify_documents({f"{kind}s": []}, kind) == []


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"orders": {"id": 1}}, "$.orders"),
        ({"orders": [{"id": 1}, 7]}, "$.orders[1]"),
        ([{"id": 1}, "x"], "$[1]"),
        ("order", "$"),
        (None, "$"),
    ],
)
def test_a_payload_without_orders_in_it_is_refused_where_it_goes_wrong(
    payload: Any, path: str
) -> None:
    with pytest.raises(MappingError) as caught:
        shopify_documents(payload, "order")
    assert (caught.value.resource, caught.value.path) == ("order", path)


def test_every_sample_maps() -> None:
    """Each file Shopify's library ships as a fixture maps, or feeds a mapping that uses it."""
    order = read("order")["order"]
    location = read("location")["location"]
    transaction = read("transaction")["transaction"]
    variant = read("variant")["variant"]
    mapped = {
        "order.json": order_to_canonical({**order, "transactions": [transaction]}),
        "transaction.json": order_to_canonical({**order, "transactions": [transaction]}).tenders[0],
        "refund.json": refund_to_canonical(read("refund")["refund"], order),
        "customer.json": customer_to_canonical(read("customer")["customer"]),
        "product.json": product_to_canonical(read("product")["product"]),
        "variant.json": product_to_canonical({**read("product")["product"], "variants": [variant]}),
        "inventory_level.json": inventory_level_to_canonical(
            read("inventory_level")["inventory_level"], {variant["id"]: variant["sku"]}
        ),
        "location.json": order_to_canonical(
            {**order, "source_name": "pos", "location_id": location["id"]},
            location_code_by_id={location["id"]: "NYC-5TH-AVE"},
        ).location,
        "price_rule.json": price_rule_to_canonical(read("price_rule")["price_rule"]),
        "discount_code.json": price_rule_to_canonical(
            read("price_rule")["price_rule"], [read("discount_code")["discount_code"]]
        ),
    }
    assert sorted(mapped) == sorted(p.name for p in SAMPLES.glob("*.json"))
    assert all(mapped.values())


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared fixtures are not on this machine")
def test_the_shipped_samples_are_shopifys_files_unchanged() -> None:
    for shared in SHARED.glob("*.json"):
        assert (SAMPLES / shared.name).read_bytes() == shared.read_bytes(), shared.name
