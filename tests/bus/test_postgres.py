"""The bus contract on PostgreSQL, and what only PostgreSQL does: competing consumer processes,
LISTEN/NOTIFY wake-ups, and crash safety with real processes killed by SIGKILL.

The module works in its own throwaway database; each test gets a fresh schema in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from bus.consumer_postgres import EFFECT_TABLE
from bus.contract import FAST_RETRY, BusContract, Recorder, eventually, order_event
from bus.postgres_fixtures import new_schema, throwaway_database
from bus.test_crash_sqlite import batches_seen, finish, kill, start, wait_until
from retailhub.bus.port import (
    EventBus,
    Handler,
    HandlerContext,
    LoggedEvent,
    Selection,
    Transaction,
)
from retailhub.bus.postgres import PostgresBus
from retailhub.canonical.cloudevents import CloudEvent, new_event

ORDERS = 400


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database of this module's own on the test server, dropped afterwards."""
    yield from throwaway_database()


class TestPostgresBus(BusContract):
    """Every contract test against a fresh schema per test."""

    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url
        self.schema = new_schema()

    async def make_bus(self) -> EventBus:
        return self._bus(self.schema)

    async def reopen(self, bus: EventBus) -> EventBus:
        assert isinstance(bus, PostgresBus)
        assert bus.schema is not None
        return self._bus(bus.schema)

    def _bus(self, schema: str) -> PostgresBus:
        """One lane per subscription over every partition, as SQLite's single worker runs.

        Several contract tests read the order of events of different keys, which only one
        lane keeps; several lanes and processes are proven by the tests after this class.
        """
        return PostgresBus(
            self.url,
            schema=schema,
            poll_interval=0.02,
            lanes=1,
            pool_size=8,
        )

    async def create_effects(self, bus: EventBus) -> None:
        async with bus.transaction() as transaction:
            await transaction.execute(
                "CREATE TABLE IF NOT EXISTS effect "
                "(id bigserial PRIMARY KEY, event_id text NOT NULL, note text NOT NULL)"
            )

    async def record_effect(self, transaction: Transaction, event_id: str, note: str) -> None:
        await transaction.execute(
            "INSERT INTO effect (event_id, note) VALUES ($1, $2)", (event_id, note)
        )

    async def read_effects(self, bus: EventBus) -> list[tuple[str, str]]:
        async with bus.transaction() as transaction:
            rows = await transaction.fetch_all("SELECT event_id, note FROM effect ORDER BY id")
        return [(str(r[0]), str(r[1])) for r in rows]


@pytest.fixture
async def schema(postgres_url: str) -> AsyncIterator[str]:
    """A fresh schema holding the bus tables and the effect table, dropped afterwards."""
    name = new_schema()
    bus = PostgresBus(postgres_url, schema=name, pool_size=2)
    async with bus, bus.transaction() as transaction:
        await transaction.execute(EFFECT_TABLE)
    yield name
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


def keyed_orders(count: int, keys: int) -> list[CloudEvent]:
    """`count` order events over `keys` ordering keys, numbered in publishing order."""
    return [
        new_event(
            "retail.order.created.v1",
            "/channels/web",
            {"n": n},
            subject=f"ORD-{n}",
            partitionkey=f"CUST-{n % keys}",
        )
        for n in range(count)
    ]


async def publish_orders(url: str, schema: str, count: int = ORDERS, keys: int = 40) -> set[str]:
    """Publish `count` keyed orders in batches of 50; return their ids."""
    events = keyed_orders(count, keys)
    async with PostgresBus(url, schema=schema, pool_size=2) as bus:
        for index in range(0, count, 50):
            await bus.publish(events[index : index + 50])
    return {e.id for e in events}


async def effect_rows(url: str, schema: str) -> list[tuple[str, str, int, int]]:
    """Committed effects as (event id, key, step, pid), in the order they were written."""
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        rows = await connection.fetch("SELECT event_id, key, step, pid FROM effect ORDER BY id")
    finally:
        await connection.close()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def assert_exactly_once_in_order(
    rows: list[tuple[str, str, int, int]], published: set[str]
) -> None:
    """Every event applied once, and each key's events applied in publishing order."""
    applied = Counter(row[0] for row in rows)
    twice = [event_id for event_id, count in applied.items() if count > 1]
    assert not twice, f"{len(twice)} events applied more than once"
    assert set(applied) == published, f"{len(published - set(applied))} events never applied"
    steps: dict[str, list[int]] = defaultdict(list)
    for _event_id, key, step, _pid in rows:
        steps[key].append(step)
    for key, seen in steps.items():
        assert seen == sorted(seen), f"{key} applied out of order"


