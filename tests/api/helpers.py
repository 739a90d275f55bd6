"""Helpers of the API tests: a controllable clock, a probe router guarded by scopes, reading
the log, and signed Shopify deliveries."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from retailhub.api.clients import ApiClient
from retailhub.api.security import require_scopes
from retailhub.bus.port import EventBus
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.connectors.shopify.webhooks import sign_shopify_webhook

SHOPIFY_SECRET = "shopify-app-secret-for-tests"
HUBSPOT_SECRET = "hubspot-app-secret-for-tests"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Basket(BaseModel):
    """A small request model with nested fields, to see validation paths."""

    store: str
    lines: list[dict[str, int]]


CALLS: list[dict[str, Any]] = []
SLOW_STARTED = asyncio.Event()
SLOW_RELEASE = asyncio.Event()
Selling = Annotated[ApiClient, Depends(require_scopes("pos", "commerce"))]
Reading = Annotated[ApiClient, Depends(require_scopes("read"))]
Till = Annotated[ApiClient, Depends(require_scopes("pos"))]


def probe_router() -> APIRouter:
    """Routes that stand in for an experience API: POS or commerce clients only."""
    router = APIRouter(prefix="/v1/probe")

    @router.post("/baskets", status_code=201)
    async def create_basket(basket: Basket, client: Selling) -> dict[str, Any]:
        CALLS.append(basket.model_dump())
        return {"number": len(CALLS), "client": client.name, "store": basket.store}

    @router.post("/baskets/{number}/close")
    async def close_basket(number: int, client: Till) -> dict[str, Any]:
        CALLS.append({"closed": number})
        return {"closed": number, "call": len(CALLS)}

    @router.get("/whoami")
    async def whoami(client: Reading) -> dict[str, Any]:
        return {"client": client.name, "scopes": sorted(client.scopes)}

    @router.post("/slow", status_code=201)
    async def slow(client: Till) -> dict[str, Any]:
        SLOW_STARTED.set()
        await SLOW_RELEASE.wait()
        return {"done": True}

    @router.post("/failing")
    async def failing(client: Till) -> dict[str, Any]:
        raise RuntimeError("the probe fails on purpose")

    return router


async def events_of(bus: EventBus, types: Sequence[str]) -> list[CloudEvent]:
    """Every event of `types` in the log."""
    return [logged.event for logged in await bus.tail(types=types, limit=10_000)]


async def wait_for_events(
    bus: EventBus, types: Sequence[str], count: int, timeout_s: float = 20.0
) -> list[CloudEvent]:
    """Poll the log (bounded in time) until `count` events of `types` are there."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await events_of(bus, types)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} events of {types}, found {len(found)}")
        await asyncio.sleep(0.05)


def shopify_sample(samples: Path, name: str) -> dict[str, Any]:
    """A Shopify sample resource, bare as webhooks deliver it."""
    document: dict[str, Any] = orjson.loads((samples / "shopify" / f"{name}.json").read_bytes())
    return document[name]


def delivery(
    topic: str,
    resource: Any,
    *,
    secret: str = SHOPIFY_SECRET,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A Shopify delivery of `resource` on `topic`: its body and headers, signed with `secret`."""
    body = orjson.dumps(resource)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_shopify_webhook(body, secret),
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": "retailhub-test.myshopify.com",
        "X-Shopify-Triggered-At": (at or datetime.now(UTC)).isoformat(),
    }
    return body, headers
