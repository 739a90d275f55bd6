"""`retailhub serve`: the hub's API and workers in one process, on the embedded default."""

from __future__ import annotations

import asyncio
import signal

import typer
import uvloop
from rich.console import Console

from retailhub.config import ConfigError, load_settings

console = Console(stderr=True, soft_wrap=True)


async def _serve(
    host: str, port: int, public_url: str | None, idempotency_s: float, inbox_s: float
) -> None:
    """Open the hub, serve until SIGINT/SIGTERM, then close everything in order."""
    from retailhub.api.server import hub_services, serve_hub
    from retailhub.api.services import ApiLimits, ApiRetention
    from retailhub.bootstrap import open_hub
    from retailhub.estate import Secrets

    stop, started = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_hub(load_settings()) as hub:
        secrets = Secrets.from_environment(sandbox=hub.estate.name == "sandbox")
        services = hub_services(
            hub,
            secrets,
            public_url,
            limits=ApiLimits(idempotency_ttl_s=idempotency_s),
            retention=ApiRetention(inbox_retention_s=inbox_s),
        )

        async def announce() -> None:
            await started.wait()
            console.print(
                f"retailhub serving http://{host}:{port} (estate {hub.estate.name},"
                f" bus {hub.settings.bus}); Ctrl-C to stop"
            )

        announcing = asyncio.create_task(announce())
        try:
            await serve_hub(hub, services, host, port, stop, started)
        finally:
            announcing.cancel()
    console.print("retailhub stopped")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        envvar="RETAILHUB_PUBLIC_URL",
        help="The hub's address as products call it, when behind a proxy (HubSpot signs it).",
    ),
    idempotency_hours: float = typer.Option(
        24.0,
        "--idempotency-hours",
        min=0.01,
        help="How long a POST's answer is replayed for its Idempotency-Key, then pruned.",
    ),
    inbox_days: float = typer.Option(
        7.0,
        "--inbox-days",
        min=0.01,
        help="How long webhook deliveries are remembered (deduped), then pruned.",
    ),
) -> None:
    """Run the hub: the HTTP API (/v1, webhooks, /healthz, /readyz) and the flows' workers,
    over the configured bus and estate, until SIGINT or SIGTERM."""
    try:
        uvloop.run(_serve(host, port, public_url, idempotency_hours * 3600, inbox_days * 86400))
    except (ConfigError, OSError, LookupError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
