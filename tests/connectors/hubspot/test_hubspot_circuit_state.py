"""The circuit state the HubSpot connector reports is its breaker's, against the emulator over
loopback HTTP: closed, open under faults, half-open once the reset time has passed, closed
again after a good call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from retailhub.connectors.http import SystemFailure
from retailhub.connectors.hubspot import HubSpotCrm
from retailhub.resilience import ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.seed import Estate

Connect = Callable[..., HubSpotCrm]
Control = Callable[..., Awaitable[Any]]

ONE_ATTEMPT = ResiliencePolicy(
    timeout_s=5.0, max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2
)


async def test_the_circuit_state_follows_the_breaker(
    connect: Connect, control: Control, estate: Estate
) -> None:
    crm = connect(policy=ONE_ATTEMPT)
    email = estate.customers[0].crm_view.emails[0]
    assert crm.circuit_state() == "closed"
    await control("PUT", "faults", {"error_rate": 1.0})
    for _ in range(2):
        with pytest.raises(SystemFailure):
            await crm.find_contact(email)
    with pytest.raises(SystemUnavailable):
        await crm.find_contact(email)
    assert crm.circuit_state() == "open"

    await control("DELETE", "faults")
    deadline = time.monotonic() + 5
    while crm.circuit_state() == "open":
        assert time.monotonic() < deadline, "the breaker never half-opened"
        await asyncio.sleep(0.05)
    assert crm.circuit_state() == "half_open"
    assert await crm.find_contact(email) is not None
    assert crm.circuit_state() == "closed"
