"""The emulator checked against retailhub's own JSON Schema transcription of HubSpot's documented
CRM v3 shapes (hubspot_crm_v3_schemas.json; its `$comment` names the documentation pages it was
written from, and HubSpot's documentation is the authority): every endpoint the connector uses,
its success and error answers, and the create bodies the connector sends, validated with
jsonschema.

Property values are string or null there: HubSpot keeps values as strings and answers null for a
requested property the object does not have (and so does the emulator).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from retailhub.connectors.hubspot.mapping import (
    NOTE_TO_CONTACT,
    TICKET_TO_CONTACT,
    note_body,
    ticket_body,
)
from retailhub.sandbox.hubspot import ACCESS_TOKEN, HubSpotEmulator

Control = Callable[..., Awaitable[Any]]

SCHEMAS = orjson.loads((Path(__file__).parent / "hubspot_crm_v3_schemas.json").read_bytes())
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 date-times, checked here since jsonschema needs an extra package for them."""
    if not isinstance(value, str):
        return True
    if RFC3339.fullmatch(value) is None:
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def check(answer: Any, schema: str) -> None:
    """Validate `answer` against the named definition; every fault is reported."""
    validator = Draft202012Validator(
        {**SCHEMAS, "$ref": f"#/$defs/{schema}"}, format_checker=FORMATS
    )
    faults = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)
    ]
    assert not faults, faults


def test_the_transcription_is_ours_and_a_valid_schema() -> None:
    Draft202012Validator.check_schema(SCHEMAS)
    assert "retailhub's own transcription" in SCHEMAS["$comment"].lower()
    assert "authority" in SCHEMAS["$comment"]
    pages = SCHEMAS["x-written-from"]
    assert pages
    assert all(page.startswith("https://developers.hubspot.com/docs/") for page in pages)


async def call(
    emulator: HubSpotEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else None if body is None else orjson.dumps(body)
    sent = {**(AUTH if headers is None else headers), "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emulator.url}{path}", data=data, headers=sent) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


async def test_read_create_update_answer_simple_public_objects(hubspot: HubSpotEmulator) -> None:
    status, contact = await call(
        hubspot, "GET", "/crm/v3/objects/contacts/1001?properties=email,phone,loyalty_card"
    )
    assert status == 200
    check(contact, "SimplePublicObjectWithAssociations")
    assert contact["properties"]["loyalty_card"] is None

    status, created = await call(
        hubspot,
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": "schema@example.nl", "firstname": "Noor"}},
    )
    assert status == 201
    check(created, "SimplePublicObject")

    status, updated = await call(
        hubspot,
        "PATCH",
        f"/crm/v3/objects/contacts/{created['id']}",
        {"properties": {"lastname": "Bakker"}},
    )
    assert status == 200
    check(updated, "SimplePublicObject")
    assert updated["updatedAt"] >= created["updatedAt"]


@pytest.mark.parametrize("object_type", ["notes", "tickets"])
async def test_notes_and_tickets_answer_the_same_shapes(
    hubspot: HubSpotEmulator, object_type: str
) -> None:
    to_contact = {"notes": NOTE_TO_CONTACT, "tickets": TICKET_TO_CONTACT}[object_type]
    body = {
        "notes": {"properties": {"hs_note_body": "Hi", "hs_timestamp": "2026-11-27T09:00:00Z"}},
        "tickets": {
            "properties": {"subject": "S", "hs_pipeline": "0", "hs_pipeline_stage": "1"},
        },
    }[object_type]
    body["associations"] = [
        {
            "to": {"id": "1001"},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": to_contact}],
        }
    ]
    check(body, "SimplePublicObjectInputForCreate")
    status, created = await call(hubspot, "POST", f"/crm/v3/objects/{object_type}", body)
    assert status == 201
    check(created, "SimplePublicObject")
    status, read = await call(hubspot, "GET", f"/crm/v3/objects/{object_type}/{created['id']}")
    assert status == 200
    check(read, "SimplePublicObjectWithAssociations")


async def test_search_pages_answer_collection_responses_with_a_total(
    hubspot: HubSpotEmulator,
) -> None:
    request: dict[str, Any] = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "0"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "phone"],
        "limit": 30,
    }
    status, first = await call(hubspot, "POST", "/crm/v3/objects/contacts/search", request)
    assert status == 200
    check(first, "CollectionResponseWithTotalSimplePublicObjectForwardPaging")
    assert first["paging"]["next"]["after"] == "30"
    status, last = await call(
        hubspot, "POST", "/crm/v3/objects/contacts/search", {**request, "after": "30"}
    )
    check(last, "CollectionResponseWithTotalSimplePublicObjectForwardPaging")
    assert "paging" not in last
    assert len(first["results"]) + len(last["results"]) == first["total"]


