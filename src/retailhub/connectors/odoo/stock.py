"""Odoo quants as canonical InventoryLevels.

Decisions:
- A store is a warehouse whose `code` is the store's location code (`AMS01`, `WEB`); its stock
  is every quant in or below the warehouse's stock location (`lot_stock_id`), summed per SKU,
  so lots, packages and bins inside the store add up to one level.
- On hand is the quants' `quantity`, reserved their `reserved_quantity` (promised to open
  deliveries); available is the difference, as the canonical model computes it.
- `as_of` is the latest `write_date` of the summed quants, and `sequence` that moment in
  microseconds since the epoch: Odoo keeps no version number on a quant. Odoo writes whole
  seconds, so two changes within one second share a sequence; a consumer treats an equal
  sequence as "not older".
- A quant of a product without an internal reference (SKU) cannot be canonical: it is left
  out and logged, never silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from retailhub.canonical.inventory import InventoryLevel
from retailhub.connectors.odoo.fields import SYSTEM, OdooRecord, plain

QUANT_FIELDS = ("product_id", "location_id", "quantity", "reserved_quantity", "write_date")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_log = structlog.get_logger(__name__)


@dataclass
class _Sum:
    on_hand: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    as_of: datetime = _EPOCH
    quants: list[int] = field(default_factory=list)


def quants_to_levels(
    quants: Iterable[Mapping[str, Any]],
    sku_by_product: Mapping[int, str],
    store_by_location: Mapping[int, str],
) -> list[InventoryLevel]:
    """Sum quants (read with QUANT_FIELDS) per SKU and store. `store_by_location` names the
    store of each stock location the quants may lie in (sub-locations included)."""
    sums: dict[tuple[str, str], _Sum] = {}
    records: dict[int, OdooRecord] = {}
    for quant in quants:
        record = OdooRecord("stock.quant", quant)
        product = record.required_many2one("product_id")
        location = record.required_many2one("location_id")
        sku = sku_by_product.get(product[0])
        if sku is None:
            _log.warning(
                "odoo quant left out: its product has no internal reference",
                quant=record.id,
                product=product[1],
            )
            continue
        store = store_by_location.get(location[0])
        if store is None:
            raise record.fail("location_id", f"{location[1]!r} is in no store's warehouse")
        total = sums.setdefault((sku, store), _Sum())
        total.on_hand += record.decimal("quantity")
        total.reserved += record.decimal("reserved_quantity")
        total.as_of = max(total.as_of, record.moment("write_date"))
        total.quants.append(record.id)
        records[record.id] = record
    levels = []
    for (sku, store), total in sums.items():
        levels.append(
            records[total.quants[0]].build(
                InventoryLevel,
                {"$.on_hand": "quantity", "$.reserved": "reserved_quantity"},
                sku=sku,
                location=store,
                on_hand=plain(total.on_hand),
                reserved=plain(total.reserved),
                as_of=total.as_of,
                source=SYSTEM,
                sequence=(total.as_of - _EPOCH) // timedelta(microseconds=1),
            )
        )
    return levels
