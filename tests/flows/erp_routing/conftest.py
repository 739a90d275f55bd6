"""Two Odoo emulators for the routing tests: the Dutch ERP (the estate's stores) and the ERP of
an acquired Belgian chain (the same item master, the Dutch stores plus BRU01 and ANT02), each
on a free loopback port with its own state folder, and a connector to each."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from retailhub.canonical.base import Channel
from retailhub.connectors.odoo.connector import OdooConnector, OdooCredentials, OdooSettings
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator
from retailhub.sandbox.seed import Estate, Store, build_estate

from .helpers import YEAR, Erps

PRODUCTS = 40
BELGIAN_STORES = (
    Store(
        "BRU01", "Bruxelles Rue Neuve", Channel.STORE, "Bruxelles", "Rue Neuve 111", "1000", "BE"
    ),
    Store("ANT02", "Antwerpen Meir", Channel.STORE, "Antwerpen", "Meir 78", "2000", "BE"),
)
POLICY = ResiliencePolicy(
    timeout_s=2.0, max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.05, breaker_threshold=50
)


@pytest.fixture(scope="session")
def dutch_estate() -> Estate:
    """The first PRODUCTS items of the default estate, with their prices and stock."""
    full = build_estate(42, year=YEAR)
    keep = {p.sku for p in full.products[:PRODUCTS]}
    return dataclasses.replace(
        full,
        products=full.products[:PRODUCTS],
        prices=tuple(p for p in full.prices if p.sku in keep),
        inventory=tuple(level for level in full.inventory if level.sku in keep),
        customers=full.customers[:5],
    )


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, dutch_estate: Estate) -> dict[str, Path]:
    """Each ERP's state seeded once; every test starts from copies."""
    belgian = dataclasses.replace(dutch_estate, stores=(*dutch_estate.stores, *BELGIAN_STORES))
    seeded = {}
    for system, estate in (("odoo_nl", dutch_estate), ("odoo_be", belgian)):
        template = OdooEmulator(tmp_path_factory.mktemp(system))
        template.load(estate)
        template.close_state()
        seeded[system] = template.state_path
    return seeded


def connect(
    system: str, emulator: OdooEmulator, timezone: str = "Europe/Amsterdam"
) -> OdooConnector:
    """A connector named after its system, to a running emulator."""
    assert emulator.url is not None
    connector = OdooConnector(
        emulator.url,
        OdooCredentials(SANDBOX_API_KEY, SANDBOX_DATABASE),
        POLICY,
        settings=OdooSettings(timezone=timezone),
    )
    connector.name = system
    return connector


@pytest.fixture
async def erps(
    tmp_path: Path, dutch_estate: Estate, templates: dict[str, Path]
) -> AsyncIterator[Erps]:
    """Both ERPs running, with a connector to each."""
    emulators: dict[str, OdooEmulator] = {}
    connectors: dict[str, OdooConnector] = {}
    try:
        for system, template in templates.items():
            emulator = OdooEmulator(tmp_path / system)
            emulator.state_path.parent.mkdir(parents=True)
            shutil.copy(template, emulator.state_path)
            await emulator.start()
            emulators[system] = emulator
            connectors[system] = connect(system, emulator)
        yield Erps(dutch_estate, emulators, connectors)
    finally:
        for connector in connectors.values():
            await connector.close()
        for emulator in emulators.values():
            await emulator.stop()
