"""The HubSpot connector under HubSpot's rate limit and under injected faults: 429 answers are
waited out as Retry-After says, and the breaker trips on a failing portal and recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from retailhub.connectors.http import SystemFailure
from retailhub.connectors.hubspot import HubSpotCrm
from retailhub.resilience import BreakerState, ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.hubspot import HubSpotEmulator
from retailhub.sandbox.seed import Estate

Connect = Callable[..., HubSpotCrm]
Control = Callable[..., Awaitable[Any]]

ONE_ATTEMPT = ResiliencePolicy(
    timeout_s=5.0, max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2
)


async def test_a_rate_limited_search_is_repeated_after_retry_after(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, control: Control, estate: Estate
) -> None:
    await control("PUT", "rate_limit", {"requests": 2, "retry_after_s": 0.05})
    view = estate.customers[0].crm_view
    found = await crm.find_contact(view.emails[0])
    assert found is not None
    assert found.identities == view.identities
    assert hubspot.rate_limits_served == 2


async def test_a_rate_limited_create_is_repeated_since_hubspot_did_not_act(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, control: Control, estate: Estate
) -> None:
    customer = estate.customers[0].golden.model_copy(
        update={"customer_id": "CUST-90002", "identities": {}, "emails": ["limit@example.nl"]}
    )
    before = count(hubspot)
    await control("PUT", "rate_limit", {"after": 1, "requests": 1, "retry_after_s": 0.05})
    contact_id = await crm.upsert_contact(customer)
    assert hubspot.rate_limits_served == 1
    assert count(hubspot) == before + 1
    assert await crm.upsert_contact(customer) == contact_id


def count(emulator: HubSpotEmulator) -> int:
    query = "SELECT COUNT(*) FROM crm_object WHERE object_type = 'contacts'"
    return int(emulator.db.execute(query).fetchone()[0])


async def test_the_429_carries_hubspots_retry_after_to_the_policy(
    connect: Connect, control: Control
) -> None:
    crm = connect(policy=ONE_ATTEMPT)
    await control("PUT", "rate_limit", {"requests": 1, "retry_after_s": 7})
    with pytest.raises(SystemFailure) as failure:
        await crm.find_contact("anyone@example.nl")
    assert failure.value.status == 429
    assert failure.value.retry_after == 7.0
    assert failure.value.safe_to_repeat


async def wait_until_closed(crm: HubSpotCrm, email: str) -> None:
    """Call until the breaker lets a call through again (bounded in count and time)."""
    deadline = time.monotonic() + 5
    for _ in range(200):
        try:
            await crm.find_contact(email)
            return
        except SystemUnavailable:
            assert time.monotonic() < deadline, "the breaker never half-opened"
            await asyncio.sleep(0.05)
    pytest.fail("the breaker never closed")


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"down": True}])
async def test_a_failing_portal_trips_the_breaker_which_recovers_once_cleared(
    connect: Connect, control: Control, estate: Estate, fault: dict[str, Any]
) -> None:
    crm = connect(policy=ONE_ATTEMPT)
    email = estate.customers[0].crm_view.emails[0]
    await control("PUT", "faults", fault)
    for _ in range(2):
        with pytest.raises(SystemFailure):
            await crm.find_contact(email)
    with pytest.raises(SystemUnavailable, match="circuit breaker open"):
        await crm.find_contact(email)
    assert crm.client.http.resilient.breaker_state is BreakerState.OPEN

    await control("DELETE", "faults")
    await wait_until_closed(crm, email)
    assert crm.client.http.resilient.breaker_state is BreakerState.CLOSED
    assert await crm.find_contact(email) is not None


async def test_an_injected_server_error_is_a_system_failure_in_hubspots_shape(
    connect: Connect, control: Control
) -> None:
    crm = connect(policy=ONE_ATTEMPT)
    await control("PUT", "faults", {"error_rate": 1.0})
    with pytest.raises(SystemFailure) as failure:
        await crm.add_note("1001", "text", "note-key")
    assert failure.value.status == 500
