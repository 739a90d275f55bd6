"""The events catalogue sync publishes and listens to, and the source sequence they carry.

Types are the catalogue's own: `retail.product.upserted.v1` and `.discontinued.v1` (a Product,
keyed by SKU), `retail.inventory.changed.v1` (an InventoryLevel) and `retail.price.changed.v1`
(a Price). The canonical InventoryLevel has a `sequence`; Product and Price have none, so every
event the poller publishes carries the extension attribute `sourcesequence` (an integer, the
same figure as the level's `sequence` for stock), and `changedfields` names what changed in an
item (`new` for a new one). An event from another publisher without the extension is versioned
by its `time`.

Item events are ordered by listing (the partition key), so the variants of one listing reach
the commerce platform one at a time; stock and price events by SKU.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, ProductStatus

PRODUCT_UPSERTED = "retail.product.upserted.v1"
PRODUCT_DISCONTINUED = "retail.product.discontinued.v1"
PRODUCT_EVENTS = (PRODUCT_UPSERTED, PRODUCT_DISCONTINUED)
INVENTORY_CHANGED = "retail.inventory.changed.v1"
PRICE_CHANGED = "retail.price.changed.v1"
SEQUENCE = "sourcesequence"
CHANGED = "changedfields"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def source_of(erp_name: str) -> str:
    """The CloudEvents source of what the poller captures from one ERP."""
    return f"/hub/catalogue/{erp_name}"


def micros(moment: datetime) -> int:
    """A moment as microseconds since the epoch, the unit of every catalogue sequence."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def product_event(
    product: Product, *, source: str, sequence: int, listing: str, changed: Sequence[str]
) -> CloudEvent:
    """`discontinued` for a discontinued item, else `upserted`; one event per item version."""
    kind = (
        PRODUCT_DISCONTINUED if product.status is ProductStatus.DISCONTINUED else PRODUCT_UPSERTED
    )
    return new_event(
        kind,
        source,
        product,
        id=f"product:{product.sku}:{sequence}",
        subject=product.sku,
        partitionkey=listing,
        extensions={SEQUENCE: str(sequence), CHANGED: ",".join(changed) or "none"},
    )


def inventory_event(level: InventoryLevel, *, source: str) -> CloudEvent:
    """One stock level, versioned by its own sequence."""
    return new_event(
        INVENTORY_CHANGED,
        source,
        level,
        id=f"inventory:{level.source}:{level.sku}@{level.location}:{level.sequence}",
        subject=level.sku,
        partitionkey=level.sku,
        time=level.as_of,
        extensions={SEQUENCE: str(level.sequence)},
    )


def price_event(price: Price, key: str, *, source: str, sequence: int) -> CloudEvent:
    """One channel's price of a SKU, versioned by the capture sequence."""
    return new_event(
        PRICE_CHANGED,
        source,
        price,
        id=f"price:{key}:{sequence}",
        subject=price.sku,
        partitionkey=price.sku,
        extensions={SEQUENCE: str(sequence)},
    )


def sequence_of(event: CloudEvent) -> int:
    """The event's source sequence: the extension, a stock level's own, else its time."""
    value = event.extensions.get(SEQUENCE)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if event.type == INVENTORY_CHANGED and isinstance(event.data, dict):
        found = event.data.get("sequence")
        if isinstance(found, int):
            return found
    if event.time is None:
        raise ValueError(f"{event.type} {event.id} carries no source sequence and no time")
    return micros(event.time)
