"""Shopify inventory levels as canonical InventoryLevels, and back as the body of
`POST /inventory_levels/set.json`.

Decisions:
- Shopify's REST level gives `available` only (stock on hand less what open orders have
  committed): it becomes both on hand and available, with nothing reserved, so the flows
  compare availability like for like.
- `sequence` is `updated_at` in microseconds since the epoch, Shopify's only version of a
  level. Shopify writes whole seconds, so two changes within one second share a sequence:
  a consumer must treat an equal sequence as "not older" (or re-read the level).
- Shopify names items by inventory item id: the caller passes the SKU of each (from the
  variants' `inventory_item_id`); a level may also carry `sku` itself, as exports do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from retailhub.canonical.inventory import InventoryLevel
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify import ids
from retailhub.connectors.shopify.payload import SYSTEM, Reader

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def inventory_level_to_canonical(
    level: Mapping[str, Any],
    sku_by_inventory_item: Mapping[int, str] | None = None,
    location_code_by_id: Mapping[int, str] | None = None,
) -> InventoryLevel:
    """Map a Shopify inventory level; without a location map its code is `SHOPIFY-<location id>`."""
    doc = Reader("inventory_level", level)
    item = doc.integer("inventory_item_id")
    doc.resource_id = f"{item}@{doc.doc.get('location_id')}"
    sku = (sku_by_inventory_item or {}).get(item) or doc.text("sku")
    if sku is None:
        raise doc.fail("inventory_item_id", f"no SKU is known for inventory item {item}")
    available = doc.integer("available")
    as_of = doc.timestamp("updated_at")
    return doc.build(
        InventoryLevel,
        {"$.sku": "inventory_item_id", "$.location": "location_id"},
        sku=sku,
        location=ids.location_code(doc, "location_id", location_code_by_id),
        on_hand=available,
        available=available,
        as_of=as_of,
        source=SYSTEM,
        sequence=(as_of - _EPOCH) // timedelta(microseconds=1),
    )


def inventory_level_from_canonical(
    level: InventoryLevel,
    inventory_item_by_sku: Mapping[str, int],
    location_id_by_code: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The body that sets a level in Shopify: whole units available at one location."""
    key = f"{level.sku}@{level.location}"
    item = inventory_item_by_sku.get(level.sku)
    if item is None:
        raise MappingError("inventory", key, "$.sku", "no Shopify inventory item has this SKU")
    available = level.available if level.available is not None else level.on_hand
    if available != available.to_integral_value():
        raise MappingError(
            "inventory", key, "$.available", f"Shopify counts whole units, not {available}"
        )
    return {
        "location_id": ids.location_id(
            level.location, location_id_by_code, "inventory", key, "$.location"
        ),
        "inventory_item_id": item,
        "available": int(available),
    }
