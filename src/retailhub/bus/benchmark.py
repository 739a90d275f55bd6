"""Throughput benchmark: realistic ~2 KB order events through a bus to three light subscriptions.

Measures what the issue asks: events published per second, events fully handled by all three
subscriptions per second, and publish-to-handled latency (from the publish call to the commit
of the last subscription's handled mark).
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from retailhub.bus.port import EventBus, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent, new_event

_SKUS = [f"SKU-{n:05d}" for n in range(200)]
_CHANNELS = ("web", "app", "store", "marketplace")


def sample_order(number: int, rng: random.Random) -> dict[str, Any]:
    """A plausible canonical order: customer, addresses, lines with tax and discounts, tenders."""
    lines = []
    subtotal = Decimal("0.00")
    discount_total = Decimal("0.00")
    for index in range(4):
        quantity = rng.randint(1, 3)
        unit = Decimal(rng.randint(199, 9999)) / 100
        discount = (unit * quantity * Decimal("0.10")).quantize(Decimal("0.01")) if index else 0
        net = unit * quantity - Decimal(discount)
        subtotal += unit * quantity
        discount_total += Decimal(discount)
        sku = rng.choice(_SKUS)
        lines.append(
            {
                "line_id": f"{index + 1}",
                "sku": sku,
                "gtin": f"0{rng.randint(10**12, 10**13 - 1)}",
                "description": f"Organic cotton crew-neck t-shirt, colour {index}, size M",
                "quantity": quantity,
                "unit_price": {"amount": str(unit), "currency": "GBP"},
                "discounts": [
                    {"promotion_id": "PROMO-AUTUMN10", "amount": str(discount), "currency": "GBP"}
                ],
                "tax": {"rate": "0.20", "amount": str((net / 6).quantize(Decimal("0.01")))},
                "line_total": {"amount": str(net), "currency": "GBP"},
                "fulfilment": {"method": "ship", "location_id": "DC-MANCHESTER"},
            }
        )
    grand_total = subtotal - discount_total
    return {
        "order_id": f"ORD-{number:09d}",
        "channel": rng.choice(_CHANNELS),
        "store_id": f"STORE-{rng.randint(1, 120):03d}",
        "placed_at": "2026-11-27T10:15:00Z",
        "currency": "GBP",
        "customer": {
            "customer_id": f"CUST-{rng.randint(1, 10**6):07d}",
            "loyalty_id": f"LOY-{rng.randint(1, 10**6):07d}",
            "email": "sam.taylor@example.com",
        },
        "shipping_address": {
            "line1": "12 Market Street",
            "city": "Manchester",
            "postcode": "M1 1AA",
            "country": "GB",
        },
        "lines": lines,
        "tenders": [
            {
                "type": "card",
                "scheme": "visa",
                "last4": "4242",
                "auth_code": f"A{rng.randint(10**5, 10**6 - 1)}",
                "amount": {"amount": str(grand_total), "currency": "GBP"},
            }
        ],
        "totals": {
            "subtotal": {"amount": str(subtotal), "currency": "GBP"},
            "discount_total": {"amount": str(discount_total), "currency": "GBP"},
            "tax_total": {"amount": str((grand_total / 6).quantize(Decimal("0.01")))},
            "grand_total": {"amount": str(grand_total), "currency": "GBP"},
        },
    }


def order_events(count: int, seed: int = 7) -> list[CloudEvent]:
    """`count` order-created events, each keyed by its order id."""
    rng = random.Random(seed)
    events = []
    for number in range(count):
        order = sample_order(number, rng)
        events.append(
            new_event(
                "retail.order.created.v1",
                "/channels/web",
                order,
                subject=order["order_id"],
                partitionkey=order["order_id"],
            )
        )
    return events


@dataclass
class _Tally:
    """Publish times, completions per event and latencies, filled as subscriptions commit."""

    subscriptions: int
    started: dict[str, float] = field(default_factory=dict)
    completions: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def committed(self, event_id: str) -> None:
        """One subscription's handled mark for the event is durable."""
        self.completions[event_id] += 1
        if self.completions[event_id] == self.subscriptions:
            self.latencies.append(time.perf_counter() - self.started[event_id])
            if len(self.latencies) == self.expected:
                self.finished.set()


