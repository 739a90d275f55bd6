"""Odoo contract-test fixtures: a small estate built once, the emulator on a free loopback port
with its own state folder, and a connector pointed at it."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from odoo_sandbox import PRODUCTS, WITHOUT_STOCK, YEAR, connect

from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.sandbox.odoo import OdooEmulator
from retailhub.sandbox.seed import Estate, build_estate


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The first PRODUCTS items of the default estate, with their prices and stock."""
    full = build_estate(42, year=YEAR)
    keep = {p.sku for p in full.products[:PRODUCTS]}
    return dataclasses.replace(
        full,
        products=full.products[:PRODUCTS],
        prices=tuple(p for p in full.prices if p.sku in keep),
        inventory=tuple(
            level
            for level in full.inventory
            if level.sku in keep and (level.sku, level.location) != WITHOUT_STOCK
        ),
        customers=full.customers[:10],
    )


@pytest.fixture(scope="session")
def seeded_state(tmp_path_factory: pytest.TempPathFactory, estate: Estate) -> Path:
    """The emulator's state file seeded once; each test starts from a copy of it."""
    template = OdooEmulator(tmp_path_factory.mktemp("odoo-template"))
    template.load(estate)
    template.close_state()
    return template.state_path


@pytest.fixture
async def emulator(
    tmp_path: Path, estate: Estate, seeded_state: Path
) -> AsyncIterator[OdooEmulator]:
    """A running Odoo emulator with its own copy of the seeded state."""
    odoo = OdooEmulator(tmp_path)
    shutil.copy(seeded_state, odoo.state_path)
    odoo.load(estate)
    await odoo.start()
    yield odoo
    await odoo.stop()


@pytest.fixture
async def odoo(emulator: OdooEmulator) -> AsyncIterator[OdooConnector]:
    """The connector under test, talking to the emulator."""
    connector = connect(emulator)
    yield connector
    await connector.close()
