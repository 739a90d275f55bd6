"""Catalogue change capture reads stock and prices incrementally: against the Odoo emulator over
HTTP, a poll reads only what changed since its cursor, a poll with nothing changed reads
nothing, and the full read that catches what a "changed since" read cannot (a quant Odoo
deleted) comes on schedule, at the first poll and after a failed read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.flows.catalogue import (
    CatalogueSettings,
    CatalogueSync,
    ErpChangeCapture,
)

from .helpers import (
    World,
    odoo_product_id,
    requests_served,
    set_faults,
    settled,
    shopify_available,
    shopify_listing,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

FULL_READ_EVERY_S = 600.0
SETTINGS = CatalogueSettings(full_read_every_s=FULL_READ_EVERY_S, concurrency=8)
STOCK_AND_PRICES = ["inventory", "prices"]


class Clock:
    """The hub's clock, which the test moves ahead of the ERP's at will."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def skip(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)


@dataclass
class Hub:
    """Catalogue sync on a test's bus, baselined, and a poller on the test's clock."""

    bus: SqliteBus
    sync: CatalogueSync
    clock: Clock
    capture: ErpChangeCapture


@pytest_asyncio.fixture(loop_scope="module")
async def hub(bus: SqliteBus, world: World) -> AsyncIterator[Hub]:
    sync = await world.catalogue_sync(bus, SETTINGS)
    clock = Clock()
    capture = ErpChangeCapture(bus, world.odoo, SETTINGS, clock=clock)
    baseline = await capture.baseline()
    assert not baseline.errors, baseline.errors
    assert baseline.full == STOCK_AND_PRICES
    yield Hub(bus, sync, clock, capture)


def sku_of(world: World, index: int) -> str:
    return world.estate.products[index].sku


async def test_a_stock_move_and_a_price_change_are_published_by_the_next_poll(
    hub: Hub, world: World
) -> None:
    stocked, repriced = sku_of(world, 100), sku_of(world, 101)
    stores = {level.location for level in world.estate.inventory if level.sku == stocked}
    await world.odoo.adjust_stock(stocked, "WEB", Decimal(6), key="incremental-test:stock:1")
    web = next(level for level in await world.odoo.stock_levels("WEB") if level.sku == stocked)
    await world.odoo.client.write(
        "product.product", [await odoo_product_id(world, repriced)], {"list_price": 17.77}
    )

    report = await hub.capture.poll_once()

    assert not report.errors
    assert report.full == []
    assert report.read["inventory"] == len(stores), "only the item that moved, in every store"
    assert report.read["prices"] == 2, "only the item repriced, on both channels"
    assert report.published["inventory"] == 1
    assert report.published["prices"] == 2
    await settled(hub.bus)
    ats = int(web.on_hand - web.reserved) - int(SETTINGS.safety_stock.units(Channel.WEB, "WEB"))
    assert await shopify_available(world, stocked, "WEB") == max(0, ats)
    raw, _ = await shopify_listing(world, repriced)
    assert raw["variants"][0]["price"] == "17.77"


async def test_a_poll_with_nothing_changed_reads_nothing(hub: Hub, world: World) -> None:
    # The hub's clock runs ahead of the ERP's by more than the margin: nothing written so far
    # falls after the cursor.
    hub.clock.skip(SETTINGS.clock_margin_s + 5)
    await hub.capture.poll_once()
    before = await requests_served(world, "odoo")

    idle = await hub.capture.poll_once()

    assert not idle.errors
    assert idle.full == []
    assert idle.read == {"products": 0, "inventory": 0, "prices": 0}
    assert sum(idle.published.values()) == 0
    # Products: taxes and changed items; stock: changed quants; prices: pricelists, changed
    # variants and changed rules. A full read pages through every quant and price besides.
    assert await requests_served(world, "odoo") - before <= 6


async def test_full_reads_come_on_schedule_and_after_a_failed_read(hub: Hub, world: World) -> None:
    capture = ErpChangeCapture(hub.bus, world.odoo, SETTINGS, clock=hub.clock)
    first = await capture.poll_once()
    assert first.full == STOCK_AND_PRICES, "a poller's first poll reads in full"
    assert first.read["inventory"] == len(world.estate.inventory)
    assert first.read["prices"] == len(world.estate.prices)
    assert sum(first.published.values()) == 0, "a full re-read of unchanged records"

    hub.clock.skip(FULL_READ_EVERY_S - 1)
    assert (await capture.poll_once()).full == []
    hub.clock.skip(1)
    due = await capture.poll_once()
    assert due.full == STOCK_AND_PRICES
    assert due.read["inventory"] == len(world.estate.inventory)
    assert (await capture.poll_once()).full == []

    await set_faults(world, "odoo", {"error_rate": 1.0})
    try:
        failed = await capture.poll_once()
    finally:
        await set_faults(world, "odoo", None)
    assert set(failed.errors) == {"products", "inventory", "prices"}
    await asyncio.sleep(0.3)  # the Odoo connector's breaker half-opens after the outage
    recovered = await capture.poll_once()
    assert not recovered.errors
    assert recovered.full == STOCK_AND_PRICES, "a failed stream is read in full next"


async def test_a_quant_deleted_in_the_erp_is_zero_on_the_channels_at_the_next_full_read(
    hub: Hub, world: World
) -> None:
    sku = next(
        level.sku
        for level in world.estate.inventory
        if level.location == "WEB" and level.on_hand - level.reserved > 10 and not level.reserved
    )
    assert await shopify_available(world, sku, "WEB") > 0
    root = (await world.odoo.stores.get("WEB")).stock_location_id
    [quant] = await world.odoo.client.search_read(
        "stock.quant",
        [("product_id", "=", await odoo_product_id(world, sku)), ("location_id", "child_of", root)],
        ["id"],
    )
    await world.odoo.client.call("stock.quant", "unlink", ids=[quant["id"]])

    unseen = await hub.capture.poll_once()
    assert unseen.published["inventory"] == 0, "a deleted quant is no change"

    hub.clock.skip(FULL_READ_EVERY_S)
    full = await hub.capture.poll_once()
    assert full.full == STOCK_AND_PRICES
    assert full.published["inventory"] == 1
    await settled(hub.bus)
    assert await shopify_available(world, sku, "WEB") == 0

    hub.clock.skip(FULL_READ_EVERY_S)
    again = await hub.capture.poll_once()
    assert again.full == STOCK_AND_PRICES
    assert again.published["inventory"] == 0, "its zero is published once"