async def test_every_refusal_answers_hubspots_error_shape(
    hubspot: HubSpotEmulator, control: Control
) -> None:
    refusals = [
        (404, "OBJECT_NOT_FOUND", ("GET", "/crm/v3/objects/contacts/77", None)),
        (
            400,
            "VALIDATION_ERROR",
            ("POST", "/crm/v3/objects/contacts", {"properties": {"email": "not-an-email"}}),
        ),
        (
            409,
            "CONFLICT",
            ("POST", "/crm/v3/objects/contacts", {"properties": {"email": "schema@example.nl"}}),
        ),
        (400, "VALIDATION_ERROR", ("POST", "/crm/v3/objects/contacts/search", {"limit": 500})),
        (400, "VALIDATION_ERROR", ("POST", "/crm/v3/objects/contacts", b"{not json")),
    ]
    await call(
        hubspot, "POST", "/crm/v3/objects/contacts", {"properties": {"email": "schema@example.nl"}}
    )
    for status, category, (method, path, body) in refusals:
        answer_status, answer = await call(hubspot, method, path, body)
        assert (answer_status, answer["category"]) == (status, category), answer
        assert answer["status"] == "error"
        check(answer, "Error")

    status, unauthenticated = await call(
        hubspot, "GET", "/crm/v3/objects/contacts/1001", headers={}
    )
    assert (status, unauthenticated["category"]) == (401, "INVALID_AUTHENTICATION")
    check(unauthenticated, "Error")

    await control("PUT", "rate_limit", {"requests": 1, "retry_after_s": 1})
    status, limited = await call(hubspot, "GET", "/crm/v3/objects/contacts/1001")
    assert status == 429
    check(limited, "Error")

    await control("PUT", "faults", {"error_rate": 1.0})
    status, failed = await call(hubspot, "GET", "/crm/v3/objects/contacts/1001")
    assert status == 500
    check(failed, "Error")


def test_the_check_has_teeth() -> None:
    with pytest.raises(AssertionError, match="is not of type 'string'"):
        check(
            {"id": 1001, "properties": {}, "createdAt": "x", "updatedAt": "y"}, "SimplePublicObject"
        )
    with pytest.raises(AssertionError, match="'correlationId' is a required property"):
        check({"status": "error", "message": "m", "category": "C"}, "Error")
    with pytest.raises(AssertionError, match="is not a 'date-time'"):
        check(
            {"id": "1", "properties": {}, "createdAt": "2026-11-27", "updatedAt": "x"},
            "SimplePublicObject",
        )
    with pytest.raises(AssertionError, match="is not of type 'string', 'null'"):
        check(
            {
                "id": "1",
                "properties": {"n": 1},
                "createdAt": "2026-11-27T09:00:00Z",
                "updatedAt": "2026-11-27T09:00:00.120Z",
            },
            "SimplePublicObject",
        )


def test_the_create_bodies_the_connector_sends_are_described() -> None:
    at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    for body in (
        note_body("Hi", "key-1", at, contact_id="1001", ticket_id="7"),
        note_body("Hi", "key-2", at),
        ticket_body("S", "text", "key-3", "1", "1001"),
        ticket_body("S", "text", "key-4", "1", None),
    ):
        check(body, "SimplePublicObjectInputForCreate")
    with pytest.raises(AssertionError, match="'types' is a required property"):
        check(
            {"properties": {}, "associations": [{"to": {"id": "1"}}]},
            "SimplePublicObjectInputForCreate",
        )
