"""`retailhub pos watch`: take till journals from a POS drop folder onto the bus."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer
from rich.console import Console

from retailhub.bootstrap import build_bus
from retailhub.config import ConfigError, load_settings
from retailhub.connectors.poslog.dropfolder import PoslogDropFolder

app = typer.Typer(help="The store POS estate: till journals in POSLog 6.0.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


async def _watch(folder: Path, interval: float, once: bool) -> int:
    """Run the drop folder until SIGINT/SIGTERM (or one scan with `once`); files taken in."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_bus(load_settings()) as bus:
        watcher = PoslogDropFolder(folder, bus, poll_interval_s=interval)
        if once:
            return len(await watcher.scan_once())
        return await watcher.run(stop)


@app.command()
def watch(
    folder: Path = typer.Argument(..., help="The folder tills export journals into."),
    interval: float = typer.Option(
        1.0, "--interval", min=0.01, max=60, help="Seconds between scans."
    ),
    once: bool = typer.Option(False, "--once", help="Scan once and exit."),
) -> None:
    """Publish every journal dropped in FOLDER to the bus, then move it to `processed/` (with a
    `.reason.txt` naming transactions that failed) or `rejected/`.

    Tills must write `<name>.tmp` and rename it to `<name>.xml` when complete. Journals sent
    again publish nothing new: event ids derive from the receipts."""
    if not folder.is_dir():
        console.print(f"[red]error:[/red] {folder} is not a folder")
        raise typer.Exit(2)
    try:
        taken = asyncio.run(_watch(folder, interval, once))
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"took in {taken} journal file(s) from {folder}")