def _light_handlers(tally: _Tally) -> dict[str, Callable[..., Any]]:
    """Three light handlers as a hub would run them: stock, loyalty points and sales analytics."""
    reserved: Counter[str] = Counter()
    points: Counter[str] = Counter()
    sales: Counter[str] = Counter()

    async def reserve_stock(event: CloudEvent, context: HandlerContext) -> None:
        for line in event.data["lines"]:
            reserved[line["sku"]] += line["quantity"]
        context.after_commit(lambda: tally.committed(event.id))

    async def accrue_points(event: CloudEvent, context: HandlerContext) -> None:
        total = Decimal(event.data["totals"]["grand_total"]["amount"])
        points[event.data["customer"]["loyalty_id"]] += int(total)
        context.after_commit(lambda: tally.committed(event.id))

    async def record_sale(event: CloudEvent, context: HandlerContext) -> None:
        sales[event.data["channel"]] += 1
        context.after_commit(lambda: tally.committed(event.id))

    return {"inventory": reserve_stock, "loyalty": accrue_points, "analytics": record_sale}


async def measure_throughput(
    bus: EventBus,
    *,
    backend: str,
    events: int,
    publish_batch: int = 100,
    publishers: int = 4,
    rate: float | None = None,
    timeout: float | None = None,
    orders: Sequence[CloudEvent] | None = None,
) -> dict[str, Any]:
    """Publish `events` orders (paced to `rate`/s if given) and measure delivery to 3 subscriptions.

    `publishers` tasks publish concurrently, as a hub's API handlers and connectors do, each
    batch of `publish_batch` events in one call. `bus` must be open and empty. Returns one
    JSON-ready dict of figures; `orders` reuses events built beforehand. The pre-built events are frozen out of the garbage collector's
    sight while measuring: a hub does not hold N events in memory, and full collections over
    them would be charged to the bus.
    """
    batch = list(orders[:events]) if orders is not None else order_events(events)
    gc.collect()
    gc.freeze()
    try:
        return await _measure(bus, batch, backend, publish_batch, publishers, rate, timeout)
    finally:
        gc.unfreeze()


async def _measure(
    bus: EventBus,
    batch: list[CloudEvent],
    backend: str,
    publish_batch: int,
    publishers: int,
    rate: float | None,
    timeout: float | None,
) -> dict[str, Any]:
    """Publish the pre-built events and wait until all three subscriptions committed them."""
    events = len(batch)
    tally = _Tally(subscriptions=3, expected=events)
    for name, handler in _light_handlers(tally).items():
        await bus.subscribe(name, ["retail.order.*"], handler)
    payload_bytes = statistics.fmean(len(e.to_json()) for e in batch[:100]) if batch else 0.0
    starts = iter(range(0, events, publish_batch))
    cpu_begin, loop_cpu_begin = time.process_time(), time.thread_time()
    begin = time.perf_counter()

    async def publisher() -> None:
        for index in starts:
            chunk = batch[index : index + publish_batch]
            if rate:
                delay = begin + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            now = time.perf_counter()
            for event in chunk:
                tally.started[event.id] = now
            await bus.publish(chunk)

    await asyncio.gather(*(publisher() for _ in range(max(1, publishers))))
    published = time.perf_counter()
    limit = timeout if timeout is not None else max(60.0, events / 500)
    await asyncio.wait_for(tally.finished.wait(), limit)
    delivered = time.perf_counter()
    cpu, loop_cpu = time.process_time() - cpu_begin, time.thread_time() - loop_cpu_begin
    latencies = sorted(tally.latencies)
    return {
        "backend": backend,
        "events": events,
        "subscriptions": 3,
        "publish_batch": publish_batch,
        "publishers": publishers,
        "rate_target": rate,
        "event_bytes": round(payload_bytes),
        "published_per_s": round(events / (published - begin)),
        "delivered_per_s": round(events / (delivered - begin)),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else 0.0,
        "elapsed_s": round(delivered - begin, 3),
        "cpu_us_per_event": round(cpu / events * 1e6, 1),
        "loop_cpu_us_per_event": round(loop_cpu / events * 1e6, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
