"""`retailhub sandbox`: run the emulated estate on loopback, see how it is doing, inject faults."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from retailhub.canonical.errors import InvalidDocument
from retailhub.sandbox.runner import (
    DEFAULT_STATE_DIR,
    HOST,
    Sandbox,
    SandboxUnreachable,
    load_emulators,
    parse_ports,
    sandbox_status,
    set_faults,
)

app = typer.Typer(
    help="The sandbox estate: emulators of Shopify, Odoo, HubSpot, Open Loyalty and a POSLog"
    " receiver on localhost, with faults you can inject while the hub runs.",
    no_args_is_help=True,
)

PORTS_HELP = (
    "Where the emulators listen: a number moves the sandbox to consecutive ports from it"
    " (e.g. 9701); `system=port,...` names each one. Default: shopify 8701 ... poslog 8705."
)
PortsOption = typer.Option(None, "--ports", envvar="RETAILHUB_SANDBOX_PORTS", help=PORTS_HELP)


def _ports(text: str | None) -> dict[str, int]:
    """The port map, or exit 2 with the reason when `--ports` cannot be read."""
    try:
        return parse_ports(text)
    except ValueError as error:
        typer.echo(f"error: --ports: {error}", err=True)
        raise typer.Exit(2) from None


def describe(faults: Mapping[str, Any]) -> str:
    """The faults in force in a few words, for tables and confirmations."""
    parts = []
    if faults.get("down"):
        parts.append("dropping connections")
    if faults.get("slow_after") is not None:
        parts.append(
            f"slow after {faults['slow_after']} requests ({faults.get('latency_ms') or 2000} ms)"
        )
    elif faults.get("latency_ms"):
        parts.append(f"latency {faults['latency_ms']} ms")
    if faults.get("error_rate"):
        parts.append(f"{faults['error_rate']:.0%} errors")
    if faults.get("malformed"):
        parts.append("malformed answers")
    return ", ".join(parts) or "none"


@app.command()
def up(
    state_dir: Path = typer.Option(
        DEFAULT_STATE_DIR, "--state-dir", help="Folder of the emulators' SQLite state files."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the estate the emulators start from."),
    ports: str | None = PortsOption,
) -> None:
    """Start the emulators in the foreground until Ctrl-C or SIGTERM."""
    port_map = _ports(ports)
    factories = {s: f for s, f in load_emulators().items() if s in port_map}
    if not factories:
        typer.echo("No product emulators are registered yet: nothing to start.", err=True)
        raise typer.Exit(1)
    asyncio.run(_serve(Sandbox(factories, port_map, state_dir, seed), state_dir, seed))


async def _serve(sandbox: Sandbox, state_dir: Path, seed: int) -> None:
    """Run `sandbox` until a signal asks it to stop, then stop it cleanly."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    console = Console()
    try:
        try:
            with console.status(f"Seeding the estate (seed {seed}) and starting the emulators"):
                urls = await sandbox.start()
        except OSError as error:
            typer.echo(f"error: an emulator cannot listen: {error}", err=True)
            raise typer.Exit(1) from None
        try:
            table = Table(
                "system", "URL", title=f"Sandbox estate, seed {seed}, state in {state_dir}"
            )
            for system, url in urls.items():
                table.add_row(system, url)
            console.print(table)
            console.print("Press Ctrl-C to stop.")
            await stopping.wait()
        finally:
            await sandbox.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@app.command()
def status(ports: str | None = PortsOption) -> None:
    """Show each emulator: up or down, requests served, faults in force. Exit 1 if none is up."""
    port_map = _ports(ports)
    answers = asyncio.run(sandbox_status(port_map))
    table = Table("system", "URL", "state", "requests", "faults")
    for system, answer in answers.items():
        url = f"http://{HOST}:{port_map[system]}"
        if answer is None:
            table.add_row(system, url, "[red]down[/red]", "", "")
        else:
            table.add_row(
                system,
                url,
                "[green]up[/green]",
                str(answer.get("requests_served", "")),
                describe(answer.get("faults", {})),
            )
    Console().print(table)
    if not any(answers.values()):
        typer.echo("No emulator answers: start them with `retailhub sandbox up`.", err=True)
        raise typer.Exit(1)


@app.command()
def fault(
    system: str = typer.Argument(..., help="The emulator to change, e.g. shopify."),
    latency_ms: int | None = typer.Option(
        None, "--latency-ms", min=0, help="Hold every answer this long."
    ),
    error_rate: float | None = typer.Option(
        None, "--error-rate", min=0.0, max=1.0, help="Share of requests answered HTTP 500 (0..1)."
    ),
    down: bool | None = typer.Option(
        None, "--down/--up", help="Drop every connection unanswered, as a crashed system does."
    ),
    slow_after: int | None = typer.Option(
        None, "--slow-after", min=0, help="After N requests, hold each answer (2 s or latency)."
    ),
    malformed: bool | None = typer.Option(
        None, "--malformed/--well-formed", help="Answer 200 with truncated JSON."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove all faults first."),
    ports: str | None = PortsOption,
) -> None:
    """Inject faults into one emulator while it runs; with no option, show its faults."""
    port_map = _ports(ports)
    if system not in port_map:
        typer.echo(f"error: unknown system {system!r}; use one of {', '.join(port_map)}", err=True)
        raise typer.Exit(2)
    settings = {
        name: value
        for name, value in {
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "down": down,
            "slow_after": slow_after,
            "malformed": malformed,
        }.items()
        if value is not None
    }
    try:
        now = asyncio.run(set_faults(system, settings, port_map, clear=clear))
    except InvalidDocument as error:
        for problem in error.faults:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    except SandboxUnreachable as error:
        typer.echo(f"error: {error}; is `retailhub sandbox up` running?", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{system}: faults {describe(now)}")
