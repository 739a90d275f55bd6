"""Measure checkout loyalty quotes: p50/p99 latency with the platform up, down (breaker open:
answered from the last-known balance) and slow (latency injected: the first requests wait out
the budget, then the breaker answers at once), against the Open Loyalty emulator on loopback.

    .venv/bin/python bench/checkout_quote.py [--quotes 500] [--members 50] [--budget 0.3]

Each quote is one till request: the desk's alias lookup, member lookup and quote side by side
at the platform, and the last-known balance written back to the hub's SQLite database.
Results are printed as JSON lines, one per mode, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.connectors.ports import BasketLine
from retailhub.estate import Secrets, parse_estate
from retailhub.flows.checkout import CheckoutDesk, CheckoutPolicy, MemberRef, open_checkout_desk
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import Estate, build_estate

STORE = "AMS01"


def estate_text(url: str) -> str:
    """The sandbox's Open Loyalty settings (0.5 s timeout, breaker after 3) at `url`."""
    return f"""
name = "checkout-bench"
[systems.openloyalty]
product = "openloyalty"
base_url = "{url}"
secrets = {{ api_token = "RETAILHUB_OPENLOYALTY_API_TOKEN" }}
options = {{ store_code = "DEFAULT" }}
resilience = {{ timeout_s = 0.5, max_attempts = 1, breaker_threshold = 3, breaker_reset_s = 5.0 }}
"""


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at `fraction` of the sorted samples (nearest rank), in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def quotes(
    desk: CheckoutDesk, estate: Estate, count: int, members: int
) -> tuple[list[float], int]:
    """Time `count` quotes of a two-line basket, round-robin over the first members; returns
    the durations in seconds and how many answers were degraded."""
    skus = sorted(estate.campaign.eligibility.skus or ())[:2]
    lines = [
        BasketLine(sku, Decimal(2), estate.price(sku, Channel.STORE).selling_price) for sku in skus
    ]
    cards = [c.card_number for c in estate.customers[:members]]
    durations, degraded = [], 0
    for n in range(count):
        started = time.perf_counter()
        answer = await desk.quote(
            MemberRef(card=cards[n % len(cards)]), lines, Channel.STORE, STORE
        )
        durations.append(time.perf_counter() - started)
        degraded += answer.degraded
    return durations, degraded


async def set_faults(url: str, faults: dict[str, Any] | None) -> None:
    """Inject faults on the emulator (None clears them)."""
    async with aiohttp.ClientSession() as session:
        if faults is None:
            await (await session.delete(f"{url}/_sandbox/faults")).release()
        else:
            await (await session.put(f"{url}/_sandbox/faults", json=faults)).release()


async def until_answering(desk: CheckoutDesk, estate: Estate) -> None:
    """Wait until the connector's own breaker has closed again after an outage."""
    member_id = estate.customers[0].account.member_id
    for _ in range(200):
        try:
            await desk.loyalty.find_member(member_id=member_id)
            return
        except Exception:
            await asyncio.sleep(0.1)
    raise RuntimeError("the emulator did not answer again after the outage")


def figures(mode: str, durations: list[float], degraded: int) -> dict[str, Any]:
    """One mode's line of results."""
    return {
        "mode": mode,
        "quotes": len(durations),
        "degraded": degraded,
        "p50_ms": round(percentile(durations, 0.50), 2),
        "p99_ms": round(percentile(durations, 0.99), 2),
        "max_ms": round(max(durations) * 1000, 2),
        "mean_ms": round(statistics.fmean(durations) * 1000, 2),
    }


async def main(count: int, members: int, budget: float) -> list[dict[str, Any]]:
    """Start the emulator, run the three modes and return their figures."""
    full = await asyncio.to_thread(build_estate, 42)
    estate = dataclasses.replace(full, customers=full.customers[: max(members, 100)])
    with tempfile.TemporaryDirectory(prefix="retailhub-checkout-bench-") as workdir:
        factories = {"openloyalty": load_emulators()["openloyalty"]}
        sandbox = Sandbox(factories, {"openloyalty": 0}, Path(workdir) / "estate")
        sandbox.emulators["openloyalty"].load(estate)
        url = (await sandbox.start())["openloyalty"]
        connectors = build_connectors(
            parse_estate(estate_text(url)), Secrets.from_environment(sandbox=True)
        )
        assert connectors.loyalty is not None
        policy = CheckoutPolicy(loyalty_budget_s=budget, breaker_reset_s=60.0)
        results = []
        try:
            async with SqliteBus(Path(workdir) / "hub.sqlite") as bus:
                desk = await open_checkout_desk(bus, connectors.loyalty, policy)
                await quotes(desk, estate, members, members)
                results.append(figures("normal", *await quotes(desk, estate, count, members)))
                await set_faults(url, {"down": True})
                results.append(figures("down", *await quotes(desk, estate, count, members)))
                await set_faults(url, None)
                await until_answering(desk, estate)
                slow = await open_checkout_desk(bus, connectors.loyalty, policy)
                await set_faults(url, {"latency_ms": 2000})
                results.append(figures("slow", *await quotes(slow, estate, count, members)))
                await set_faults(url, None)
        finally:
            await connectors.close()
            await sandbox.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=500, help="quotes per mode")
    parser.add_argument("--members", type=int, default=50, help="members quoted round-robin")
    parser.add_argument("--budget", type=float, default=0.3, help="latency budget, seconds")
    arguments = parser.parse_args()
    print(
        f"# load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for line in asyncio.run(main(arguments.quotes, arguments.members, arguments.budget)):
        print(orjson.dumps(line).decode())
