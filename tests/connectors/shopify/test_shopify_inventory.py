"""Shopify inventory levels <-> canonical InventoryLevels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from retailhub.canonical.inventory import InventoryLevel
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import (
    inventory_level_from_canonical,
    inventory_level_to_canonical,
)

Sample = Callable[[str], dict[str, Any]]

PINK = {808950810: "IPOD2008PINK"}


def test_the_sample_level_is_available_stock_of_its_sku(shopify: Sample) -> None:
    level = inventory_level_to_canonical(shopify("inventory_level"), PINK, {905684977: "NYC05"})
    assert (level.sku, level.location, level.source) == ("IPOD2008PINK", "NYC05", "shopify")
    assert (level.on_hand, level.reserved, level.available) == (Decimal(6), Decimal(0), Decimal(6))
    assert level.as_of == datetime.fromisoformat("2018-05-07T15:51:26-04:00")
    assert level.sequence == 1_525_722_686_000_000


def test_a_later_update_supersedes_an_earlier_one(shopify: Sample) -> None:
    earlier = inventory_level_to_canonical(shopify("inventory_level"), PINK)
    later_raw = {
        **shopify("inventory_level"),
        "available": 5,
        "updated_at": "2018-05-07T15:51:27-04:00",
    }
    later = inventory_level_to_canonical(later_raw, PINK)
    assert later.supersedes(earlier)
    assert not earlier.supersedes(later)


def test_without_a_location_map_shopifys_location_id_is_the_code_and_maps_back(
    shopify: Sample,
) -> None:
    level = inventory_level_to_canonical(shopify("inventory_level"), PINK)
    assert level.location == "SHOPIFY-905684977"
    body = inventory_level_from_canonical(level, {"IPOD2008PINK": 808950810})
    assert body == {"location_id": 905684977, "inventory_item_id": 808950810, "available": 6}


def test_a_level_that_names_its_sku_needs_no_lookup(shopify: Sample) -> None:
    raw = {**shopify("inventory_level"), "sku": "IPOD2008PINK"}
    assert inventory_level_to_canonical(raw).sku == "IPOD2008PINK"


def test_the_set_body_uses_the_estates_location_map() -> None:
    level = InventoryLevel(
        sku="IPOD2008RED",
        location="NYC05",
        on_hand=Decimal(12),
        reserved=Decimal(2),
        as_of=datetime.fromisoformat("2026-11-27T10:00:00+00:00"),
        source="odoo",
        sequence=7,
    )
    body = inventory_level_from_canonical(level, {"IPOD2008RED": 49148385}, {"NYC05": 905684977})
    assert body == {"location_id": 905684977, "inventory_item_id": 49148385, "available": 10}


@pytest.mark.parametrize(
    ("change", "skus", "locations", "path"),
    [
        (lambda raw: None, {}, None, "$.inventory_item_id"),
        (lambda raw: None, PINK, {1: "NYC05"}, "$.location_id"),
        (lambda raw: raw.update(available="6"), PINK, None, "$.available"),
        (lambda raw: raw.update(updated_at=None), PINK, None, "$.updated_at"),
    ],
)
def test_a_bad_level_names_item_location_and_field(
    shopify: Sample,
    change: Any,
    skus: dict[int, str],
    locations: dict[int, str] | None,
    path: str,
) -> None:
    raw = shopify("inventory_level")
    change(raw)
    with pytest.raises(MappingError) as caught:
        inventory_level_to_canonical(raw, skus, locations)
    assert (caught.value.resource_id, caught.value.path) == ("808950810@905684977", path)


@pytest.mark.parametrize(
    ("on_hand", "items", "locations", "path"),
    [
        ("2.5", {"IPOD2008PINK": 1}, {"NYC05": 2}, "$.available"),
        ("2", {}, {"NYC05": 2}, "$.sku"),
        ("2", {"IPOD2008PINK": 1}, {}, "$.location"),
        ("2", {"IPOD2008PINK": 1}, None, "$.location"),
    ],
)
def test_a_level_shopify_cannot_hold_is_refused(
    on_hand: str, items: dict[str, int], locations: dict[str, int] | None, path: str
) -> None:
    level = InventoryLevel(
        sku="IPOD2008PINK",
        location="NYC05",
        on_hand=Decimal(on_hand),
        as_of=datetime.fromisoformat("2026-11-27T10:00:00+00:00"),
        source="odoo",
        sequence=1,
    )
    with pytest.raises(MappingError) as caught:
        inventory_level_from_canonical(level, items, locations)
    assert caught.value.path == path
