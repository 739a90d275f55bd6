"""Against a real HubSpot emulator over HTTP: /readyz reports an open breaker, and HubSpot
notices are re-read from the CRM and published as canonical customer events."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
import pytest_asyncio

from retailhub.api.app import create_app, prepare_api_storage
from retailhub.api.hooks.intake import subscribe_webhook_intake
from retailhub.api.services import ApiServices, HookSettings
from retailhub.bootstrap import Connectors, build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.customer import Customer
from retailhub.connectors.hubspot.webhooks import hubspot_signature_v3
from retailhub.estate import Secrets, parse_estate
from retailhub.flows.alerts import open_alerts
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

from .helpers import HUBSPOT_SECRET, wait_for_events

pytestmark = pytest.mark.asyncio(loop_scope="module")
URL = "http://hub.test/hooks/hubspot"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hubspot_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The HubSpot emulator on a free loopback port, seeded with a few contacts."""
    estate = await asyncio.to_thread(build_estate, 42)
    factory = load_emulators()["hubspot"]
    sandbox = Sandbox({"hubspot": factory}, {"hubspot": 0}, tmp_path_factory.mktemp("hubspot"))
    sandbox.emulators["hubspot"].load(dataclasses.replace(estate, customers=estate.customers[:20]))
    urls = await sandbox.start()
    yield urls["hubspot"]
    await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def connectors(hubspot_url: str) -> AsyncIterator[Connectors]:
    """A HubSpot connector whose breaker opens after two failures."""
    text = f"""
name = "api-tests"
[systems.hubspot]
product = "hubspot"
base_url = "{hubspot_url}"
secrets = {{ access_token = "RETAILHUB_HUBSPOT_ACCESS_TOKEN" }}
resilience = {{ timeout_s = 1.0, max_attempts = 1, breaker_threshold = 2, breaker_reset_s = 60 }}
"""
    built = build_connectors(parse_estate(text), Secrets.from_environment(sandbox=True))
    yield built
    await built.close()


@pytest_asyncio.fixture(loop_scope="module")
async def hub(
    tmp_path: Path, connectors: Connectors
) -> AsyncIterator[tuple[ApiServices, httpx.AsyncClient]]:
    """The API over a fresh bus and the HubSpot connector."""
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as bus:
        services = ApiServices(
            bus,
            systems=connectors.all(),
            crm=connectors.crm,
            hooks=HookSettings(hubspot_secret=HUBSPOT_SECRET),
        )
        await prepare_api_storage(services)
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
            yield services, api


async def set_faults(url: str, faults: dict[str, Any] | None) -> None:
    async with aiohttp.ClientSession() as session:
        if faults is None:
            async with session.delete(f"{url}/_sandbox/faults") as answer:
                assert answer.status < 300
        else:
            async with session.put(f"{url}/_sandbox/faults", json=faults) as answer:
                assert answer.status < 300


async def test_readyz_reports_an_open_breaker_as_degraded(
    hub: tuple[ApiServices, httpx.AsyncClient], connectors: Connectors, hubspot_url: str
) -> None:
    _, api = hub
    ready = (await api.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["systems"] == {"hubspot": {"breaker": "closed"}}
    crm = connectors.crm
    assert crm is not None
    await set_faults(hubspot_url, {"down": True})
    try:
        for _ in range(5):
            if crm.circuit_state() == "open":
                break
            with pytest.raises(Exception):  # noqa: B017, PT011 - any failure counts
                await crm.get_contact("1")
    finally:
        await set_faults(hubspot_url, None)
    answer = await api.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    assert answer.json()["systems"]["hubspot"] == {"breaker": "open"}


def signed(events: list[dict[str, Any]]) -> dict[str, Any]:
    body = orjson.dumps(events)
    stamp = str(int(time.time() * 1000))
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature-v3": hubspot_signature_v3(
                HUBSPOT_SECRET, "POST", URL, body, stamp
            ),
        },
    }


def notice(event_id: int, contact_id: str, kind: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": f"contact.{kind}",
        "objectId": int(contact_id),
    }


async def test_notices_are_re_read_and_published_and_deletions_raise_alerts(
    hub: tuple[ApiServices, httpx.AsyncClient], connectors: Connectors
) -> None:
    services, api = hub
    crm = connectors.crm
    assert crm is not None
    contact_id = await crm.upsert_contact(
        Customer(customer_id="CUST-API-1", given_name="Maud", emails=["maud@example.nl"])
    )
    await subscribe_webhook_intake(services.bus, crm=crm)
    answer = await api.post(
        "/hooks/hubspot",
        **signed([notice(9001, contact_id, "creation"), notice(9002, "424242", "deletion")]),
    )
    assert answer.status_code == 202
    (event,) = await wait_for_events(services.bus, ["retail.customer.*"], 1)
    assert event.type == "retail.customer.created.v1"
    assert event.source == "/hubspot/customers"
    assert event.data["identities"]["hubspot"] == contact_id
    assert event.data["emails"] == ["maud@example.nl"]
    deadline = time.monotonic() + 20
    while True:
        async with services.bus.transaction() as transaction:
            alerts = await open_alerts(transaction, "hooks.hubspot")
        if alerts or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert [a.alert.key for a in alerts] == ["424242"]
    assert alerts[0].alert.needs_operator
