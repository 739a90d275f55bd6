"""Backend-neutral delivery: chains per ordering key, parallel across keys, and what a failure means.

Every backend fetches a batch its own way, then uses these pieces so that ordering, parking,
retry and dead-lettering mean the same thing on SQLite, PostgreSQL and NATS JetStream.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from retailhub.bus.port import Attempt, HoldState, Outcome, RetryPolicy
from retailhub.canonical.cloudevents import CloudEvent

_STACK_FRAMES = 12
_STACK_CHARS = 4000


@dataclass(slots=True)
class Delivery:
    """One event on its way to one subscription, and how its attempt ended."""

    position: int
    event_id: str
    key: str | None
    payload: bytes
    held: HoldState | None = None
    failures: int = 0
    history: str | None = None
    event: CloudEvent | None = None
    outcome: Outcome | None = None
    error: str | None = None
    stack: str | None = None
    attempted_at: float = 0.0
    callbacks: list[Callable[[], None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Settled:
    """Where a failed delivery goes next: back in line later, or to the dead letters."""

    state: HoldState
    failures: int
    next_attempt_at: float | None
    history: str


def build_chains(
    new: Sequence[Delivery],
    heads: Sequence[Delivery],
    parked: dict[str, list[Delivery]],
    held_keys: set[str],
    complete_keys: set[str],
) -> list[list[Delivery]]:
    """Order a batch into per-key chains; new events left out of every chain are to be parked.

    A due head runs first, then what was parked behind it, then new events of its key (only
    when every parked event of that key is in hand). New events of any other held key park.
    Events without a key are chains of one.
    """
    chains: list[list[Delivery]] = []
    by_key: dict[str, list[Delivery]] = {}
    for head in heads:
        chain = [head]
        if head.key is not None:
            chain.extend(parked.get(head.key, ()))
            if head.key in complete_keys:
                by_key[head.key] = chain
        chains.append(chain)
    for delivery in new:
        key = delivery.key
        if key is None:
            chains.append([delivery])
        elif key in by_key:
            by_key[key].append(delivery)
        elif key not in held_keys:
            chain = by_key[key] = [delivery]
            chains.append(chain)
    return chains


async def run_chains(
    chains: Sequence[list[Delivery]],
    attempt: Callable[[Delivery], Awaitable[bool]],
    concurrency: int,
) -> None:
    """Run each chain in order, stopping a chain at its first failure; up to `concurrency` at once.

    If an attempt itself breaks (not the handler: the bookkeeping around it), the other runners
    are cancelled so nothing keeps using a batch that is being rolled back.
    """
    if not chains:
        return
    pending = iter(chains)

    async def runner() -> None:
        for chain in pending:
            for delivery in chain:
                if not await attempt(delivery):
                    break

    runners = min(concurrency, len(chains))
    if runners == 1:
        await runner()
        return
    async with asyncio.TaskGroup() as group:
        for _ in range(runners):
            group.create_task(runner())


def describe_failure(error: BaseException) -> tuple[str, str]:
    """A one-line error and a stack summary (last frames) to keep with a failed attempt."""
    message = f"{type(error).__name__}: {error}"
    stack = "".join(traceback.format_exception(error, limit=-_STACK_FRAMES))
    return message, stack[-_STACK_CHARS:]


def settle_failure(
    delivery: Delivery, policy: RetryPolicy, rng: random.Random | None = None
) -> Settled:
    """Count a failure against the policy: retry after a jittered backoff, or dead-letter."""
    failures = delivery.failures + 1
    history = _append_attempt(delivery.history, delivery.attempted_at, Outcome.FAILED, delivery)
    if failures >= policy.max_attempts:
        return Settled(HoldState.DEAD, failures, None, history)
    wait = policy.backoff(failures, rng).total_seconds()
    return Settled(HoldState.RETRYING, failures, delivery.attempted_at + wait, history)


def _append_attempt(history: str | None, at: float, outcome: Outcome, delivery: Delivery) -> str:
    """Add one attempt to the JSON history kept with a held event."""
    attempts = orjson.loads(history) if history else []
    attempts.append({"at": at, "outcome": outcome.value, "error": delivery.error})
    return orjson.dumps(attempts).decode()


def read_attempts(history: str | None) -> tuple[Attempt, ...]:
    """The attempt records of a held event, oldest first."""
    return tuple(
        Attempt(
            at=datetime.fromtimestamp(item["at"], UTC),
            outcome=Outcome(item["outcome"]),
            error=item.get("error"),
        )
        for item in (orjson.loads(history) if history else [])
    )


def utc(timestamp: float | None) -> datetime | None:
    """An epoch timestamp from storage as an aware UTC datetime."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def epoch(moment: datetime) -> float:
    """An aware datetime as the epoch seconds the logs store."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.timestamp()
