"""Checkout fixtures: the Open Loyalty emulator over HTTP once per test package (the only system
checkout calls), a real SqliteBus per test, and faults cleared after every test."""

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

from .helpers import World, estate_text, set_faults, until_platform_answers

MEMBERS = 300
"""Members seeded into the emulator: enough for every test to have its own."""


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The Open Loyalty emulator on a free loopback port and the loyalty port on it."""
    estate = await asyncio.to_thread(build_estate, 42)
    factories = {"openloyalty": load_emulators()["openloyalty"]}
    sandbox = Sandbox(factories, {"openloyalty": 0}, tmp_path_factory.mktemp("estate"))
    sandbox.emulators["openloyalty"].load(
        dataclasses.replace(estate, customers=estate.customers[:MEMBERS])
    )
    urls = await sandbox.start()
    connectors = build_connectors(
        parse_estate(estate_text(urls["openloyalty"])), Secrets.from_environment(sandbox=True)
    )
    assert connectors.loyalty is not None
    yield World(
        dataclasses.replace(estate, customers=estate.customers[:MEMBERS]),
        urls["openloyalty"],
        connectors.loyalty,
    )
    await connectors.close()
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="package")
async def bus(tmp_path: Path, world: World) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder; the emulator's faults are cleared afterwards."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened
    await set_faults(world.url, None)
    await until_platform_answers(world)
