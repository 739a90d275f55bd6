"""Caller transactions per second (as a webhook request makes one) on a busy SQLite bus.

    .venv/bin/python bench/bus_caller_transactions.py [--callers 16] [--seconds 5]

Each caller loops: open `bus.transaction()`, insert an inbox row, publish one event in it,
commit. Measured twice: on an idle bus, and while four subscriptions handle a stream of events
(20 every 50 ms), each handler waiting 5–15 ms as for an HTTP call and then writing a status
row. A batch holds the process's write lock from its first handler's write to its last
handler's return, so callers queue behind batches (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from retailhub.bus.port import HandlerContext
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent, new_event

LOAD_TYPE = "retail.bench.load.v1"


async def _handle_like_a_flow(event: CloudEvent, context: HandlerContext) -> None:
    """Wait as for a system's answer, then record the outcome in the handler's transaction."""
    await asyncio.sleep(0.005 + (hash(event.id) % 10) / 1000)
    await context.transaction.execute("INSERT OR REPLACE INTO bench_status VALUES (?)", (event.id,))


async def _feed(bus: SqliteBus, until: float) -> None:
    """Publish 20 events of 20 keys every 50 ms until `until`."""
    round_ = 0
    while time.monotonic() < until:
        await bus.publish(
            [
                new_event(
                    LOAD_TYPE,
                    "/bench/load",
                    {"n": round_},
                    id=f"{round_}-{key}",
                    partitionkey=f"key-{key}",
                )
                for key in range(20)
            ]
        )
        round_ += 1
        await asyncio.sleep(0.05)


async def _call(bus: SqliteBus, caller: int, until: float) -> int:
    """Take deliveries one transaction at a time until `until`; how many were taken."""
    taken = 0
    while time.monotonic() < until:
        async with bus.transaction() as transaction:
            await transaction.execute("INSERT INTO bench_inbox VALUES (?)", (f"{caller}-{taken}",))
            event = new_event("retail.bench.hook.v1", "/bench/hook", {}, id=f"{caller}-{taken}")
            await bus.publish([event], transaction=transaction)
        taken += 1
    return taken


async def measure(*, busy: bool, callers: int, seconds: float) -> float:
    """Caller transactions per second on a fresh bus, busy or idle."""
    with tempfile.TemporaryDirectory() as folder:
        bus = SqliteBus(Path(folder) / "bus.db")
        await bus.open()
        try:
            async with bus.transaction() as transaction:
                await transaction.execute("CREATE TABLE bench_inbox (id TEXT PRIMARY KEY)")
                await transaction.execute("CREATE TABLE bench_status (id TEXT PRIMARY KEY)")
            if busy:
                for n in range(4):
                    await bus.subscribe(
                        f"bench-{n}", [LOAD_TYPE], _handle_like_a_flow, concurrency=16
                    )
            until = time.monotonic() + seconds
            feeding = asyncio.create_task(_feed(bus, until)) if busy else None
            taken = await asyncio.gather(*(_call(bus, caller, until) for caller in range(callers)))
            if feeding is not None:
                await feeding
            return sum(taken) / seconds
        finally:
            await bus.close()


def main() -> None:
    """Print caller transactions/s idle and busy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    arguments = parser.parse_args()
    for busy in (False, True):
        rate = asyncio.run(measure(busy=busy, callers=arguments.callers, seconds=arguments.seconds))
        print(f"{'busy' if busy else 'idle'} bus, {arguments.callers} caller(s): {rate:,.0f}/s")


if __name__ == "__main__":
    main()
