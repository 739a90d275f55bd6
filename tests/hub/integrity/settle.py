"""Settling the hub as an operator does after an incident: wait (bounded) until every
subscription has nothing left to handle or retry and every saga it started has ended, then put
the dead letters back in line once and wait again."""

from __future__ import annotations

import asyncio
import time

from retailhub.bus.port import EVERYTHING, EventBus, SubscriptionStatus

QUIET_POLLS = 3
POLL_S = 0.05


def busy(status: SubscriptionStatus) -> bool:
    """True while a subscription has events to handle or retry; events parked behind a dead
    letter wait for the operator, so they count as settled."""
    return bool(status.lag or status.retrying or (status.parked and not status.dead))


async def drain(bus: EventBus, deadline: float) -> None:
    """Until no subscription is busy for a few polls in a row; a subscription's handler waits
    for the saga it starts, so its lag also counts the sagas still running."""
    quiet = 0
    while quiet < QUIET_POLLS:
        statuses = await bus.subscriptions()
        working = [s for s in statuses if busy(s)]
        quiet = 0 if working else quiet + 1
        if time.monotonic() > deadline:
            raise AssertionError(f"the hub did not settle: {working}")
        await asyncio.sleep(POLL_S)


async def catch_up(bus: EventBus, wait_s: float) -> None:
    """Until every subscription has looked at every event (handled it, or holds it to retry),
    for at most `wait_s`: a step's events then meet the faults in force when it was taken."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not any(s.lag for s in await bus.subscriptions()):
            return
        await asyncio.sleep(POLL_S)


async def settle(bus: EventBus, timeout_s: float) -> int:
    """Drain; retry every dead letter once, as an operator would, and drain again. Returns how
    many dead letters were retried."""
    deadline = time.monotonic() + timeout_s
    await drain(bus, deadline)
    dead = await bus.dead_letters()
    if dead:
        await bus.retry(EVERYTHING)
        await drain(bus, deadline)
    return len(dead)


async def dead_letters(bus: EventBus) -> list[str]:
    """Every dead letter left, as `subscription @position: error`."""
    return [f"{h.subscription} @{h.position}: {h.error}" for h in await bus.dead_letters()]
