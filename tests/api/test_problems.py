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


WHERE = ("$", "header.", "query.", "path.")


async def test_every_route_refuses_a_bare_request_with_a_problem(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    """Every operation the OpenAPI document lists, called with no key, body or signature,
    answers a problem document whose faults (if any) name their place."""
    document = create_app(services).openapi()
    called = 0
    for path, operations in document["paths"].items():
        for method in operations:
            url = path.replace("{topic}", "orders/create").replace("{", "").replace("}", "")
            answer = await api.request(method.upper(), url)
            if path in {"/healthz", "/readyz"}:
                assert answer.status_code == 200, path
                continue
            called += 1
            body = assert_problem(answer, answer.status_code)
            assert answer.status_code in {401, 415}, (method, path, body)
            assert str(answer.status_code) in operations[method]["responses"], (method, path)
            errors = body.get("errors", [])
            assert all(e["path"].startswith(WHERE) for e in errors), body  # type: ignore[union-attr]
    assert called >= 10


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/v1/orders/" + "O" * 201, "path.order_id"),
        ("/v1/returns/" + "R" * 201, "path.return_id"),
        ("/v1/customers/" + "C" * 201, "path.customer_id"),
        ("/v1/customers/C-1?system=" + "s" * 51, "query.system"),
        ("/v1/promotions/" + "P" * 201, "path.promotion_id"),
    ],
)
async def test_a_bad_parameter_is_422_naming_it(
    api: httpx.AsyncClient, services: ApiServices, path: str, where: str
) -> None:
    reader = {"X-API-Key": await issue_key(services, "reporting", "admin")}
    body = assert_problem(await api.get(path, headers=reader), 422)
    assert [e["path"] for e in body["errors"]] == [where]  # type: ignore[attr-defined]


async def test_refusals_by_the_guards_name_the_header_or_body_at_fault(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    keyless = {"X-API-Key": till["X-API-Key"]}
    no_key = await api.post("/v1/probe/baskets", json={"store": "A", "lines": []}, headers=keyless)
    too_big = await api.post(
        "/v1/probe/baskets", json={"store": "x" * 20_000, "lines": []}, headers=till
    )
    text = await api.post(
        "/v1/probe/baskets", content=b"x", headers={**till, "Content-Type": "text/plain"}
    )
    for answer, status, where in (
        (no_key, 400, "header.idempotency-key"),
        (too_big, 413, "$"),
        (text, 415, "header.content-type"),
    ):
        body = assert_problem(answer, status)
        assert [e["path"] for e in body["errors"]] == [where]  # type: ignore[attr-defined]
