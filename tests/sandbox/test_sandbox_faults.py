"""Faults injected into a running emulator, seen over real HTTP on loopback through the
connectors' JsonClient and resilience policy, as the hub sees them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from retailhub.connectors.http import JsonClient, SystemFailure
from retailhub.resilience import BreakerState, ResiliencePolicy, Resilient, SystemUnavailable
from retailhub.sandbox.faults import DEFAULT_SLOW_MS, Faults
from retailhub.sandbox.runner import sandbox_status, set_faults

from .echo import EchoEmulator, ports_of

ONE_ATTEMPT = ResiliencePolicy(
    timeout_s=5.0, max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2
)


def client(emulator: EchoEmulator, policy: ResiliencePolicy = ONE_ATTEMPT) -> JsonClient:
    assert emulator.url is not None
    return JsonClient("echo", emulator.url, Resilient("echo", policy))


async def inject(emulator: EchoEmulator, **faults: object) -> None:
    await set_faults("echo", faults, ports_of(emulator))


async def test_latency_holds_every_answer_at_least_that_long(echo: EchoEmulator) -> None:
    await inject(echo, latency_ms=150)
    shop = client(echo)
    for _ in range(2):
        started = time.perf_counter()
        response = await shop.request("GET", "/echo/hello")
        assert time.perf_counter() - started >= 0.150
        assert response.body == {"echo": "hello"}
    await shop.close()


async def test_error_rate_one_trips_the_breaker_which_recovers_once_cleared(
    echo: EchoEmulator,
) -> None:
    await inject(echo, error_rate=1.0)
    shop = client(echo)
    for _ in range(2):
        with pytest.raises(SystemFailure) as failure:
            await shop.request("GET", "/echo/hello")
        assert failure.value.status == 500
    with pytest.raises(SystemUnavailable, match="circuit breaker open"):
        await shop.request("GET", "/echo/hello")
    tripped = shop.resilient.breaker_state
    assert tripped is BreakerState.OPEN

    await set_faults("echo", None, ports_of(echo), clear=True)
    deadline = time.monotonic() + 5
    for _ in range(100):
        try:
            response = await shop.request("GET", "/echo/again")
            break
        except SystemUnavailable:
            assert time.monotonic() < deadline, "the breaker never half-opened"
            await asyncio.sleep(0.05)
    assert response.body == {"echo": "again"}
    assert shop.resilient.breaker_state is BreakerState.CLOSED
    await shop.close()


async def test_injected_error_has_the_products_error_shape(echo: EchoEmulator) -> None:
    await inject(echo, error_rate=1)
    async with aiohttp.ClientSession() as session, session.get(f"{echo.url}/echo/x") as answer:
        assert answer.status == 500
        assert await answer.json() == {"errors": "Internal Server Error"}


async def test_error_rate_repeats_the_same_pattern_each_time_it_is_set(
    echo: EchoEmulator,
) -> None:
    async def pattern() -> list[int]:
        await inject(echo, error_rate=0.5)
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(20):
                async with session.get(f"{echo.url}/echo/x") as answer:
                    statuses.append(answer.status)
        return statuses

    first = await pattern()
    assert 500 in first
    assert 200 in first
    assert await pattern() == first


async def test_down_drops_the_connection_and_up_brings_it_back(echo: EchoEmulator) -> None:
    await inject(echo, down=True)
    shop = client(echo, ResiliencePolicy(timeout_s=5.0, max_attempts=1))
    with pytest.raises(SystemFailure, match="connection failed"):
        await shop.request("GET", "/echo/hello")
    status = (await sandbox_status(ports_of(echo)))["echo"]
    assert status is not None
    assert status["faults"]["down"] is True
    assert status["requests_served"] == 0

    await inject(echo, down=False)
    assert (await shop.request("GET", "/echo/hello")).body == {"echo": "hello"}
    await shop.close()


def test_slow_after_holds_only_the_answers_after_the_first_n() -> None:
    faults = Faults(slow_after=2, latency_ms=100)
    assert [faults.delay_ms(n) for n in (1, 2, 3, 4)] == [0, 0, 100, 100]
    assert Faults(slow_after=0).delay_ms(1) == DEFAULT_SLOW_MS
    assert Faults(latency_ms=30).delay_ms(1) == 30


async def test_slow_after_slows_answers_once_n_requests_are_served(echo: EchoEmulator) -> None:
    await inject(echo, slow_after=2, latency_ms=120)
    shop = client(echo)
    for _ in range(2):
        await shop.request("GET", "/echo/fast")
    for _ in range(2):
        started = time.perf_counter()
        await shop.request("GET", "/echo/slow")
        assert time.perf_counter() - started >= 0.120
    await shop.close()


async def test_malformed_answers_are_a_system_failure(echo: EchoEmulator) -> None:
    await inject(echo, malformed=True)
    shop = client(echo)
    with pytest.raises(SystemFailure, match="malformed JSON"):
        await shop.request("GET", "/echo/hello")
    await inject(echo, malformed=False)
    assert (await shop.request("GET", "/echo/hello")).body == {"echo": "hello"}
    await shop.close()


async def test_control_routes_are_never_faulted_nor_counted(echo: EchoEmulator) -> None:
    await inject(echo, error_rate=1, malformed=True, latency_ms=0)
    ports = ports_of(echo)
    for _ in range(3):
        status = (await sandbox_status(ports))["echo"]
        assert status is not None
        assert status["requests_served"] == 0
