"""Resilience policies over real HTTP on loopback: retries only when safe, Retry-After honoured,
the breaker trips and recovers, the bulkhead refuses instead of queueing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from retailhub.connectors.http import JsonClient, RequestRefused, SystemFailure
from retailhub.resilience import BreakerState, ResiliencePolicy, Resilient, SystemUnavailable


@dataclass
class Script:
    """What the fake system answers next; a list of (status, headers) consumed in order."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    calls: int = 0
    delay_s: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return web.json_response({"call": self.calls}, status=status, headers=headers)


@pytest.fixture
async def system() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield script, str(server.make_url("")).rstrip("/")
    await server.close()


FAST = ResiliencePolicy(
    timeout_s=0.5, max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.01, breaker_reset_s=0.2
)


def client(url: str, policy: ResiliencePolicy = FAST) -> JsonClient:
    return JsonClient("erp", url, Resilient("erp", policy))


async def test_idempotent_call_is_retried_after_a_server_error(system: tuple[Script, str]) -> None:
    script, url = system
    script.answers = [(500, {}), (502, {})]
    erp = client(url)
    response = await erp.request("GET", "/products")
    assert response.body == {"call": 3}
    await erp.close()


async def test_non_idempotent_post_is_not_repeated_after_a_server_error(
    system: tuple[Script, str],
) -> None:
    script, url = system
    script.answers = [(500, {})]
    erp = client(url)
    with pytest.raises(SystemFailure):
        await erp.request("POST", "/sale_orders", json={"order": 1})
    assert script.calls == 1
    await erp.close()


async def test_post_is_repeated_after_429_honouring_retry_after(system: tuple[Script, str]) -> None:
    script, url = system
    script.answers = [(429, {"Retry-After": "0.05"})]
    erp = client(url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await erp.request("POST", "/sale_orders", json={"order": 1})
    assert response.body == {"call": 2}
    assert loop.time() - started >= 0.05
    await erp.close()


async def test_a_refused_request_is_not_retried_and_does_not_trip_the_breaker(
    system: tuple[Script, str],
) -> None:
    script, url = system
    script.answers = [(422, {})] * 10
    erp = client(url, ResiliencePolicy(breaker_threshold=2, initial_backoff_s=0.001))
    for _ in range(5):
        with pytest.raises(RequestRefused) as refused:
            await erp.request("GET", "/products/x")
        assert refused.value.status == 422
    assert script.calls == 5
    assert erp.resilient.breaker_state is BreakerState.CLOSED
    await erp.close()


async def test_breaker_opens_after_repeated_failures_and_recovers(
    system: tuple[Script, str],
) -> None:
    script, url = system
    policy = ResiliencePolicy(
        max_attempts=1, breaker_threshold=3, breaker_reset_s=0.2, initial_backoff_s=0.001
    )
    script.answers = [(500, {})] * 3
    erp = client(url, policy)
    for _ in range(3):
        with pytest.raises(SystemFailure):
            await erp.request("GET", "/stock")
    assert erp.resilient.breaker_state is BreakerState.OPEN
    with pytest.raises(SystemUnavailable, match="circuit breaker open"):
        await erp.request("GET", "/stock")
    assert script.calls == 3
    await asyncio.sleep(0.25)
    response = await erp.request("GET", "/stock")
    assert response.status == 200
    assert erp.resilient.breaker_state is BreakerState.CLOSED
    await erp.close()


async def test_timeout_counts_as_a_failure_and_is_retried_when_idempotent(
    system: tuple[Script, str],
) -> None:
    script, url = system
    script.delay_s = 0.3
    erp = client(url, ResiliencePolicy(timeout_s=0.05, max_attempts=2, initial_backoff_s=0.001))
    with pytest.raises(TimeoutError):
        await erp.request("GET", "/slow")
    await asyncio.sleep(0.35)
    assert script.calls == 2
    await erp.close()


async def test_bulkhead_refuses_calls_beyond_its_limit(system: tuple[Script, str]) -> None:
    script, url = system
    script.delay_s = 0.1
    erp = client(url, ResiliencePolicy(max_concurrent=2, max_attempts=1))
    results = await asyncio.gather(
        *(erp.request("GET", f"/p/{i}") for i in range(4)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, SystemUnavailable)]
    assert len(refused) == 2
    assert "bulkhead" in str(refused[0])
    await erp.close()


async def test_unreachable_system_is_a_failure_safe_to_repeat() -> None:
    erp = client("http://127.0.0.1:9", ResiliencePolicy(max_attempts=2, initial_backoff_s=0.001))
    with pytest.raises(SystemFailure, match="unreachable"):
        await erp.request("POST", "/sale_orders", json={})
    await erp.close()


def test_a_policy_with_impossible_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        ResiliencePolicy(timeout_s=0)


async def test_a_call_failing_every_time_is_tried_exactly_max_attempts_times(
    system: tuple[Script, str],
) -> None:
    script, url = system
    script.answers = [(500, {})] * 5
    erp = client(url)
    with pytest.raises(SystemFailure, match="HTTP 500"):
        await erp.request("GET", "/products")
    assert script.calls == FAST.max_attempts
    await erp.close()
