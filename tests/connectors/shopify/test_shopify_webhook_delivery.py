"""The emulator delivers signed webhooks as Shopify does, to a small receiver on loopback that
verifies them with the connector's own check (the hub's inbound endpoint comes later)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp import web
from shopify_sandbox import place_order

from retailhub.canonical.inventory import InventoryLevel
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.connectors.shopify.documents import shopify_documents
from retailhub.connectors.shopify.mapping import order_to_canonical
from retailhub.connectors.shopify.webhooks import (
    CUSTOMERS_CREATE,
    HMAC_HEADER,
    INVENTORY_LEVELS_UPDATE,
    ORDERS_CREATE,
    RESOURCE_BY_TOPIC,
    SHOP_DOMAIN_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    verify_shopify_webhook,
)
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import ShopifyEmulator
from retailhub.sandbox.shopify.emulator import DEFAULT_WEBHOOK_SECRET

WAIT_S = 5.0


@dataclass
class Receiver:
    """What arrived at the receiver: topic, headers, raw body, and whether it verified."""

    url: str = ""
    received: list[tuple[str, dict[str, str], bytes, bool]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        valid = verify_shopify_webhook(
            raw, request.headers.get(HMAC_HEADER), DEFAULT_WEBHOOK_SECRET
        )
        topic = request.headers.get(TOPIC_HEADER, "")
        self.received.append((topic, dict(request.headers), raw, valid))
        self.arrived.set()
        return web.Response(status=200 if valid else 401)

    async def next_of(self, topic: str) -> tuple[dict[str, str], bytes, bool]:
        """The first delivery of `topic`, waiting at most WAIT_S for it."""
        async with asyncio.timeout(WAIT_S):
            while True:
                for got, headers, raw, valid in self.received:
                    if got == topic:
                        return headers, raw, valid
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on a free loopback port."""
    catcher = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/shopify", catcher.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    catcher.url = f"http://{host}:{port}/webhooks/shopify"
    yield catcher
    await runner.cleanup()


async def test_a_new_order_is_delivered_signed_to_its_subscriber(
    connector: ShopifyConnector, receiver: Receiver, small_estate: Estate
) -> None:
    ids = await connector.subscribe_webhooks(receiver.url, [ORDERS_CREATE, CUSTOMERS_CREATE])
    assert ids == await connector.subscribe_webhooks(
        receiver.url, [ORDERS_CREATE, CUSTOMERS_CREATE]
    )
    placed = await place_order(connector, small_estate.products[0].sku, 2)
    headers, raw, valid = await receiver.next_of(ORDERS_CREATE)
    assert valid
    assert headers[SHOP_DOMAIN_HEADER].endswith(".myshopify.com")
    assert headers[WEBHOOK_ID_HEADER]
    assert RESOURCE_BY_TOPIC[ORDERS_CREATE] == "order"
    [order] = shopify_documents(orjson.loads(raw), "order")
    assert order_to_canonical(order).order_id == f"SHOPIFY-ORDER-{placed['id']}"


async def test_stock_changes_are_delivered(
    connector: ShopifyConnector, receiver: Receiver, small_estate: Estate
) -> None:
    await connector.subscribe_webhooks(receiver.url, [INVENTORY_LEVELS_UPDATE])
    sku = small_estate.products[3].sku
    level = InventoryLevel(
        sku=sku, location="WEB", on_hand=7, as_of=datetime.now(UTC), source="odoo", sequence=1
    )
    await connector.set_inventory(level)
    _, raw, valid = await receiver.next_of(INVENTORY_LEVELS_UPDATE)
    assert valid
    body = orjson.loads(raw)
    assert body["available"] == 7
    assert body["inventory_item_id"] == (await connector.variant(sku)).inventory_item_id


async def test_a_tampered_delivery_does_not_verify(
    emulator: ShopifyEmulator, connector: ShopifyConnector, receiver: Receiver, small_estate: Estate
) -> None:
    emulator.webhooks.secret = "another-apps-secret"
    await connector.subscribe_webhooks(receiver.url, [ORDERS_CREATE])
    await place_order(connector, small_estate.products[0].sku)
    _, _, valid = await receiver.next_of(ORDERS_CREATE)
    assert not valid
    await emulator.webhooks.settle()
    assert [d.status for d in emulator.webhooks.deliveries] == [401]


async def test_only_addresses_on_this_machine_can_subscribe(connector: ShopifyConnector) -> None:
    with pytest.raises(RequestRefused) as refused:
        await connector.client.subscribe(ORDERS_CREATE, "https://hub.example.com/webhooks/shopify")
    assert refused.value.status == 422
    with pytest.raises(RequestRefused) as unknown:
        await connector.client.subscribe("orders/teleported", "http://127.0.0.1:9/hook")
    assert unknown.value.body == {"errors": {"topic": ["Invalid topic specified."]}}
