"""`retailhub bench orders`: order-to-cash end to end against the emulators over HTTP.

Orders from the sandbox's shoppers are published to the hub's bus as channels would (web
orders from Shopify, store orders from the tills) and are counted once all four systems hold
them: ERP sale order, stock, loyalty points and the CRM note. The emulators run in processes of
their own; the hub's and the emulators' CPU time are reported apart, since they share the cores.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retailhub.bootstrap import open_hub
from retailhub.canonical.catalogue import to_event
from retailhub.config import Settings
from retailhub.demo.sandbox_process import sandbox_processes
from retailhub.demo.shoppers import Shoppers
from retailhub.flows.order_to_cash import StockSettings
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.order_to_cash.status import SETTLED, SYSTEMS, TABLE
from retailhub.sandbox.seed import build_estate

SETTLED_OUTCOMES = tuple(sorted(outcome.value for outcome in SETTLED))
POLL_S = 0.1


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
    emulators_cpu_s: float

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values, shares of CPU included."""
        figures = asdict(self)
        busy = self.hub_cpu_s + self.emulators_cpu_s
        figures["hub_cpu_share"] = round(self.hub_cpu_s / busy, 3) if busy else None
        return figures


def _cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure_orders(
    workdir: Path, *, orders: int = 1000, rate: float = 0.0, seed: int = 42, deadline_s: float = 600
) -> OrdersBenchmark:
    """Publish `orders` orders (all at once, or `rate` per second) and time each until settled
    in every system; gives up after `deadline_s` and reports what settled by then."""
    estate = await asyncio.to_thread(build_estate, seed)
    shoppers = Shoppers(estate, seed=seed)
    day = estate.campaign.valid_from.astimezone(UTC) + timedelta(days=2)
    batch = [shoppers.order(f"BENCH-{n:06d}", day) for n in range(orders)]
    events = [to_event(order, ORDER_CREATED, "/bench/orders") for order in batch]
    settings = Settings(home=workdir / "hub", bus="sqlite", database_url=None, nats_url=None)
    settings.home.mkdir(parents=True, exist_ok=True)
    async with (
        sandbox_processes(workdir / "sandbox", seed=seed) as sandbox,
        open_hub(settings, estate=sandbox.estate, stock=StockSettings()) as hub,
    ):
        hub_cpu, emulators_cpu = _cpu_seconds(), sandbox.cpu_seconds()
        published: dict[str, float] = {}
        started = time.time()
        if rate <= 0:
            await hub.bus.publish(events)
            published = dict.fromkeys((o.order_id for o in batch), started)
        else:
            for n, event in enumerate(events):
                await asyncio.sleep(max(0.0, started + n / rate - time.time()))
                await hub.bus.publish_one(event)
                published[batch[n].order_id] = time.time()
        done = await _wait_settled(hub.bus, orders, started + deadline_s)
        hub_cpu, emulators_cpu = _cpu_seconds() - hub_cpu, sandbox.cpu_seconds() - emulators_cpu
    latencies = sorted(
        (settled_at - published[order_id]) * 1000 for order_id, settled_at in done.items()
    )
    last = max(done.values(), default=started)
    elapsed = max(last - started, 1e-9)
    return OrdersBenchmark(
        orders=orders,
        settled=len(done),
        seconds=round(elapsed, 2),
        orders_per_s=round(len(done) / elapsed, 1),
        p50_ms=round(statistics.median(latencies), 1) if latencies else 0.0,
        p99_ms=round(_percentile(latencies, 0.99), 1) if latencies else 0.0,
        offered_rate=rate,
        hub_cpu_s=round(hub_cpu, 1),
        emulators_cpu_s=round(emulators_cpu, 1),
    )


async def _wait_settled(bus: Any, orders: int, give_up_at: float) -> dict[str, float]:
    """Poll the order-status projection until every order is settled in every system; returns
    each settled order's moment of its last system update (epoch seconds)."""
    marks = ", ".join("?" for _ in SETTLED_OUTCOMES)
    query = (
        f"SELECT order_id, MAX(updated_at) FROM {TABLE} WHERE outcome IN ({marks})"
        f" GROUP BY order_id HAVING COUNT(*) = {len(SYSTEMS)}"
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
