"""HubSpot webhooks: signature v3, replay window, duplicates by eventId, malformed deliveries."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from retailhub.api.hooks.events import HUBSPOT_CONTACT_CHANGED
from retailhub.bus.sqlite import SqliteBus
from retailhub.connectors.hubspot.webhooks import hubspot_signature_v3

from .helpers import HUBSPOT_SECRET, events_of

URL = "http://hub.test/hooks/hubspot"


def notice(event_id: int, contact_id: int, kind: str = "propertyChange") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 62515,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": f"contact.{kind}",
        "attemptNumber": 0,
        "objectId": contact_id,
        "propertyName": "email",
        "propertyValue": "anna@example.com",
        "changeSource": "CRM_UI",
    }


def signed(events: Any, *, secret: str = HUBSPOT_SECRET, age_ms: int = 0) -> dict[str, Any]:
    body = orjson.dumps(events)
    stamp = str(int(time.time() * 1000) - age_ms)
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature-v3": hubspot_signature_v3(secret, "POST", URL, body, stamp),
        },
    }


async def test_each_contact_notice_is_taken_by_its_event_id(
    api: httpx.AsyncClient, bus: SqliteBus
) -> None:
    deal = {**notice(3, 77), "subscriptionType": "deal.creation"}
    answer = await api.post("/hooks/hubspot", **signed([notice(1, 51), notice(2, 52), deal]))
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "accepted": 2, "duplicates": 0}
    taken = await events_of(bus, [HUBSPOT_CONTACT_CHANGED])
    assert [(e.id, e.subject) for e in taken] == [
        ("hubspot:1", "hubspot:contact:51"),
        ("hubspot:2", "hubspot:contact:52"),
    ]


async def test_redelivered_notices_are_ignored(api: httpx.AsyncClient, bus: SqliteBus) -> None:
    await api.post("/hooks/hubspot", **signed([notice(1, 51)]))
    again = await api.post("/hooks/hubspot", **signed([notice(1, 51)]))
    mixed = await api.post("/hooks/hubspot", **signed([notice(1, 51), notice(2, 51)]))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert mixed.status_code == 202
    assert mixed.json() == {"status": "accepted", "accepted": 1, "duplicates": 1}
    assert len(await events_of(bus, [HUBSPOT_CONTACT_CHANGED])) == 2


async def test_a_bad_signature_is_401(api: httpx.AsyncClient, bus: SqliteBus) -> None:
    forged = await api.post("/hooks/hubspot", **signed([notice(1, 51)], secret="guess"))
    request = signed([notice(1, 51)])
    request["content"] = orjson.dumps([notice(1, 99)])
    tampered = await api.post("/hooks/hubspot", **request)
    assert forged.status_code == tampered.status_code == 401
    assert forged.json()["type"] == "urn:retailhub:problem:bad-signature"
    assert await events_of(bus, [HUBSPOT_CONTACT_CHANGED]) == []


@pytest.mark.parametrize("age_ms", [6 * 60 * 1000, -6 * 60 * 1000])
async def test_a_request_outside_the_replay_window_is_401(
    api: httpx.AsyncClient, bus: SqliteBus, age_ms: int
) -> None:
    answer = await api.post("/hooks/hubspot", **signed([notice(1, 51)], age_ms=age_ms))
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:retailhub:problem:replay-window"
    assert await events_of(bus, [HUBSPOT_CONTACT_CHANGED]) == []


async def test_a_malformed_delivery_names_the_event_and_field(api: httpx.AsyncClient) -> None:
    broken = {**notice(1, 51), "objectId": "fifty-one"}
    answer = await api.post("/hooks/hubspot", **signed([notice(2, 52), broken]))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"path": "$[1].objectId", "reason": answer.json()["errors"][0]["reason"]}
    ]
    not_a_list = await api.post("/hooks/hubspot", **signed({"eventId": 1}))
    assert not_a_list.status_code == 422
