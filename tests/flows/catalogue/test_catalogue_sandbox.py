"""Catalogue sync end to end: Odoo changes captured by the poller reach the Shopify, POS and
Open Loyalty emulators over HTTP through the six subscriptions on a real SqliteBus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest
import pytest_asyncio

from retailhub.bus.port import Selection
from retailhub.bus.postgres import PostgresBus
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.identifiers import gtin_check_digit
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.product import Product, ProductStatus
from retailhub.flows.catalogue import (
    CatalogueSettings,
    CatalogueSync,
    SafetyStock,
    catalogue_status,
    refusals,
)
from retailhub.flows.catalogue.events import (
    INVENTORY_CHANGED,
    PRODUCT_UPSERTED,
    SEQUENCE,
    inventory_event,
    product_event,
    sequence_of,
)
from services import require_postgres

from .helpers import (
    World,
    eventually,
    loyalty_item,
    odoo_category,
    odoo_product_id,
    pos_item,
    set_faults,
    settled,
    shopify_available,
    shopify_listing,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = CatalogueSettings(
    safety_stock=SafetyStock(
        default=Decimal(1),
        per_channel={Channel.WEB: Decimal(2)},
        per_location={"UTR03": Decimal(5)},
    ),
    concurrency=8,
)


@dataclass
class Hub:
    """Catalogue sync running on a test's bus, baselined on the sandbox's current state."""

    bus: SqliteBus
    sync: CatalogueSync


@pytest_asyncio.fixture(loop_scope="module")
async def hub(bus: SqliteBus, world: World) -> AsyncIterator[Hub]:
    sync = await world.catalogue_sync(bus, SETTINGS)
    baseline = await sync.capture.baseline()
    assert not baseline.errors, baseline.errors
    yield Hub(bus, sync)


def gtin13(body: str) -> str:
    """A GTIN-13 with its check digit."""
    return f"{body}{gtin_check_digit(body)}"


def sku_of(world: World, index: int) -> str:
    return world.estate.products[index].sku


async def test_item_changes_reach_shopify_pos_and_loyalty(hub: Hub, world: World) -> None:
    odoo = world.odoo.client
    moved, regtinned = sku_of(world, 10), sku_of(world, 11)
    target_path = list(world.estate.products[200].hierarchy)
    assert target_path != world.estate.products[10].hierarchy
    await odoo.write(
        "product.product",
        [await odoo_product_id(world, moved)],
        {"categ_id": await odoo_category(world, target_path)},
    )
    new_gtin = gtin13("879999977777")
    await odoo.write(
        "product.product", [await odoo_product_id(world, regtinned)], {"barcode": new_gtin}
    )
    template = await odoo.search_read(
        "product.product",
        [("default_code", "=", sku_of(world, 12))],
        ["categ_id", "uom_id", "taxes_id", "currency_id"],
    )
    await odoo.create(
        "product.product",
        {
            "name": "Huismerk Stroopwafels Karamel 400 g",
            "default_code": "SKU-NEW-1",
            "barcode": gtin13("879999988888"),
            "categ_id": template[0]["categ_id"][0],
            "uom_id": template[0]["uom_id"][0],
            "taxes_id": template[0]["taxes_id"],
            "currency_id": template[0]["currency_id"][0],
            "list_price": 2.49,
            "type": "consu",
            "active": True,
        },
    )

    report = await hub.sync.capture.poll_once()
    assert not report.errors
    assert report.published["products"] == 3
    await settled(hub.bus)

    raw, variants = await shopify_listing(world, moved)
    assert raw["product_type"] == " > ".join(target_path)
    assert (await pos_item(world, moved)).hierarchy == target_path
    assert (await loyalty_item(world, moved))["categories"] == target_path

    raw, variants = await shopify_listing(world, regtinned)
    assert raw["variants"][0]["barcode"] == new_gtin
    assert variants[0].gtins == ["0" + new_gtin]
    item = await pos_item(world, regtinned)
    assert item.gtins == ["0" + new_gtin]

    raw, variants = await shopify_listing(world, "SKU-NEW-1")
    assert raw["title"] == "Huismerk Stroopwafels Karamel 400 g"
    assert raw["status"] == "active"
    assert (await pos_item(world, "SKU-NEW-1")).title == "Huismerk Stroopwafels Karamel 400 g"
    assert (await loyalty_item(world, "SKU-NEW-1"))["active"] is True

    again = await hub.sync.capture.poll_once()
    assert again.published["products"] == 0, "an unchanged re-read publishes nothing"


async def test_archived_and_discontinued_items_leave_the_channels(hub: Hub, world: World) -> None:
    archived = sku_of(world, 20)
    await world.odoo.client.write(
        "product.product", [await odoo_product_id(world, archived)], {"active": False}
    )
    await hub.sync.capture.poll_once()
    await settled(hub.bus)
    raw, _ = await shopify_listing(world, archived)
    assert raw["status"] == "draft"
    item = await pos_item(world, archived)
    assert item.status is ProductStatus.INACTIVE
    assert (await loyalty_item(world, archived))["active"] is False

    # Odoo has no discontinued status: another ERP publishes the catalogue's event for it.
    gone = world.estate.products[21].model_copy(update={"status": ProductStatus.DISCONTINUED})
    await hub.bus.publish(
        [
            product_event(
                gone, source="/erp/other", sequence=2**62, listing=gone.sku, changed=["status"]
            )
        ]
    )
    await settled(hub.bus)
    raw, _ = await shopify_listing(world, gone.sku)
    assert raw["status"] == "archived"
    item = await pos_item(world, gone.sku)
    assert item.status is ProductStatus.DISCONTINUED
    assert (await loyalty_item(world, gone.sku))["active"] is False


async def test_stock_change_sets_available_to_sell_per_location(hub: Hub, world: World) -> None:
    sku = sku_of(world, 30)
    await world.odoo.adjust_stock(sku, "WEB", Decimal(7), key="catalogue-test:stock:1")
    await world.odoo.adjust_stock(sku, "UTR03", Decimal(-1), key="catalogue-test:stock:2")
    await world.odoo.adjust_stock(sku, "AMS01", Decimal(3), key="catalogue-test:stock:3")
    levels = {
        level.location: level for level in await world.odoo.stock_levels() if level.sku == sku
    }

    report = await hub.sync.capture.poll_once()
    assert not report.errors
    assert report.published["inventory"] == 3
    await settled(hub.bus)

    def expected(location: str, safety: int) -> int:
        level = levels[location]
        return max(
            0, int((level.on_hand - level.reserved - safety).to_integral_value("ROUND_FLOOR"))
        )

    assert await shopify_available(world, sku, "WEB") == expected("WEB", 2)
    assert await shopify_available(world, sku, "UTR03") == expected("UTR03", 5)
    assert await shopify_available(world, sku, "AMS01") == expected("AMS01", 2)


async def test_stale_and_out_of_order_stock_updates_are_refused(hub: Hub, world: World) -> None:
    sku = sku_of(world, 31)
    await world.odoo.adjust_stock(sku, "WEB", Decimal(11), key="catalogue-test:stock:4")
    await hub.sync.capture.poll_once()
    await settled(hub.bus)
    applied = await shopify_available(world, sku, "WEB")
    logged = [
        found
        for found in await hub.bus.tail(types=[INVENTORY_CHANGED], key=sku)
        if found.event.data["location"] == "WEB"
    ]
    assert len(logged) == 1
    captured = [logged[0].event]
    newest = sequence_of(captured[0])

    def level(on_hand: int, sequence: int) -> CloudEvent:
        return inventory_event(
            InventoryLevel(
                sku=sku,
                location="WEB",
                on_hand=Decimal(on_hand),
                as_of=captured[0].time,  # type: ignore[arg-type]
                source="odoo",
                sequence=sequence,
            ),
            source="/erp/lagging-replica",
        )

    # A lagging publisher sends an older level, then the newest one again with other figures.
    await hub.bus.publish([level(900, newest - 1_000_000), level(901, newest)])
    await settled(hub.bus)
    assert await shopify_available(world, sku, "WEB") == applied
    async with hub.bus.transaction() as transaction:
        refused = await refusals(transaction, "commerce.inventory", f"odoo:{sku}@WEB")
    assert [r.sequence for r in refused] == [newest - 1_000_000, newest]
    assert all(r.last_applied == newest for r in refused)

    # A newer one still applies, and replaying the captured event is refused as well.
    await hub.bus.publish([level(40, newest + 1)])
    await settled(hub.bus)
    assert await shopify_available(world, sku, "WEB") == 40 - 2
    await hub.bus.replay("catalogue.commerce.inventory", from_position=logged[0].position, key=sku)
    await settled(hub.bus)
    assert await shopify_available(world, sku, "WEB") == 40 - 2
    status = await catalogue_status(hub.bus)
    assert status.refused["commerce.inventory"] >= 3


async def test_price_change_reaches_shopify_and_pos(hub: Hub, world: World) -> None:
    sku = next(
        p.sku
        for p in world.estate.products[40:]
        if world.estate.price(p.sku, Channel.WEB).sale_price is None
    )
    await world.odoo.client.write(
        "product.product", [await odoo_product_id(world, sku)], {"list_price": 13.37}
    )
    report = await hub.sync.capture.poll_once()
    assert not report.errors
    assert report.published["prices"] == 2
    await settled(hub.bus)

    raw, _ = await shopify_listing(world, sku)
    assert raw["variants"][0]["price"] == "13.37"
    store_prices = await world.pos.store_prices(sku)
    newest = max(store_prices, key=lambda price: price.valid_from)
    assert newest.list_price.amount == Decimal("13.37")


async def test_a_target_that_is_down_holds_back_only_its_own_subscription(
    hub: Hub, world: World
) -> None:
    sku = sku_of(world, 50)
    await set_faults(world, "poslog", {"down": True})
    try:
        await world.odoo.client.write(
            "product.product", [await odoo_product_id(world, sku)], {"name": "Renamed while down"}
        )
        await hub.sync.capture.poll_once()

        async def dead() -> int:
            return len(await hub.bus.dead_letters(Selection(subscription="catalogue.pos.items")))

        await eventually(dead, lambda count: count == 1)
        raw, _ = await shopify_listing(world, sku)
        assert raw["title"] == "Renamed while down"
        assert (await loyalty_item(world, sku))["name"] == "Renamed while down"
    finally:
        await set_faults(world, "poslog", None)
    await asyncio.sleep(0.3)  # let the POS connector's breaker half-open after the outage
    moved = await hub.bus.retry(Selection(subscription="catalogue.pos.items"))
    assert len(moved.events) == 1
    await settled(hub.bus)
    item = await pos_item(world, sku)
    assert item.title == "Renamed while down"


async def test_the_poller_runs_until_stopped(hub: Hub, world: World) -> None:
    sku = sku_of(world, 60)
    settings = CatalogueSettings(poll_interval_s=0.05)
    stop = asyncio.Event()
    capture = type(hub.sync.capture)(hub.bus, world.odoo, settings)
    task = asyncio.create_task(capture.run(stop))
    try:
        await world.odoo.client.write(
            "product.product", [await odoo_product_id(world, sku)], {"name": "Polled rename"}
        )

        async def title() -> str:
            raw, _ = await shopify_listing(world, sku)
            return str(raw["title"])

        await eventually(title, lambda found: found == "Polled rename")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    events = await hub.bus.tail(types=[PRODUCT_UPSERTED], key=sku)
    sequences = [int(e.event.extensions[SEQUENCE]) for e in events]
    assert sequences
    assert sequences == sorted(sequences)


async def test_an_erp_outage_holds_the_cursor_until_a_read_succeeds(hub: Hub, world: World) -> None:
    sku = sku_of(world, 70)
    await world.odoo.client.write(
        "product.product", [await odoo_product_id(world, sku)], {"name": "Changed before outage"}
    )
    before = {s.stream: s for s in (await catalogue_status(hub.bus)).streams}
    await set_faults(world, "odoo", {"error_rate": 1.0})
    try:
        failed = await hub.sync.capture.poll_once()
    finally:
        await set_faults(world, "odoo", None)
    assert set(failed.errors) == {"products", "inventory", "prices"}
    assert sum(failed.published.values()) == 0
    during = {s.stream: s for s in (await catalogue_status(hub.bus)).streams}
    assert during["products"].position == before["products"].position
    assert all(during[s].last_error for s in during)

    await asyncio.sleep(0.3)  # the Odoo connector's breaker half-opens after the outage
    recovered = await hub.sync.capture.poll_once()
    assert not recovered.errors
    assert recovered.published["products"] == 1
    assert all(s.last_error is None for s in (await catalogue_status(hub.bus)).streams)
    await settled(hub.bus)
    raw, _ = await shopify_listing(world, sku)
    assert raw["title"] == "Changed before outage"


async def test_a_new_poller_can_baseline_its_first_read(bus: SqliteBus, world: World) -> None:
    sync = await world.catalogue_sync(
        bus, CatalogueSettings(baseline_first_poll=True, poll_interval_s=0.05)
    )
    first = await sync.capture.poll_once()
    assert first.read["products"] >= len(world.estate.products)
    assert sum(first.published.values()) == 0
    sku = sku_of(world, 80)
    await world.odoo.client.write(
        "product.product", [await odoo_product_id(world, sku)], {"name": "After the baseline"}
    )
    second = await sync.capture.poll_once()
    assert second.published == {"products": 1, "inventory": 0, "prices": 0}
    await settled(bus)
    assert (await pos_item(world, sku)).title == "After the baseline"


async def test_on_postgresql_the_guard_reads_its_ledger_per_event(world: World) -> None:
    url = require_postgres()
    schema = f"catalogue_{uuid.uuid4().hex[:12]}"
    sku = sku_of(world, 90)
    try:
        async with PostgresBus(url, schema=schema, pool_size=4, poll_interval=0.02) as bus:
            sync = await world.catalogue_sync(bus, SETTINGS)
            assert not (await sync.capture.baseline()).errors
            await world.odoo.client.write(
                "product.product", [await odoo_product_id(world, sku)], {"name": "On PostgreSQL"}
            )
            await world.odoo.adjust_stock(sku, "WEB", Decimal(9), key="catalogue-test:pg:1")
            report = await sync.capture.poll_once()
            assert (report.published["products"], report.published["inventory"]) == (1, 1)
            await settled(bus)
            (logged,) = await bus.tail(types=[INVENTORY_CHANGED], key=sku)
            applied = await shopify_available(world, sku, "WEB")
            stale = logged.event.data | {"on_hand": "999", "available": None}
            older = InventoryLevel.model_validate(stale).model_copy(
                update={"sequence": sequence_of(logged.event) - 1}
            )
            await bus.publish([inventory_event(older, source="/erp/lagging-replica")])
            await settled(bus)
            assert await shopify_available(world, sku, "WEB") == applied
            raw, _ = await shopify_listing(world, sku)
            assert raw["title"] == "On PostgreSQL"
            async with bus.transaction() as transaction:
                refused = await refusals(transaction, "commerce.inventory")
            assert [r.key for r in refused] == [f"odoo:{sku}@WEB"]
            status = await catalogue_status(bus)
            assert status.applied["commerce.products"] == 1
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def test_variants_of_one_listing_become_one_shopify_product(hub: Hub, world: World) -> None:
    def variant(sku: str, colour: str, status: ProductStatus = ProductStatus.ACTIVE) -> Product:
        return Product(
            sku=sku,
            title=f"Huismerk T-shirt - {colour}",
            hierarchy=["Clothing", "Shirts", "T-shirts"],
            brand="Huismerk",
            attributes={"listing": "TEE-2026", "colour": colour, "vat_rate": "21"},
            status=status,
        )

    def published(product: Product, sequence: int) -> CloudEvent:
        return product_event(
            product, source="/erp/other", sequence=sequence, listing="TEE-2026", changed=["new"]
        )

    red, blue = variant("TEE-2026-R", "red"), variant("TEE-2026-B", "blue")
    await hub.bus.publish([published(red, 1), published(blue, 1)])
    await settled(hub.bus)
    raw, variants = await shopify_listing(world, red.sku)
    assert raw["title"] == "Huismerk T-shirt"
    assert {v.sku: v.attributes.get("colour") for v in variants} == {
        "TEE-2026-B": "blue",
        "TEE-2026-R": "red",
    }
    assert (await shopify_listing(world, blue.sku))[0]["id"] == raw["id"]

    await hub.bus.publish([published(variant(blue.sku, "blue", ProductStatus.DISCONTINUED), 2)])
    await settled(hub.bus)
    raw, variants = await shopify_listing(world, red.sku)
    assert [v.sku for v in variants] == [red.sku], "a discontinued variant leaves its listing"
    assert raw["status"] == "active"
    assert (await pos_item(world, blue.sku)).status is ProductStatus.DISCONTINUED
