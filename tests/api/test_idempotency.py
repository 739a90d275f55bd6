"""Idempotency-Key on POSTs under /v1: same key and body replay, another body is 422."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from retailhub.api.services import ApiServices

from . import helpers
from .conftest import issue_key
from .helpers import CALLS


@pytest.fixture
async def till(services: ApiServices) -> dict[str, str]:
    """Headers of a POS client."""
    return {"X-API-Key": await issue_key(services, "till-ams-01", "pos")}


async def test_same_key_same_body_gets_the_same_answer_and_runs_once(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    before = len(CALLS)
    headers = {**till, "Idempotency-Key": "basket-7001"}
    basket = {"store": "AMS01", "lines": [{"qty": 2}]}
    first = await api.post("/v1/probe/baskets", json=basket, headers=headers)
    again = await api.post("/v1/probe/baskets", json=basket, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(CALLS) == before + 1


async def test_same_key_other_body_is_422(api: httpx.AsyncClient, till: dict[str, str]) -> None:
    headers = {**till, "Idempotency-Key": "basket-7002"}
    await api.post("/v1/probe/baskets", json={"store": "AMS01", "lines": []}, headers=headers)
    other = await api.post(
        "/v1/probe/baskets", json={"store": "AMS02", "lines": []}, headers=headers
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "urn:retailhub:problem:idempotency-key-reused"
    assert other.json()["instance"] == "/v1/probe/baskets"
    assert [e["path"] for e in other.json()["errors"]] == ["header.idempotency-key"]


async def test_keys_belong_to_their_client(
    api: httpx.AsyncClient, services: ApiServices, till: dict[str, str]
) -> None:
    other_till = {"X-API-Key": await issue_key(services, "till-ams-02", "pos")}
    body = {"store": "AMS01", "lines": []}
    mine = await api.post("/v1/probe/baskets", json=body, headers={**till, "Idempotency-Key": "k"})
    theirs = await api.post(
        "/v1/probe/baskets", json=body, headers={**other_till, "Idempotency-Key": "k"}
    )
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["number"] != theirs.json()["number"]


async def test_post_without_key_is_400(api: httpx.AsyncClient, till: dict[str, str]) -> None:
    answer = await api.post("/v1/probe/baskets", json={"store": "AMS01", "lines": []}, headers=till)
    assert answer.status_code == 400
    assert answer.json()["type"] == "urn:retailhub:problem:idempotency-key-required"


async def test_a_refused_request_does_not_use_up_its_key(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    headers = {**till, "Idempotency-Key": "basket-7003"}
    wrong = await api.post("/v1/probe/baskets", json={"store": "AMS01"}, headers=headers)
    assert wrong.status_code == 422
    fixed = await api.post(
        "/v1/probe/baskets", json={"store": "AMS01", "lines": []}, headers=headers
    )
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


async def test_a_failed_request_releases_its_key(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    headers = {**till, "Idempotency-Key": "fail-1"}
    first = await api.post("/v1/probe/failing", json={}, headers=headers)
    second = await api.post("/v1/probe/failing", json={}, headers=headers)
    assert first.status_code == second.status_code == 500
    assert "idempotent-replayed" not in second.headers


async def test_without_a_valid_key_the_route_answers_401_first(api: httpx.AsyncClient) -> None:
    answer = await api.post("/v1/probe/baskets", json={}, headers={"Idempotency-Key": "x"})
    assert answer.status_code == 401


async def test_a_repeat_while_the_first_runs_is_409_with_retry_after(
    api: httpx.AsyncClient, till: dict[str, str]
) -> None:
    helpers.SLOW_STARTED = started = asyncio.Event()
    helpers.SLOW_RELEASE = release = asyncio.Event()
    headers = {**till, "Idempotency-Key": "slow-1"}
    first = asyncio.create_task(api.post("/v1/probe/slow", json={}, headers=headers))
    await asyncio.wait_for(started.wait(), 20)
    repeat = await api.post("/v1/probe/slow", json={}, headers=headers)
    release.set()
    assert (await first).status_code == 201
    assert repeat.status_code == 409
    assert repeat.headers["retry-after"] == "1"
    assert repeat.json()["type"] == "urn:retailhub:problem:idempotency-key-in-progress"
    after = await api.post("/v1/probe/slow", json={}, headers=headers)
    assert after.headers["idempotent-replayed"] == "true"
