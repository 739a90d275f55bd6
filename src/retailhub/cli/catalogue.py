"""`retailhub catalogue`: the bulk initial load of the item master, its resume, a capture
baseline, and where catalogue sync stands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from retailhub.bootstrap import build_bus, build_connectors, routed_erp
from retailhub.bus.port import BusError, EventBus
from retailhub.canonical.errors import InvalidDocument
from retailhub.config import ConfigError, load_settings
from retailhub.connectors.ports import ErpPort
from retailhub.estate import Secrets, load_estate
from retailhub.flows.catalogue import (
    CatalogueSettings,
    ErpChangeCapture,
    LoadProgress,
    LoadTargets,
    NothingToResume,
    catalogue_status,
    load_catalogue,
)
from retailhub.flows.catalogue.load import DEFAULT_BATCH, MAX_BATCH

T = TypeVar("T")
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    help="Product, stock and price sync: bulk load the item master, baseline, status.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class _Estate:
    """The bus and the systems catalogue sync talks to, opened for one command."""

    bus: EventBus
    erp: ErpPort
    targets: LoadTargets


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@asynccontextmanager
async def _open_estate() -> AsyncIterator[_Estate]:
    """The configured bus and the estate's ERP, commerce platform, POS and loyalty platform."""
    estate = load_estate()
    connectors = build_connectors(
        estate, Secrets.from_environment(sandbox=estate.name == "sandbox")
    )
    erp = routed_erp(estate, connectors.erps)
    try:
        commerce, pos, loyalty = connectors.commerce, connectors.pos, connectors.loyalty
        if commerce is None or pos is None or loyalty is None:
            roles = {"commerce": commerce, "pos": pos, "loyalty": loyalty}
            missing = ", ".join(role for role, port in roles.items() if port is None)
            raise ConfigError(f"the estate has no {missing} system to sync the catalogue to")
        targets = LoadTargets(commerce, pos, loyalty)
        async with build_bus(load_settings()) as bus:
            yield _Estate(bus, erp, targets)
    finally:
        if erp not in connectors.erps.values():
            await erp.close()
        await connectors.close()


def _run(work: Callable[[], Coroutine[Any, Any, T]], interrupted: str = "interrupted") -> T:
    """Run `work`; configuration, estate and bus errors exit with a message, Ctrl-C with 130
    after saying `interrupted`."""
    try:
        return asyncio.run(work())
    except (ConfigError, InvalidDocument) as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except BusError as error:
        raise _fail(str(error)) from None
    except KeyboardInterrupt:
        errors.print(interrupted)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _summary(progress: LoadProgress, skipped: int) -> dict[str, Any]:
    return {
        "state": progress.state.value,
        "batches": progress.batches,
        "items": progress.items,
        "skipped_as_loaded": skipped,
        "batch_size": progress.batch_size,
        "started_at": progress.started_at.isoformat(),
        "updated_at": progress.updated_at.isoformat(),
    }


@app.command()
def load(
    resume: bool = typer.Option(
        False, "--resume", help="Continue the last load from its checkpoint."
    ),
    batch: int = typer.Option(
        DEFAULT_BATCH,
        "--batch",
        min=1,
        max=MAX_BATCH,
        help="Items per batch (one checkpoint each); a resumed load keeps its own.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON, no bar."),
) -> None:
    """Load the ERP's whole item master into the web shop, the POS item file and the loyalty
    catalogue, with a checkpoint in the hub's DB after each batch.

    A load that stops (Ctrl-C, a kill, a system down) continues with --resume: completed
    batches are not sent again."""
    skipped = 0

    async def work() -> LoadProgress:
        nonlocal skipped
        async with _open_estate() as opened:
            bar = Progress(
                SpinnerColumn(),
                TextColumn("[bold]catalogue load"),
                BarColumn(),
                TextColumn("{task.completed} items, {task.fields[batches]} batches"),
                TextColumn("{task.fields[skipped]} already loaded"),
                TimeElapsedColumn(),
                console=errors,
                disable=as_json,
            )

            def shown(progress: LoadProgress, already: int) -> None:
                nonlocal skipped
                skipped = already
                bar.update(
                    task, completed=progress.items, batches=progress.batches, skipped=already
                )

            with bar:
                task = bar.add_task("load", total=None, batches=0, skipped=0)
                return await load_catalogue(
                    opened.bus,
                    opened.erp,
                    opened.targets,
                    batch_size=batch,
                    resume=resume,
                    on_progress=shown,
                )

    try:
        progress = _run(
            work,
            "interrupted: the checkpoint holds every completed batch; "
            "continue with `retailhub catalogue load --resume`",
        )
    except NothingToResume as error:
        raise _fail(str(error)) from None
    except typer.Exit:
        raise
    except Exception as error:
        raise _fail(
            f"the load stopped: {error}; completed batches are checkpointed, "
            "continue with `retailhub catalogue load --resume`"
        ) from None
    if as_json:
        out.print_json(orjson.dumps(_summary(progress, skipped)).decode())
    else:
        out.print(
            f"loaded {progress.items} items in {progress.batches} batches "
            f"({skipped} already loaded before this run)"
        )


