"""Crash safety of the SQLite bus, proven with real processes killed by SIGKILL.

A consumer killed in the middle of a batch is restarted and every event ends up handled
exactly once in effect; a publisher killed in the middle of a batch never leaves part of it
visible. Every wait is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from retailhub.bus.port import LoggedEvent
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import new_event

HERE = Path(__file__).parent
ORDERS = 600
LIMIT_SECONDS = 30.0


def start(script: str, *arguments: object) -> subprocess.Popen[bytes]:
    """Start one of the crash scripts beside this file under the same interpreter."""
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *map(str, arguments)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]
) -> None:
    """Poll until `condition`, failing if the process dies first or time runs out."""
    deadline = time.monotonic() + LIMIT_SECONDS
    for _ in range(int(LIMIT_SECONDS / 0.01)):
        if condition():
            return
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"process exited ({process.returncode}) before {what}:\n{stderr}")
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    process.kill()
    pytest.fail(f"timed out waiting until {what}")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no cleanup, no atexit, no flush."""
    process.kill()
    process.wait(timeout=LIMIT_SECONDS)


def finish(process: subprocess.Popen[bytes]) -> None:
    """Wait for a process that should finish by itself, and check it did so cleanly."""
    try:
        status = process.wait(timeout=LIMIT_SECONDS * 2)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the restarted consumer did not finish")
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert status == 0, stderr


def effects(database: Path) -> list[str]:
    """Committed effect rows (event ids), duplicates included."""
    with sqlite3.connect(database) as connection:
        try:
            return [r[0] for r in connection.execute("SELECT event_id FROM effect")]
        except sqlite3.OperationalError:
            return []


async def publish_orders(database: Path) -> set[str]:
    """Record ORDERS order events for the consumer to work through; return their ids."""
    events = [
        new_event(
            "retail.order.created.v1",
            "/channels/web",
            {"n": n},
            subject=f"ORD-{n}",
            partitionkey=f"ORD-{n % 40}",
        )
        for n in range(ORDERS)
    ]
    async with SqliteBus(database) as bus:
        for index in range(0, ORDERS, 50):
            await bus.publish(events[index : index + 50])
    return {e.id for e in events}


def assert_handled_once_in_effect(database: Path, published: set[str]) -> None:
    """Every published event has exactly one committed effect: none missing, none twice."""
    applied = Counter(effects(database))
    twice = [event_id for event_id, count in applied.items() if count > 1]
    assert not twice, f"{len(twice)} events applied more than once"
    assert set(applied) == published, f"{len(published - set(applied))} events never applied"


async def test_consumer_killed_inside_a_batch_handles_every_event_once(tmp_path: Path) -> None:
    database, marker = tmp_path / "bus.sqlite", tmp_path / "stalled"
    published = await publish_orders(database)
    consumer = start("crash_consumer.py", database, ORDERS, ORDERS // 2, marker)
    await wait_until(marker.exists, "the consumer stalls inside a batch", consumer)
    committed_before = len(effects(database))
    kill(consumer)
    assert 0 < committed_before < ORDERS, "the kill must land after some batches, before the end"
    assert len(effects(database)) == committed_before, "the stalled batch left nothing behind"
    finish(start("crash_consumer.py", database, ORDERS))
    assert_handled_once_in_effect(database, published)


async def test_consumer_killed_repeatedly_at_arbitrary_moments(tmp_path: Path) -> None:
    database = tmp_path / "bus.sqlite"
    published = await publish_orders(database)
    for share in (0.2, 0.45, 0.7):
        consumer = start("crash_consumer.py", database, ORDERS)
        await wait_until(
            lambda share=share: len(effects(database)) >= ORDERS * share,  # type: ignore[misc]
            f"{share:.0%} of the orders are applied",
            consumer,
        )
        kill(consumer)
    finish(start("crash_consumer.py", database, ORDERS))
    assert_handled_once_in_effect(database, published)


async def read_log(database: Path) -> list[LoggedEvent]:
    """Every event the log shows, oldest first."""
    logged: list[LoggedEvent] = []
    async with SqliteBus(database) as bus:
        for _ in range(10_000):
            page = await bus.tail(after=logged[-1].position if logged else 0, limit=1000)
            if not page:
                break
            logged.extend(page)
    return logged


def last_batch(marker: Path) -> int:
    """The last batch the publisher reported committed (-1 before the first); one read."""
    try:
        text = marker.read_text()
    except FileNotFoundError:
        return -1
    return int(text) if text.isdigit() else -1


def batches_seen(logged: list[LoggedEvent]) -> Counter[str]:
    """How many events of each published batch the log shows."""
    return Counter(entry.event.data["batch"] for entry in logged)


async def test_publisher_killed_inside_a_transaction_leaves_no_partial_batch(
    tmp_path: Path,
) -> None:
    database, marker = tmp_path / "bus.sqlite", tmp_path / "progress"
    publisher = start("crash_publisher.py", database, 200, marker, "only", 3)
    await wait_until(
        lambda: marker.exists() and marker.read_text() == "stalled",
        "the publisher holds batch 3 uncommitted",
        publisher,
    )
    kill(publisher)
    seen = batches_seen(await read_log(database))
    assert seen == {"only-0": 200, "only-1": 200, "only-2": 200}


async def test_publisher_killed_at_arbitrary_moments_never_shows_part_of_a_batch(
    tmp_path: Path,
) -> None:
    database, marker = tmp_path / "bus.sqlite", tmp_path / "progress"
    for round_number in range(3):
        publisher = start("crash_publisher.py", database, 500, marker, round_number)
        await wait_until(
            lambda: last_batch(marker) >= 2,
            f"round {round_number} commits a few batches",
            publisher,
        )
        kill(publisher)
        marker.unlink()
    seen = batches_seen(await read_log(database))
    assert {label.split("-")[0] for label in seen} == {"0", "1", "2"}
    assert set(seen.values()) == {500}, f"partial batches visible: {seen}"
