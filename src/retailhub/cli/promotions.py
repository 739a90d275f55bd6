"""`retailhub promotions`: where a promotion stands in every system, and its drift checked now."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from retailhub.bootstrap import build_bus, build_connectors
from retailhub.bus.port import BusError, EventBus
from retailhub.canonical.errors import InvalidDocument
from retailhub.config import ConfigError, load_settings
from retailhub.estate import MissingSecret, Secrets, load_estate
from retailhub.flows.promotions import (
    PromotionChannels,
    PromotionView,
    VersionView,
    promotion_status,
    recheck_promotion,
)

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    help="Promotions: per-system status, drift and accuracy of each version.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _run(work: Callable[[EventBus], Awaitable[T]]) -> T:
    """Open the configured bus, run `work` on it, close it; configuration errors exit cleanly."""

    async def run() -> T:
        async with build_bus(load_settings()) as bus:
            return await work(bus)

    try:
        return asyncio.run(run())
    except (ConfigError, InvalidDocument, MissingSecret) as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except BusError as error:
        raise _fail(str(error)) from None


def _show_version(title: str, version: VersionView) -> None:
    accuracy = "-" if version.accuracy is None else f"{version.accuracy} %"
    console.print(
        f"[bold]{title}[/bold] v{version.version} {version.state.value} — {version.name}"
        f" — accuracy {accuracy}",
        highlight=False,
    )
    for reason in version.reasons:
        console.print(f"  reason: {reason}", highlight=False)
    if version.channels:
        table = Table("system", "product", "state", "external id", "accuracy", "detail")
        for channel in version.channels:
            table.add_row(
                channel.target,
                channel.system,
                channel.state,
                channel.external_id or "",
                "-" if channel.accuracy is None else f"{channel.accuracy} %",
                channel.detail or "",
            )
        console.print(table)
    if version.drift:
        table = Table("system", "field", "expected", "found", title="drift")
        for drift in version.drift:
            table.add_row(drift.target, drift.field, drift.expected or "", drift.found or "")
        console.print(table)


def _show(view: PromotionView, as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(view.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    _show_version(view.promotion_id, view.latest)
    if view.live is not None and view.live.version != view.latest.version:
        _show_version("live", view.live)
    console.print(
        "versions: " + ", ".join(f"v{v} {s.value}" for v, s in view.versions), highlight=False
    )


@app.command("status")
def status(
    promotion_id: str = typer.Argument(..., help="The promotion's id, as its author gave it."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show a promotion's latest and live versions: each system's state and external id, the
    drift last found and the accuracy. Exit 1 when the hub does not know the promotion."""

    async def read(bus: EventBus) -> PromotionView | None:
        async with bus.transaction() as transaction:
            return await promotion_status(transaction, promotion_id)

    view = _run(read)
    if view is None:
        raise _fail(f"the hub knows no promotion {promotion_id!r}")
    _show(view, as_json)


@app.command("drift")
def drift(
    promotion_id: str = typer.Argument(..., help="The promotion's id, as its author gave it."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Read the live version back from every system it was published to, now, record the drift
    and the accuracy, and show them. Exit 1 when the promotion is unknown or not live."""

    async def check(bus: EventBus) -> PromotionView | None:
        estate = load_estate()
        connectors = build_connectors(
            estate, Secrets.from_environment(sandbox=estate.name == "sandbox")
        )
        try:
            if connectors.commerce is None or connectors.pos is None or connectors.loyalty is None:
                raise ConfigError("the estate needs a commerce, a POS and a loyalty system")
            channels = PromotionChannels(connectors.commerce, connectors.pos, connectors.loyalty)
            return await recheck_promotion(bus, channels, promotion_id)
        finally:
            await connectors.close()

    view = _run(check)
    if view is None:
        raise _fail(f"the hub knows no promotion {promotion_id!r}")
    if view.live is None:
        raise _fail(
            f"no version of {promotion_id!r} is live (latest: v{view.latest.version}"
            f" {view.latest.state.value}); nothing to read back"
        )
    _show(view, as_json)
