"""What the HTTP API is built from: the bus, the connected systems, and its own settings.

The composition root (bootstrap, `retailhub serve`, a test) fills an `ApiServices` and hands it
to `create_app`; routes reach it as `request.app.state.services` through `services_of`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo

from fastapi import APIRouter, Request

from retailhub.api.ratelimit import RateLimiter
from retailhub.api.registry import DEFAULT_CACHE_S, ClientRegistry
from retailhub.bus.port import EventBus
from retailhub.connectors.ports import CommercePort, CrmPort, System
from retailhub.flows.customers.rules import SurvivorshipRules

MIB = 1024 * 1024


@dataclass(frozen=True)
class ApiLimits:
    """Request size limits and how long the API remembers keys and clients."""

    max_body_bytes: int = 1 * MIB
    """Largest JSON body of an API call or a webhook."""
    max_upload_bytes: int = 32 * MIB
    """Largest POSLog journal upload (a busy store's day)."""
    client_cache_s: float = DEFAULT_CACHE_S
    idempotency_ttl_s: float = 24 * 3600.0
    """How long a stored answer to an Idempotency-Key is replayed."""


@dataclass(frozen=True)
class ApiRetention:
    """How long the API keeps webhook inbox rows, and how its records are pruned
    (`api.upkeep`); stored Idempotency-Key answers go after `ApiLimits.idempotency_ttl_s`."""

    inbox_retention_s: float = 7 * 24 * 3600.0
    """Past any product's redelivery (Shopify retries for up to 48 hours, HubSpot 24)."""
    batch: int = 1000
    """Most rows deleted per table per pass, so a pass holds the write lock briefly."""
    interval_s: float = 300.0
    """Seconds between passes."""
    catch_up_s: float = 1.0
    """Seconds before the next pass while passes still find a full batch."""

    def __post_init__(self) -> None:
        if self.batch < 1 or min(self.inbox_retention_s, self.interval_s, self.catch_up_s) < 0:
            raise ValueError("retention needs a batch of at least 1 and no negative durations")


@dataclass(frozen=True)
class HookSettings:
    """Secrets and windows of the inbound webhooks; a product without a secret has no hook."""

    shopify_secret: str | None = None
    """The Shopify app's client secret, which signs `X-Shopify-Hmac-Sha256`."""
    hubspot_secret: str | None = None
    """The HubSpot app's client secret, which signs `X-HubSpot-Signature-v3`."""
    public_url: str | None = None
    """The hub's address as the products call it (behind a proxy it differs from the socket):
    HubSpot signs the full URL it called."""
    replay_window_s: float = 300.0
    """Deliveries stamped further than this from now (either way) are refused."""
    store_timezone: tzinfo = UTC
    """The time zone of POSLog journals without offsets."""


@dataclass(frozen=True)
class Deprecation:
    """A deprecated API path prefix: announced on `deprecated_on`, gone after `sunset_on`."""

    prefix: str
    deprecated_on: date
    sunset_on: date
    successor: str | None = None


@dataclass
class ApiServices:
    """Everything the API's routes, webhooks and health checks use."""

    bus: EventBus
    systems: Mapping[str, System] = field(default_factory=dict)
    """Every connected system by name, for /readyz."""
    crm: CrmPort | None = None
    commerce: CommercePort | None = None
    survivorship: SurvivorshipRules | None = None
    """Customer sync's survivorship rules, to decide golden records as the flow does."""
    hooks: HookSettings = field(default_factory=HookSettings)
    limits: ApiLimits = field(default_factory=ApiLimits)
    retention: ApiRetention = field(default_factory=ApiRetention)
    deprecations: Sequence[Deprecation] = ()
    checkout_router: APIRouter | None = None
    """The checkout experience API, when the hub offers it."""
    clients: ClientRegistry = field(init=False)
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)

    def __post_init__(self) -> None:
        self.clients = ClientRegistry(self.bus, cache_s=self.limits.client_cache_s)


def services_of(request: Request) -> ApiServices:
    """The services of the app serving `request`."""
    services: ApiServices = request.app.state.services
    return services
