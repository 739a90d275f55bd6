"""`retailhub demo`: a retailer's trading day played through the hub and the sandbox estate."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from retailhub.demo.run import play_day_live, summary_table
from retailhub.demo.sandbox_process import SandboxFailedToStart
from retailhub.observability.logging import configure_logging

DEFAULT_HOME = Path(".retailhub/demo")


def demo(
    minutes: float = typer.Option(
        3.0, "--minutes", min=0.5, max=120.0, help="Real minutes the trading day lasts."
    ),
    home: Path = typer.Option(
        DEFAULT_HOME,
        "--home",
        help="Folder for the day's state (replaced at each run, kept after).",
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the sandbox estate and its shoppers."),
    orders_per_minute: float = typer.Option(
        120.0,
        "--orders-per-minute",
        min=1.0,
        max=20000.0,
        help="Pace of shoppers at the tills and online.",
    ),
) -> None:
    """Start the sandbox estate and the hub on the embedded default, play a trading day (store
    and web orders, the bonus-points campaign, a loyalty and an ERP outage at mid-day) with live
    progress, and end with the day's summary. The state, and the hub's log (hub.log), stay in
    --home for inspection."""
    console = Console()
    log = home.resolve() / "hub.log"
    configure_logging(path=log)
    try:
        summary = play_day_live(
            home, minutes=minutes, seed=seed, orders_per_minute=orders_per_minute
        )
    except SandboxFailedToStart as error:
        typer.echo(f"error: the sandbox estate did not start: {error}", err=True)
        raise typer.Exit(1) from None
    console.print(summary_table(summary))
    console.print(f"Inspect the day: RETAILHUB_HOME={summary.home / 'hub'} retailhub events tail")
    if log.exists():
        console.print(f"The hub's log of the day: {log}")
    if not summary.caught_up:
        raise typer.Exit(1)
