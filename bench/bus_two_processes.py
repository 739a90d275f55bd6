"""The bus benchmark split over two processes on one SQLite file: publishers here, workers there.

    .venv/bin/python bench/bus_two_processes.py --events 30000 [--rate 10000]

Each process has its own GIL, which is what bounds the one-process figures (docs/benchmarks.md).
The worker process runs the same three light subscriptions and writes, per event, the
monotonic time its third handled mark committed; CLOCK_MONOTONIC is shared by the processes of
one machine, so latency is that time minus this process's publish time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from retailhub.bus.benchmark import order_events
from retailhub.bus.port import HandlerContext
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent

LIMIT_SECONDS = 300.0


async def run_workers(database: Path, expected: int, ready: Path, results: Path) -> None:
    """Run the three subscriptions until every event is handled by all three; save done times."""
    done: dict[str, float] = {}
    marks: Counter[str] = Counter()
    finished = asyncio.Event()

    def committed(event_id: str) -> None:
        marks[event_id] += 1
        if marks[event_id] == 3:
            done[event_id] = time.perf_counter()
            if len(done) == expected:
                finished.set()

    def handler(work: str) -> Any:
        async def handle(event: CloudEvent, context: HandlerContext) -> None:
            if work == "inventory":
                sum(line["quantity"] for line in event.data["lines"])
            context.after_commit(lambda: committed(event.id))

        return handle

    async with SqliteBus(database, poll_interval=0.002) as bus:
        for name in ("inventory", "loyalty", "analytics"):
            await bus.subscribe(name, ["retail.order.*"], handler(name), from_position=0)
        ready.write_text("ready")
        await asyncio.wait_for(finished.wait(), LIMIT_SECONDS)
    results.write_bytes(orjson.dumps(done))


async def publish(database: Path, events: list[CloudEvent], rate: float | None) -> dict[str, float]:
    """Publish from 4 concurrent tasks in batches of 100; return each event's publish time."""
    started: dict[str, float] = {}
    starts = iter(range(0, len(events), 100))
    async with SqliteBus(database) as bus:
        begin = time.perf_counter()

        async def publisher() -> None:
            for index in starts:
                if rate:
                    delay = begin + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                chunk = events[index : index + 100]
                now = time.perf_counter()
                for event in chunk:
                    started[event.id] = now
                await bus.publish(chunk)

        await asyncio.gather(*(publisher() for _ in range(4)))
    started["__published__"] = time.perf_counter()
    started["__begin__"] = begin
    return started


def main() -> None:
    """Start the worker process, publish, and print one JSON object of figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--worker", nargs=4, metavar=("DB", "N", "READY", "RESULTS"))
    args = parser.parse_args()
    if args.worker:
        database, expected, ready, results = args.worker
        asyncio.run(run_workers(Path(database), int(expected), Path(ready), Path(results)))
        return
    events = order_events(args.events)
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="retailhub-bench-") as workdir:
        database, ready, results = (Path(workdir) / n for n in ("bus.sqlite", "ready", "done"))
        asyncio.run(SqliteBus(database).open())
        worker = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(database),
                str(args.events),
                str(ready),
                str(results),
            ]
        )
        for _ in range(int(LIMIT_SECONDS * 10)):
            if ready.exists():
                break
            time.sleep(0.1)
        started = asyncio.run(publish(database, events, args.rate))
        worker.wait(timeout=LIMIT_SECONDS)
        done: dict[str, float] = orjson.loads(results.read_bytes())
    begin, published = started.pop("__begin__"), started.pop("__published__")
    latencies = sorted(done[i] - started[i] for i in started)
    print(
        orjson.dumps(
            {
                "backend": "sqlite, publishers and workers in two processes",
                "events": args.events,
                "rate_target": args.rate,
                "published_per_s": round(args.events / (published - begin)),
                "delivered_per_s": round(args.events / (max(done.values()) - begin)),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
                "load_1m": float(Path("/proc/loadavg").read_text().split()[0]),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
