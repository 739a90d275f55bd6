"""`retailhub bench returns`: return-to-refund sagas per second against the sandbox emulators.

Registered in `cli/__init__.py` as `bench.app.command("returns")(bench_returns.bench_returns)`.
"""

from __future__ import annotations

import orjson
import typer
from rich.console import Console
from rich.table import Table

from retailhub.flows.returns.benchmark import measure_returns


def bench_returns(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    sales: int = typer.Option(
        200, "--sales", min=1, max=5000, help="Till sales returned, one saga each."
    ),
    concurrency: int = typer.Option(
        8, "--concurrency", min=1, max=256, help="Sagas in flight at once (the subscription's)."
    ),
) -> None:
    """Run return sagas (claim, credit note, points, restock, case) against the emulators, each
    emulator in its own process, over HTTP; report sagas/s, p50/p99 and where the time goes."""
    console = Console(stderr=True)
    try:
        with console.status(f"refunding {sales} returns through the sandbox emulators..."):
            figures = measure_returns(sales=sales, concurrency=concurrency)
    except (RuntimeError, TimeoutError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    if json_output:
        typer.echo(orjson.dumps(figures).decode())
        return
    table = Table(title="return-to-refund sagas")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in _flat(figures):
        table.add_row(name, value)
    Console().print(table)


def _flat(figures: dict[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """Nested figures as (dotted name, value) rows."""
    rows: list[tuple[str, str]] = []
    for name, value in figures.items():
        if isinstance(value, dict):
            rows.extend(_flat(value, f"{prefix}{name}."))
        else:
            rows.append((f"{prefix}{name}", str(value)))
    return rows
