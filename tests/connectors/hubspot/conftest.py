"""HubSpot test helpers: a small estate built once, a running emulator per test on a free
loopback port with its own state, and the connector pointed at it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from retailhub.connectors.hubspot import HubSpotCrm
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.hubspot import ACCESS_TOKEN, HubSpotEmulator
from retailhub.sandbox.seed import Estate, build_estate

CUSTOMERS = 40

FAST = ResiliencePolicy(
    timeout_s=5.0,
    max_attempts=3,
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    breaker_threshold=5,
    breaker_reset_s=0.2,
)
"""Retries quick enough for tests; the breaker stays out of the way of ordinary tests."""


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The default estate cut to a few customers (one with another email in the CRM)."""
    full = build_estate(42, year=2026)
    customers = list(full.customers[:CUSTOMERS])
    other_email = next(c for c in full.customers if "crm_other_email" in c.conflicts)
    return dataclasses.replace(full, customers=(*customers, other_email))


@pytest.fixture
async def hubspot(tmp_path: Path, estate: Estate) -> AsyncIterator[HubSpotEmulator]:
    """A running HubSpot emulator seeded from the small estate."""
    emulator = HubSpotEmulator(tmp_path)
    emulator.load(estate)
    await emulator.start()
    yield emulator
    await emulator.stop()


Connect = Callable[..., HubSpotCrm]


@pytest.fixture
async def connect(hubspot: HubSpotEmulator) -> AsyncIterator[Connect]:
    """Build connectors against the emulator (`connect(token=..., policy=..., page_size=...)`),
    closed when the test ends."""
    made: list[HubSpotCrm] = []

    def build(
        token: str = ACCESS_TOKEN, policy: ResiliencePolicy = FAST, **options: Any
    ) -> HubSpotCrm:
        assert hubspot.url is not None
        made.append(HubSpotCrm(hubspot.url, token, policy, **options))
        return made[-1]

    yield build
    for connector in made:
        await connector.close()


@pytest.fixture
def crm(connect: Connect) -> HubSpotCrm:
    """The connector against the emulator, with the sandbox's private app token."""
    return connect()


Control = Callable[..., Awaitable[Any]]


@pytest.fixture
def control(hubspot: HubSpotEmulator) -> Control:
    """Call one of the emulator's /_sandbox/ control routes: `await control("PUT", "faults", {...})`."""

    async def call(method: str, route: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{hubspot.url}/_sandbox/{route}", json=body) as answer,
        ):
            assert answer.status == 200, await answer.text()
            return await answer.json()

    return call
