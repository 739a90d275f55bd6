"""The Open Loyalty connector under faults: a 429 with Retry-After is waited out, a failing
platform trips the breaker which recovers once the faults clear, garbled and dropped answers
fail plainly. Faults come from the emulator's control routes, as `sandbox fault` sets them."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from openloyalty_helpers import QUICK

from retailhub.connectors.http import SystemFailure
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.resilience import BreakerState, ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.openloyalty import SANDBOX_TOKEN, OpenLoyaltyEmulator
from retailhub.sandbox.runner import set_faults
from retailhub.sandbox.seed import Estate


class ThrottlingEmulator(OpenLoyaltyEmulator):
    """The emulator answering its first requests with 429 and a Retry-After, as a rate limit."""

    def __init__(self, state_dir: Path, refusals: int) -> None:
        super().__init__(state_dir)
        self.refusals_left = refusals
        self.throttled = 0

    def app(self) -> web.Application:
        app = super().app()
        app.middlewares.insert(0, self.throttle)
        return app

    @web.middleware
    async def throttle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.refusals_left > 0 and request.path.startswith("/api/"):
            self.refusals_left -= 1
            self.throttled += 1
            return json_response(
                {"code": 429, "message": "Too Many Requests"},
                status=429,
                headers={"Retry-After": "0.05"},
            )
        return await handler(request)


@pytest.fixture
async def throttling(
    seeded_state: Path, estate: Estate, tmp_path: Path
) -> AsyncIterator[ThrottlingEmulator]:
    shutil.copy(seeded_state, tmp_path / seeded_state.name)
    running = ThrottlingEmulator(tmp_path, refusals=2)
    running.load(estate)
    await running.start()
    yield running
    await running.stop()


def port_of(emulator: OpenLoyaltyEmulator) -> dict[str, int]:
    assert emulator.url is not None
    return {"openloyalty": int(emulator.url.rsplit(":", 1)[1])}


async def test_a_429_is_waited_out_as_retry_after_says(
    throttling: ThrottlingEmulator, estate: Estate
) -> None:
    assert throttling.url is not None
    loyalty = OpenLoyaltyConnector(throttling.url, api_token=SANDBOX_TOKEN, policy=QUICK)
    member = estate.customers[40]

    account = await loyalty.find_member(card=member.card_number)

    assert account is not None
    assert account.member_id == member.account.member_id
    assert throttling.throttled == 2
    await loyalty.close()


async def test_a_throttled_points_write_is_repeated_once_it_is_let_through(
    throttling: ThrottlingEmulator, estate: Estate
) -> None:
    assert throttling.url is not None
    loyalty = OpenLoyaltyConnector(throttling.url, api_token=SANDBOX_TOKEN, policy=QUICK)
    member_id = estate.customers[41].account.member_id

    reservation = await loyalty.block_points(member_id, 1, "basket:41")

    assert throttling.throttled == 2
    assert [r.transaction_id for r in await loyalty.ledger(member_id)][-1] == reservation
    await loyalty.close()


async def test_the_breaker_opens_under_server_errors_and_closes_once_they_stop(
    loyalty: OpenLoyaltyConnector, emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    card = estate.customers[42].card_number
    await set_faults("openloyalty", {"error_rate": 1.0}, port_of(emulator))

    with pytest.raises(SystemFailure) as failure:
        await loyalty.find_member(card=card)
    assert failure.value.status == 500
    with pytest.raises(SystemUnavailable, match="circuit breaker open"):
        await loyalty.find_member(card=card)
    tripped = loyalty.resilient.breaker_state
    assert tripped is BreakerState.OPEN

    await set_faults("openloyalty", None, port_of(emulator), clear=True)
    deadline = time.monotonic() + 5
    account = None
    for _ in range(100):
        try:
            account = await loyalty.find_member(card=card)
            break
        except SystemUnavailable:
            assert time.monotonic() < deadline, "the breaker never half-opened"
            await asyncio.sleep(0.05)
    assert account is not None
    assert loyalty.resilient.breaker_state is BreakerState.CLOSED


async def test_a_garbled_answer_is_a_system_failure(
    loyalty: OpenLoyaltyConnector, emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    await set_faults("openloyalty", {"malformed": True}, port_of(emulator))
    with pytest.raises(SystemFailure, match="malformed JSON"):
        await loyalty.find_member(card=estate.customers[43].card_number)


async def test_a_platform_that_hangs_up_is_a_system_failure(
    emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    assert emulator.url is not None
    once = ResiliencePolicy(timeout_s=5.0, max_attempts=1)
    loyalty = OpenLoyaltyConnector(emulator.url, api_token=SANDBOX_TOKEN, policy=once)
    await set_faults("openloyalty", {"down": True}, port_of(emulator))
    with pytest.raises(SystemFailure):
        await loyalty.find_member(card=estate.customers[44].card_number)
    await loyalty.close()
