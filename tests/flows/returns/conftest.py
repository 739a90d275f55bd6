"""Return-to-refund fixtures: one sandbox estate (all five emulators over HTTP) per module, and
per test a real SqliteBus, a real WorkflowRuntime (DBOS on SQLite) and the flow subscribed."""

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
from retailhub.flows.returns import register_return_to_refund, subscribe_return_to_refund
from retailhub.flows.sagas import WorkflowRuntime, WorkflowSettings
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import FAST_CALLS, FAST_RETRY, Hub, World, sandbox_estate_text


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """All five emulators on free loopback ports; Shopify holds the first 200 customers only
    (seeding all 10,000 would take most of the time budget)."""
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
async def hub(world: World, tmp_path: Path) -> AsyncIterator[Hub]:
    """A bus, the saga registered, DBOS launched, and the flow's subscriptions running."""
    connectors = world.connectors
    assert connectors.loyalty is not None
    assert connectors.crm is not None
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as bus:
        alerts = BusAlertSink(bus)
        flow = register_return_to_refund(
            bus,
            erp=connectors.erps["odoo"],
            loyalty=connectors.loyalty,
            crm=connectors.crm,
            commerce=connectors.commerce,
            alerts=alerts,
            settings=FAST_CALLS,
        )
        settings = WorkflowSettings.embedded(tmp_path / "home", notification_poll_interval=0.02)
        async with WorkflowRuntime(settings) as runtime:
            names = await subscribe_return_to_refund(bus, runtime, flow, retry=FAST_RETRY)
            yield Hub(bus, runtime, names)
