"""Play the trading day: the sandbox estate in its own processes, the hub on the embedded default
in this one (its flows, and its API on a loopback port for Shopify's webhooks), the day's
scenes, a live view while it runs and the summary at closing, reconciliation included.

The hub's state stays in `home` afterwards (`RETAILHUB_HOME=<home>/hub retailhub events tail`,
`... dlq list`, `... reconcile --date D`), with the emulators' state beside it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from retailhub.api.server import hub_services, serve_hub
from retailhub.bootstrap import Hub, open_hub
from retailhub.config import Settings
from retailhub.demo.day import SCENES, DayClock, Stage, Tally, business_day_of
from retailhub.demo.figures import (
    OrderFigures,
    ReturnFigures,
    order_figures,
    promotion_accuracy,
    return_figures,
)
from retailhub.demo.sandbox_process import free_ports, sandbox_processes
from retailhub.demo.web_shop import WebShop
from retailhub.estate import Secrets
from retailhub.sandbox.seed import build_estate

REFRESH_S = 0.5
CATCH_UP_S = 120.0
"""How long after closing the hub may take to finish what the outages held back."""


@dataclass(frozen=True)
class DaySummary:
    """What a retailer reads at closing."""

    home: Path
    minutes: float
    tally: Tally
    orders: OrderFigures
    returns: ReturnFigures
    promotion_accuracy: Decimal | None
    promotions_live: int
    discrepancies: tuple[str, ...]
    caught_up: bool


async def play_day(
    home: Path,
    *,
    minutes: float = 3.0,
    seed: int = 42,
    orders_per_minute: float = 120.0,
    show: Callable[[Group], None] | None = None,
) -> DaySummary:
    """Play one trading day of `minutes` real minutes and return its summary; `show` receives
    the live view every half second."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    estate = await asyncio.to_thread(build_estate, seed)
    settings = Settings(home=home / "hub", bus="sqlite", database_url=None, nats_url=None)
    settings.home.mkdir()
    secrets = Secrets.from_environment(sandbox=True)
    async with (
        sandbox_processes(
            home / "sandbox", seed=seed, seeded_from=estate, deliver_on_confirm=True
        ) as sandbox,
        open_hub(
            settings,
            estate=sandbox.estate,
            secrets=secrets,
            stock=sandbox.stock,
        ) as hub,
    ):
        (port,) = free_ports(1)
        stop, listening = asyncio.Event(), asyncio.Event()
        services = hub_services(hub, secrets, public_url=f"http://127.0.0.1:{port}")
        api = asyncio.create_task(serve_hub(hub, services, "127.0.0.1", port, stop, listening))
        web_shop = WebShop(
            sandbox.estate.systems["shopify"].base_url,
            secrets.get("shopify", sandbox.estate.systems["shopify"], "access_token"),
        )
        try:
            await asyncio.wait_for(listening.wait(), 30)
            await web_shop.connect_hub(f"http://127.0.0.1:{port}/hooks/shopify")
            clock = DayClock(time.monotonic(), minutes, business_day_of(estate))
            stage = Stage(hub, sandbox, estate, clock, Tally(), orders_per_minute, web_shop)
            caught_up = await _trade(stage, show)
            summary = await _summarise(stage, caught_up)
        finally:
            await web_shop.close()
            stop.set()
            await asyncio.gather(api, return_exceptions=True)
    return summary


async def _trade(stage: Stage, show: Callable[[Group], None] | None) -> bool:
    """Run the scenes to closing, then wait (bounded) for the hub to catch up."""
    scenes = [asyncio.create_task(scene(stage)) for scene in SCENES]
    try:
        while not all(task.done() for task in scenes):
            if show is not None:
                show(live_view(stage, await order_figures(stage.hub)))
            await asyncio.sleep(REFRESH_S)
        for task in scenes:
            task.result()
    finally:
        for task in scenes:
            task.cancel()
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        figures = await order_figures(stage.hub)
        returns = await return_figures(stage.hub)
        if show is not None:
            show(live_view(stage, figures, closing=True))
        if (
            figures.fully_posted >= stage.tally.orders
            and not figures.retrying
            and returns.settled >= len(stage.tally.returns)
        ):
            return True
        await asyncio.sleep(REFRESH_S)
    return False


