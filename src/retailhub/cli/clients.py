"""`retailhub clients add|list|revoke`: the API clients allowed to call the hub."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from retailhub.api.clients import (
    DEFAULT_RATE_PER_SECOND,
    ApiClient,
    ClientError,
    IssuedKey,
    add_client,
    create_clients_table,
    list_clients,
    parse_scopes,
    revoke_client,
)
from retailhub.bootstrap import build_bus
from retailhub.bus.port import Transaction
from retailhub.config import ConfigError, load_settings

app = typer.Typer(
    help="API clients: who may call the hub, with which scopes and at what rate.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


async def _in_hub_db(work: Callable[[Transaction], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the hub's database, the clients table created."""
    async with build_bus(load_settings()) as bus, bus.transaction() as transaction:
        await create_clients_table(transaction)
        return await work(transaction)


def _run(work: Callable[[Transaction], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_in_hub_db(work))
    except (ClientError, ConfigError) as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A name for the client, e.g. pos-ams01."),
    scopes: str = typer.Option(
        ..., "--scopes", help="Comma-separated: pos, commerce, service, admin, read."
    ),
    rate: int = typer.Option(
        DEFAULT_RATE_PER_SECOND, "--rate", min=1, help="Requests per second it may make."
    ),
) -> None:
    """Issue a client and print its API key (on stdout, once: it is not stored)."""
    try:
        chosen = parse_scopes(scopes)
    except ClientError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None

    async def work(transaction: Transaction) -> IssuedKey:
        return await add_client(transaction, name, chosen, rate_per_second=rate)

    issued = _run(work)
    client = issued.client
    err.print(
        f"client {client.name} ({client.client_id}) scopes {','.join(sorted(client.scopes))}"
        f" rate {client.rate_per_second}/s; its key follows and is shown only now:"
    )
    print(issued.key)


@app.command("list")
def list_(
    everything: bool = typer.Option(False, "--all", help="Include revoked clients."),
) -> None:
    """List the clients (keys are never shown: the hub does not hold them)."""

    async def work(transaction: Transaction) -> list[ApiClient]:
        return await list_clients(transaction, include_revoked=everything)

    clients = _run(work)
    table = Table("name", "id", "scopes", "rate/s", "created", "revoked")
    for client in clients:
        table.add_row(
            client.name,
            client.client_id,
            ",".join(sorted(client.scopes)),
            str(client.rate_per_second),
            client.created_at.isoformat(timespec="seconds"),
            client.revoked_at.isoformat(timespec="seconds") if client.revoked_at else "",
        )
    out.print(table)


@app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The client's name or id."),
) -> None:
    """Revoke a client: its key is refused from now on (within seconds by other processes)."""

    async def work(transaction: Transaction) -> ApiClient:
        return await revoke_client(transaction, name)

    client = _run(work)
    err.print(f"revoked {client.name} ({client.client_id})")
