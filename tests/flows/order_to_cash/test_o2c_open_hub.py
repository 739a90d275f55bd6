"""The composition root opens a whole hub on the embedded default: an order published to its bus
reaches every system of the sandbox estate over HTTP, and closing the hub releases everything."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from retailhub.bootstrap import open_hub
from retailhub.canonical.catalogue import to_event
from retailhub.config import Settings
from retailhub.estate import parse_estate
from retailhub.flows.order_to_cash import held_for_order, order_status
from retailhub.flows.order_to_cash.events import ORDER_CREATED

from .helpers import World, plain_customers, sandbox_estate_text, web_order

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_an_order_published_to_the_hub_reaches_every_system(
    world: World, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, bus="sqlite", database_url=None, nats_url=None)
    estate = parse_estate(sandbox_estate_text(world.urls))
    order = web_order(
        world, "HUB-1", plain_customers(world.estate)[0], [world.estate.products[0].sku]
    )
    async with open_hub(settings, estate=estate) as hub:
        assert {"o2c.erp", "o2c.stock", "o2c.loyalty", "o2c.crm"} <= set(hub.subscriptions)
        await hub.bus.publish_one(to_event(order, ORDER_CREATED, "/shopify/test-shop"))
        deadline = time.monotonic() + 20
        while True:
            async with hub.bus.transaction() as transaction:
                status = await order_status(
                    transaction, order.order_id, await held_for_order(hub.bus, order.order_id)
                )
            if status.settled:
                break
            assert time.monotonic() < deadline, f"order did not settle: {status}"
            await asyncio.sleep(0.1)
    assert {name: s.outcome.value for name, s in status.systems.items()} == {
        "erp": "done",
        "stock": "done",
        "loyalty": "done",
        "crm": "done",
    }
    assert (tmp_path / "retailhub.sqlite").exists()
