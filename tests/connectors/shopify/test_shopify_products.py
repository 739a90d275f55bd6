"""Shopify products <-> canonical Products: one per variant, GTINs only when valid, round trip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from retailhub.canonical.product import ProductStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import product_from_canonical, product_to_canonical

Sample = Callable[[str], dict[str, Any]]


def test_each_variant_of_the_sample_product_is_a_canonical_product(shopify: Sample) -> None:
    products = product_to_canonical(shopify("product"))
    assert [p.sku for p in products] == [
        "IPOD2008PINK",
        "IPOD2008RED",
        "IPOD2008GREEN",
        "IPOD2008BLACK",
    ]
    pink = products[0]
    assert pink.title == "IPod Nano - 8GB - Pink"
    assert pink.brand == "Apple"
    assert pink.hierarchy == ["Cult Products"]
    assert pink.attributes == {"Title": "Pink", "tags": "Emotive, Flash Memory, MP3, Music"}
    assert pink.status is ProductStatus.ACTIVE
    assert pink.external_ids == {"shopify": "808950810"}
    # Shopify's sample variants carry no barcode at all.
    assert all(p.gtins == [] for p in products)


def test_the_sample_variant_is_the_pink_one(shopify: Sample) -> None:
    product = {**shopify("product"), "variants": [shopify("variant")]}
    [pink] = product_to_canonical(product)
    assert (pink.sku, pink.title) == ("IPOD2008PINK", "IPod Nano - 8GB - Pink")


def test_barcodes_become_gtins_only_with_a_valid_check_digit(shopify: Sample) -> None:
    raw = shopify("product")
    barcodes = ["4006381333931", "036000291452", "4006381333932", "INT-00042"]
    for variant, barcode in zip(raw["variants"], barcodes, strict=True):
        variant["barcode"] = barcode
    with capture_logs() as logs:
        products = product_to_canonical(raw)
    assert [p.gtins for p in products] == [["04006381333931"], ["00036000291452"], [], []]
    assert [p.attributes.get("barcode") for p in products] == [
        None,
        None,
        "4006381333932",
        "INT-00042",
    ]
    assert [e["path"] for e in logs] == ["$.variants[2].barcode", "$.variants[3].barcode"]
    body = product_from_canonical(products)
    assert [v["barcode"] for v in body["variants"]] == barcodes


def test_the_sample_product_survives_the_round_trip(shopify: Sample) -> None:
    products = product_to_canonical(shopify("product"))
    body = product_from_canonical(products, product_id=632910392)
    assert body["title"] == "IPod Nano - 8GB"
    assert body["options"] == [{"name": "Title"}]
    assert [v["option1"] for v in body["variants"]] == ["Pink", "Red", "Green", "Black"]
    assert product_to_canonical(body) == products


def test_a_single_variant_product_is_titled_by_the_product(shopify: Sample) -> None:
    raw = shopify("product")
    raw["options"] = [{"name": "Title"}]
    raw["variants"] = [{**raw["variants"][0], "title": "Default Title", "option1": "Default Title"}]
    [product] = product_to_canonical(raw)
    assert (product.title, product.attributes.get("Title")) == ("IPod Nano - 8GB", None)
    assert product_to_canonical({**product_from_canonical([product]), "id": 1}) == [product]


def test_a_multi_level_hierarchy_travels_in_the_product_type(shopify: Sample) -> None:
    [first, *_] = product_to_canonical(shopify("product"))
    deep = first.model_copy(update={"hierarchy": ["Electronics", "Audio", "MP3 players"]})
    body = product_from_canonical([deep])
    assert body["product_type"] == "Electronics > Audio > MP3 players"
    assert product_to_canonical({**body, "id": 1})[0].hierarchy == deep.hierarchy


@pytest.mark.parametrize(
    ("status", "canonical"),
    [
        ("active", ProductStatus.ACTIVE),
        ("draft", ProductStatus.INACTIVE),
        ("archived", ProductStatus.DISCONTINUED),
    ],
)
def test_product_status(shopify: Sample, status: str, canonical: ProductStatus) -> None:
    products = product_to_canonical({**shopify("product"), "status": status})
    assert {p.status for p in products} == {canonical}
    assert product_from_canonical(products)["status"] == status


def test_an_unpublished_legacy_product_is_inactive(shopify: Sample) -> None:
    products = product_to_canonical({**shopify("product"), "published_at": None})
    assert {p.status for p in products} == {ProductStatus.INACTIVE}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda raw: raw["variants"][1].update(sku=None), "$.variants[1].sku"),
        (lambda raw: raw["variants"][1].pop("id"), "$.variants[1].id"),
        (lambda raw: raw.update(variants=[]), "$.variants"),
        (lambda raw: raw.update(status="deleted"), "$.status"),
        (lambda raw: raw["variants"][0].update(sku="x" * 65), "$.variants[0].sku"),
    ],
)
def test_a_bad_product_names_its_id_and_the_field(shopify: Sample, change: Any, path: str) -> None:
    raw = shopify("product")
    change(raw)
    with pytest.raises(MappingError) as caught:
        product_to_canonical(raw)
    assert (caught.value.resource_id, caught.value.path) == ("632910392", path)


def test_variants_of_one_shopify_product_must_agree_on_the_product(shopify: Sample) -> None:
    pink, red, *_ = product_to_canonical(shopify("product"))
    with pytest.raises(MappingError) as caught:
        product_from_canonical([pink, red.model_copy(update={"brand": "Samsung"})])
    assert (caught.value.resource_id, caught.value.path) == ("IPOD2008RED", "$.brand")
    with pytest.raises(MappingError):
        product_from_canonical([])
