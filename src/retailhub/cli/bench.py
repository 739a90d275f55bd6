"""`retailhub bench throughput`: measure the event bus with realistic order events."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from retailhub.bootstrap import build_bus
from retailhub.bus.benchmark import measure_throughput
from retailhub.bus.port import EventBus
from retailhub.bus.sqlite import SqliteBus
from retailhub.config import BusBackend, ConfigError, load_settings

app = typer.Typer(help="Benchmarks of the hub's engines.", no_args_is_help=True)


class Backend(StrEnum):
    """The bus backends a benchmark can run against."""

    SQLITE = "sqlite"
    POSTGRES = "postgres"
    NATS = "nats"


def fresh_bus(backend: Backend, workdir: Path) -> EventBus:
    """An empty bus to measure: a new SQLite file in `workdir`, a throwaway PostgreSQL schema,
    or a throwaway JetStream stream, so a benchmark never touches the hub's own events."""
    run = secrets.token_hex(4)
    if backend is Backend.SQLITE:
        return SqliteBus(workdir / "bench.sqlite")
    settings = load_settings()
    if backend is Backend.POSTGRES:
        from retailhub.bus.postgres import PostgresBus

        chosen: BusBackend = "postgres"
        build_bus(settings, backend=chosen)  # refuses a missing or wrong database URL
        return PostgresBus(settings.database_url or "", schema=f"retailhub_bench_{run}")
    from retailhub.bus.nats import NatsBus

    return NatsBus(
        settings.nats_url or "nats://127.0.0.1:4222",
        workdir / "nats-state.sqlite",
        stream=f"RETAILHUB_BENCH_{run}",
        subject_prefix=f"retailhub.bench.{run}.events",
        stream_max_age=timedelta(hours=1),
    )


async def discard(bus: EventBus) -> None:
    """Remove what a benchmark bus left behind in a shared service (while it is still open)."""
    from retailhub.bus.nats import NatsBus
    from retailhub.bus.postgres import PostgresBus

    if isinstance(bus, NatsBus):
        await bus.delete_stream()
    elif isinstance(bus, PostgresBus) and bus.schema:
        import asyncpg

        await bus.close()  # its workers hold the schema's rows; close is safe to repeat
        connection = await asyncpg.connect(bus.dsn)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{bus.schema}" CASCADE')
        finally:
            await connection.close()


async def _measure(
    backend: Backend, events: int, publish_batch: int, publishers: int, rate: float | None
) -> Any:
    """Run one measurement on a fresh bus and return its figures."""
    with tempfile.TemporaryDirectory(prefix="retailhub-bench-") as workdir:
        async with fresh_bus(backend, Path(workdir)) as bus:
            try:
                return await measure_throughput(
                    bus,
                    backend=backend.value,
                    events=events,
                    publish_batch=publish_batch,
                    publishers=publishers,
                    rate=rate,
                )
            finally:
                await discard(bus)


@app.command()
def throughput(
    backend: Backend = typer.Option(Backend.SQLITE, "--backend", help="Bus backend to measure."),
    events: int = typer.Option(20_000, "--events", min=1, help="Order events to publish."),
    publish_batch: int = typer.Option(
        100, "--publish-batch", min=1, help="Events per publish transaction."
    ),
    publishers: int = typer.Option(
        4, "--publishers", min=1, help="Concurrent publishing tasks (API handlers, connectors)."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=1, help="Pace publishing to this many events/s (default: flat out)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Publish ~2 KB order events to 3 subscriptions; report throughput and latency."""
    console = Console(stderr=True)
    try:
        if as_json:
            figures = asyncio.run(_measure(backend, events, publish_batch, publishers, rate))
        else:
            with console.status(f"publishing {events:,} order events to {backend.value}..."):
                figures = asyncio.run(_measure(backend, events, publish_batch, publishers, rate))
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    if as_json:
        typer.echo(orjson.dumps(figures).decode())
        return
    table = Table(title=f"bus throughput ({backend.value})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    Console().print(table)
