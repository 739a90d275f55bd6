"""Play the trading day: the sandbox estate in its own processes, the hub on the embedded default
in this one, the day's scenes, a live view while it runs and the summary at closing.

The hub's state stays in `home` afterwards (`RETAILHUB_HOME=<home>/hub retailhub events tail`,
`... dlq list`), with the emulators' state beside it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from retailhub.bootstrap import open_hub
from retailhub.config import Settings
from retailhub.demo.day import SCENES, DayClock, Stage, Tally, business_day_of
from retailhub.demo.figures import OrderFigures, order_figures
from retailhub.demo.sandbox_process import sandbox_processes
from retailhub.flows.order_to_cash import StockSettings
from retailhub.sandbox.seed import build_estate

REFRESH_S = 0.5
CATCH_UP_S = 90.0
"""How long after closing the hub may take to finish what the outages held back."""


@dataclass(frozen=True)
class DaySummary:
    """What a retailer reads at closing."""

    home: Path
    minutes: float
    orders: int
    store_orders: int
    web_orders: int
    figures: OrderFigures
    incidents: tuple[str, ...]
    caught_up: bool


async def play_day(
    home: Path,
    *,
    minutes: float = 3.0,
    seed: int = 42,
    orders_per_minute: float = 120.0,
    show: Callable[[Table | Group], None] | None = None,
) -> DaySummary:
    """Play one trading day of `minutes` real minutes and return its summary; `show` receives
    the live view every half second."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    estate = await asyncio.to_thread(build_estate, seed)
    settings = Settings(home=home / "hub", bus="sqlite", database_url=None, nats_url=None)
    settings.home.mkdir()
    async with (
        sandbox_processes(home / "sandbox", seed=seed) as sandbox,
        open_hub(settings, estate=sandbox.estate, stock=StockSettings()) as hub,
    ):
        clock = DayClock(time.monotonic(), minutes, business_day_of(estate))
        tally = Tally()
        stage = Stage(hub, sandbox, estate, clock, tally, orders_per_minute)
        scenes = [asyncio.create_task(scene(stage)) for scene in SCENES]
        try:
            while not all(task.done() for task in scenes):
                if show is not None:
                    show(live_view(stage, await order_figures(hub)))
                await asyncio.sleep(REFRESH_S)
            for task in scenes:
                task.result()
            caught_up = await _catch_up(stage, show)
        finally:
            for task in scenes:
                task.cancel()
        figures = await order_figures(hub)
    return DaySummary(
        home=home,
        minutes=minutes,
        orders=len(tally.orders),
        store_orders=tally.by_channel["store"],
        web_orders=tally.by_channel["web"],
        figures=figures,
        incidents=tuple(tally.incidents),
        caught_up=caught_up,
    )


async def _catch_up(stage: Stage, show: Callable[[Table | Group], None] | None) -> bool:
    """After closing, wait (bounded) until every order is settled in every system."""
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        figures = await order_figures(stage.hub)
        if show is not None:
            show(live_view(stage, figures, closing=True))
        if figures.fully_posted >= len(stage.tally.orders) and not figures.retrying:
            return True
        await asyncio.sleep(REFRESH_S)
    return False


def live_view(stage: Stage, figures: OrderFigures, *, closing: bool = False) -> Group:
    """The terminal view while the day runs: the clock, the orders in every system, incidents."""
    clock = stage.clock
    header = Table.grid(padding=(0, 2))
    state = "closed, catching up" if closing else f"{clock.shop_time():%H:%M}"
    down = ", ".join(sorted(stage.tally.outages_now)) or "none"
    header.add_row(
        f"[bold]{clock.business_day:%A %d %B}[/] {state}",
        ProgressBar(total=1.0, completed=clock.share(), width=40),
        f"systems down: [red]{down}[/]" if stage.tally.outages_now else "all systems up",
    )
    table = Table("", "orders", "ERP", "stock", "loyalty", "CRM", "retrying", "dead-lettered")
    table.add_row(
        "so far",
        str(len(stage.tally.orders)),
        *(str(figures.done.get(system, 0)) for system in ("erp", "stock", "loyalty", "crm")),
        str(figures.retrying),
        str(figures.dead),
    )
    incidents = Table.grid()
    for line in stage.tally.incidents[-6:]:
        incidents.add_row(line)
    return Group(header, table, incidents)


def summary_table(summary: DaySummary) -> Table:
    """The closing summary a retailer would recognise."""
    figures = summary.figures
    table = Table("", "", title="Trading day summary", show_header=False)
    table.add_row(
        "orders taken",
        f"{summary.orders} ({summary.store_orders} in store, {summary.web_orders} online)",
    )
    table.add_row("orders posted to ERP, stock, loyalty and CRM", str(figures.fully_posted))
    table.add_row("loyalty points issued", f"{figures.points_issued:,}")
    table.add_row("loyalty points reversed", f"{figures.points_reversed:,}")
    table.add_row("left retrying / dead-lettered", f"{figures.retrying} / {figures.dead}")
    table.add_row("incidents", "\n".join(summary.incidents) or "none")
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
