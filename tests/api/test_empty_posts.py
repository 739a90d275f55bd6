"""Empty POSTs: a route that takes no body (a till closing a basket, capturing or releasing a
redemption) accepts one without a Content-Type, as POS clients send them; a body that is not
JSON, or an empty POST to a route that needs a body, is still 415. Idempotency-Key rules hold,
an empty body hashing as empty."""

from __future__ import annotations

import httpx
import pytest

from retailhub.api.services import ApiServices

from .conftest import issue_key
from .helpers import CALLS

CLOSE = "/v1/probe/baskets/7/close"


@pytest.fixture
async def till(services: ApiServices) -> dict[str, str]:
    """Headers of a POS client."""
    return {"X-API-Key": await issue_key(services, "till-ams-01", "pos")}


async def post_empty(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], *, length: bool = True
) -> httpx.Response:
    """An empty POST as tills send it: `Content-Length: 0`, or no length at all."""
    request = api.build_request("POST", path, headers=headers)
    assert "content-type" not in request.headers or "content-type" in {k.lower() for k in headers}
    if not length:
        del request.headers["content-length"]
    return await api.send(request)


@pytest.mark.parametrize("length", [True, False], ids=["content-length-0", "no-length"])
async def test_an_empty_post_to_a_route_without_a_body_runs(
    api: httpx.AsyncClient, till: dict[str, str], length: bool
) -> None:
    before = len(CALLS)
    answer = await post_empty(
        api, CLOSE, {**till, "Idempotency-Key": f"close-{length}"}, length=length
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["closed"] == 7
    assert len(CALLS) == before + 1


async def test_an_empty_post_labelled_as_a_form_runs_too(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    headers = {
        **till,
        "Idempotency-Key": "close-form",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = await post_empty(api, CLOSE, headers)
    assert answer.status_code == 200, answer.text


async def test_a_body_that_is_not_json_is_still_415(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    answer = await api.post(
        CLOSE,
        content=b"basket=7",
        headers={**till, "Idempotency-Key": "close-text", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["path"] for e in answer.json()["errors"]] == ["header.content-type"]


@pytest.mark.parametrize("declared", [None, "application/x-www-form-urlencoded"])
async def test_an_empty_post_to_a_route_that_needs_a_body_is_refused_at_the_body(
    api: httpx.AsyncClient, till: dict[str, str], declared: str | None
) -> None:
    before = len(CALLS)
    keyed = {**till, "Idempotency-Key": "b-empty"}
    declaring = {**keyed, "Content-Type": declared} if declared else keyed
    answer = await post_empty(api, "/v1/probe/baskets", declaring)
    retried = await api.post(
        "/v1/probe/baskets", json={"store": "AMS01", "lines": []}, headers=keyed
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["path"] for e in answer.json()["errors"]] == ["$"]
    assert retried.status_code == 201
    assert len(CALLS) == before + 1


async def test_an_empty_post_to_an_unknown_route_is_404(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    answer = await post_empty(api, "/v1/probe/nothing", {**till, "Idempotency-Key": "nothing"})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_an_empty_post_is_replayed_under_its_key_and_another_body_is_422(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    before = len(CALLS)
    headers = {**till, "Idempotency-Key": "close-once"}
    first = await post_empty(api, CLOSE, headers)
    again = await post_empty(api, CLOSE, headers, length=False)
    other = await api.post(CLOSE, json={}, headers=headers)
    keyless = await post_empty(api, CLOSE, till)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert len(CALLS) == before + 1
    assert other.status_code == 422
    assert other.json()["type"] == "urn:retailhub:problem:idempotency-key-reused"
    assert keyless.status_code == 400
    assert [e["path"] for e in keyless.json()["errors"]] == ["header.idempotency-key"]
