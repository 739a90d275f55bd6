"""The behaviour every bus backend must show, as one test class each backend's tests subclass.

A subclass implements `make_bus` (a fresh, unopened bus on empty storage with millisecond poll
intervals) and the three effect-store hooks that write a handler's own state through the hub's
database. Tests wait for outcomes with bounded polling and never assert on timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retailhub.bus.port import (
    BusError,
    EventBus,
    HandlerContext,
    HoldState,
    MalformedEvent,
    NotHeld,
    Outcome,
    ReplayOutOfRange,
    RetentionPolicy,
    RetryPolicy,
    Selection,
    Transaction,
    UnknownSubscription,
)
from retailhub.canonical.cloudevents import CloudEvent, new_event

FAST_RETRY = RetryPolicy(
    max_attempts=3,
    initial_backoff=timedelta(milliseconds=1),
    max_backoff=timedelta(milliseconds=5),
    multiplier=2.0,
    jitter=0.5,
)
WAIT_SECONDS = 10.0


async def eventually(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str
) -> None:
    """Poll `condition` until true, failing with `what` after WAIT_SECONDS (bounded in count too)."""
    deadline = time.monotonic() + WAIT_SECONDS
    for _ in range(int(WAIT_SECONDS / 0.005)):
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.005)
    pytest.fail(f"timed out waiting until {what}")


def order_event(order: str, step: int = 0, *, kind: str = "created", **extra: Any) -> CloudEvent:
    """A small order event keyed by its order id."""
    return new_event(
        f"retail.order.{kind}.v1",
        "/stores/42/pos",
        {"order_id": order, "step": step, **extra},
        subject=order,
        partitionkey=order,
    )


def customer_event(customer: str) -> CloudEvent:
    """A small customer event keyed by its customer id."""
    return new_event(
        "retail.customer.updated.v1",
        "/crm",
        {"customer_id": customer},
        subject=customer,
        partitionkey=customer,
    )


class Recorder:
    """A handler that records what it handled (once committed) and can be told to fail."""

    def __init__(self, *, sleep: float = 0.0) -> None:
        self.handled: list[CloudEvent] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.failing: set[str] = set()
        self.fail_first: dict[str, int] = {}
        self.sleep = sleep
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, event: CloudEvent, context: HandlerContext) -> None:
        self.attempts[event.id] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.sleep:
                await asyncio.sleep(random.uniform(0, self.sleep))
            if event.id in self.failing:
                raise RuntimeError(f"downstream refused {event.id}")
            if self.attempts[event.id] <= self.fail_first.get(event.id, 0):
                raise ConnectionError(f"ERP unavailable for {event.id}")
        finally:
            self.in_flight -= 1
        context.after_commit(lambda: self.handled.append(event))

    def ids(self) -> list[str]:
        return [e.id for e in self.handled]

    def has(self, count: int) -> Callable[[], bool]:
        return lambda: len(self.handled) >= count


class BusContract(ABC):
    """Subclass per backend; every test here must pass on every backend."""

    @abstractmethod
    async def make_bus(self) -> EventBus:
        """A fresh, unopened bus on empty storage, polling every few milliseconds."""

    @abstractmethod
    async def create_effects(self, bus: EventBus) -> None:
        """Create the table (or equivalent) the effect hooks write to."""

    @abstractmethod
    async def record_effect(self, transaction: Transaction, event_id: str, note: str) -> None:
        """Write one effect row through the hub's database transaction."""

    @abstractmethod
    async def read_effects(self, bus: EventBus) -> list[tuple[str, str]]:
        """Every effect row as (event_id, note), duplicates included."""

    @abstractmethod
    async def reopen(self, bus: EventBus) -> EventBus:
        """A new, unopened bus on the same storage as `bus` (for restart tests)."""

    @pytest.fixture
    async def bus(self) -> AsyncIterator[EventBus]:
        bus = await self.make_bus()
        await bus.open()
        try:
            yield bus
        finally:
            await bus.close()

    # publish and deliver

    async def test_published_event_is_delivered_once(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("loyalty", ["retail.order.*"], recorder)
        event = order_event("o-1")
        position = await bus.publish_one(event)
        await eventually(recorder.has(1), "the order event is handled")
        await eventually(self._idle(bus, "loyalty"), "the handled mark is committed")
        assert recorder.handled == [event]
        assert (await bus.status("loyalty")).cursor >= position

    async def test_batch_positions_increase_and_tail_reads_them_in_order(
        self, bus: EventBus
    ) -> None:
        events = [order_event(f"o-{i}") for i in range(5)]
        positions = await bus.publish(events)
        assert positions == sorted(positions)
        assert len(set(positions)) == 5
        logged = await bus.tail(after=positions[0] - 1)
        assert [entry.event.id for entry in logged] == [e.id for e in events]
        assert [entry.position for entry in logged] == positions
        assert all(entry.recorded_at.tzinfo is not None for entry in logged)

    async def test_tail_filters_by_type_key_and_position(self, bus: EventBus) -> None:
        positions = await bus.publish(
            [order_event("o-1"), customer_event("c-1"), order_event("o-2"), order_event("o-1", 1)]
        )
        orders = await bus.tail(types=["retail.order.*"])
        assert [e.event.type for e in orders] == ["retail.order.created.v1"] * 3
        of_o1 = await bus.tail(key="o-1")
        assert [e.position for e in of_o1] == [positions[0], positions[3]]
        after = await bus.tail(after=positions[1], limit=1)
        assert [e.position for e in after] == [positions[2]]

    async def test_malformed_batch_is_refused_whole(self, bus: EventBus) -> None:
        good = order_event("o-1")
        wildcard = CloudEvent(id="e-2", source="/pos", type="retail.order.*")
        not_json = CloudEvent(id="e-3", source="/pos", type="retail.order.created.v1", data={1j})
        with pytest.raises(MalformedEvent) as refused:
            await bus.publish([good, wildcard, not_json])
        paths = {fault.path for fault in refused.value.faults}
        assert {"$[1].type", "$[2].data"} <= paths
        assert await bus.tail() == []

    async def test_type_filters_route_events(self, bus: EventBus) -> None:
        orders, customers, everything = Recorder(), Recorder(), Recorder()
        await bus.subscribe("orders", ["retail.order.*"], orders)
        await bus.subscribe("customers", ["retail.customer.updated.v1"], customers)
        await bus.subscribe("audit", ["*"], everything)
        returned = new_event("retail.return.created.v1", "/pos", {"r": 1}, subject="r-1")
        await bus.publish([order_event("o-1"), customer_event("c-1"), returned])
        await eventually(everything.has(3), "the audit subscription sees all three")
        await eventually(orders.has(1), "orders sees the order")
        await eventually(customers.has(1), "customers sees the customer")
        await eventually(self._caught_up(bus, "orders"), "orders is caught up")
        await eventually(self._caught_up(bus, "customers"), "customers is caught up")
        assert [e.type for e in orders.handled] == ["retail.order.created.v1"]
        assert [e.type for e in customers.handled] == ["retail.customer.updated.v1"]

    async def test_new_subscription_starts_at_the_end_unless_told(self, bus: EventBus) -> None:
        earlier = await bus.publish([order_event("o-1"), order_event("o-2")])
        from_end, from_start = Recorder(), Recorder()
        await bus.subscribe("from-end", ["*"], from_end)
        await bus.subscribe("from-start", ["*"], from_start, from_position=earlier[0] - 1)
        later = order_event("o-3")
        await bus.publish_one(later)
        await eventually(from_end.has(1), "the late subscription sees the new event")
        await eventually(from_start.has(3), "the early one sees all three")
        await eventually(self._idle(bus, "from-end"), "from-end is caught up")
        assert from_end.ids() == [later.id]

    async def test_bad_type_pattern_is_refused(self, bus: EventBus) -> None:
        with pytest.raises(BusError):
            await bus.subscribe("broken", ["retail.order.[a-z]"], Recorder())

    # ordering and parallelism

    async def test_order_per_key_holds_while_keys_run_in_parallel(self, bus: EventBus) -> None:
        recorder = Recorder(sleep=0.003)
        await bus.subscribe("fulfilment", ["retail.order.*"], recorder, concurrency=8)
        keys = [f"o-{k}" for k in range(8)]
        events = [order_event(key, step) for step in range(12) for key in keys]
        for start in range(0, len(events), 10):
            await bus.publish(events[start : start + 10])
        await eventually(recorder.has(len(events)), "every event is handled")
        for key in keys:
            steps = [e.data["step"] for e in recorder.handled if e.partitionkey == key]
            assert steps == list(range(12)), f"{key} handled out of order"
        assert recorder.most_in_flight > 1

    # duplicates

    async def test_same_id_published_twice_is_handled_once_per_subscription(
        self, bus: EventBus
    ) -> None:
        first, second = Recorder(), Recorder()
        await bus.subscribe("loyalty", ["retail.order.*"], first)
        await bus.subscribe("erp", ["retail.order.*"], second)
        event = order_event("o-1")
        original, again = await bus.publish([event, event])
        assert again == original, "a duplicate keeps the original position"
        assert await bus.publish_one(event) == original
        marker = order_event("o-2")
        await bus.publish_one(marker)
        await eventually(first.has(2), "loyalty handles the marker")
        await eventually(second.has(2), "erp handles the marker")
        # Two keys: handled once each, in no promised order relative to each other.
        assert sorted(first.ids()) == sorted([event.id, marker.id])
        assert sorted(second.ids()) == sorted([event.id, marker.id])

    async def test_republished_event_keeps_the_original(self, bus: EventBus) -> None:
        original = order_event("o-1", 1)
        changed = dataclasses.replace(original, data={**original.data, "step": 2})
        first = await bus.publish_one(original)
        assert await bus.publish_one(changed) == first
        recorder = Recorder()
        await bus.subscribe("audit", ["*"], recorder, from_position=first - 1)
        await eventually(recorder.has(1), "the original is delivered")
        await eventually(self._idle(bus, "audit"), "audit is caught up")
        assert [e.data["step"] for e in recorder.handled] == [1]
        assert [e.event.data["step"] for e in await bus.tail(after=first - 1)] == [1]

    # retries and dead letters

    async def test_failure_is_retried_with_backoff_until_it_succeeds(self, bus: EventBus) -> None:
        recorder = Recorder()
        event = order_event("o-1")
        recorder.fail_first[event.id] = 2
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=FAST_RETRY)
        await bus.publish_one(event)
        await eventually(recorder.has(1), "the event is handled after two failures")
        assert recorder.attempts[event.id] == 3
        assert await bus.held(Selection(subscription="erp")) == []

    async def test_dead_letter_after_last_attempt_keeps_payload_error_and_attempts(
        self, bus: EventBus
    ) -> None:
        recorder = Recorder()
        event = order_event("o-1", total="120.50")
        recorder.failing.add(event.id)
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=FAST_RETRY)
        position = await bus.publish_one(event)
        await eventually(self._dead_count(bus, "erp", 1), "the event is dead-lettered")
        letter = await bus.dead_letter("erp", position)
        assert letter.state is HoldState.DEAD
        assert letter.event == event
        assert letter.key == "o-1"
        assert letter.error == f"RuntimeError: downstream refused {event.id}"
        assert letter.stack is not None
        assert "Recorder.__call__" in letter.stack or "__call__" in letter.stack
        assert [a.outcome for a in letter.attempts] == [Outcome.FAILED] * 3
        assert all(a.error == letter.error for a in letter.attempts)
        times = [a.at for a in letter.attempts]
        assert times == sorted(times)
        assert recorder.attempts[event.id] == FAST_RETRY.max_attempts
        assert recorder.handled == []

    async def test_retry_one_dead_letter_by_position(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["*"], recorder, retry=FAST_RETRY)
        stuck = [order_event("o-1"), order_event("o-2")]
        recorder.failing.update(e.id for e in stuck)
        positions = await bus.publish(stuck)
        await eventually(self._dead_count(bus, "erp", 2), "both are dead")
        recorder.failing.clear()
        moved = await bus.retry(Selection(subscription="erp", position=positions[1]))
        assert [m.event.id for m in moved.events] == [stuck[1].id]
        await eventually(recorder.has(1), "the retried one is handled")
        assert recorder.ids() == [stuck[1].id]
        letter = await bus.dead_letter("erp", positions[0])
        assert letter.event == stuck[0]

    async def test_dead_letters_list_filters_by_subscription_type_and_key(
        self, bus: EventBus
    ) -> None:
        erp, crm = Recorder(), Recorder()
        order, customer = order_event("o-1"), customer_event("c-1")
        erp.failing.update({order.id, customer.id})
        crm.failing.add(customer.id)
        await bus.subscribe("erp", ["*"], erp, retry=FAST_RETRY)
        await bus.subscribe("crm", ["retail.customer.*"], crm, retry=FAST_RETRY)
        await bus.publish([order, customer])
        await eventually(self._dead_count(bus, "erp", 2), "erp dead-letters both")
        await eventually(self._dead_count(bus, "crm", 1), "crm dead-letters the customer")
        everything = await bus.dead_letters()
        assert len(everything) == 3
        of_erp = await bus.dead_letters(Selection(subscription="erp"))
        assert {d.event.id for d in of_erp} == {order.id, customer.id}
        customers = await bus.dead_letters(Selection(type="retail.customer.*"))
        assert {(d.subscription, d.event.id) for d in customers} == {
            ("erp", customer.id),
            ("crm", customer.id),
        }
        by_key = await bus.dead_letters(Selection(key="o-1"))
        assert [(d.subscription, d.event.id) for d in by_key] == [("erp", order.id)]

    async def test_dead_letter_lookup_errors_are_typed(self, bus: EventBus) -> None:
        await bus.subscribe("erp", ["*"], Recorder())
        with pytest.raises(NotHeld):
            await bus.dead_letter("erp", 12345)
        with pytest.raises(UnknownSubscription):
            await bus.dead_letters(Selection(subscription="nobody"))

    # parking

    async def test_later_events_of_a_failed_key_park_until_retry_succeeds(
        self, bus: EventBus
    ) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=FAST_RETRY)
        blocked = [order_event("o-1", step) for step in range(3)]
        recorder.failing.add(blocked[0].id)
        await bus.publish_one(blocked[0])
        await eventually(self._dead_count(bus, "erp", 1), "the first o-1 event is dead")
        other = order_event("o-2")
        await bus.publish([blocked[1], other, blocked[2]])
        await eventually(recorder.has(1), "o-2 flows past the blocked key")
        await eventually(self._parked_count(bus, "erp", 2), "later o-1 events are parked")
        parked = await bus.held(Selection(subscription="erp"), states=[HoldState.PARKED])
        assert [p.event.id for p in parked] == [blocked[1].id, blocked[2].id]
        assert recorder.ids() == [other.id]

        recorder.failing.clear()
        moved = await bus.retry(Selection(subscription="erp", key="o-1"))
        assert [m.event.id for m in moved.events] == [blocked[0].id]
        assert moved.parked_behind == 2
        await eventually(recorder.has(4), "the key drains in order after the retry")
        assert recorder.ids()[1:] == [e.id for e in blocked]
        assert await bus.held(Selection(subscription="erp")) == []

    async def test_event_awaiting_retry_parks_its_key(self, bus: EventBus) -> None:
        recorder = Recorder()
        slow_retry = RetryPolicy(
            max_attempts=5,
            initial_backoff=timedelta(milliseconds=200),
            max_backoff=timedelta(milliseconds=200),
            jitter=0.0,
        )
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=slow_retry)
        first, second = order_event("o-1", 0), order_event("o-1", 1)
        recorder.fail_first[first.id] = 1
        await bus.publish([first, second])
        await eventually(recorder.has(2), "both are handled once the retry succeeds")
        assert recorder.ids() == [first.id, second.id]

    async def test_skip_releases_the_parked_events(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=FAST_RETRY)
        first, second = order_event("o-1", 0), order_event("o-1", 1)
        recorder.failing.add(first.id)
        await bus.publish_one(first)
        await eventually(self._dead_count(bus, "erp", 1), "the first event is dead")
        await bus.publish_one(second)
        await eventually(self._parked_count(bus, "erp", 1), "the second event is parked")
        skipped = await bus.skip(Selection(subscription="erp", key="o-1"))
        assert [s.event.id for s in skipped.events] == [first.id]
        await eventually(recorder.has(1), "the parked event is handled after the skip")
        assert recorder.ids() == [second.id]
        assert await bus.held(Selection(subscription="erp")) == []
        await bus.publish_one(first)
        marker = order_event("o-9")
        await bus.publish_one(marker)
        await eventually(recorder.has(2), "the marker is handled")
        assert first.id not in recorder.ids(), "a skipped event id counts as done"

    async def test_dry_run_reports_without_moving(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["retail.order.*"], recorder, retry=FAST_RETRY)
        first, second = order_event("o-1", 0), order_event("o-1", 1)
        recorder.failing.add(first.id)
        await bus.publish_one(first)
        await eventually(self._dead_count(bus, "erp", 1), "the first event is dead")
        await bus.publish_one(second)
        await eventually(self._parked_count(bus, "erp", 1), "the second event is parked")
        recorder.failing.clear()
        for operation in (bus.retry, bus.skip):
            plan = await operation(Selection(subscription="erp"), dry_run=True)
            assert plan.dry_run
            assert [p.event.id for p in plan.events] == [first.id]
            assert plan.parked_behind == 1
        await asyncio.sleep(0.05)
        status = await bus.status("erp")
        assert (status.dead, status.parked) == (1, 1)
        assert recorder.handled == []

    async def test_bulk_retry_by_type_filter(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["*"], recorder, retry=FAST_RETRY)
        orders = [order_event(f"o-{i}") for i in range(3)]
        customers = [customer_event(f"c-{i}") for i in range(2)]
        recorder.failing.update(e.id for e in [*orders, *customers])
        await bus.publish([*orders, *customers])
        await eventually(self._dead_count(bus, "erp", 5), "all five are dead")
        recorder.failing.clear()
        moved = await bus.retry(Selection(type="retail.order.*"))
        assert {m.event.id for m in moved.events} == {e.id for e in orders}
        await eventually(recorder.has(3), "the orders are handled")
        assert set(recorder.ids()) == {e.id for e in orders}
        remaining = await bus.dead_letters(Selection(subscription="erp"))
        assert {d.event.id for d in remaining} == {e.id for e in customers}

    async def test_retry_and_skip_refuse_unknown_subscription(self, bus: EventBus) -> None:
        for operation in (bus.retry, bus.skip):
            with pytest.raises(UnknownSubscription):
                await operation(Selection(subscription="nobody"))

    # replay

    async def test_replay_from_position_redelivers_handled_events(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("search", ["retail.order.*"], recorder)
        events = [order_event(f"o-{i % 2}", i) for i in range(6)]
        positions = await bus.publish(events)
        await eventually(recorder.has(6), "all six are handled")
        plan = await bus.replay("search", from_position=positions[2], dry_run=True)
        assert plan.positions == tuple(positions[2:])
        assert len(recorder.handled) == 6
        plan = await bus.replay("search", from_position=positions[2])
        assert plan.positions == tuple(positions[2:])
        await eventually(recorder.has(10), "the replayed four are handled again")
        replayed = recorder.handled[6:]
        for key in ("o-0", "o-1"):
            steps = [e.data["step"] for e in replayed if e.partitionkey == key]
            assert steps == sorted(steps)
        assert sorted(e.id for e in replayed) == sorted(e.id for e in events[2:])

    async def test_replay_from_time(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("search", ["retail.order.*"], recorder)
        await bus.publish([order_event("o-1")])
        await eventually(recorder.has(1), "the first is handled")
        await asyncio.sleep(0.02)
        since = datetime.now(UTC)
        later = [order_event("o-2"), order_event("o-3")]
        await bus.publish(later)
        await eventually(recorder.has(3), "the later two are handled")
        plan = await bus.replay("search", since=since)
        assert len(plan.positions) == 2
        await eventually(recorder.has(5), "the later two are handled again")
        assert sorted(recorder.ids()[3:]) == sorted(e.id for e in later)

    async def test_replay_filtered_by_type_and_key(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("audit", ["*"], recorder)
        events = [order_event("o-1"), order_event("o-2"), customer_event("c-1")]
        positions = await bus.publish(events)
        await eventually(recorder.has(3), "all three are handled")
        by_type = await bus.replay(
            "audit", from_position=positions[0], types=["retail.customer.*"], dry_run=True
        )
        assert by_type.positions == (positions[2],)
        by_key = await bus.replay("audit", from_position=positions[0], key="o-2")
        assert by_key.positions == (positions[1],)
        await eventually(recorder.has(4), "o-2 is handled again")
        assert recorder.ids()[3] == events[1].id

    async def test_replay_refuses_unknown_subscription_and_positions_out_of_range(
        self, bus: EventBus
    ) -> None:
        await bus.subscribe("search", ["*"], Recorder())
        positions = await bus.publish([order_event("o-1")])
        with pytest.raises(UnknownSubscription):
            await bus.replay("nobody", from_position=positions[0])
        with pytest.raises(ReplayOutOfRange):
            await bus.replay("search", from_position=positions[0] + 1000)
        with pytest.raises(ReplayOutOfRange):
            await bus.replay("search", since=datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(BusError):
            await bus.replay("search")
        with pytest.raises(UnknownSubscription):
            await bus.status("nobody")

    # retention

    async def test_retention_keeps_what_a_subscription_has_not_handled(self, bus: EventBus) -> None:
        handled = Recorder()
        await bus.subscribe("fast", ["*"], handled)
        gate = asyncio.Event()

        async def stuck(event: CloudEvent, context: HandlerContext) -> None:
            await gate.wait()

        old = await bus.publish([order_event(f"o-{i}") for i in range(4)])
        await eventually(handled.has(4), "the fast subscription handles the first four")
        await bus.subscribe("slow", ["*"], stuck)
        newer = await bus.publish([order_event(f"n-{i}") for i in range(3)])
        await eventually(handled.has(7), "the fast subscription handles the newer three")
        report = await bus.apply_retention(
            RetentionPolicy(max_age=timedelta(0)), now=datetime.now(UTC) + timedelta(days=1)
        )
        assert report.deleted == 4
        assert report.oldest_position == newer[0]
        with pytest.raises(ReplayOutOfRange):
            await bus.replay("fast", from_position=old[0])
        remaining = [e.position for e in await bus.tail()]
        assert remaining == newer
        gate.set()

    async def test_retention_by_size_keeps_dead_letters(self, bus: EventBus) -> None:
        recorder = Recorder()
        await bus.subscribe("erp", ["*"], recorder, retry=FAST_RETRY)
        events = [order_event(f"o-{i}", note="x" * 500) for i in range(10)]
        recorder.failing.add(events[0].id)
        positions = await bus.publish(events)
        await eventually(recorder.has(9), "nine are handled")
        await eventually(self._dead_count(bus, "erp", 1), "the first is dead")
        report = await bus.apply_retention(RetentionPolicy(max_bytes=2000))
        remaining = [e.position for e in await bus.tail()]
        assert positions[0] in remaining, "a dead letter keeps its payload"
        assert positions[-1] in remaining
        assert report.deleted == len(positions) - len(remaining)
        assert 0 < report.deleted < 9
        letter = await bus.dead_letter("erp", positions[0])
        assert letter.event == events[0]

    # transactions: outbox and handler unit of work

    async def test_outbox_publishes_only_when_the_callers_transaction_commits(
        self, bus: EventBus
    ) -> None:
        await self.create_effects(bus)
        event = order_event("o-1")

        async def place_order_then_fail_payment() -> None:
            async with bus.transaction() as transaction:
                await self.record_effect(transaction, event.id, "order saved")
                await bus.publish([event], transaction=transaction)
                raise RuntimeError("payment declined")

        with pytest.raises(RuntimeError, match="payment declined"):
            await place_order_then_fail_payment()
        assert await bus.tail() == []
        assert await self.read_effects(bus) == []

        recorder = Recorder()
        await bus.subscribe("erp", ["*"], recorder)
        async with bus.transaction() as transaction:
            await self.record_effect(transaction, event.id, "order saved")
            await bus.publish([event], transaction=transaction)
        await eventually(recorder.has(1), "the committed event is delivered")
        assert await self.read_effects(bus) == [(event.id, "order saved")]

    async def test_handler_writes_commit_with_its_dedupe_record(self, bus: EventBus) -> None:
        await self.create_effects(bus)
        attempts: dict[str, int] = defaultdict(int)

        async def reserve_stock(event: CloudEvent, context: HandlerContext) -> None:
            attempts[event.id] += 1
            await self.record_effect(context.transaction, event.id, "reserved")
            if attempts[event.id] == 1:
                raise ConnectionError("warehouse timed out after the write")

        await bus.subscribe("inventory", ["retail.order.*"], reserve_stock, retry=FAST_RETRY)
        events = [order_event(f"o-{i}") for i in range(5)]
        await bus.publish(events)
        await eventually(self._caught_up(bus, "inventory"), "inventory is caught up")
        await eventually(
            lambda: all(attempts[e.id] == 2 for e in events), "every event is handled on retry"
        )
        await eventually(self._idle(bus, "inventory"), "nothing is held")
        effects = await self.read_effects(bus)
        assert sorted(effects) == sorted((e.id, "reserved") for e in events)
        await bus.publish(events[:2])
        marker = order_event("o-marker")
        await bus.publish_one(marker)
        await eventually(lambda: attempts[marker.id] == 2, "the marker is handled")
        assert len(await self.read_effects(bus)) == 6

    async def test_handler_publishes_follow_up_events_in_its_transaction(
        self, bus: EventBus
    ) -> None:
        follow_ups = Recorder()
        attempts: dict[str, int] = defaultdict(int)

        async def accept_order(event: CloudEvent, context: HandlerContext) -> None:
            attempts[event.id] += 1
            accepted = order_event(event.data["order_id"], kind="accepted")
            await bus.publish([accepted], transaction=context.transaction)
            if attempts[event.id] == 1:
                raise ConnectionError("ERP dropped the connection")

        await bus.subscribe(
            "acceptance", ["retail.order.created.v1"], accept_order, retry=FAST_RETRY
        )
        await bus.subscribe("notify", ["retail.order.accepted.v1"], follow_ups)
        await bus.publish_one(order_event("o-1"))
        await eventually(follow_ups.has(1), "the accepted event is delivered")
        await eventually(self._idle(bus, "acceptance"), "acceptance is done")
        await asyncio.sleep(0.05)
        assert len(follow_ups.handled) == 1, "the failed attempt's publish was rolled back"

    async def test_publishing_outside_the_handler_transaction_is_refused(
        self, bus: EventBus
    ) -> None:
        errors: list[Exception] = []

        async def careless(event: CloudEvent, context: HandlerContext) -> None:
            try:
                await bus.publish_one(order_event("o-2", kind="accepted"))
            except BusError as error:
                errors.append(error)

        await bus.subscribe("careless", ["retail.order.created.v1"], careless)
        await bus.publish_one(order_event("o-1"))
        await eventually(lambda: bool(errors), "the handler saw the refusal")
        assert "ctx.transaction" in str(errors[0]) or "transaction" in str(errors[0])

    async def test_after_commit_callbacks_run_once_handled(self, bus: EventBus) -> None:
        committed: list[str] = []

        async def note(event: CloudEvent, context: HandlerContext) -> None:
            context.after_commit(lambda: committed.append(event.id))

        await bus.subscribe("notes", ["*"], note)
        event = order_event("o-1")
        await bus.publish_one(event)
        await eventually(lambda: committed == [event.id], "the callback ran")

    async def test_stopped_subscription_lags_and_resumes_where_it_stopped(
        self, bus: EventBus
    ) -> None:
        first_run = Recorder()
        await bus.subscribe("erp", ["*"], first_run)
        await bus.subscribe("audit", ["*"], Recorder())
        await bus.publish_one(order_event("o-1"))
        await eventually(first_run.has(1), "erp handles the first event")
        await eventually(self._idle(bus, "erp"), "erp is caught up")
        await bus.unsubscribe("erp")
        missed = [order_event("o-2"), order_event("o-3")]
        await bus.publish(missed)
        await eventually(self._idle(bus, "audit"), "audit is caught up")
        statuses = await bus.subscriptions()
        assert [s.name for s in statuses] == ["audit", "erp"]
        assert statuses[1].lag == 2
        assert statuses[1].types == ("*",)
        second_run = Recorder()
        await bus.subscribe("erp", ["*"], second_run)
        await eventually(second_run.has(2), "erp catches up on what it missed")
        assert second_run.ids() == [e.id for e in missed]
        assert len(first_run.handled) == 1

    # durability across restarts

    async def test_subscription_resumes_from_its_cursor_after_restart(self) -> None:
        first_run = Recorder()
        bus = await self.make_bus()
        await bus.open()
        await bus.subscribe("erp", ["*"], first_run)
        early = [order_event(f"o-{i}") for i in range(3)]
        await bus.publish(early)
        await eventually(first_run.has(3), "the first run handles three")
        await bus.close()
        reopened = await self.reopen(bus)
        await reopened.open()
        try:
            await reopened.publish([order_event("o-late")])
            second_run = Recorder()
            await reopened.subscribe("erp", ["*"], second_run)
            await eventually(second_run.has(1), "the second run handles the late one")
            await asyncio.sleep(0.05)
            assert [e.data["order_id"] for e in second_run.handled] == ["o-late"]
        finally:
            await reopened.close()

    # helpers

    @staticmethod
    def _dead_count(bus: EventBus, name: str, count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return (await bus.status(name)).dead >= count

        return check

    @staticmethod
    def _parked_count(bus: EventBus, name: str, count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return (await bus.status(name)).parked >= count

        return check

    @staticmethod
    def _caught_up(bus: EventBus, name: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return (await bus.status(name)).lag == 0

        return check

    @staticmethod
    def _idle(bus: EventBus, name: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            status = await bus.status(name)
            return status.lag == 0 and status.retrying + status.dead + status.parked == 0

        return check
