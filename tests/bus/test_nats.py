"""The bus contract on NATS JetStream (state in SQLite), plus what only a broker can get wrong.

Each test gets its own stream, subjects and state file, and deletes the stream at the end.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from bus.contract import BusContract, Recorder, customer_event, eventually, order_event
from retailhub.bus import nats as nats_bus
from retailhub.bus import nats_state
from retailhub.bus.nats import NatsBus, subject_filter
from retailhub.bus.port import EventBus, HandlerContext, MalformedEvent, Transaction
from retailhub.canonical.cloudevents import CloudEvent, new_event
from services import require_nats


class NatsStage:
    """A unique stream, subject prefix and state file for one test, removed afterwards."""

    def __init__(self, url: str, workdir: Path) -> None:
        suffix = secrets.token_hex(4)
        self.url = url
        self.state_path = workdir / "state.sqlite"
        self.stream = f"RHTEST_{suffix}"
        self.prefix = f"rhtest.{suffix}.events"

    def bus(self, **options: Any) -> NatsBus:
        settings: dict[str, Any] = {"fetch_wait": 0.02, "relay_interval": 0.05, **options}
        return NatsBus(
            self.url, self.state_path, stream=self.stream, subject_prefix=self.prefix, **settings
        )

    async def remove(self) -> None:
        connection = await nats.connect(self.url)
        try:
            await connection.jetstream().delete_stream(self.stream)
        except NotFoundError:
            pass
        finally:
            await connection.close()


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[NatsStage]:
    made = NatsStage(require_nats(), tmp_path)
    try:
        yield made
    finally:
        await made.remove()


class TestNatsBus(BusContract):
    """Every contract test against a fresh stream and state file per test."""

    @pytest.fixture(autouse=True)
    def _stage(self, stage: NatsStage) -> None:
        self.stage = stage

    async def make_bus(self) -> EventBus:
        return self.stage.bus()

    async def reopen(self, bus: EventBus) -> EventBus:
        return self.stage.bus()

    async def create_effects(self, bus: EventBus) -> None:
        async with bus.transaction() as transaction:
            await transaction.execute(
                "CREATE TABLE IF NOT EXISTS effect (event_id TEXT NOT NULL, note TEXT NOT NULL)"
            )

    async def record_effect(self, transaction: Transaction, event_id: str, note: str) -> None:
        await transaction.execute(
            "INSERT INTO effect (event_id, note) VALUES (?, ?)", (event_id, note)
        )

    async def read_effects(self, bus: EventBus) -> list[tuple[str, str]]:
        async with bus.transaction() as transaction:
            rows = await transaction.fetch_all("SELECT event_id, note FROM effect ORDER BY rowid")
        return [(str(r[0]), str(r[1])) for r in rows]


def test_type_patterns_map_to_subject_filters() -> None:
    assert subject_filter("p", ["retail.order.*"]) == "p.retail.order.>"
    assert subject_filter("p", ["retail.order.created.v1"]) == "p.retail.order.created.v1"
    assert subject_filter("p", ["*"]) == "p.>"
    assert subject_filter("p", []) == "p.>"
    assert subject_filter("p", ["retail.*.created.v1"]) == "p.>"
    assert subject_filter("p", ["retail.ord*"]) == "p.>"
    assert subject_filter("p", ["retail.order.*", "retail.customer.*"]) == "p.>"


async def _record_reservation(event: CloudEvent, context: HandlerContext) -> None:
    await context.transaction.execute(
        "INSERT INTO effect (event_id, note) VALUES (?, ?)", (event.id, "reserved")
    )


async def _effects(bus: NatsBus) -> Counter[str]:
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all("SELECT event_id FROM effect")
    return Counter(str(r[0]) for r in rows)


async def _create_effects(bus: NatsBus) -> None:
    async with bus.transaction() as transaction:
        await transaction.execute(
            "CREATE TABLE IF NOT EXISTS effect (event_id TEXT NOT NULL, note TEXT NOT NULL)"
        )


async def test_consumer_restarted_mid_stream_resumes_without_loss_or_double_effect(
    stage: NatsStage,
) -> None:
    events = [order_event(f"o-{i % 7}", i) for i in range(120)]
    first = stage.bus()
    await first.open()
    await _create_effects(first)
    handled_first = Recorder(sleep=0.002)

    async def reserve_then_note(event: CloudEvent, context: HandlerContext) -> None:
        await _record_reservation(event, context)
        await handled_first(event, context)

    await first.subscribe("inventory", ["retail.order.*"], reserve_then_note, concurrency=4)
    for start in range(0, len(events), 10):
        await first.publish(events[start : start + 10])
    await eventually(handled_first.has(30), "the first run handles part of the stream")
    await first.close()

    second = stage.bus()
    await second.open()
    try:
        await second.subscribe("inventory", ["retail.order.*"], _record_reservation)

        async def all_done() -> bool:
            return len(await _effects(second)) == len(events)

        await eventually(all_done, "the restarted consumer handles the rest")
        await eventually(_caught_up(second, "inventory"), "the cursor reaches the head")
        effects = await _effects(second)
        assert set(effects) == {e.id for e in events}
        assert set(effects.values()) == {1}, "no event took effect twice"
    finally:
        await second.close()


async def _lose_acks(messages: object, *, ack: bool) -> None:
    """Stand-in for acknowledging: the state commits, but no ack ever reaches JetStream."""


def _consumer_settled(
    bus: NatsBus, stage: NatsStage, deliveries: int
) -> Callable[[], Awaitable[bool]]:
    """True once JetStream delivered more often than `deliveries` and holds no unacked message."""

    async def check() -> bool:
        info = await bus._jetstream.consumer_info(
            stage.stream, nats_bus.consumer_name(stage.stream, "inventory")
        )
        redelivered = info.delivered is not None and info.delivered.consumer_seq > deliveries
        return redelivered and info.num_ack_pending == 0

    return check


async def test_redelivery_of_unacknowledged_events_is_deduplicated(
    stage: NatsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [order_event(f"o-{i}") for i in range(5)]
    bus = stage.bus(ack_wait=timedelta(seconds=1))
    await bus.open()
    try:
        await _create_effects(bus)
        recorder = Recorder()

        async def reserve(event: CloudEvent, context: HandlerContext) -> None:
            await _record_reservation(event, context)
            await recorder(event, context)

        monkeypatch.setattr(nats_bus, "_settle", _lose_acks)
        await bus.subscribe("inventory", ["retail.order.*"], reserve)
        await bus.publish(events)
        await eventually(recorder.has(5), "all five are handled, their acks lost")
        await eventually(_caught_up(bus, "inventory"), "the handled marks are committed")
        monkeypatch.undo()
        await eventually(
            _consumer_settled(bus, stage, len(events)), "JetStream redelivers, then gets acks"
        )
        assert recorder.ids() == [e.id for e in events], "no redelivered event is handled again"
        assert await _effects(bus) == Counter({e.id: 1 for e in events})
    finally:
        await bus.close()


async def test_restart_after_a_crash_before_the_ack_handles_nothing_twice(
    stage: NatsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [order_event(f"o-{i % 3}", i) for i in range(9)]
    crashed = stage.bus()
    await crashed.open()
    await _create_effects(crashed)
    monkeypatch.setattr(nats_bus, "_settle", _lose_acks)
    await crashed.subscribe("inventory", ["retail.order.*"], _record_reservation)
    await crashed.publish(events)

    async def all_recorded() -> bool:
        return len(await _effects(crashed)) == len(events)

    await eventually(all_recorded, "every effect commits before the crash")
    await crashed.close()
    monkeypatch.undo()

    restarted = stage.bus()
    await restarted.open()
    try:
        again = Recorder()
        await restarted.subscribe("inventory", ["retail.order.*"], again)
        late = order_event("o-1", 99)
        await restarted.publish_one(late)
        await eventually(again.has(1), "the event published after the restart is handled")
        await asyncio.sleep(0.1)
        assert again.ids() == [late.id], "nothing from before the crash is handled again"
        assert await _effects(restarted) == Counter({e.id: 1 for e in events})
    finally:
        await restarted.close()


async def test_a_batch_is_invisible_until_the_relay_has_published_all_of_it(
    stage: NatsStage,
) -> None:
    bus = stage.bus(relay_interval=3600.0)
    await bus.open()
    try:
        recorder = Recorder()
        await bus.subscribe("audit", ["*"], recorder)
        events = [order_event(f"o-{i}") for i in range(4)]
        async with bus.transaction() as transaction:
            assert await bus.publish(events, transaction=transaction) == [0] * 4
        await eventually(recorder.has(4), "the committed batch is delivered whole")
        assert recorder.ids() == [e.id for e in events]

        js = bus._jetstream
        half = [order_event(f"h-{i}") for i in range(4)]
        await bus._write(lambda c: nats_state.stage(c, "half-batch", bus._encode(half)))
        for event in half[:2]:
            headers = {
                nats_bus.BATCH_HEADER: "half-batch",
                "Nats-Msg-Id": nats_bus.message_id(event.id, event.source),
            }
            await js.publish(f"{stage.prefix}.{event.type}", event.to_json(), headers=headers)
        await asyncio.sleep(0.2)
        assert len(recorder.handled) == 4, "a partly relayed batch is held back"
        assert [e.event.id for e in await bus.tail(types=["retail.order.*"])] == [
            e.id for e in events
        ]
        await bus._relay()
        await eventually(recorder.has(8), "the batch is delivered once the relay finishes")
        assert recorder.ids()[4:] == [e.id for e in half]
    finally:
        await bus.close()


def _caught_up(bus: EventBus, name: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await bus.status(name)).lag == 0

    return check


async def test_a_new_state_database_starts_its_subscriptions_from_its_own_cursor(
    stage: NatsStage,
) -> None:
    events = [order_event(f"o-{i}") for i in range(3)]
    first = stage.bus()
    await first.open()
    try:
        handled = Recorder()
        await first.subscribe("search", ["retail.order.*"], handled, from_position=0)
        await first.publish(events)
        await eventually(handled.has(3), "the first state handles all three")
        await eventually(_caught_up(first, "search"), "and acknowledges them")
    finally:
        await first.close()
    stage.state_path = stage.state_path.with_name("rebuilt.sqlite")
    rebuilt = stage.bus()
    await rebuilt.open()
    try:
        again = Recorder()
        await rebuilt.subscribe("search", ["retail.order.*"], again, from_position=0)
        await eventually(again.has(3), "a rebuilt projection sees the stream from the start")
        assert again.ids() == [e.id for e in events]
    finally:
        await rebuilt.close()


async def test_patterns_a_subject_cannot_express_are_filtered_in_the_worker(
    stage: NatsStage,
) -> None:
    bus = stage.bus()
    await bus.open()
    try:
        several, inner = Recorder(), Recorder()
        await bus.subscribe("several", ["retail.order.created.v1", "retail.customer.*"], several)
        await bus.subscribe("inner", ["retail.*.created.v1"], inner)
        returned = new_event("retail.return.created.v1", "/pos", {"r": 1}, subject="r-1")
        accepted = order_event("o-1", kind="accepted")
        events = [order_event("o-1"), customer_event("c-1"), returned, accepted]
        await bus.publish(events)
        await eventually(several.has(2), "the order and the customer reach 'several'")
        await eventually(inner.has(2), "both created events reach 'inner'")
        await eventually(_caught_up(bus, "several"), "'several' passes the rest")
        await eventually(_caught_up(bus, "inner"), "'inner' passes the rest")
        assert several.ids() == [events[0].id, events[1].id]
        assert inner.ids() == [events[0].id, returned.id]
    finally:
        await bus.close()


async def test_a_type_that_cannot_be_a_subject_is_refused(stage: NatsStage) -> None:
    bus = stage.bus()
    await bus.open()
    try:
        spaced = new_event("retail.order created.v1", "/pos", {"n": 1})
        with pytest.raises(MalformedEvent) as refused:
            await bus.publish([order_event("o-1"), spaced])
        assert [fault.path for fault in refused.value.faults] == ["$[1].type"]
        assert await bus.tail() == []
    finally:
        await bus.close()


async def test_a_delivery_lost_on_its_way_to_the_worker_is_handled_in_order(
    stage: NatsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fetch = nats_bus._Worker._fetch
    dropped: list[int] = []

    async def fetch_losing_one(worker: nats_bus._Worker) -> list[Msg]:
        messages = await real_fetch(worker)
        if messages and not dropped:
            lost = min(messages, key=lambda m: m.metadata.sequence.stream)
            dropped.append(lost.metadata.sequence.stream)
            return [m for m in messages if m is not lost]
        return messages

    monkeypatch.setattr(nats_bus._Worker, "_fetch", fetch_losing_one)
    bus = stage.bus()
    await bus.open()
    try:
        recorder = Recorder()
        await bus.subscribe("fulfilment", ["retail.order.*"], recorder)
        events = [order_event("o-1", step) for step in range(4)]
        await bus.publish(events)
        await eventually(recorder.has(4), "all four are handled despite the lost delivery")
        await eventually(_caught_up(bus, "fulfilment"), "the cursor reaches the head")
        assert dropped, "a delivery was lost"
        assert recorder.ids() == [e.id for e in events]
    finally:
        await bus.close()
