"""Promotion fixtures: the Shopify, Odoo, Open Loyalty and POS emulators over HTTP once for
every promotion test file (they use distinct promotion ids and SKUs); a real SqliteBus, a real
DBOS WorkflowRuntime and the flow's subscription per test."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.estate import Secrets, parse_estate
from retailhub.flows.alerts import BusAlertSink
from retailhub.flows.promotions import (
    SUBSCRIPTION,
    PublishingSettings,
    subscribe_promotion_publishing,
)
from retailhub.flows.promotions.publishing import REFUSALS
from retailhub.flows.sagas import StepRetry, WorkflowRuntime, WorkflowSettings
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import Estate, build_estate

from .helpers import World, sandbox_estate_text

SYSTEMS = ("shopify", "odoo", "openloyalty", "poslog")
FAST = PublishingSettings(
    validation_retry=StepRetry(max_attempts=2, interval=0.01, backoff=1.0, give_up_on=REFUSALS),
    # Outlasts the estate's 0.2 s breaker reset: a system a test faulted is reachable again
    # for the next test, whose first call may still meet the breaker open.
    step_retry=StepRetry(max_attempts=4, interval=0.1, backoff=2.0, give_up_on=REFUSALS),
    compensation_retry=StepRetry(max_attempts=3, interval=0.01, backoff=1.0),
)


def small_estate(estate: Estate, products: int = 300, customers: int = 50) -> Estate:
    """The estate cut to the first products (and the campaign's) and a few shoppers: promotions
    touch a few SKUs each, and seeding all 2,400 items in four emulators is most of the time."""
    kept = {p.sku for p in estate.products[:products]} | set(estate.campaign.eligibility.skus)
    return dataclasses.replace(
        estate,
        products=tuple(p for p in estate.products if p.sku in kept),
        prices=tuple(p for p in estate.prices if p.sku in kept),
        inventory=tuple(level for level in estate.inventory if level.sku in kept),
        customers=estate.customers[:customers],
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The four emulators publishing touches, on free loopback ports, seeded from one estate."""
    estate = small_estate(await asyncio.to_thread(build_estate, 42))
    factories = {name: factory for name, factory in load_emulators().items() if name in SYSTEMS}
    folder = tmp_path_factory.mktemp("promotions-estate")
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), folder)
    for emulator in sandbox.emulators.values():
        emulator.load(estate)
    urls = await sandbox.start()
    text = sandbox_estate_text(urls)
    estate_file = folder / "estate.toml"
    estate_file.write_text(text)
    connectors = build_connectors(parse_estate(text), Secrets.from_environment(sandbox=True))
    yield World(estate, urls, connectors, estate_file)
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "retailhub.sqlite", poll_interval=0.02) as opened:
        yield opened


@pytest_asyncio.fixture(loop_scope="session")
async def hub(tmp_path: Path, bus: SqliteBus, world: World) -> AsyncIterator[SqliteBus]:
    """DBOS launched on SQLite beside the bus, and the publishing flow subscribed."""
    settings = WorkflowSettings.embedded(tmp_path, notification_poll_interval=0.02)
    async with WorkflowRuntime(settings) as runtime:
        await subscribe_promotion_publishing(
            bus,
            runtime,
            erp=world.erp,
            commerce=world.commerce,
            pos=world.pos,
            loyalty=world.loyalty,
            alerts=BusAlertSink(bus),
            settings=FAST,
        )
        yield bus
        await bus.unsubscribe(SUBSCRIPTION)
