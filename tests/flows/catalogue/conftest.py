"""Catalogue fixtures: the Shopify, Odoo, Open Loyalty and POS emulators over HTTP on free
ports, seeded once per module from a cut of the sandbox estate, and a real SqliteBus per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.estate import Secrets, parse_estate
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import SYSTEMS, World, estate_text, small_estate

PRODUCTS = 240


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """Four emulators seeded with the estate's first PRODUCTS items, their prices and stock."""
    estate = small_estate(await asyncio.to_thread(build_estate, 42), PRODUCTS)
    factories = {name: f for name, f in load_emulators().items() if name in SYSTEMS}
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), tmp_path_factory.mktemp("estate"))
    for emulator in sandbox.emulators.values():
        emulator.load(estate)
    urls = await sandbox.start()
    connectors = build_connectors(
        parse_estate(estate_text(urls)), Secrets.from_environment(sandbox=True)
    )
    yield World(estate, urls, connectors)
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened
