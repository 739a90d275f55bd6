"""Serving the hub: the API on uvicorn with its workers, inside an open hub.

`hub_services` builds the API's services from a `bootstrap.Hub` (its bus, connectors and the
webhook secrets the estate names); `serve_hub` subscribes the webhook workers, prunes the
API's records in the background (`api.upkeep`), opens the checkout desk when the estate has a
loyalty platform, and serves HTTP until `stop` is set.
Signals are the caller's to handle (the CLI sets `stop` on SIGINT/SIGTERM), so the hub is
always closed in order after the last request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from retailhub.api.app import create_app, prepare_api_storage
from retailhub.api.checkout.routes import checkout_router
from retailhub.api.hooks.intake import subscribe_webhook_intake
from retailhub.api.services import ApiLimits, ApiRetention, ApiServices, HookSettings
from retailhub.api.upkeep import keep_api_records_pruned
from retailhub.bootstrap import Hub
from retailhub.estate import Estate, MissingSecret, Product, Secrets
from retailhub.flows.checkout.upkeep import keep_checkout_settled
from retailhub.flows.checkout.wiring import open_checkout_desk

log = logging.getLogger(__name__)
WEBHOOK_SECRET = "webhook_secret"
"""The estate's name for a product app's signing secret, e.g. for Shopify:
`secrets = { access_token = "...", webhook_secret = "RETAILHUB_SHOPIFY_WEBHOOK_SECRET" }`."""


def webhook_secret(estate: Estate, secrets: Secrets, product: Product) -> str | None:
    """The signing secret the estate names for the system of `product`; None (its webhooks are
    refused) when there is no such system or it names no secret."""
    for name, system in estate.systems.items():
        if system.product is product and WEBHOOK_SECRET in system.secrets:
            try:
                return secrets.get(name, system, WEBHOOK_SECRET)
            except MissingSecret as error:
                log.warning("%s webhooks are refused: %s", product.value, error)
    return None


def hub_services(
    hub: Hub,
    secrets: Secrets,
    public_url: str | None = None,
    *,
    limits: ApiLimits | None = None,
    retention: ApiRetention | None = None,
) -> ApiServices:
    """The API's services over an open hub (default limits and retention unless given)."""
    connectors = hub.connectors
    return ApiServices(
        bus=hub.bus,
        limits=limits or ApiLimits(),
        retention=retention or ApiRetention(),
        systems=connectors.all(),
        crm=connectors.crm,
        commerce=connectors.commerce,
        hooks=HookSettings(
            shopify_secret=webhook_secret(hub.estate, secrets, Product.SHOPIFY),
            hubspot_secret=webhook_secret(hub.estate, secrets, Product.HUBSPOT),
            public_url=public_url,
        ),
    )


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the hub's stop event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_hub(
    hub: Hub,
    services: ApiServices,
    host: str,
    port: int,
    stop: asyncio.Event,
    started: asyncio.Event | None = None,
) -> None:
    """Run the webhook workers, the pruning of the API's records, checkout upkeep and the HTTP
    server until `stop` is set; `started` is set once the port listens. OSError when the port
    cannot be bound."""
    hub.subscriptions += await subscribe_webhook_intake(hub.bus, crm=hub.connectors.crm)
    await prepare_api_storage(services)
    upkeep = [asyncio.create_task(keep_api_records_pruned(services), name="api-pruning")]
    if hub.connectors.loyalty is not None and services.checkout_router is None:
        desk = await open_checkout_desk(hub.bus, hub.connectors.loyalty, hub.checkout_policy)
        services.checkout_router = checkout_router(desk)
        upkeep.append(asyncio.create_task(keep_checkout_settled(desk), name="checkout-upkeep"))
    config = uvicorn.Config(
        create_app(services),
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = _QuietServer(config)

    async def stop_when_told() -> None:
        await stop.wait()
        server.should_exit = True

    async def tell_started() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.02)
        if started is not None and server.started:
            started.set()

    watchers = [asyncio.create_task(stop_when_told()), asyncio.create_task(tell_started())]
    try:
        await server.serve()
    except SystemExit:
        # uvicorn exits the process when it cannot bind; the hub must close in order instead.
        raise OSError(f"could not serve on {host}:{port}; is the port in use?") from None
    finally:
        for task in [*watchers, *upkeep]:
            task.cancel()
        await asyncio.gather(*watchers, *upkeep, return_exceptions=True)
    if not server.started:
        raise OSError(f"could not serve on {host}:{port}")
