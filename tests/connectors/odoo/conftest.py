"""Odoo contract-test fixtures: a small estate built once, the emulator on a free loopback port
with its own state folder, and a connector pointed at it."""

from __future__ import annotations

import dataclasses
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


@pytest.fixture
async def emulator(tmp_path: Path, estate: Estate) -> AsyncIterator[OdooEmulator]:
    """A running Odoo emulator seeded with the small estate."""
    odoo = OdooEmulator(tmp_path)
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
