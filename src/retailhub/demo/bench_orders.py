"""`retailhub bench orders`: order-to-cash end to end against the emulators over HTTP.

Orders from the sandbox's shoppers are published to the hub's bus as channels would (web
orders from Shopify, store orders from the tills) and are counted once all four systems hold
them: ERP sale order, stock, loyalty points and the CRM note. The emulators run in processes of
their own; the hub's and the emulators' CPU time are reported apart, since they share the cores.
"""

from __future__ import annotations

import asyncio
import cProfile
import resource
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retailhub.bootstrap import open_hub
from retailhub.canonical.catalogue import to_event
from retailhub.config import Settings
from retailhub.demo.sandbox_process import RunningSandbox, sandbox_processes
from retailhub.demo.shoppers import Shoppers
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.order_to_cash.status import SETTLED, SYSTEMS, TABLE
from retailhub.sandbox.runner import sandbox_status
from retailhub.sandbox.seed import build_estate

SETTLED_OUTCOMES = tuple(sorted(outcome.value for outcome in SETTLED))
POLL_S = 0.25


@dataclass(frozen=True)
class OrdersBenchmark:
    """What one run measured: settled orders per second, latency and where the CPU went."""

    orders: int
    settled: int
    seconds: float
    orders_per_s: float
    p50_ms: float
    p99_ms: float
    offered_rate: float
    hub_cpu_s: float
    hub_loop_cpu_s: float
    """Of `hub_cpu_s`, the event loop's thread (handlers, connectors, HTTP); the rest is the
    bus's SQLite threads and the workflow runtime."""
    emulators_cpu_s: float
    erp_moves_stock: bool
    calls_per_order: dict[str, float] = field(default_factory=dict)
    emulator_cpu_ms_per_order: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values, shares and CPU per order included."""
        figures = asdict(self)
        busy = self.hub_cpu_s + self.emulators_cpu_s
        figures["hub_cpu_share"] = round(self.hub_cpu_s / busy, 3) if busy else None
        figures["emulators_cpu_share"] = round(self.emulators_cpu_s / busy, 3) if busy else None
        settled = max(self.settled, 1)
        figures["hub_cpu_ms_per_order"] = round(self.hub_cpu_s * 1000 / settled, 2)
        figures["emulators_cpu_ms_per_order"] = round(self.emulators_cpu_s * 1000 / settled, 2)
        return figures


def _cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _requests_served(sandbox: RunningSandbox) -> dict[str, int]:
    """How many requests each emulator has served so far."""
    answers = await sandbox_status(sandbox.ports)
    return {
        system: int((answer or {}).get("requests_served", 0)) for system, answer in answers.items()
    }


async def measure_orders(
    workdir: Path,
    *,
    orders: int = 1000,
    rate: float = 0.0,
    seed: int = 42,
    deadline_s: float = 600,
    erp_moves_stock: bool = True,
    profile_dir: Path | None = None,
) -> OrdersBenchmark:
    """Publish `orders` orders (all at once, or `rate` per second, each published as it arrives
    without waiting for the one before, as many tills and webhooks do) and time each until
    settled in every system; gives up after `deadline_s` and reports what settled by then.

    With `erp_moves_stock` the ERP emulator delivers confirmed sale orders itself and the hub
    moves no stock (as with real Odoo and stocked goods); otherwise the hub adjusts each line.
    `profile_dir` receives a cProfile (thread CPU time) of the hub's event loop and of each
    emulator."""
    estate = await asyncio.to_thread(build_estate, seed)
    shoppers = Shoppers(estate, seed=seed)
    day = estate.campaign.valid_from.astimezone(UTC) + timedelta(days=2)
    batch = [shoppers.order(f"BENCH-{n:06d}", day) for n in range(orders)]
    events = [to_event(order, ORDER_CREATED, "/bench/orders") for order in batch]
    settings = Settings(home=workdir / "hub", bus="sqlite", database_url=None, nats_url=None)
    settings.home.mkdir(parents=True, exist_ok=True)
    profiler = None if profile_dir is None else cProfile.Profile(time.thread_time)
    async with (
        sandbox_processes(
            workdir / "sandbox",
            seed=seed,
            seeded_from=estate,
            deliver_on_confirm=erp_moves_stock,
            profile_dir=profile_dir,
        ) as sandbox,
        open_hub(settings, estate=sandbox.estate, stock=sandbox.stock) as hub,
    ):
        served = await _requests_served(sandbox)
        hub_cpu, emulators_cpu = _cpu_seconds(), sandbox.cpu_seconds()
        by_system = sandbox.cpu_by_system()
        loop_cpu = time.thread_time()
        if profiler is not None:
            profiler.enable()
        published: dict[str, float] = {}
        started = time.time()
        if rate <= 0:
            await hub.bus.publish(events)
            published = dict.fromkeys((o.order_id for o in batch), started)
        else:
            arrivals: list[asyncio.Task[int]] = []
            for n, event in enumerate(events):
                await asyncio.sleep(max(0.0, started + n / rate - time.time()))
                published[batch[n].order_id] = time.time()
                arrivals.append(asyncio.create_task(hub.bus.publish_one(event)))
            await asyncio.gather(*arrivals)
        done = await _wait_settled(hub.bus, orders, started + deadline_s)
        if profiler is not None and profile_dir is not None:
            profiler.disable()
            profiler.dump_stats(profile_dir / "hub.prof")
        hub_cpu, emulators_cpu = _cpu_seconds() - hub_cpu, sandbox.cpu_seconds() - emulators_cpu
        loop_cpu = time.thread_time() - loop_cpu
        after = await _requests_served(sandbox)
        by_system = {
            system: used - by_system.get(system, 0.0)
            for system, used in sandbox.cpu_by_system().items()
        }
    latencies = sorted(
        (settled_at - published[order_id]) * 1000 for order_id, settled_at in done.items()
    )
    last = max(done.values(), default=started)
    elapsed = max(last - started, 1e-9)
    per_order = max(len(done), 1)
    return OrdersBenchmark(
        orders=orders,
        settled=len(done),
        seconds=round(elapsed, 2),
        orders_per_s=round(len(done) / elapsed, 1),
        p50_ms=round(statistics.median(latencies), 1) if latencies else 0.0,
        p99_ms=round(_percentile(latencies, 0.99), 1) if latencies else 0.0,
        offered_rate=rate,
        hub_cpu_s=round(hub_cpu, 2),
        hub_loop_cpu_s=round(loop_cpu, 2),
        emulators_cpu_s=round(emulators_cpu, 2),
        erp_moves_stock=sandbox.stock.erp_moves_stock,
        calls_per_order={
            system: round((after[system] - served[system]) / per_order, 2)
            for system in sorted(after)
            if after[system] > served[system]
        },
        emulator_cpu_ms_per_order={
            system: round(used * 1000 / per_order, 2)
            for system, used in sorted(by_system.items())
            if used > 0 or after.get(system, 0) > served.get(system, 0)
        },
    )


async def _wait_settled(bus: Any, orders: int, give_up_at: float) -> dict[str, float]:
    """Poll the order-status projection until every order is settled in every system, the
    points note on the CRM included when the order earned points; returns each settled order's
    moment of its last system update (epoch seconds)."""
    marks = ", ".join("?" for _ in SETTLED_OUTCOMES)
    earned = "COALESCE(MAX(CASE WHEN system = 'loyalty' THEN points END), 0)"
    noted = "MAX(CASE WHEN system = 'crm' THEN (CASE WHEN outcome = 'done' THEN points END) END)"
    query = (
        f"SELECT order_id, MAX(updated_at) FROM {TABLE} WHERE outcome IN ({marks})"
        f" GROUP BY order_id HAVING COUNT(*) = {len(SYSTEMS)}"
        f" AND ({earned} = 0 OR MAX(CASE WHEN system = 'crm' THEN outcome END) != 'done'"
        f" OR {noted} = {earned})"
    )
    done: dict[str, float] = {}
    while len(done) < orders and time.time() < give_up_at:
        await asyncio.sleep(POLL_S)
        async with bus.transaction() as transaction:
            rows = await transaction.fetch_all(query, SETTLED_OUTCOMES)
        done = {order_id: datetime.fromisoformat(at).timestamp() for order_id, at in rows}
    return done


def _percentile(ordered: list[float], share: float) -> float:
    """The value below which `share` of the sorted values fall (nearest rank)."""
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]
