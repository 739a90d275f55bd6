"""The `retailhub` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from retailhub.cli import (
    bench,
    bench_orders,
    bench_returns,
    catalogue,
    clients,
    demo,
    events,
    pos,
    promotions,
    reconcile,
    samples,
    sandbox,
    schemas,
    serve,
    translate,
    validate,
)
from retailhub.observability.logging import configure_logging

app = typer.Typer(
    name="retailhub",
    help="retailhub: the retail integration hub between ERP, CRM, loyalty, POS and ecommerce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo.demo)
app.command("samples")(samples.samples)
app.command("validate")(validate.validate)
app.command("translate")(translate.translate)
app.command("render")(translate.render)
app.add_typer(schemas.app, name="schemas")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(events.events_app, name="events")
app.add_typer(events.dlq_app, name="dlq")
app.command("replay")(events.replay)
app.add_typer(pos.app, name="pos")
app.add_typer(bench.app, name="bench")
bench.app.command("orders")(bench_orders.bench_orders)
bench.app.command("returns")(bench_returns.bench_returns)
app.command("reconcile")(reconcile.reconcile)
app.add_typer(promotions.app, name="promotions")
app.command("serve")(serve.serve)
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(clients.app, name="clients")


def main() -> None:
    """Entry point of the `retailhub` console script."""
    configure_logging()
    app()
