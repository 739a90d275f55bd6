"""Catalogue decisions without I/O: available-to-sell, safety stock, listings, sequences,
fingerprints, and the source sequence an event carries."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retailhub.canonical.base import Channel
from retailhub.canonical.cloudevents import new_event
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, ProductStatus
from retailhub.flows.catalogue import CatalogueSettings, SafetyStock, available_to_sell
from retailhub.flows.catalogue.decisions import (
    aligned_listing,
    changed_fields,
    level_fingerprint,
    level_key,
    listed_variants,
    listing_of,
    next_sequence,
    price_fingerprint,
    price_key,
    product_fingerprint,
    split_level_key,
    stock_fingerprint,
)
from retailhub.flows.catalogue.events import (
    INVENTORY_CHANGED,
    inventory_event,
    micros,
    price_event,
    product_event,
    sequence_of,
)

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
SAFETY = CatalogueSettings(
    safety_stock=SafetyStock(
        default=Decimal(1),
        per_channel={Channel.WEB: Decimal(2)},
        per_location={"UTR03": Decimal(5)},
    )
)


def level(on_hand: str, reserved: str = "0", location: str = "WEB") -> InventoryLevel:
    return InventoryLevel(
        sku="SKU-1",
        location=location,
        on_hand=Decimal(on_hand),
        reserved=Decimal(reserved),
        as_of=AT,
        source="odoo",
        sequence=7,
    )


def item(sku: str, status: ProductStatus = ProductStatus.ACTIVE, **attributes: str) -> Product:
    return Product(sku=sku, title=f"Item {sku}", status=status, attributes=attributes)


@pytest.mark.parametrize(
    ("on_hand", "reserved", "location", "channel", "expected"),
    [
        ("20", "3", "WEB", Channel.WEB, 15),  # the web channel's safety stock
        ("20", "3", "UTR03", Channel.WEB, 12),  # a location's own beats the channel's
        ("20", "3", "AMS01", Channel.STORE, 16),  # no channel figure: the default
        ("4", "3", "WEB", Channel.WEB, 0),  # never below zero
        ("-2", "0", "WEB", Channel.WEB, 0),  # stores sell stock not yet booked in
        ("7.850", "0", "WEB", Channel.WEB, 5),  # weighed goods: whole units, rounded down
    ],
)
def test_available_to_sell(
    on_hand: str, reserved: str, location: str, channel: Channel, expected: int
) -> None:
    shown = available_to_sell(level(on_hand, reserved, location), channel, SAFETY)
    assert shown.available == Decimal(expected)
    assert (shown.on_hand, shown.reserved) == (Decimal(expected), Decimal(0))
    assert (shown.sku, shown.location, shown.sequence) == ("SKU-1", location, 7)


@given(
    on_hand=st.decimals(-1000, 100_000, places=3),
    reserved=st.decimals(0, 1000, places=3),
    safety=st.decimals(0, 100, places=0),
)
def test_available_to_sell_is_whole_never_negative_and_never_more_than_free_stock(
    on_hand: Decimal, reserved: Decimal, safety: Decimal
) -> None:
    settings = CatalogueSettings(safety_stock=SafetyStock(default=safety))
    shown = available_to_sell(level(str(on_hand), str(reserved)), Channel.APP, settings)
    assert shown.available is not None
    assert shown.available >= 0
    assert shown.available == shown.available.to_integral_value()
    assert shown.available <= max(Decimal(0), on_hand - reserved - safety)
    assert shown.available > on_hand - reserved - safety - 1


def test_negative_safety_stock_is_refused() -> None:
    with pytest.raises(ValueError, match="location WEB is -1"):
        SafetyStock(per_location={"WEB": Decimal(-1)})


def test_listing_and_the_variants_it_keeps() -> None:
    red = item("TEE-R", listing="TEE", colour="red")
    blue = item("TEE-B", ProductStatus.DISCONTINUED, listing="TEE", colour="blue")
    draft = item("TEE-G", ProductStatus.INACTIVE, listing="TEE", colour="green")
    settings = CatalogueSettings()
    assert listing_of(red, settings) == "TEE"
    assert listing_of(item("SOLO"), settings) == "SOLO"
    assert listed_variants([blue, draft, red]) == [red]
    assert listed_variants([blue, draft]) == [draft]
    assert listed_variants([blue]) == [blue]


def test_a_listing_follows_its_newest_variant_on_hierarchy_brand_and_tags() -> None:
    red = item("TEE-R", listing="TEE", colour="red", tags="summer").model_copy(
        update={"hierarchy": ["Clothing", "Shirts"], "brand": "Old"}
    )
    moved = item("TEE-B", listing="TEE", colour="blue").model_copy(
        update={"hierarchy": ["Clothing", "Tops"], "brand": "New"}
    )
    first, newest = aligned_listing([red], moved)
    assert newest == moved
    assert (first.sku, first.hierarchy, first.brand) == ("TEE-R", ["Clothing", "Tops"], "New")
    assert first.attributes == {"listing": "TEE", "colour": "red"}


def test_sequences_only_grow() -> None:
    assert next_sequence(10, None) == 10
    assert next_sequence(12, 10) == 12
    assert next_sequence(10, 10) == 11, "Odoo's same second: one past the last published"
    assert next_sequence(9, 10) == 11


def test_fingerprints_follow_what_the_channels_see() -> None:
    assert level_fingerprint(level("5")) == level_fingerprint(level("5.000"))
    assert level_fingerprint(level("5")) != level_fingerprint(level("5", "1"))
    assert product_fingerprint(item("A")) != product_fingerprint(item("A", colour="red"))
    price = Price(sku="A", channel=Channel.WEB, list_price=Money.of("2.49", "EUR"), valid_from=AT)
    later = price.model_copy(update={"valid_from": datetime(2026, 11, 21, tzinfo=UTC)})
    assert price_fingerprint(price) == price_fingerprint(later)
    cheaper = price.model_copy(update={"sale_price": Money.of("1.99", "EUR")})
    assert price_fingerprint(price) != price_fingerprint(cheaper)
    assert price_key(price) == "A@web"
    assert price_key(price.model_copy(update={"channel": Channel.STORE, "store": "AMS01"})) == (
        "A@store@store:AMS01"
    )


def test_a_level_key_names_its_source_sku_and_location() -> None:
    odd = level("1").model_copy(update={"sku": "A:B@C"})
    assert split_level_key(level_key(odd)) == ("odoo", "A:B@C", "WEB")
    zero = level("0").model_copy(update={"reserved": Decimal("0.000")})
    assert level_fingerprint(zero) == stock_fingerprint(Decimal(0), Decimal(0))


def test_a_negative_full_read_interval_is_refused() -> None:
    assert CatalogueSettings(full_read_every_s=0).full_read_every_s == 0
    with pytest.raises(ValueError, match="full_read_every_s"):
        CatalogueSettings(full_read_every_s=-1)


def test_changed_fields_name_what_moved() -> None:
    before = item("A").model_copy(update={"hierarchy": ["Food"], "gtins": []})
    after = before.model_copy(update={"hierarchy": ["Drinks"], "gtins": ["08799999000017"]})
    assert changed_fields(before, after) == ["gtins", "hierarchy"]
    assert changed_fields(None, after) == ["new"]


def test_every_event_carries_its_source_sequence() -> None:
    sequence = micros(AT) + 3
    product = product_event(
        item("A"), source="/hub/catalogue/odoo", sequence=sequence, listing="A", changed=["new"]
    )
    assert (product.partitionkey, product.subject) == ("A", "A")
    assert sequence_of(product) == sequence
    price = Price(sku="A", channel=Channel.WEB, list_price=Money.of("1", "EUR"), valid_from=AT)
    assert sequence_of(price_event(price, "A@web", source="/x", sequence=sequence)) == sequence
    assert sequence_of(inventory_event(level("1"), source="/x")) == 7
    bare = new_event(INVENTORY_CHANGED, "/other", level("1").model_dump(mode="json"), time=AT)
    assert sequence_of(bare) == 7, "a level's own sequence when the extension is absent"
    untyped = new_event("retail.price.changed.v1", "/other", price, time=AT)
    assert sequence_of(untyped) == micros(AT), "else the event's time"
