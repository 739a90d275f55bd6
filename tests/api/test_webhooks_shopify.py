"""Shopify webhooks: signature, replay window, duplicates, 202 fast, then canonical events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from retailhub.api.app import create_app
from retailhub.api.hooks.events import SHOPIFY_DELIVERY
from retailhub.api.hooks.intake import subscribe_webhook_intake
from retailhub.api.services import ApiServices, HookSettings
from retailhub.bus.port import RetryPolicy
from retailhub.bus.sqlite import SqliteBus

from .helpers import delivery, events_of, shopify_sample, wait_for_events


async def test_a_signed_delivery_is_accepted_202_and_put_on_the_bus(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any
) -> None:
    body, headers = delivery("orders/create", shopify_sample(samples, "order"))
    answer = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "accepted": 1, "duplicates": 0}
    (event,) = await events_of(bus, [SHOPIFY_DELIVERY])
    assert event.id == f"shopify:{headers['X-Shopify-Webhook-Id']}"
    assert event.data["topic"] == "orders/create"
    assert event.subject == "shopify:orders:450789469"


async def test_a_duplicate_delivery_is_ignored(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any
) -> None:
    body, headers = delivery("orders/create", shopify_sample(samples, "order"))
    first = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    again = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(await events_of(bus, [SHOPIFY_DELIVERY])) == 1


@pytest.mark.parametrize(
    "tamper",
    ["other secret", "changed body", "no signature", "garbled signature"],
)
async def test_a_bad_signature_is_401_and_nothing_is_taken(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any, tamper: str
) -> None:
    order = shopify_sample(samples, "order")
    body, headers = delivery("orders/create", order, secret="someone-else")
    if tamper != "other secret":
        body, headers = delivery("orders/create", order)
    if tamper == "changed body":
        body = body.replace(b'"total_price":"', b'"total_price":"1')
    elif tamper == "no signature":
        del headers["X-Shopify-Hmac-Sha256"]
    elif tamper == "garbled signature":
        headers["X-Shopify-Hmac-Sha256"] = "not base64!"
    answer = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:retailhub:problem:bad-signature"
    assert await events_of(bus, [SHOPIFY_DELIVERY]) == []


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_a_delivery_outside_the_replay_window_is_refused(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any, skew: timedelta
) -> None:
    body, headers = delivery(
        "orders/create", shopify_sample(samples, "order"), at=datetime.now(UTC) + skew
    )
    answer = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:retailhub:problem:replay-window"
    assert await events_of(bus, [SHOPIFY_DELIVERY]) == []


async def test_topics_the_hub_does_not_map_or_mismatched_are_refused(
    api: httpx.AsyncClient, samples: Any
) -> None:
    body, headers = delivery("inventory_levels/update", {"inventory_item_id": 1})
    unknown = await api.post(
        "/hooks/shopify/inventory_levels/update", content=body, headers=headers
    )
    assert unknown.status_code == 404
    body, headers = delivery("orders/updated", shopify_sample(samples, "order"))
    mismatched = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert mismatched.status_code == 422
    assert mismatched.json()["errors"][0]["path"] == "header.x-shopify-topic"


async def test_without_a_configured_secret_there_is_no_shopify_hook(
    services: ApiServices, samples: Any
) -> None:
    services.hooks = HookSettings()
    transport = httpx.ASGITransport(app=create_app(services))
    body, headers = delivery("orders/create", shopify_sample(samples, "order"))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        answer = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    assert answer.status_code == 404


async def test_the_worker_maps_deliveries_to_canonical_events_once(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any
) -> None:
    await subscribe_webhook_intake(bus, crm=None)
    order = shopify_sample(samples, "order")
    customer = shopify_sample(samples, "customer")
    for topic, resource in (
        ("orders/create", order),
        ("orders/cancelled", order),
        ("customers/update", customer),
    ):
        body, headers = delivery(topic, resource)
        assert (await api.post(f"/hooks/shopify/{topic}", content=body, headers=headers)).is_success
    types = ["retail.order.*", "retail.customer.*"]
    found = await wait_for_events(bus, types, 3)
    # The bus orders events per key: the order's two in turn; the customer's may come between.
    orders = [(e.type, e.subject) for e in found if e.source == "/shopify/orders"]
    assert orders == [
        ("retail.order.created.v1", "SHOPIFY-ORDER-450789469"),
        ("retail.order.cancelled.v1", "SHOPIFY-ORDER-450789469"),
    ]
    (customer_event,) = [e for e in found if e.source == "/shopify/customers"]
    assert customer_event.type == "retail.customer.updated.v1"
    assert customer_event.data["identities"]["shopify"] == "207119551"
    replay = await bus.replay("hooks.shopify", from_position=1)
    assert replay.positions
    await wait_for_delivered(bus)
    assert len(await events_of(bus, types)) == 3


async def wait_for_delivered(bus: SqliteBus) -> None:
    """Wait until the Shopify worker has caught up with the log."""
    for _ in range(400):
        status = await bus.status("hooks.shopify")
        if status.lag == 0 and not (status.retrying or status.parked):
            replayed = await bus.held()
            if not replayed:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the Shopify worker did not catch up")


async def test_an_unmappable_delivery_is_dead_lettered_with_its_fault(
    api: httpx.AsyncClient, bus: SqliteBus, samples: Any
) -> None:
    await subscribe_webhook_intake(bus, crm=None, retry=RetryPolicy(max_attempts=1))
    order = shopify_sample(samples, "order")
    order["line_items"] = []
    body, headers = delivery("orders/create", order)
    assert (
        await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
    ).status_code == 202
    for _ in range(400):
        dead = await bus.dead_letters()
        if dead:
            break
        await asyncio.sleep(0.05)
    (letter,) = dead
    assert letter.subscription == "hooks.shopify"
    assert "line_items" in (letter.error or "")
