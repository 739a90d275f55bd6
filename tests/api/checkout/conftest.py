"""Checkout API fixtures: the Open Loyalty emulator over HTTP once per module, a real SqliteBus,
a checkout desk and the hub's API app (`create_app`) with the checkout router, per test."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from retailhub.api.app import create_app, prepare_api_storage
from retailhub.api.checkout import checkout_router
from retailhub.api.services import ApiServices
from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.estate import Secrets, parse_estate
from retailhub.flows.checkout import CheckoutDesk, CheckoutPolicy, open_checkout_desk
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import World, estate_text, set_faults, until_platform_answers

MEMBERS = 120
POLICY = CheckoutPolicy(
    loyalty_budget_s=5.0,
    breaker_reset_s=0.2,
    max_offline_points_per_sale=400,
    max_offline_points_per_member_per_day=600,
    reservation_ttl=timedelta(minutes=10),
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The Open Loyalty emulator on a free loopback port and the loyalty port on it."""
    full = await asyncio.to_thread(build_estate, 42)
    estate = dataclasses.replace(full, customers=full.customers[:MEMBERS])
    factories = {"openloyalty": load_emulators()["openloyalty"]}
    sandbox = Sandbox(factories, {"openloyalty": 0}, tmp_path_factory.mktemp("estate"))
    sandbox.emulators["openloyalty"].load(estate)
    urls = await sandbox.start()
    connectors = build_connectors(
        parse_estate(estate_text(urls["openloyalty"])), Secrets.from_environment(sandbox=True)
    )
    assert connectors.loyalty is not None
    yield World(estate, urls["openloyalty"], connectors.loyalty)
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(tmp_path: Path, world: World) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder; the emulator's faults are cleared afterwards."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened
    await set_faults(world.url, None)
    await until_platform_answers(world)


@pytest_asyncio.fixture(loop_scope="module")
async def desk(bus: SqliteBus, world: World) -> CheckoutDesk:
    """The checkout desk on the bus and the emulated platform."""
    return await open_checkout_desk(bus, world.loyalty, POLICY)


@pytest_asyncio.fixture(loop_scope="module")
async def services(bus: SqliteBus, desk: CheckoutDesk) -> ApiServices:
    """The API's services with the checkout router, its tables created."""
    built = ApiServices(bus, checkout_router=checkout_router(desk))
    await prepare_api_storage(built)
    return built


@pytest_asyncio.fixture(loop_scope="module")
async def api(services: ApiServices) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the hub's API app, in this event loop."""
    transport = httpx.ASGITransport(app=create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client