async def test_two_processes_share_a_subscription_without_doubles_or_reordering(
    postgres_url: str, schema: str, tmp_path: Path
) -> None:
    ready = [tmp_path / "first-ready", tmp_path / "second-ready"]
    workers = [
        start("consumer_postgres.py", postgres_url, schema, ORDERS, "--ready", r, "--members", 2)
        for r in ready
    ]
    for worker, marker in zip(workers, ready, strict=True):
        await wait_until(marker.exists, "the consumer has subscribed", worker)
    published = await publish_orders(postgres_url, schema)
    for worker in workers:
        finish(worker)
    rows = await effect_rows(postgres_url, schema)
    assert_exactly_once_in_order(rows, published)
    by_process = Counter(row[3] for row in rows)
    assert len(by_process) == 2, f"both processes should take a share, got {dict(by_process)}"


async def test_two_buses_in_one_process_compete_on_one_subscription(
    postgres_url: str, schema: str
) -> None:
    events = keyed_orders(200, 20)
    handled: list[tuple[str, int, str]] = []

    def fulfil_for(label: str) -> Handler:
        async def fulfil(event: CloudEvent, context: HandlerContext) -> None:
            await asyncio.sleep(0.001)
            context.after_commit(
                lambda: handled.append((str(event.partitionkey), event.data["n"], label))
            )

        return fulfil

    buses = [
        PostgresBus(postgres_url, schema=schema, poll_interval=0.02, lanes=2, pool_size=6)
        for _ in range(2)
    ]
    try:
        for label, bus in zip("ab", buses, strict=True):
            await bus.open()
            await bus.subscribe("fulfilment", ["retail.order.*"], fulfil_for(label))
        for index in range(0, len(events), 25):
            await buses[index % 2].publish(events[index : index + 25])
        await eventually(lambda: len(handled) >= len(events), "every event is handled")
        await eventually(BusContract._idle(buses[0], "fulfilment"), "the subscription is idle")
    finally:
        for bus in buses:
            await bus.close()
    assert sorted(n for _key, n, _label in handled) == list(range(len(events)))
    steps: dict[str, list[int]] = defaultdict(list)
    for key, n, _label in handled:
        steps[key].append(n)
    assert all(seen == sorted(seen) for seen in steps.values())


async def test_concurrent_publishers_share_commits_but_keep_each_batch_whole(
    postgres_url: str, schema: str
) -> None:
    batches = [keyed_orders(20, 5) for _ in range(12)]
    async with PostgresBus(postgres_url, schema=schema, pool_size=4) as bus:
        results = await asyncio.gather(*(bus.publish(batch) for batch in batches))
        logged = await bus.tail(limit=1000)
    for positions in results:
        assert positions == list(range(positions[0], positions[0] + 20)), "a batch is contiguous"
    assert len({p for positions in results for p in positions}) == 240
    by_position = {entry.position: entry.event.id for entry in logged}
    for batch, positions in zip(batches, results, strict=True):
        assert [by_position[p] for p in positions] == [e.id for e in batch]


async def test_bulk_retry_does_not_wait_for_other_subscriptions_batches(
    postgres_url: str, schema: str
) -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def stuck(event: CloudEvent, context: HandlerContext) -> None:
        entered.set()
        await gate.wait()

    refusing = Recorder()
    event = order_event("o-1")
    refusing.failing.add(event.id)
    bus = PostgresBus(postgres_url, schema=schema, poll_interval=0.02)
    async with bus:
        await bus.subscribe("erp", ["*"], refusing, retry=FAST_RETRY)
        await bus.subscribe("slow", ["*"], stuck)
        await bus.publish_one(event)
        await eventually(BusContract._dead_count(bus, "erp", 1), "erp dead-letters the order")
        await asyncio.wait_for(entered.wait(), timeout=10)
        refusing.failing.clear()
        moved = await asyncio.wait_for(bus.retry(Selection(type="retail.order.*")), timeout=5)
        assert [m.event.id for m in moved.events] == [event.id]
        await eventually(refusing.has(1), "the retried order is handled")
        gate.set()


async def test_notify_wakes_a_consumer_that_would_otherwise_sleep(
    postgres_url: str, schema: str
) -> None:
    recorder = Recorder()
    sleepy = PostgresBus(postgres_url, schema=schema, poll_interval=3600.0)
    elsewhere = PostgresBus(postgres_url, schema=schema, pool_size=2)
    async with sleepy, elsewhere:
        await sleepy.subscribe("loyalty", ["retail.order.*"], recorder)
        await asyncio.sleep(0.2)
        await elsewhere.publish_one(order_event("o-1"))
        await eventually(recorder.has(1), "the notification wakes the sleeping consumer")