@app.command()
def baseline() -> None:
    """Record the ERP's current items, stock and prices as already in every channel, so the
    poller publishes only later changes (for channels filled from the ERP, like the sandbox)."""

    async def work() -> dict[str, int]:
        async with _open_estate() as opened:
            report = await ErpChangeCapture(opened.bus, opened.erp).baseline()
            if report.errors:
                raise ConfigError(f"the ERP could not be read: {report.errors}")
            return report.read

    read = _run(work)
    out.print(", ".join(f"{count} {stream}" for stream, count in read.items()) + " recorded")


@app.command()
def poll(
    once: bool = typer.Option(False, "--once", help="Read the ERP once, then exit."),
    interval: float = typer.Option(
        5.0, "--interval", min=0.05, max=3600, help="Seconds between reads."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print each read's outcome as JSON."),
) -> None:
    """Capture the ERP's item, stock and price changes onto the bus: once, or every
    --interval seconds until Ctrl-C (a poller of its own, beside hubs that run the
    subscriptions). Exit 1 when a --once read failed."""

    async def work() -> bool:
        async with _open_estate() as opened:
            capture = ErpChangeCapture(
                opened.bus, opened.erp, CatalogueSettings(poll_interval_s=interval)
            )
            while True:
                report = await capture.poll_once()
                outcome = {"published": report.published, "errors": report.errors}
                if as_json:
                    out.print_json(orjson.dumps(outcome).decode())
                else:
                    published = ", ".join(f"{n} {s}" for s, n in report.published.items())
                    out.print(f"published {published}")
                    for stream, error in report.errors.items():
                        errors.print(f"[red]{stream}:[/red] {error}", highlight=False)
                if once:
                    return not report.errors
                await asyncio.sleep(interval)

    if not _run(work, "stopped: the next poll starts from the last successful read"):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Where catalogue sync stands: the poller's streams, what each target applied and
    refused as stale, the bulk load's checkpoint and the subscriptions' lag."""

    async def work() -> dict[str, Any]:
        async with build_bus(load_settings()) as bus:
            return (await catalogue_status(bus)).as_json()

    found = _run(work)
    if as_json:
        out.print_json(orjson.dumps(found).decode())
        return
    load_state = found["load"]
    out.print(
        "load: "
        + (
            "never run"
            if load_state is None
            else f"{load_state['state']}, {load_state['items']} items in "
            f"{load_state['batches']} batches"
        )
    )
    for stream in found["streams"]:
        error = f", last error: {stream['last_error']}" if stream["last_error"] else ""
        out.print(
            f"poller {stream['stream']}: polled {stream['polled_at']}, "
            f"{stream['published']} published{error}"
        )
    for target, count in found["applied"].items():
        out.print(f"{target}: {count} applied, {found['refused'].get(target, 0)} refused as stale")
    for subscription in found["subscriptions"]:
        out.print(
            f"{subscription['name']}: lag {subscription['lag']}, "
            f"{subscription['retrying']} retrying, {subscription['dead']} dead"
        )
