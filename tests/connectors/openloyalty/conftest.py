"""Open Loyalty test helpers: the estate and the emulator's seeded state built once per session,
a fresh copy of that state served on a free loopback port per test, and sales built from it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openloyalty_helpers import IN_CAMPAIGN, QUICK, YEAR, SaleBuilder

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, Totals
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.sandbox.openloyalty import SANDBOX_TOKEN, OpenLoyaltyEmulator
from retailhub.sandbox.seed import Estate, EstateCustomer, build_estate


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The default estate, built once (it is immutable)."""
    return build_estate(42, year=YEAR)


@pytest.fixture(scope="session")
def seeded_state(estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The emulator's state file seeded from the estate once; each test serves a copy."""
    folder = tmp_path_factory.mktemp("openloyalty-seed")
    emulator = OpenLoyaltyEmulator(folder)
    emulator.load(estate)
    emulator.close_state()
    return emulator.state_path


@pytest.fixture
async def emulator(
    seeded_state: Path, estate: Estate, tmp_path: Path
) -> AsyncIterator[OpenLoyaltyEmulator]:
    """A running emulator over a fresh copy of the seeded state."""
    shutil.copy(seeded_state, tmp_path / seeded_state.name)
    running = OpenLoyaltyEmulator(tmp_path)
    running.load(estate)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def loyalty(
    emulator: OpenLoyaltyEmulator, estate: Estate
) -> AsyncIterator[OpenLoyaltyConnector]:
    """The connector pointed at the emulator, with a quick policy for fault tests."""
    assert emulator.url is not None
    stores = [s.code for s in estate.stores if s.channel is Channel.STORE]
    connector = OpenLoyaltyConnector(
        emulator.url, api_token=SANDBOX_TOKEN, policy=QUICK, store_places=stores
    )
    yield connector
    await connector.close()


@pytest.fixture
def sale(estate: Estate) -> SaleBuilder:
    """Build a completed sale for a member: `sale(customer, [(sku, qty), ...], ...)`."""

    def build(
        customer: EstateCustomer,
        lines: list[tuple[str, int]],
        *,
        order_id: str,
        channel: Channel = Channel.STORE,
        location: str = "AMS01",
        at: datetime = IN_CAMPAIGN,
        by_email: bool = False,
    ) -> Order:
        order_lines = []
        for i, (sku, quantity) in enumerate(lines, start=1):
            price = estate.price(sku, channel)
            unit = price.selling_price
            order_lines.append(
                OrderLine(line_id=str(i), sku=sku, quantity=Decimal(quantity), unit_price=unit)
            )
        total = sum_money((line.net for line in order_lines), "EUR")
        return Order(
            order_id=order_id,
            channel=channel,
            location=location,
            customer_id=customer.golden.customer_id,
            email=customer.emails[0] if by_email else None,
            loyalty_card=None if by_email else customer.card_number,
            currency="EUR",
            prices_include_tax=True,
            placed_at=at,
            lines=order_lines,
            totals=Totals(tax_total=Money.zero("EUR"), grand_total=total),
        )

    return build
