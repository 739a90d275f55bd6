"""Shopify's own sample payloads, as shipped in retailhub.samples.shopify, and a running Shopify
emulator over a small estate with a connector to it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from shopify_sandbox import connect, emulator_from

from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.sandbox.seed import Estate, build_estate
from retailhub.sandbox.shopify import ShopifyEmulator

SHOPIFY_SAMPLES = Path(__file__).resolve().parents[3] / "src" / "retailhub" / "samples" / "shopify"

Sample = Callable[[str], dict[str, Any]]


@pytest.fixture
def shopify() -> Sample:
    """Load a sample's resource unwrapped (`shopify("order")` is the order), parsed afresh each time."""

    def load(name: str) -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads((SHOPIFY_SAMPLES / f"{name}.json").read_bytes())
        return document[name]  # type: ignore[no-any-return]

    return load


SMALL_PRODUCTS = 40
SMALL_CUSTOMERS = 30
ESTATE_YEAR = 2026


@pytest.fixture(scope="session")
def small_estate() -> Estate:
    """The default estate cut to a few products (with their prices and stock) and customers."""
    estate = build_estate(42, year=ESTATE_YEAR)
    products = estate.products[:SMALL_PRODUCTS]
    skus = {product.sku for product in products}
    return dataclasses.replace(
        estate,
        products=products,
        prices=tuple(price for price in estate.prices if price.sku in skus),
        inventory=tuple(level for level in estate.inventory if level.sku in skus),
        customers=estate.customers[:SMALL_CUSTOMERS],
    )


@pytest.fixture(scope="session")
def seeded_state(small_estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The emulator's state file seeded once from the small estate, copied by each test."""
    folder = tmp_path_factory.mktemp("shopify-seeded")
    emulator = ShopifyEmulator(folder)
    emulator.load(small_estate)
    emulator.close_state()
    return emulator.state_path


@pytest.fixture
async def emulator(seeded_state: Path, tmp_path: Path) -> AsyncIterator[ShopifyEmulator]:
    """A running emulator on a free loopback port over its own copy of the seeded shop."""
    running = emulator_from(seeded_state, tmp_path)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def connector(emulator: ShopifyEmulator) -> AsyncIterator[ShopifyConnector]:
    """The connector to the test's emulator."""
    shop = connect(emulator)
    yield shop
    await shop.close()
