"""Crash safety of the NATS bus, proven with real processes killed by SIGKILL.

A consumer killed in the middle of a batch is restarted and every event ends up handled
exactly once in effect; a publisher killed in the middle of a batch (in its outbox commit or
halfway through relaying it to the stream) never lets a consumer see part of it. Every wait
is bounded in count and time.
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

from bus.test_nats import NatsStage, stage
from retailhub.bus.nats import NatsBus
from retailhub.bus.port import LoggedEvent
from retailhub.canonical.cloudevents import new_event

__all__ = ["stage"]

HERE = Path(__file__).parent
ORDERS = 400
LIMIT_SECONDS = 30.0


def start(stage: NatsStage, role: str, *arguments: object) -> subprocess.Popen[bytes]:
    """Start a crash process on the test's stream and state file."""
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "crash_nats.py"),
            role,
            stage.url,
            str(stage.state_path),
            stage.stream,
            stage.prefix,
            *map(str, arguments),
        ],
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
    """SIGKILL: no cleanup, no flush, no ack."""
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


def effects(state: Path) -> list[str]:
    """Committed effect rows (event ids), duplicates included."""
    try:
        with sqlite3.connect(state) as connection:
            return [r[0] for r in connection.execute("SELECT event_id FROM effect")]
    except sqlite3.OperationalError:
        return []


async def publish_orders(stage: NatsStage) -> set[str]:
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
    async with stage.bus() as bus:
        for index in range(0, ORDERS, 50):
            await bus.publish(events[index : index + 50])
    return {e.id for e in events}


def assert_handled_once_in_effect(state: Path, published: set[str]) -> None:
    """Every published event has exactly one committed effect: none missing, none twice."""
    applied = Counter(effects(state))
    twice = [event_id for event_id, count in applied.items() if count > 1]
    assert not twice, f"{len(twice)} events applied more than once"
    assert set(applied) == published, f"{len(published - set(applied))} events never applied"


async def test_consumer_killed_inside_a_batch_handles_every_event_once(stage: NatsStage) -> None:
    marker = stage.state_path.parent / "stalled"
    published = await publish_orders(stage)
    consumer = start(stage, "consume", ORDERS, ORDERS // 2, marker)
    await wait_until(marker.exists, "the consumer stalls inside a batch", consumer)
    committed_before = len(effects(stage.state_path))
    kill(consumer)
    assert 0 < committed_before < ORDERS, "the kill must land after some batches, before the end"
    assert len(effects(stage.state_path)) == committed_before, "the stalled batch left nothing"
    finish(start(stage, "consume", ORDERS))
    assert_handled_once_in_effect(stage.state_path, published)


async def test_consumer_killed_repeatedly_at_arbitrary_moments(stage: NatsStage) -> None:
    published = await publish_orders(stage)
    for share in (0.2, 0.45, 0.7):
        consumer = start(stage, "consume", ORDERS)
        await wait_until(
            lambda share=share: len(effects(stage.state_path)) >= ORDERS * share,  # type: ignore[misc]
            f"{share:.0%} of the orders are applied",
            consumer,
        )
        kill(consumer)
    finish(start(stage, "consume", ORDERS))
    assert_handled_once_in_effect(stage.state_path, published)


async def _no_relay(self: NatsBus) -> None:
    """Stand-in for the relay, so the test sees what a killed publisher left behind."""


async def visible_batches(bus: NatsBus) -> Counter[str]:
    """How many events of each batch a reader of the bus sees."""
    logged: list[LoggedEvent] = []
    for _ in range(10_000):
        page = await bus.tail(after=logged[-1].position if logged else 0, limit=1000)
        if not page:
            break
        logged.extend(page)
    return Counter(entry.event.data["batch"] for entry in logged)


def last_batch(marker: Path) -> int:
    """The last batch the publisher reported committed (-1 before the first); one read."""
    try:
        text = marker.read_text()
    except FileNotFoundError:
        return -1
    return int(text) if text.isdigit() else -1


def outbox_rows(state: Path) -> int:
    """Rows still waiting in the outbox."""
    with sqlite3.connect(state) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM bus_outbox").fetchone()[0])


async def test_publisher_killed_at_arbitrary_moments_never_shows_part_of_a_batch(
    stage: NatsStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = stage.state_path.parent / "progress"
    size = 300
    for round_number in range(3):
        publisher = start(stage, "publish", size, marker, round_number)
        await wait_until(
            lambda: last_batch(marker) >= 2,
            f"round {round_number} commits a few batches",
            publisher,
        )
        await asyncio.sleep(0.003 * round_number)
        kill(publisher)
        marker.unlink()

    real_relay = NatsBus._relay
    monkeypatch.setattr(NatsBus, "_relay", _no_relay)
    bus = stage.bus()
    await bus.open()
    try:
        visible = await visible_batches(bus)
        assert set(visible.values()) == {size}, f"partial batches visible: {visible}"
        assert {label.split("-")[0] for label in visible} == {"0", "1", "2"}
        monkeypatch.setattr(NatsBus, "_relay", real_relay)
        await bus._relay()
        assert outbox_rows(stage.state_path) == 0
        completed = await visible_batches(bus)
        assert set(completed.values()) == {size}, f"batches lost events: {completed}"
        assert set(visible) <= set(completed)
    finally:
        await bus.close()
