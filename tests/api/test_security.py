"""API keys, scopes and rate limits through the app: 401, 403, 429 with Retry-After."""

from __future__ import annotations

import httpx

from retailhub.api.clients import revoke_client
from retailhub.api.services import ApiServices

from .conftest import issue_key
from .helpers import Clock

PROBLEM = "application/problem+json"


async def test_no_key_is_401_problem_with_challenge(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/probe/whoami")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert answer.headers["www-authenticate"].startswith("Bearer")
    body = answer.json()
    assert body["status"] == 401
    assert body["type"] == "urn:retailhub:problem:unauthenticated"
    assert body["instance"] == "/v1/probe/whoami"


async def test_key_by_bearer_or_header_identifies_the_client(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    key = await issue_key(services, "reporting", "read")
    by_bearer = await api.get("/v1/probe/whoami", headers={"Authorization": f"Bearer {key}"})
    by_header = await api.get("/v1/probe/whoami", headers={"X-API-Key": key})
    assert by_bearer.json() == by_header.json() == {"client": "reporting", "scopes": ["read"]}


async def test_wrong_secret_unknown_and_malformed_keys_are_401(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    key = await issue_key(services, "reporting", "read")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    for bad in (tampered, "rhk_0000000000000000_" + "x" * 43, "not-a-key"):
        answer = await api.get("/v1/probe/whoami", headers={"X-API-Key": bad})
        assert answer.status_code == 401, bad
        assert answer.json()["title"] == "Unknown API key"


async def test_revoked_key_is_refused(api: httpx.AsyncClient, services: ApiServices) -> None:
    key = await issue_key(services, "old-till", "read")
    assert (await api.get("/v1/probe/whoami", headers={"X-API-Key": key})).status_code == 200
    async with services.bus.transaction() as transaction:
        await revoke_client(transaction, "old-till")
    assert (await api.get("/v1/probe/whoami", headers={"X-API-Key": key})).status_code == 401


async def test_missing_scope_is_403_and_admin_holds_every_scope(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    service_desk = await issue_key(services, "service-desk", "service")
    operator = await issue_key(services, "operator", "admin")
    refused = await api.get("/v1/probe/whoami", headers={"X-API-Key": service_desk})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert "needs one of read" in refused.json()["detail"]
    allowed = await api.get("/v1/probe/whoami", headers={"X-API-Key": operator})
    assert allowed.status_code == 200


async def test_any_listed_scope_is_enough(api: httpx.AsyncClient, services: ApiServices) -> None:
    shop = await issue_key(services, "web-shop", "commerce")
    answer = await api.post(
        "/v1/probe/baskets",
        json={"store": "WEB", "lines": []},
        headers={"X-API-Key": shop, "Idempotency-Key": "k1"},
    )
    assert answer.status_code == 201
    assert answer.json()["client"] == "web-shop"


async def test_over_the_rate_is_429_with_retry_after_then_admitted_again(
    api: httpx.AsyncClient, services: ApiServices, clock: Clock
) -> None:
    key = await issue_key(services, "slow-till", "read", rate=2)
    headers = {"X-API-Key": key}
    assert [(await api.get("/v1/probe/whoami", headers=headers)).status_code for _ in range(2)] == [
        200,
        200,
    ]
    limited = await api.get("/v1/probe/whoami", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == PROBLEM
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["type"] == "urn:retailhub:problem:rate-limited"
    clock.now += 0.5
    assert (await api.get("/v1/probe/whoami", headers=headers)).status_code == 200


async def test_rate_limits_are_per_client(api: httpx.AsyncClient, services: ApiServices) -> None:
    busy = await issue_key(services, "busy-till", "read", rate=1)
    quiet = await issue_key(services, "quiet-till", "read", rate=1)
    assert (await api.get("/v1/probe/whoami", headers={"X-API-Key": busy})).status_code == 200
    assert (await api.get("/v1/probe/whoami", headers={"X-API-Key": busy})).status_code == 429
    assert (await api.get("/v1/probe/whoami", headers={"X-API-Key": quiet})).status_code == 200
