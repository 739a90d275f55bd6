"""Real HTTP on loopback: the Shopify emulator delivers signed webhooks to the API served by
uvicorn, and the workers turn them into canonical customer events."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn

from retailhub.api.app import create_app
from retailhub.api.hooks.events import SHOPIFY_DELIVERY
from retailhub.api.hooks.intake import subscribe_webhook_intake
from retailhub.api.services import ApiServices, HookSettings
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.customer import Customer
from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.resilience.policy import ResiliencePolicy
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate
from retailhub.sandbox.shopify.emulator import DEFAULT_WEBHOOK_SECRET

from .helpers import events_of, wait_for_events

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ShopifyConnector]:
    """The Shopify emulator on a free loopback port, and a connector to it."""
    estate = await asyncio.to_thread(build_estate, 42)
    sandbox = Sandbox(
        {"shopify": load_emulators()["shopify"]}, {"shopify": 0}, tmp_path_factory.mktemp("shop")
    )
    sandbox.emulators["shopify"].load(dataclasses.replace(estate, customers=estate.customers[:20]))
    urls = await sandbox.start()
    connector = ShopifyConnector(urls["shopify"], "shpat_retailhub_sandbox", ResiliencePolicy())
    yield connector
    await connector.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def hub_url(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteBus]]:
    """The API served by uvicorn on a free loopback port, with the webhook workers running."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as bus:
        services = ApiServices(bus, hooks=HookSettings(shopify_secret=DEFAULT_WEBHOOK_SECRET))
        await subscribe_webhook_intake(bus, crm=None)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services), host="127.0.0.1", port=0, log_config=None, lifespan="on"
            )
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", bus
        server.should_exit = True
        await task


async def test_a_customer_created_in_shopify_reaches_the_bus_once(
    shop: ShopifyConnector, hub_url: tuple[str, SqliteBus]
) -> None:
    url, bus = hub_url
    for topic in ("customers/create", "customers/update"):
        await shop.subscribe_webhooks(f"{url}/hooks/shopify/{topic}", [topic])
    shopify_id = await shop.upsert_customer(
        Customer(customer_id="CUST-LOOP-1", given_name="Noor", emails=["noor@example.nl"])
    )
    (created,) = await wait_for_events(bus, ["retail.customer.created.v1"], 1)
    assert created.source == "/shopify/customers"
    assert created.data["identities"]["shopify"] == shopify_id
    assert created.data["emails"] == ["noor@example.nl"]
    await shop.upsert_customer(
        Customer(
            customer_id="CUST-LOOP-1",
            identities={"shopify": shopify_id},
            given_name="Noor",
            family_name="Bakker",
            emails=["noor@example.nl"],
        )
    )
    (updated,) = await wait_for_events(bus, ["retail.customer.updated.v1"], 1)
    assert updated.data["family_name"] == "Bakker"
    deliveries = await events_of(bus, [SHOPIFY_DELIVERY])
    assert [d.data["topic"] for d in deliveries] == ["customers/create", "customers/update"]
