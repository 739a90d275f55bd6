"""Customer sync fixtures: the three emulators customer sync talks to (HubSpot, Shopify, Open
Loyalty) over HTTP, seeded once per module with the first customers of the estate, a receiver
for the Shopify emulator's webhooks, and a real SqliteBus per test."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.connectors.shopify.webhooks import CUSTOMERS_CREATE, CUSTOMERS_UPDATE
from retailhub.estate import Secrets, parse_estate
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .sandbox_hub import SYNCED_SYSTEMS, ShopWebhooks, SyncWorld, estate_text, seeded_customers


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SyncWorld]:
    """HubSpot, Shopify and Open Loyalty emulators on free loopback ports, and connectors."""
    estate = await asyncio.to_thread(build_estate, 42)
    small = dataclasses.replace(estate, customers=seeded_customers(estate))
    factories = {s: f for s, f in load_emulators().items() if s in SYNCED_SYSTEMS}
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), tmp_path_factory.mktemp("estate"))
    for emulator in sandbox.emulators.values():
        emulator.load(small)
    urls = await sandbox.start()
    connectors = build_connectors(
        parse_estate(estate_text(urls)), Secrets.from_environment(sandbox=True)
    )
    webhooks = ShopWebhooks()
    await webhooks.start()
    assert connectors.commerce is not None
    shop: Any = connectors.commerce
    await shop.subscribe_webhooks(webhooks.address, [CUSTOMERS_CREATE, CUSTOMERS_UPDATE])
    yield SyncWorld(small, urls, connectors, webhooks)
    await webhooks.stop()
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened
