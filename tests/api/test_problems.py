"""Every error is RFC 9457 problem+json: validation paths, 404, 405, 413, 415, 500, 410."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from retailhub.api.app import create_app
from retailhub.api.services import ApiServices, Deprecation

from .conftest import issue_key

PROBLEM = "application/problem+json"


@pytest.fixture
async def till(services: ApiServices) -> dict[str, str]:
    """Headers of a POS client posting once."""
    return {"X-API-Key": await issue_key(services, "till", "pos"), "Idempotency-Key": "once"}


def assert_problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert isinstance(body["type"], str)
    return body  # type: ignore[no-any-return]


async def test_validation_names_each_fault_by_json_path(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    answer = await api.post(
        "/v1/probe/baskets", json={"lines": [{"qty": 1}, {"qty": "many"}]}, headers=till
    )
    body = assert_problem(answer, 422)
    paths = {e["path"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert paths == {"$.store", "$.lines[1].qty"}


async def test_malformed_json_is_a_problem(api: httpx.AsyncClient, till: dict[str, str]) -> None:
    answer = await api.post(
        "/v1/probe/baskets",
        content=b'{"store": ',
        headers={**till, "Content-Type": "application/json"},
    )
    assert_problem(answer, 422)


async def test_unknown_path_is_404_problem(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/nothing-here"), 404)


async def test_wrong_method_is_405_problem_with_allow(api: httpx.AsyncClient) -> None:
    answer = await api.delete("/healthz")
    assert_problem(answer, 405)
    assert answer.headers["allow"] == "GET"


async def test_body_over_the_limit_is_413(api: httpx.AsyncClient, till: dict[str, str]) -> None:
    huge = {"store": "x" * 20_000, "lines": []}
    assert_problem(await api.post("/v1/probe/baskets", json=huge, headers=till), 413)


async def test_streamed_body_over_the_limit_is_413(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * 1000

    answer = await api.post(
        "/v1/probe/baskets",
        content=chunks(),
        headers={**till, "Content-Type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413)


async def test_non_json_write_is_415(api: httpx.AsyncClient, till: dict[str, str]) -> None:
    answer = await api.post(
        "/v1/probe/baskets", content=b"store=AMS01", headers={**till, "Content-Type": "text/plain"}
    )
    assert_problem(answer, 415)


async def test_unexpected_failure_is_500_problem_without_internals(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    body = assert_problem(await api.post("/v1/probe/failing", json={}, headers=till), 500)
    assert "on purpose" not in str(body)


async def test_deprecated_prefix_announces_deprecation_and_sunset(services: ApiServices) -> None:
    services.deprecations = [
        Deprecation("/v1/probe", date(2026, 1, 1), date(2099, 7, 1), successor="/v2/probe")
    ]
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        answer = await api.get("/v1/probe/whoami")
        untouched = await api.get("/healthz")
    assert answer.headers["deprecation"] == "@1767225600"
    assert answer.headers["sunset"] == "Wed, 01 Jul 2099 00:00:00 GMT"
    assert answer.headers["link"] == '</v2/probe>; rel="successor-version"'
    assert "deprecation" not in untouched.headers


async def test_past_its_sunset_a_prefix_is_410(services: ApiServices) -> None:
    services.deprecations = [Deprecation("/v1/probe", date(2020, 1, 1), date(2020, 7, 1))]
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        body = assert_problem(await api.get("/v1/probe/whoami"), 410)
    assert body["type"] == "urn:retailhub:problem:sunset"
