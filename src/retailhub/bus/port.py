"""The event bus port: what the hub needs from a durable event backbone, free of any storage detail.

One abstract class, `EventBus`, and the records it speaks in. Each backend (SQLite, PostgreSQL,
NATS JetStream) is one module implementing it; `tests/bus/contract.py` proves them alike.
"""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.errors import Fault, InvalidDocument


class BusError(Exception):
    """Anything the bus refuses to do, with a message an operator can act on."""


class UnknownSubscription(BusError, LookupError):
    """A subscription name the bus has never been told about."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown subscription {name!r}")


class ReplayOutOfRange(BusError, ValueError):
    """A replay start that lies before the oldest retained event or after the newest one."""

    def __init__(self, requested: int | datetime, oldest: int, newest: int) -> None:
        self.requested, self.oldest, self.newest = requested, oldest, newest
        super().__init__(
            f"replay start {requested} is outside the retained log (positions {oldest}..{newest})"
        )


class NotHeld(BusError, LookupError):
    """An event that is not dead-lettered or parked for the given subscription."""


class MalformedEvent(BusError, InvalidDocument):
    """An event the bus cannot record (bad type, missing id, data that is not JSON)."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        InvalidDocument.__init__(self, faults)


class HoldState(StrEnum):
    """Why an event is held back from its subscription instead of being handled in turn."""

    RETRYING = "retrying"
    DEAD = "dead"
    PARKED = "parked"


ALL_STATES = tuple(HoldState)


class Outcome(StrEnum):
    """How one delivery attempt (or an operator's decision) ended."""

    HANDLED = "handled"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter; after `max_attempts` failures the event is dead-lettered."""

    max_attempts: int = 5
    initial_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=5)
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")

    def backoff(self, failed_attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait before the next attempt after `failed_attempts` failures, jittered by ±jitter."""
        base = self.initial_backoff.total_seconds() * self.multiplier ** max(0, failed_attempts - 1)
        capped = min(base, self.max_backoff.total_seconds())
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return timedelta(seconds=max(0.0, capped * (1.0 + spread)))


DEFAULT_RETRY = RetryPolicy()


class Transaction(ABC):
    """An open transaction on the hub's database, shared by the caller's writes and the bus.

    Statements use the backend's own SQL dialect and parameter style (`?` for SQLite, `$1` for
    PostgreSQL); `connection` is the raw driver connection for code that needs more.
    """

    @property
    @abstractmethod
    def connection(self) -> Any:
        """The raw driver connection this transaction runs on."""

    @abstractmethod
    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement inside the transaction."""

    @abstractmethod
    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one query inside the transaction and return its rows."""


