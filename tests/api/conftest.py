"""API fixtures: a real SqliteBus per test, the app over it through httpx's ASGI transport,
and helpers to issue API keys and sign requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from retailhub.api.app import create_app, prepare_api_storage
from retailhub.api.clients import Scope, add_client, parse_scopes
from retailhub.api.ratelimit import RateLimiter
from retailhub.api.services import ApiLimits, ApiServices, HookSettings
from retailhub.bus.sqlite import SqliteBus

from .helpers import HUBSPOT_SECRET, SHOPIFY_SECRET, Clock, probe_router


@pytest_asyncio.fixture
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        yield opened


@pytest_asyncio.fixture
async def clock() -> Clock:
    """The rate limiter's clock, moved by the test."""
    return Clock()


@pytest_asyncio.fixture
async def services(bus: SqliteBus, clock: Clock) -> ApiServices:
    """Services over the bus with no client cache (revocation visible at once), a controlled
    rate-limit clock, small body limits and the probe router standing in for checkout."""
    built = ApiServices(
        bus,
        limits=ApiLimits(max_body_bytes=16 * 1024, max_upload_bytes=64 * 1024, client_cache_s=0.0),
        rate_limiter=RateLimiter(clock=clock),
        checkout_router=probe_router(),
        hooks=HookSettings(shopify_secret=SHOPIFY_SECRET, hubspot_secret=HUBSPOT_SECRET),
    )
    await prepare_api_storage(built)
    return built


@pytest_asyncio.fixture
async def api(services: ApiServices) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app, in this event loop."""
    transport = httpx.ASGITransport(app=create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


async def issue_key(
    services: ApiServices, name: str, scopes: str | list[Scope], rate: int = 100
) -> str:
    """A new client's API key."""
    async with services.bus.transaction() as transaction:
        issued = await add_client(
            transaction,
            name,
            parse_scopes(scopes) if isinstance(scopes, str) else scopes,
            rate_per_second=rate,
        )
    return issued.key
