"""Reconciliation fixtures: the Odoo, Open Loyalty, HubSpot and POS emulators over HTTP (one
sandbox per module; reconciliation never calls Shopify) and a real SqliteBus per test with
order-to-cash and the reconciliation ledger subscribed."""

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
from retailhub.flows.reconciliation import Reconciliation
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import CUSTOMERS, SYSTEMS, World, estate_text, start_flows


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The emulators the flows call, on free loopback ports, seeded with the estate of seed 42
    cut to its first customers (seeding all 10,000 in every emulator takes half a minute)."""
    estate = await asyncio.to_thread(build_estate, 42)
    estate = dataclasses.replace(estate, customers=estate.customers[:CUSTOMERS])
    factories = {name: f for name, f in load_emulators().items() if name in SYSTEMS}
    state = tmp_path_factory.mktemp("estate")
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), state)
    for emulator in sandbox.emulators.values():
        emulator.load(estate)
    urls = await sandbox.start()
    estate_file = state / "estate.toml"
    estate_file.write_text(estate_text(urls))
    connectors = build_connectors(
        parse_estate(estate_file.read_text()), Secrets.from_environment(sandbox=True)
    )
    yield World(estate, urls, connectors, estate_file)
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh hub home (`<tmp>/retailhub.sqlite`, as the CLI finds it)."""
    async with SqliteBus(tmp_path / "retailhub.sqlite", poll_interval=0.02) as opened:
        yield opened


@pytest_asyncio.fixture(loop_scope="module")
async def run(bus: SqliteBus, world: World) -> Reconciliation:
    """Order-to-cash and the reconciliation ledger running on the bus; the reconciliation."""
    return await start_flows(bus, world)


@pytest_asyncio.fixture(loop_scope="module")
async def hub(bus: SqliteBus, run: Reconciliation) -> SqliteBus:
    """The bus with order-to-cash and the reconciliation ledger running on it."""
    return bus