async def _summarise(stage: Stage, caught_up: bool) -> DaySummary:
    """Read the day's figures and reconcile the business day."""
    hub: Hub = stage.hub
    accuracy = await promotion_accuracy(hub)
    discrepancies: tuple[str, ...] = ()
    if hub.reconciliation is not None:
        report = await hub.reconciliation.run(stage.clock.business_day.date())
        discrepancies = tuple(f"{d.store} {d.key}: {d.summary}" for d in report.discrepancies)
    return DaySummary(
        home=hub.settings.home.parent,
        minutes=stage.clock.minutes,
        tally=stage.tally,
        orders=await order_figures(hub),
        returns=await return_figures(hub),
        promotion_accuracy=accuracy.accuracy if accuracy.promotions else None,
        promotions_live=len(accuracy.promotions),
        discrepancies=discrepancies,
        caught_up=caught_up,
    )


def live_view(stage: Stage, figures: OrderFigures, *, closing: bool = False) -> Group:
    """The terminal view while the day runs: the clock, the orders in every system, incidents."""
    clock, tally = stage.clock, stage.tally
    header = Table.grid(padding=(0, 2))
    state = "closed, catching up" if closing else f"{clock.shop_time():%H:%M}"
    down = ", ".join(sorted(tally.outages_now))
    header.add_row(
        f"[bold]{clock.business_day:%A %d %B}[/] {state}",
        ProgressBar(total=1.0, completed=clock.share(), width=40),
        f"systems down: [red]{down}[/]" if down else "all systems up",
    )
    table = Table("orders", "ERP", "stock", "loyalty", "CRM", "retrying", "dead", "returns")
    table.add_row(
        f"{tally.orders} ({tally.by_channel['store']} store, {tally.by_channel['web']} web)",
        *(str(figures.done.get(system, 0)) for system in ("erp", "stock", "loyalty", "crm")),
        str(figures.retrying),
        str(figures.dead),
        str(len(tally.returns)),
    )
    incidents = Table.grid()
    for line in tally.incidents[-6:]:
        incidents.add_row(line)
    return Group(header, table, incidents)


def summary_table(summary: DaySummary) -> Table:
    """The closing summary a retailer would recognise."""
    tally, orders, returns = summary.tally, summary.orders, summary.returns
    table = Table("", "", title="Trading day summary", show_header=False)
    table.add_row(
        "orders taken",
        f"{tally.orders} ({tally.by_channel['store']} in store, {tally.by_channel['web']} online)",
    )
    table.add_row("orders posted to ERP, stock, loyalty and CRM", str(orders.fully_posted))
    table.add_row("loyalty points issued", f"{orders.points_issued:,}")
    table.add_row(
        "returns refunded",
        f"{returns.count('refunded')} of {len(tally.returns)} brought back"
        + (f", {returns.count('refused')} refused" if returns.count("refused") else ""),
    )
    table.add_row(
        "loyalty points reversed", f"{returns.points_reversed + orders.points_reversed:,}"
    )
    accuracy = summary.promotion_accuracy
    table.add_row(
        "promotion accuracy",
        f"{accuracy}% over {summary.promotions_live} live promotion(s)"
        if accuracy is not None
        else "no live promotion",
    )
    edits = ", ".join(f"{n} on the {where}" for where, n in sorted(tally.profile_edits.items()))
    table.add_row("profile edits synchronised", edits or "none")
    table.add_row("left retrying / dead-lettered", f"{orders.retrying} / {orders.dead}")
    table.add_row("incidents", "\n".join(tally.incidents) or "none")
    table.add_row(
        "discrepancies found by reconciliation",
        "\n".join(summary.discrepancies) if summary.discrepancies else "none",
    )
    table.add_row("caught up after closing", "yes" if summary.caught_up else "NO")
    table.add_row("state kept in", str(summary.home))
    return table


def play_day_live(home: Path, *, minutes: float, seed: int, orders_per_minute: float) -> DaySummary:
    """Play the day with the live view in the terminal."""
    with Live(refresh_per_second=4, transient=False) as live:
        return asyncio.run(
            play_day(
                home,
                minutes=minutes,
                seed=seed,
                orders_per_minute=orders_per_minute,
                show=live.update,
            )
        )