async def test_lost_listener_reconnects_and_wakes_again(postgres_url: str, schema: str) -> None:
    recorder = Recorder()
    sleepy = PostgresBus(postgres_url, schema=schema, poll_interval=3600.0)
    elsewhere = PostgresBus(postgres_url, schema=schema, pool_size=2)
    async with sleepy, elsewhere:
        await sleepy.subscribe("loyalty", ["retail.order.*"], recorder)
        async with elsewhere.transaction() as transaction:
            killed = await transaction.fetch_all(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND query LIKE $1",
                (f"%{schema}%",),
            )
        assert killed == [(True,), (True,)], "each bus listens on one connection"
        for attempt in range(100):
            await elsewhere.publish_one(order_event(f"o-{attempt}"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until(recorder.has(1)), timeout=0.2)
            if recorder.handled:
                break
        assert recorder.handled, "a notification wakes the consumer once it listens again"


async def _until(condition: Callable[[], bool]) -> None:
    """Return once `condition` holds (callers bound the wait)."""
    while not condition():
        await asyncio.sleep(0.01)


async def test_consumer_killed_inside_a_batch_handles_every_event_once(
    postgres_url: str, schema: str, tmp_path: Path
) -> None:
    marker = tmp_path / "stalled"
    published = await publish_orders(postgres_url, schema)
    stalled = start(
        "consumer_postgres.py",
        postgres_url,
        schema,
        ORDERS,
        "--stall-at",
        ORDERS // 2,
        "--marker",
        marker,
    )
    await wait_until(marker.exists, "the consumer stalls inside a batch", stalled)
    kill(stalled)
    survived = await effect_rows(postgres_url, schema)
    assert len(survived) < ORDERS, "the kill must land before the end"
    stalled_step = ORDERS // 2
    assert stalled_step not in {row[2] for row in survived}, "the killed batch left its write"
    finish(start("consumer_postgres.py", postgres_url, schema, ORDERS))
    assert_exactly_once_in_order(await effect_rows(postgres_url, schema), published)


async def test_consumer_killed_at_arbitrary_moments(postgres_url: str, schema: str) -> None:
    published = await publish_orders(postgres_url, schema)
    for share in (0.4,):
        worker = start("consumer_postgres.py", postgres_url, schema, ORDERS)
        for _ in range(3000):
            applied = len(await effect_rows(postgres_url, schema))
            if applied >= ORDERS * share or worker.poll() is not None:
                break
            await asyncio.sleep(0.01)
        kill(worker)
    finish(start("consumer_postgres.py", postgres_url, schema, ORDERS))
    assert_exactly_once_in_order(await effect_rows(postgres_url, schema), published)


async def read_log(url: str, schema: str) -> list[LoggedEvent]:
    """Every event the log shows, oldest first."""
    logged: list[LoggedEvent] = []
    async with PostgresBus(url, schema=schema, pool_size=2) as bus:
        for _ in range(10_000):
            page = await bus.tail(after=logged[-1].position if logged else 0, limit=1000)
            if not page:
                break
            logged.extend(page)
    return logged


async def test_publisher_killed_inside_a_transaction_leaves_no_partial_batch(
    postgres_url: str, schema: str, tmp_path: Path
) -> None:
    marker = tmp_path / "progress"
    publisher = start("publisher_postgres.py", postgres_url, schema, 200, marker, "only", 3)
    await wait_until(
        lambda: marker.exists() and marker.read_text() == "stalled",
        "the publisher holds batch 3 uncommitted",
        publisher,
    )
    kill(publisher)
    seen = batches_seen(await read_log(postgres_url, schema))
    assert seen == {"only-0": 200, "only-1": 200, "only-2": 200}


async def test_publisher_killed_at_arbitrary_moments_never_shows_part_of_a_batch(
    postgres_url: str, schema: str, tmp_path: Path
) -> None:
    marker = tmp_path / "progress"
    for round_number in range(2):
        publisher = start("publisher_postgres.py", postgres_url, schema, 500, marker, round_number)
        await wait_until(
            lambda: (
                marker.exists() and marker.read_text().isdigit() and int(marker.read_text()) >= 2
            ),
            f"round {round_number} commits a few batches",
            publisher,
        )
        kill(publisher)
        marker.unlink()
    seen = batches_seen(await read_log(postgres_url, schema))
    assert {label.split("-")[0] for label in seen} == {"0", "1"}
    assert set(seen.values()) == {500}, f"partial batches visible: {seen}"
