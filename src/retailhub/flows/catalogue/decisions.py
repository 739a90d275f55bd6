"""Catalogue sync decisions, free of I/O: available-to-sell, listings, fingerprints, sequences.

- Available-to-sell on a channel is on hand − reserved − safety stock, in whole units (the
  commerce platform counts pieces; weighed goods round down), and never below zero.
- A listing is the set of variants the commerce platform shows as one product: the items that
  share the `listing` attribute, else the item alone. Only the variants that can be sold stay
  on a listing; when none can, the listing takes the status of what is left (draft for
  inactive items, archived for discontinued ones). What belongs to the listing (hierarchy,
  brand, tags) follows the newest change of any of its variants.
- A fingerprint is a digest of what the channels see of a document, so a re-read that changed
  nothing publishes nothing.
- The sequence the hub publishes for a key only ever grows: the source's own version when it
  moved on, else one more than the last one published (Odoo writes whole seconds, so two
  changes within a second share its version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal

import orjson

from retailhub.canonical.base import Channel
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, ProductStatus
from retailhub.flows.catalogue.settings import CatalogueSettings


def available_to_sell(
    level: InventoryLevel, channel: Channel, settings: CatalogueSettings
) -> InventoryLevel:
    """The level a channel should show: on hand − reserved − safety stock, whole units, ≥ 0.

    It is returned as the commerce platform reads its own levels: on hand equals available
    and nothing is reserved."""
    safety = settings.safety_stock.units(channel, level.location)
    figure = level.on_hand - level.reserved - safety
    units = max(Decimal(0), figure.to_integral_value(rounding=ROUND_FLOOR))
    return level.model_copy(update={"on_hand": units, "reserved": Decimal(0), "available": units})


def listing_of(product: Product, settings: CatalogueSettings) -> str:
    """The listing a product is a variant of: its listing attribute, else its own SKU."""
    return product.attributes.get(settings.listing_attribute) or product.sku


def listed_variants(variants: Iterable[Product]) -> list[Product]:
    """The variants to send as one listing: those that can be sold; when none can, the
    inactive ones (a draft listing); when all are discontinued, all of them (archived)."""
    chosen = sorted(variants, key=lambda product: product.sku)
    for status in (ProductStatus.ACTIVE, ProductStatus.INACTIVE):
        with_status = [product for product in chosen if product.status is status]
        if with_status:
            return with_status
    return chosen


LISTING_ATTRIBUTES = ("tags",)
"""Attributes the commerce platform keeps per listing rather than per variant."""


def aligned_listing(others: Iterable[Product], newest: Product) -> list[Product]:
    """The variants of a listing with what belongs to the listing — hierarchy, brand, tags —
    taken from the newest change: the ERP moves a whole template at once, but its variants
    arrive one event at a time, and the platform refuses variants that disagree."""
    shared = {name: newest.attributes.get(name) for name in LISTING_ATTRIBUTES}
    aligned = []
    for other in others:
        attributes = {k: v for k, v in other.attributes.items() if k not in shared}
        attributes |= {k: v for k, v in shared.items() if v is not None}
        aligned.append(
            other.model_copy(
                update={
                    "hierarchy": list(newest.hierarchy),
                    "brand": newest.brand,
                    "attributes": attributes,
                }
            )
        )
    return [*aligned, newest]


def fingerprint(document: object) -> str:
    """A short digest of a JSON-compatible value, equal for equal content."""
    encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()[:32]


def product_fingerprint(product: Product) -> str:
    """What the channels see of an item: every field."""
    return fingerprint(product.model_dump(mode="json"))


def level_fingerprint(level: InventoryLevel) -> str:
    """What available-to-sell depends on: on hand and reserved."""
    return stock_fingerprint(level.on_hand, level.reserved)


def stock_fingerprint(on_hand: Decimal, reserved: Decimal) -> str:
    """The fingerprint of a level holding these figures."""
    return fingerprint([str(on_hand.normalize()), str(reserved.normalize())])


def price_fingerprint(price: Price) -> str:
    """What a till or the web shop charges: list and sale price, tax, and when a sale ends.

    The start is left out: without a sale rule Odoo dates a price from the item's last write,
    which moves with any edit of the item."""
    document = price.model_dump(mode="json")
    return fingerprint(
        [document[name] for name in ("list_price", "sale_price", "tax_included")]
        + [document["valid_to"]]
    )


def level_key(level: InventoryLevel) -> str:
    """The key stock is versioned by: source, SKU and location."""
    return f"{level.source}:{level.sku}@{level.location}"


def split_level_key(key: str) -> tuple[str, str, str]:
    """The source, SKU and location of a level key (a source has no `:`, a location no `@`)."""
    source, _, held = key.partition(":")
    sku, _, location = held.rpartition("@")
    return source, sku, location


def price_key(price: Price) -> str:
    """The key a price is versioned by: SKU, channel, and store or zone."""
    scope = f"@store:{price.store}" if price.store else f"@zone:{price.zone}" if price.zone else ""
    return f"{price.sku}@{price.channel.value}{scope}"


def next_sequence(source_sequence: int, last_published: int | None) -> int:
    """The sequence to publish: the source's when it moved on, else one past the last one."""
    if last_published is None or source_sequence > last_published:
        return source_sequence
    return last_published + 1


def changed_fields(before: Product | None, after: Product) -> list[str]:
    """The fields of an item that changed (`new` for an item not seen before)."""
    if before is None:
        return ["new"]
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return sorted(name for name in new if old.get(name) != new[name])
