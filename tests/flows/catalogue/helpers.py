"""Catalogue sync test helpers: a small sandbox estate, the world of running emulators, reads
of what each target holds, Odoo edits through its JSON-2 API, and bounded waits."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from retailhub.bootstrap import Connectors
from retailhub.bus.port import EventBus, RetryPolicy
from retailhub.canonical.product import Product
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.connectors.openloyalty.connector import OpenLoyaltyConnector
from retailhub.connectors.poslog.feed import PoslogFeedConnector
from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.connectors.shopify.products import product_to_canonical
from retailhub.flows.catalogue import (
    SUBSCRIPTIONS,
    CatalogueSettings,
    CatalogueSync,
    subscribe_catalogue_sync,
)
from retailhub.sandbox.seed import Estate

ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
DEFAULT_PORTS = {
    "shopify": 8701,
    "odoo": 8702,
    "hubspot": 8703,
    "openloyalty": 8704,
    "poslog": 8705,
}
SYSTEMS = ("shopify", "odoo", "openloyalty", "poslog")
"""Catalogue sync never calls the CRM, so HubSpot is not started."""
FAST_RETRY = RetryPolicy(
    max_attempts=3,
    initial_backoff=timedelta(milliseconds=50),
    max_backoff=timedelta(milliseconds=200),
)
WAIT_S = 20.0
T = TypeVar("T")


def small_estate(estate: Estate, products: int, customers: int = 50) -> Estate:
    """The estate cut to its first products (with their prices and stock) and a few customers,
    so each emulator seeds in a moment."""
    kept = estate.products[:products]
    skus = {p.sku for p in kept}
    return dataclasses.replace(
        estate,
        products=kept,
        prices=tuple(p for p in estate.prices if p.sku in skus),
        inventory=tuple(level for level in estate.inventory if level.sku in skus),
        customers=estate.customers[:customers],
    )


def estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators (HubSpot left where it is:
    nothing here calls it); breakers reset fast so a test's outage ends when it is cleared."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{DEFAULT_PORTS[system]}\b", url, text)
    return text.replace("breaker_reset_s = 5.0", "breaker_reset_s = 0.2").replace(
        "breaker_reset_s = 10.0", "breaker_reset_s = 0.2"
    )


@dataclass
class World:
    """The running emulators, their estate, and the connectors to them."""

    estate: Estate
    urls: dict[str, str]
    connectors: Connectors

    @property
    def odoo(self) -> OdooConnector:
        erp = self.connectors.erps["odoo"]
        assert isinstance(erp, OdooConnector)
        return erp

    @property
    def shopify(self) -> ShopifyConnector:
        assert isinstance(self.connectors.commerce, ShopifyConnector)
        return self.connectors.commerce

    @property
    def pos(self) -> PoslogFeedConnector:
        assert isinstance(self.connectors.pos, PoslogFeedConnector)
        return self.connectors.pos

    @property
    def loyalty(self) -> OpenLoyaltyConnector:
        assert isinstance(self.connectors.loyalty, OpenLoyaltyConnector)
        return self.connectors.loyalty

    async def catalogue_sync(self, bus: EventBus, settings: CatalogueSettings) -> CatalogueSync:
        """Catalogue sync from the Odoo emulator to the web shop, the POS feed and the loyalty
        platform, subscribed on `bus` with quick retries."""
        return await subscribe_catalogue_sync(
            bus,
            erp=self.odoo,
            commerce=self.shopify,
            pos=self.pos,
            loyalty=self.loyalty,
            settings=settings,
            retry=FAST_RETRY,
        )


async def eventually(probe: Callable[[], Awaitable[T]], until: Callable[[T], bool]) -> T:
    """Probe (bounded in time) until `until` holds; the last value otherwise fails the test."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not as expected after {WAIT_S} s: {value!r}")
        await asyncio.sleep(0.05)


async def settled(bus: EventBus) -> None:
    """Wait until every catalogue subscription has handled everything and holds nothing back."""

    async def lagging() -> list[str]:
        return [
            f"{s.name}: lag {s.lag}, retrying {s.retrying}, parked {s.parked}"
            for s in await bus.subscriptions()
            if s.name in SUBSCRIPTIONS and (s.lag or s.retrying or s.parked)
        ]

    await eventually(lagging, lambda names: not names)


async def shopify_listing(world: World, sku: str) -> tuple[dict[str, Any], list[Product]]:
    """The Shopify product that sells `sku`, raw and as canonical variants (fresh reads)."""
    ref = (await world.shopify.variants([sku], fresh=True))[sku]
    async for product in world.shopify.client.products():
        if int(product["id"]) == ref.product_id:
            return product, product_to_canonical(product)
    raise AssertionError(f"no Shopify product {ref.product_id}")


async def shopify_available(world: World, sku: str, location: str) -> int:
    """Available stock of `sku` at a location, as Shopify holds it."""
    levels = await world.shopify.inventory_levels([sku], location)
    assert len(levels) == 1, levels
    return int(levels[0].available or 0)


async def loyalty_item(world: World, sku: str) -> dict[str, Any]:
    """The loyalty catalogue's item for `sku` (it must be there)."""
    client = world.loyalty.client
    found = await client.get_or_none(client.path("product", sku))
    assert isinstance(found, dict), f"the loyalty catalogue has no {sku}"
    return found


async def pos_item(world: World, sku: str) -> Product:
    """The POS item file's record of `sku` (it must be there)."""
    found = await world.pos.get_item(sku)
    assert found is not None, f"the POS item file has no {sku}"
    return found


async def odoo_product_id(world: World, sku: str) -> int:
    """The Odoo variant id of a SKU (archived ones included)."""
    found = await world.odoo.client.search_read(
        "product.product", [("default_code", "=", sku)], ["id"], context={"active_test": False}
    )
    assert len(found) == 1, found
    return int(found[0]["id"])


async def odoo_category(world: World, path: list[str]) -> int:
    """The id of the Odoo category at a hierarchy path."""
    name = " / ".join(["All", *path])
    found = await world.odoo.client.search_read(
        "product.category", [("complete_name", "=", name)], ["id"]
    )
    assert len(found) == 1, (name, found)
    return int(found[0]["id"])


async def requests_served(world: World, system: str) -> int:
    """How many requests an emulator has answered so far."""
    url = f"{world.urls[system]}/_sandbox/status"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return int((await response.json())["requests_served"])


async def set_faults(world: World, system: str, faults: dict[str, Any] | None) -> None:
    """Inject faults on an emulator (None clears them)."""
    url = f"{world.urls[system]}/_sandbox/faults"
    async with aiohttp.ClientSession() as session:
        if faults is None:
            async with session.delete(url) as response:
                assert response.status < 300
        else:
            async with session.put(url, json=faults) as response:
                assert response.status < 300, await response.text()
