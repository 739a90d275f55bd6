"""The emulator checked against Odoo's published JSON-2 description: the documented request,
answer and error examples (vendored in odoo_external_api_examples.json, with source and
licence), replayed over HTTP, and the status codes of the JSON-2 controller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator

EXAMPLES = json.loads((Path(__file__).parent / "odoo_external_api_examples.json").read_text())


def _headers(api_key: str = SANDBOX_API_KEY) -> dict[str, str]:
    """The request headers the documentation lists (aiohttp sets Host)."""
    return {
        "X-Odoo-Database": SANDBOX_DATABASE,
        "Authorization": f"bearer {api_key}",
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "retailhub-tests",
    }


async def _post(
    emulator: OdooEmulator, path: str, body: Any, api_key: str = SANDBOX_API_KEY
) -> tuple[int, str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.url}{path}", json=body, headers=_headers(api_key)) as response,
    ):
        return response.status, response.content_type, await response.json()


def _shape(value: Any) -> Any:
    """The JSON types of a value, recursively: what a client written against the example relies on."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


@pytest.fixture
async def deco_addict(emulator: OdooEmulator) -> int:
    """The company the documentation's example finds."""
    _, _, created = await _post(
        emulator,
        "/json/2/res.partner/create",
        {"vals_list": [{"name": "Deco Addict", "is_company": True}]},
    )
    return int(created[0])


async def test_the_documented_search_read_answers_as_documented(
    emulator: OdooEmulator, deco_addict: int
) -> None:
    request, answer = EXAMPLES["request"], EXAMPLES["response"]

    status, content_type, body = await _post(emulator, request["path"], request["body"])

    assert status == answer["status"]
    assert content_type == answer["content_type"]
    assert _shape(body) == _shape(answer["body"])
    assert body == [{"id": deco_addict, "name": "Deco Addict"}]


async def test_the_documented_search_then_read(emulator: OdooEmulator, deco_addict: int) -> None:
    steps = EXAMPLES["search_then_read"]

    _, _, ids = await _post(emulator, steps["search"]["path"], steps["search"]["body"])
    _, _, names = await _post(
        emulator, steps["read"]["path"], {**steps["read"]["body"], "ids": ids}
    )

    assert ids == [deco_addict]
    assert names == [{"id": deco_addict, "name": "Deco Addict"}]


async def test_the_documented_error_for_a_bad_api_key(emulator: OdooEmulator) -> None:
    request, error = EXAMPLES["request"], EXAMPLES["error"]

    status, content_type, body = await _post(
        emulator, request["path"], request["body"], api_key="6578616d706c65206a736f6e"
    )

    assert status == error["status"]
    assert content_type == error["content_type"]
    assert set(body) == set(error["body"])
    assert _shape(body) == _shape(error["body"])
    for field in ("name", "message", "arguments", "context"):
        assert body[field] == error["body"][field]


@pytest.mark.parametrize(
    ("path", "body", "status", "name"),
    [
        ("/json/2/res.partnr/search_read", {}, 404, "werkzeug.exceptions.NotFound"),
        ("/json/2/res.partner/do_magic", {}, 404, "werkzeug.exceptions.NotFound"),
        ("/json/2/res.partner/_private", {}, 404, "werkzeug.exceptions.NotFound"),
        ("/json/2/res.partner/create", {"ids": [1], "vals_list": []}, 422, "werkzeug."),
        ("/json/2/res.partner/write", {"ids": [1]}, 422, "werkzeug.exceptions."),
        ("/json/2/res.partner/search_read", {"colour": 1}, 422, "werkzeug.exceptions."),
        ("/json/2/res.partner/create", {"vals_list": [{}]}, 422, "odoo.exceptions.Validation"),
        ("/json/2/res.partner/read", {"ids": [9999]}, 404, "odoo.exceptions.MissingError"),
    ],
)
async def test_controller_status_codes(
    emulator: OdooEmulator, path: str, body: Any, status: int, name: str
) -> None:
    answered, _, error = await _post(emulator, path, body)

    assert answered == status
    assert error["name"].startswith(name)
    assert set(error) == set(EXAMPLES["error"]["body"])


async def test_a_body_that_is_not_an_object_is_a_bad_request(emulator: OdooEmulator) -> None:
    status, _, error = await _post(emulator, "/json/2/res.partner/search_read", [1, 2])

    assert status == 400
    assert error["message"] == "could not parse the body, expecting a json object"