@dataclass(slots=True)
class HandlerContext:
    """What a handler gets with its event: where it is, which attempt, and the unit of work.

    `transaction` is the hub's database transaction that also records the dedupe entry for this
    event: whatever the handler writes through it commits if and only if the event is marked
    handled, and is rolled back when the handler raises.
    """

    subscription: str
    position: int
    attempt: int
    transaction: Transaction
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the handled mark (and the handler's writes) are durable."""
        self._after_commit.append(callback)


Handler = Callable[[CloudEvent, HandlerContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the log holds it: its position and when the bus recorded it."""

    position: int
    recorded_at: datetime
    event: CloudEvent


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt of a held event: when, how it ended, and the error if any."""

    at: datetime
    outcome: Outcome
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """An event a subscription holds back: retrying, dead-lettered, or parked behind its key."""

    subscription: str
    position: int
    state: HoldState
    event: CloudEvent
    key: str | None
    attempts: tuple[Attempt, ...]
    next_attempt_at: datetime | None
    error: str | None
    stack: str | None


@dataclass(frozen=True, slots=True)
class Selection:
    """Which held events an operation applies to; unset fields match everything.

    One event: `subscription` + `position`. All of a key: `subscription` + `key`.
    In bulk: any mix of `subscription`, `type` (a pattern like `retail.order.*`) and `key`.
    """

    subscription: str | None = None
    position: int | None = None
    type: str | None = None
    key: str | None = None


EVERYTHING = Selection()


@dataclass(frozen=True, slots=True)
class Move:
    """What a retry, skip or replay moved (or, on a dry run, would move)."""

    dry_run: bool
    events: tuple[HeldEvent, ...]
    parked_behind: int = 0


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What a replay puts back in front of a subscription (or, on a dry run, would)."""

    dry_run: bool
    subscription: str
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """Where a subscription stands: its cursor against the log head and what it holds back."""

    name: str
    types: tuple[str, ...]
    cursor: int
    head: int
    retrying: int
    dead: int
    parked: int

    @property
    def lag(self) -> int:
        """Events recorded after the cursor, not yet looked at by the subscription."""
        return max(0, self.head - self.cursor)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep the log to an age and a size; unset limits keep everything."""

    max_age: timedelta | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What retention removed, and the oldest position that remains."""

    deleted: int
    oldest_position: int | None


class EventBus(ABC):
    """A durable log of CloudEvents with named subscriptions, per-key order and dead letters.

    Guarantees (every backend): at-least-once delivery, handled-once effects through the
    handler's transaction, order per ordering key (partitionkey, else subject) within a
    subscription, and nothing dropped without a dead letter or an operator's skip.
    """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the storage the bus needs; idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Stop this process's subscription workers and release connections."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction on the hub's database: publish into it to commit events with state."""

    @abstractmethod
    async def publish(
        self, events: Sequence[CloudEvent], *, transaction: Transaction | None = None
    ) -> list[int]:
        """Record events atomically, in order, and return their positions.

        With `transaction`, the events become visible only if that transaction commits.
        """

    async def publish_one(
        self, event: CloudEvent, *, transaction: Transaction | None = None
    ) -> int:
        """Record one event and return its position."""
        (position,) = await self.publish([event], transaction=transaction)
        return position

    @abstractmethod
    async def subscribe(
        self,
        name: str,
        types: Sequence[str],
        handler: Handler,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        concurrency: int = 32,
        from_position: int | None = None,
    ) -> None:
        """Create (or update the types of) a durable subscription and run its handler here.

        A new subscription starts after `from_position`, or at the end of the log when unset.
        Up to `concurrency` ordering keys are handled at once; each key strictly in order.
        """

    @abstractmethod
    async def unsubscribe(self, name: str) -> None:
        """Stop running the handler in this process; the durable subscription stays."""

    @abstractmethod
    async def status(self, subscription: str) -> SubscriptionStatus:
        """Where the named subscription stands; raises UnknownSubscription."""

    @abstractmethod
    async def subscriptions(self) -> list[SubscriptionStatus]:
        """Every durable subscription, by name."""

    @abstractmethod
    async def tail(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        key: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        """Read the log after a position, optionally only some types or one ordering key."""

    @abstractmethod
    async def held(
        self, selection: Selection = EVERYTHING, *, states: Iterable[HoldState] = ALL_STATES
    ) -> list[HeldEvent]:
        """Events held back from their subscriptions, oldest first."""

    async def dead_letters(self, selection: Selection = EVERYTHING) -> list[HeldEvent]:
        """Dead-lettered events matching the selection, oldest first."""
        return await self.held(selection, states=(HoldState.DEAD,))

    async def dead_letter(self, subscription: str, position: int) -> HeldEvent:
        """One dead letter with its payload, error, stack and attempts; raises NotHeld."""
        found = await self.dead_letters(Selection(subscription=subscription, position=position))
        if not found:
            raise NotHeld(f"no dead letter at position {position} for {subscription!r}")
        return found[0]

    @abstractmethod
    async def retry(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Put matching dead letters back in line now, with a fresh attempt budget."""

    @abstractmethod
    async def skip(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Give up on matching dead letters (recorded as skipped) and release what they park."""

    @abstractmethod
    async def replay(
        self,
        subscription: str,
        *,
        from_position: int | None = None,
        since: datetime | None = None,
        types: Sequence[str] = (),
        key: str | None = None,
        dry_run: bool = False,
    ) -> ReplayPlan:
        """Deliver already-seen events again, from a position or a time, optionally filtered.

        Replayed events are handled even though they were handled before (the point of a
        replay), in log order per key; later events of those keys wait behind them.
        Raises UnknownSubscription, or ReplayOutOfRange when the start is not in the log.
        """

    @abstractmethod
    async def apply_retention(
        self, policy: RetentionPolicy, *, now: datetime | None = None
    ) -> RetentionReport:
        """Delete old events by age and size, never one a subscription has yet to handle."""


_PATTERN_CHARS = re.compile(r"^[A-Za-z0-9._*-]+$")


def type_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Compile type patterns (`*`, `retail.order.*`, exact types) into one fast predicate."""
    if not patterns or "*" in patterns:
        return lambda _type: True
    for pattern in patterns:
        if not _PATTERN_CHARS.match(pattern):
            raise BusError(f"type pattern {pattern!r} may hold only letters, digits, . _ - and *")
    regex = re.compile(
        "|".join(re.escape(p).replace(r"\*", ".*") for p in patterns), flags=re.ASCII
    )
    cache: dict[str, bool] = {}

    def matches(event_type: str) -> bool:
        hit = cache.get(event_type)
        if hit is None:
            hit = cache[event_type] = regex.fullmatch(event_type) is not None
        return hit

    return matches


def ordering_key(event: CloudEvent) -> str | None:
    """The key events are ordered by: the partition key, else the subject (the business key)."""
    return event.partitionkey or event.subject
