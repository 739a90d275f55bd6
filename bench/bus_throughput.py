"""Run the bus throughput benchmark several times and print each run and the medians.

    .venv/bin/python bench/bus_throughput.py --runs 5 --events 30000 [--rate 5000] [--profile]

With --profile, one more run is made under cProfile (the event loop's thread) while the CPU
time each SQLite connection thread spends per unit of work is tallied; both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from retailhub.bus import benchmark, sqlite_store
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent

FIGURES = (
    "published_per_s",
    "delivered_per_s",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "cpu_us_per_event",
    "loop_cpu_us_per_event",
)


async def one_run(
    orders: list[CloudEvent], publish_batch: int, publishers: int, rate: float | None
) -> dict[str, Any]:
    """One measurement on a fresh SQLite file, with the process CPU seconds it used."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory(prefix="retailhub-bench-") as workdir:
        async with SqliteBus(Path(workdir) / "bench.sqlite") as bus:
            figures = await benchmark.measure_throughput(
                bus,
                backend="sqlite",
                events=len(orders),
                orders=orders,
                publish_batch=publish_batch,
                publishers=publishers,
                rate=rate,
            )
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    figures["cpu_s"] = round(used, 2)
    return figures


def tally_sqlite_threads() -> dict[str, list[float]]:
    """Count CPU seconds spent on the SQLite threads, per unit of work, from now on."""
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    original = sqlite_store.SqliteConnection.run

    async def timed_run(self: sqlite_store.SqliteConnection, work: Callable[..., Any]) -> Any:
        name = _work_name(work)

        def measured(connection: Any) -> Any:
            start = time.thread_time()
            try:
                return work(connection)
            finally:
                entry = spent[f"{threading.current_thread().name[:17]} {name}"]
                entry[0] += 1
                entry[1] += time.thread_time() - start

        return await original(self, measured)

    sqlite_store.SqliteConnection.run = timed_run  # type: ignore[method-assign]
    return spent


def _work_name(work: Callable[..., Any]) -> str:
    """A readable name for a unit of work, looking through partials and transaction wrappers."""
    inner: Any = work
    for cell in getattr(work, "__closure__", None) or ():
        if callable(cell.cell_contents):
            inner = cell.cell_contents
    inner = getattr(inner, "func", inner)
    return str(getattr(inner, "__name__", "statement"))


def main() -> None:
    """Parse arguments, run, print JSON lines and a summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--publish-batch", type=int, default=100)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    orders = benchmark.order_events(args.events)
    runs = []
    for _ in range(args.runs):
        figures = asyncio.run(one_run(orders, args.publish_batch, args.publishers, args.rate))
        figures["load_1m"] = float(Path("/proc/loadavg").read_text().split()[0])
        print(orjson.dumps(figures).decode(), flush=True)
        runs.append(figures)
    medians = {name: statistics.median(r[name] for r in runs) for name in (*FIGURES, "cpu_s")}
    print("median", orjson.dumps(medians).decode())
    if args.profile:
        spent = tally_sqlite_threads()
        profiler = cProfile.Profile()
        profiler.enable()
        figures = asyncio.run(one_run(orders, args.publish_batch, args.publishers, args.rate))
        profiler.disable()
        print("profiled run", orjson.dumps(figures).decode())
        for name, (count, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
            print(f"  thread cpu {seconds:7.3f}s  {count:6d}x  {name}")
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(25)
        print(report.getvalue())


if __name__ == "__main__":
    main()
