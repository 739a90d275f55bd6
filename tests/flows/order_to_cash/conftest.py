"""Order-to-cash fixtures: one sandbox estate (all five emulators over HTTP) per module and a
real SqliteBus per test."""

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
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import World, sandbox_estate_text


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """All five emulators on free loopback ports, seeded once from the estate built here.

    Order-to-cash never calls Shopify (web orders arrive as canonical events), so its emulator
    holds the first 200 customers only: seeding all 10,000 would take most of the time budget.
    """
    estate = await asyncio.to_thread(build_estate, 42)
    factories = load_emulators()
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), tmp_path_factory.mktemp("estate"))
    for system, emulator in sandbox.emulators.items():
        if system == "shopify":
            emulator.load(dataclasses.replace(estate, customers=estate.customers[:200]))
        else:
            emulator.load(estate)
    urls = await sandbox.start()
    connectors = build_connectors(
        parse_estate(sandbox_estate_text(urls)), Secrets.from_environment(sandbox=True)
    )
    yield World(estate, urls, connectors)
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened
