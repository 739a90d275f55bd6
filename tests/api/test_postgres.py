"""The API's storage on PostgreSQL: clients, Idempotency-Key records and the webhook inbox, and
their pruning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from retailhub.api.app import create_app, prepare_api_storage
from retailhub.api.services import ApiServices, HookSettings
from retailhub.api.upkeep import prune_api_records
from services import require_postgres

from .conftest import issue_key
from .helpers import SHOPIFY_SECRET, delivery, probe_router, shopify_sample


@pytest_asyncio.fixture
async def pg_api() -> AsyncIterator[tuple[ApiServices, httpx.AsyncClient]]:
    """The API over a PostgreSQL bus in a schema of its own, dropped afterwards."""
    asyncpg = pytest.importorskip("asyncpg")
    from retailhub.bus.postgres import PostgresBus

    url = require_postgres()
    schema = f"api_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresBus(url, schema=schema, pool_size=2) as bus:
            services = ApiServices(
                bus,
                checkout_router=probe_router(),
                hooks=HookSettings(shopify_secret=SHOPIFY_SECRET),
            )
            await prepare_api_storage(services)
            await prepare_api_storage(services)
            transport = httpx.ASGITransport(app=create_app(services))
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
                yield services, api
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def test_keys_idempotency_and_inbox_on_postgresql(
    pg_api: tuple[ApiServices, httpx.AsyncClient], samples: Any
) -> None:
    services, api = pg_api
    key = await issue_key(services, "till-pg", "pos")
    headers = {"X-API-Key": key, "Idempotency-Key": "pg-1"}
    first = await api.post("/v1/probe/baskets", json={"store": "A", "lines": []}, headers=headers)
    again = await api.post("/v1/probe/baskets", json={"store": "A", "lines": []}, headers=headers)
    other = await api.post("/v1/probe/baskets", json={"store": "B", "lines": []}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    bad = await api.get("/v1/probe/whoami", headers={"X-API-Key": key[:-2] + "xx"})
    assert bad.status_code == 401
    body, hook_headers = delivery("orders/create", shopify_sample(samples, "order"))
    taken = await api.post("/hooks/shopify/orders/create", content=body, headers=hook_headers)
    copy = await api.post("/hooks/shopify/orders/create", content=body, headers=hook_headers)
    assert (taken.status_code, copy.status_code) == (202, 200)
    ready = await api.get("/readyz")
    assert ready.json()["database"] == {"ok": True, "detail": None}
    kept = await prune_api_records(services)
    pruned = await prune_api_records(services, datetime.now(UTC) + timedelta(days=8))
    assert (kept.idempotency, kept.inbox) == (0, 0)
    assert (pruned.idempotency, pruned.inbox) == (1, 1)
