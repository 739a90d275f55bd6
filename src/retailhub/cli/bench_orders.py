"""`retailhub bench orders`: order-to-cash end to end against the sandbox emulators over HTTP.

Starts the five emulators in processes of their own, opens the hub on the embedded default (a
fresh SQLite bus in a temporary folder), publishes orders of the sandbox's shoppers and counts
each once the ERP, stock, loyalty and the CRM all hold it. Registered in `cli/__init__.py` as
`bench.app.command("orders")(bench_orders.bench_orders)`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import typer
import uvloop
from rich.console import Console
from rich.table import Table

from retailhub.demo.bench_orders import measure_orders
from retailhub.demo.sandbox_process import SandboxFailedToStart

LABELS = {
    "orders_per_s": "orders/s (settled in ERP, stock, loyalty and CRM)",
    "p50_ms": "p50 ms (receipt to last system updated)",
    "p99_ms": "p99 ms",
    "settled": "orders settled",
    "orders": "orders published",
    "seconds": "seconds",
    "offered_rate": "offered rate (orders/s, 0 = all at once)",
    "hub_cpu_ms_per_order": "hub CPU ms per order",
    "emulators_cpu_ms_per_order": "emulators' CPU ms per order",
    "hub_cpu_share": "hub share of CPU",
    "emulators_cpu_share": "emulators' share of CPU",
    "hub_cpu_s": "hub CPU s",
    "hub_loop_cpu_s": "  of which the event loop",
    "emulators_cpu_s": "emulators' CPU s",
    "erp_moves_stock": "ERP moves stock on confirmation",
}


async def _measure(orders: int, rate: float, erp_moves_stock: bool) -> dict[str, Any]:
    """One run in a throwaway folder; its figures as JSON-ready values."""
    with tempfile.TemporaryDirectory(prefix="retailhub-bench-orders-") as workdir:
        result = await measure_orders(
            Path(workdir), orders=orders, rate=rate, erp_moves_stock=erp_moves_stock
        )
    return result.as_dict()


def bench_orders(
    orders: int = typer.Option(1000, "--orders", min=1, help="Orders to publish."),
    rate: float = typer.Option(
        0.0, "--rate", min=0.0, help="Publish this many orders/s (default 0: all at once)."
    ),
    erp_moves_stock: bool = typer.Option(
        True,
        "--erp-moves-stock/--hub-moves-stock",
        help="The ERP delivers confirmed sale orders itself (default), or the hub adjusts stock.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Order-to-cash end to end against the emulators over HTTP: orders/s, p50/p99 latency, and
    the CPU of the hub against that of the emulators (they share the machine's cores)."""
    console = Console(stderr=True)
    try:
        if as_json:
            figures = uvloop.run(_measure(orders, rate, erp_moves_stock))
        else:
            with console.status(f"starting the sandbox and settling {orders:,} orders..."):
                figures = uvloop.run(_measure(orders, rate, erp_moves_stock))
    except SandboxFailedToStart as error:
        typer.echo(f"error: the sandbox did not start: {error}", err=True)
        raise typer.Exit(3) from error
    if as_json:
        typer.echo(orjson.dumps(figures).decode())
    else:
        Console().print(_table(figures))
    if figures["settled"] < figures["orders"]:
        typer.echo(
            f"error: only {figures['settled']} of {figures['orders']} orders settled in time",
            err=True,
        )
        raise typer.Exit(1)


def _table(figures: dict[str, Any]) -> Table:
    """The figures as a two-column table, headline figures first."""
    table = Table(title="order-to-cash end to end (embedded SQLite, sandbox over HTTP)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, label in LABELS.items():
        table.add_row(label, str(figures[name]))
    calls = figures.get("calls_per_order") or {}
    for system, count in calls.items():
        table.add_row(f"{system} calls per order", str(count))
    for system, used in (figures.get("emulator_cpu_ms_per_order") or {}).items():
        table.add_row(f"{system} emulator CPU ms per order", str(used))
    return table
