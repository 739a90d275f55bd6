"""Property: whatever people edit in the CRM, the web shop and the loyalty platform, and however
the emulators fail meanwhile, once the bus has drained (dead letters retried, as an operator
would) and each system has reported what it holds (as its webhooks do after the hub's writes),
a round of reports is all echo and every system holds the golden record, except the fields of
a conflict waiting for a person."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from retailhub.bus.port import Selection
from retailhub.bus.sqlite import SqliteBus
from retailhub.flows.customers.audit import AuditKind
from retailhub.flows.customers.events import profile_event
from retailhub.flows.customers.queries import customer_audit

from .sandbox_hub import (
    SYNCED_SYSTEMS,
    SyncWorld,
    dead_letters,
    disagreements,
    drain,
    edit,
    external_id,
    golden_of,
    onboard,
    read_profile,
    start_sync,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = TypeVar("T")

NAMES = {
    "given_name": ("Anouk", "Bas", "Chantal"),
    "family_name": ("Bakker", "de Jong", "Visser"),
    "phone": ("+31612345678", "+31687654321", "+31201234567"),
}
EDITS = st.lists(
    st.tuples(
        st.sampled_from(SYNCED_SYSTEMS),
        st.sampled_from(sorted(NAMES)),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=5,
)
FAULT_RATES = st.sampled_from((0.0, 0.2, 0.4))
MAX_ROUNDS = 4
CHANGING = (AuditKind.FIELD_CHANGED, AuditKind.PROPAGATED, AuditKind.CONFLICT_OPENED)


async def persist(attempt: Callable[[], Awaitable[T]]) -> T:
    """What a person or a webhook receiver does under faults: try again until it works."""
    for _ in range(60):
        try:
            return await attempt()
        except Exception:  # any refusal or outage of an emulator is worth another try
            await asyncio.sleep(0.05)
    return await attempt()


async def set_error_rate(world: SyncWorld, rate: float) -> None:
    """Make each emulator fail that share of its requests with HTTP 500 (0: no faults)."""
    async with aiohttp.ClientSession() as session:
        for system in SYNCED_SYSTEMS:
            url = f"{world.urls[system]}/_sandbox/faults"
            async with session.put(url, json={"error_rate": rate}) as response:
                assert response.status < 300, await response.text()


async def publish_report(bus: SqliteBus, world: SyncWorld, system: str, system_id: str) -> None:
    """The system's webhook as a receiver publishes it: the profile re-read, then published."""
    profile = await persist(lambda: read_profile(world, system, system_id))
    await bus.publish([profile_event(system, profile)])


async def settle(bus: SqliteBus) -> None:
    """Drain; put dead letters back in line once (the operator's retry) and drain again."""
    await drain(bus)
    if await dead_letters(bus):
        for status in await bus.subscriptions():
            if status.name.startswith("customers.") and status.dead:
                await bus.retry(Selection(subscription=status.name))
        await drain(bus)


async def audited(bus: SqliteBus, golden_id: str) -> dict[AuditKind, int]:
    """How many audit records of the kinds that change something the customer has."""
    async with bus.transaction() as transaction:
        records = await customer_audit(transaction, golden_id)
    counts = dict.fromkeys(CHANGING, 0)
    for record in records:
        if record.kind in CHANGING:
            counts[record.kind] += 1
    return counts


@settings(
    max_examples=4,
    deadline=None,
    # Each example takes a fresh customer of the sandbox: report a failure as drawn, unshrunk.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=EDITS, fault_rate=FAULT_RATES)
# A draw that did not settle: Open Loyalty's rename in the second of the CRM's looked older.
@example(
    edits=[
        ("hubspot", "given_name", 1),
        ("shopify", "family_name", 1),
        ("openloyalty", "given_name", 0),
        ("hubspot", "family_name", 0),
        ("hubspot", "given_name", 1),
    ],
    fault_rate=0.4,
)
async def test_every_system_converges_to_the_golden_record(
    world: SyncWorld, edits: list[tuple[str, str, int]], fault_rate: float
) -> None:
    customer = world.take()
    ids = {system: external_id(customer, system) for system in SYNCED_SYSTEMS}
    with tempfile.TemporaryDirectory() as folder:
        async with SqliteBus(Path(folder) / "hub.sqlite", poll_interval=0.02) as bus:
            await start_sync(bus, world)
            golden_id = (await onboard(bus, world, customer)).golden.customer_id
            await set_error_rate(world, fault_rate)
            try:
                for system, name, choice in edits:
                    values: dict[str, Any] = {name: NAMES[name][choice]}
                    await persist(partial(edit, world, system, ids[system], **values))
                    await publish_report(bus, world, system, ids[system])
            finally:
                await set_error_rate(world, 0.0)
            await settle(bus)
            assert await dead_letters(bus) == []
            # Every write the hub made fires the system's webhook: each system reports what it
            # holds, until a round of reports is all echo (bounded).
            for _ in range(MAX_ROUNDS):
                before = await audited(bus, golden_id)
                for system in SYNCED_SYSTEMS:
                    await publish_report(bus, world, system, ids[system])
                await settle(bus)
                if await audited(bus, golden_id) == before:
                    break
            else:
                raise AssertionError(f"reports still changed the golden record after {MAX_ROUNDS}")
            assert await dead_letters(bus) == []

            golden = await golden_of(bus, "hubspot", ids["hubspot"])
            for system in SYNCED_SYSTEMS:
                profile = await read_profile(world, system, ids[system])
                assert disagreements(golden, profile, system) == {}, system
