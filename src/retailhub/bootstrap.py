"""The composition root: the one place that knows which concrete pieces make up a hub.

It reads the settings and the estate, and builds the bus and, for each system in the estate,
the connector of its product behind the port of its role. Flows, APIs and commands receive
what is built here; nothing else imports a concrete connector or bus backend.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from retailhub.bus.port import EventBus, RetryPolicy
from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.config import BusBackend, ConfigError, Settings
from retailhub.connectors.ports import CommercePort, CrmPort, ErpPort, LoyaltyPort, PosPort, System
from retailhub.estate import Estate, Product, Role, Secrets, SystemSettings, load_estate

if TYPE_CHECKING:
    from retailhub.flows.alerts import BusAlertSink
    from retailhub.flows.catalogue import CatalogueSettings
    from retailhub.flows.checkout.policy import CheckoutPolicy
    from retailhub.flows.customers import CustomerSyncRules
    from retailhub.flows.order_to_cash import StockSettings
    from retailhub.flows.reconciliation import Reconciliation
    from retailhub.flows.sagas import WorkflowRuntime

__all__ = [
    "Connectors",
    "Hub",
    "build_bus",
    "build_connector",
    "build_connectors",
    "open_hub",
    "routed_erp",
]

NATS_STATE_FILE = "nats-state.sqlite"
"""Where the NATS bus keeps cursors, dedupe records and dead letters, under the hub's home."""


def build_bus(settings: Settings, *, backend: BusBackend | None = None) -> EventBus:
    """The configured event bus, unopened; `backend` overrides the configured one (benchmarks)."""
    chosen = backend or settings.bus
    if chosen == "postgres":
        from retailhub.bus.postgres import PostgresBus

        url = settings.database_url
        if not url or not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                "RETAILHUB_BUS=postgres needs RETAILHUB_DATABASE_URL=postgresql://user@host/db"
            )
        return PostgresBus(url)
    if chosen == "nats":
        from retailhub.bus.nats import NatsBus

        if not settings.nats_url:
            raise ConfigError(
                "RETAILHUB_BUS=nats needs RETAILHUB_NATS_URL, e.g. nats://127.0.0.1:4222"
            )
        return NatsBus(settings.nats_url, settings.home / NATS_STATE_FILE)
    from retailhub.bus.sqlite import SqliteBus

    return SqliteBus(settings.sqlite_path)


def _shopify(name: str, system: SystemSettings, secrets: Secrets) -> System:
    from retailhub.connectors.shopify.connector import ShopifyConnector

    return ShopifyConnector.from_options(
        system.base_url,
        secrets.get(name, system, "access_token"),
        system.resilience.policy(),
        system.options,
    )


def _odoo(name: str, system: SystemSettings, secrets: Secrets) -> System:
    from retailhub.connectors.odoo.connector import OdooConnector

    return OdooConnector.from_options(
        system.base_url,
        secrets.get(name, system, "api_key"),
        system.resilience.policy(),
        system.options,
    )


def _hubspot(name: str, system: SystemSettings, secrets: Secrets) -> System:
    from retailhub.connectors.hubspot.connector import HubSpotCrm

    _no_more(name, dict(system.options))
    return HubSpotCrm(
        system.base_url, secrets.get(name, system, "access_token"), system.resilience.policy()
    )


def _openloyalty(name: str, system: SystemSettings, secrets: Secrets) -> System:
    from retailhub.connectors.openloyalty.connector import OpenLoyaltyConnector

    options = dict(system.options)
    places = options.pop("store_places", [])
    return OpenLoyaltyConnector(
        system.base_url,
        api_token=secrets.get(name, system, "api_token"),
        policy=system.resilience.policy(),
        store_code=str(options.pop("store_code", "DEFAULT")),
        web_place=str(options.pop("web_place", "WEB")),
        store_places=[str(p) for p in places] if isinstance(places, list) else [str(places)],
        **_no_more(name, options),
    )


def _poslog(name: str, system: SystemSettings, secrets: Secrets) -> System:
    from retailhub.connectors.poslog.feed import PoslogFeedConnector

    _no_more(name, dict(system.options))
    return PoslogFeedConnector(
        system.base_url, secrets.get(name, system, "api_key"), system.resilience.policy()
    )


def _no_more(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse options a connector does not take, naming them."""
    if options:
        raise ValueError(
            f"system {name!r} has options its connector does not take: {sorted(options)}"
        )
    return {}


FACTORIES: dict[Product, Callable[[str, SystemSettings, Secrets], System]] = {
    Product.SHOPIFY: _shopify,
    Product.ODOO: _odoo,
    Product.HUBSPOT: _hubspot,
    Product.OPENLOYALTY: _openloyalty,
    Product.POSLOG: _poslog,
}


def build_connector(name: str, system: SystemSettings, secrets: Secrets) -> System:
    """The connector of one system of the estate."""
    connector = FACTORIES[system.product](name, system, secrets)
    connector.name = name
    return connector


@dataclass
class Connectors:
    """Every system of the estate behind its port; ERPs by name, as documents are routed."""

    erps: dict[str, ErpPort] = field(default_factory=dict)
    crm: CrmPort | None = None
    loyalty: LoyaltyPort | None = None
    commerce: CommercePort | None = None
    pos: PosPort | None = None

    def all(self) -> dict[str, System]:
        """Every connector by system name."""
        systems: dict[str, System] = dict(self.erps)
        for one in (self.crm, self.loyalty, self.commerce, self.pos):
            if one is not None:
                systems[one.name] = one
        return systems

    async def close(self) -> None:
        """Release every connector's connections."""
        for connector in self.all().values():
            await connector.close()


P = TypeVar("P", bound=System)


def _as(port: type[P], connector: System) -> P:
    """The connector as the port of its role (a product registered under the wrong role fails)."""
    if not isinstance(connector, port):
        raise TypeError(f"{connector.name}: {type(connector).__name__} is not a {port.__name__}")
    return connector


def build_connectors(estate: Estate, secrets: Secrets) -> Connectors:
    """Build every system of the estate; a role other than the ERP has at most one system."""
    connectors = Connectors()
    for role in Role:
        systems = estate.systems_in(role)
        if role is not Role.ERP and len(systems) > 1:
            raise ValueError(f"the estate names {len(systems)} {role} systems; routing is for ERPs")
        for name, system in systems.items():
            built = build_connector(name, system, secrets)
            match role:
                case Role.ERP:
                    connectors.erps[name] = _as(ErpPort, built)
                case Role.CRM:
                    connectors.crm = _as(CrmPort, built)
                case Role.LOYALTY:
                    connectors.loyalty = _as(LoyaltyPort, built)
                case Role.COMMERCE:
                    connectors.commerce = _as(CommercePort, built)
                case Role.POS:
                    connectors.pos = _as(PosPort, built)
    return connectors


CATALOGUE_POLL_S = 30.0
"""How often the hub reads the ERP's items, stock and prices: each read re-reads every stock
level and price (the ERP port has no changed-since for them yet), a third of a core every 5 s
on the sandbox estate."""

HUB_RETRY = RetryPolicy(
    max_attempts=10, initial_backoff=timedelta(seconds=1), max_backoff=timedelta(seconds=60)
)
"""The flows' retry policy: about four minutes of backoff before an event is dead-lettered, so
an outage of a few minutes is bridged without an operator."""


def routed_erp(estate: Estate, erps: Mapping[str, ErpPort]) -> ErpPort:
    """The one ERP port flows call: the estate's `[routing.erp]` over its ERPs, or its only ERP."""
    from retailhub.flows.erp_routing.router import RoutedErp
    from retailhub.flows.erp_routing.rules import plan_from_routing

    routing = estate.routing.get(Role.ERP)
    if routing is None:
        if len(erps) != 1:
            raise ConfigError(f"the estate names {len(erps)} ERPs and no [routing.erp] to pick one")
        return next(iter(erps.values()))
    return RoutedErp(erps, plan_from_routing(routing, systems=list(erps)))


_RULE_PATH = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*$")
"""A rule's place as the customer sync settings name it in their errors (`match[0].key`)."""


def customer_sync_rules(estate: Estate) -> CustomerSyncRules:
    """The estate's `[customer_sync]` rules (defaults when absent); InvalidDocument names the
    fault's place in the estate file."""
    from retailhub.flows.customers import CustomerSyncRules

    try:
        return CustomerSyncRules.from_dict(estate.customer_sync)
    except ValueError as error:
        where, _, reason = str(error).partition(" ")
        if _RULE_PATH.match(where) and reason:
            raise InvalidDocument([Fault(f"$.customer_sync.{where}", reason)]) from None
        raise InvalidDocument([Fault("$.customer_sync", str(error))]) from None


def checkout_policy(estate: Estate) -> CheckoutPolicy:
    """The estate's `[checkout]` figures over the default offline redemption policy."""
    from retailhub.flows.checkout.policy import CheckoutPolicy

    chosen = estate.checkout.model_dump(exclude_none=True)
    if "reservation_ttl_minutes" in chosen:
        chosen["reservation_ttl"] = timedelta(minutes=chosen.pop("reservation_ttl_minutes"))
    try:
        return CheckoutPolicy(**chosen)
    except ValueError as error:
        raise InvalidDocument([Fault("$.checkout", str(error))]) from None


def _required(port: P | None, role: Role) -> P:
    """A port the hub's flows need; an estate without a system in that role cannot run them."""
    if port is None:
        raise ConfigError(f"the estate has no {role} system; the hub's flows need one")
    return port


@dataclass
class Hub:
    """A running hub: its bus, the estate's connectors, the workflow runtime and the flows."""

    settings: Settings
    estate: Estate
    bus: EventBus
    connectors: Connectors
    erp: ErpPort
    runtime: WorkflowRuntime
    alerts: BusAlertSink
    subscriptions: list[str] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    @property
    def checkout_policy(self) -> CheckoutPolicy:
        """The estate's offline redemption policy for the checkout desk."""
        return checkout_policy(self.estate)


@asynccontextmanager
async def open_hub(
    settings: Settings,
    *,
    estate: Estate | None = None,
    secrets: Secrets | None = None,
    stock: StockSettings | None = None,
    catalogue: CatalogueSettings | None = None,
    retry: RetryPolicy = HUB_RETRY,
) -> AsyncIterator[Hub]:
    """Open the bus, build the estate's connectors, launch the workflow runtime and subscribe
    every flow; on exit stop the flows, the runtime, the connectors and the bus, in that order.

    The estate defaults to `RETAILHUB_ESTATE` or the sandbox estate; secrets come from the
    environment (and the sandbox's own file for the sandbox estate). `retry` is every flow
    subscription's retry policy (tests pass a quick one). The catalogue poller reads
    the ERP every `catalogue.poll_interval_s`; on the sandbox estate its first read is a
    baseline, since the emulators start from the same seed. Flows are imported here,
    not at module level, so commands that only need a connector start fast.
    """
    from retailhub.flows.alerts import BusAlertSink, create_alerts_table
    from retailhub.flows.catalogue import CatalogueSettings, subscribe_catalogue_sync
    from retailhub.flows.customers.wiring import subscribe_customer_sync
    from retailhub.flows.order_to_cash import subscribe_order_to_cash
    from retailhub.flows.promotions import subscribe_promotion_publishing
    from retailhub.flows.reconciliation import subscribe_reconciliation
    from retailhub.flows.returns.calls import CallPolicy
    from retailhub.flows.returns.refund import ReturnSettings
    from retailhub.flows.returns.wiring import register_return_to_refund, subscribe_return_to_refund
    from retailhub.flows.sagas import WorkflowRuntime, WorkflowSettings

    chosen = estate or load_estate()
    rules = customer_sync_rules(chosen)
    checkout_policy(chosen)
    connectors = build_connectors(
        chosen, secrets or Secrets.from_environment(sandbox=chosen.name == "sandbox")
    )
    erp = routed_erp(chosen, connectors.erps)
    loyalty = _required(connectors.loyalty, Role.LOYALTY)
    crm = _required(connectors.crm, Role.CRM)
    commerce = _required(connectors.commerce, Role.COMMERCE)
    pos = _required(connectors.pos, Role.POS)
    routing = chosen.routing.get(Role.ERP)
    booking_erps = {
        name: one for name, one in connectors.erps.items() if not routing or name != routing.shadow
    }
    bus = build_bus(settings)
    alerts = BusAlertSink(bus)
    patient = ReturnSettings(calls=CallPolicy(attempts=12, first_wait_s=1.0, max_wait_s=30.0))
    refunds = register_return_to_refund(
        bus, erp=erp, loyalty=loyalty, crm=crm, commerce=commerce, alerts=alerts, settings=patient
    )
    catalogue_settings = catalogue or CatalogueSettings(
        baseline_first_poll=chosen.name == "sandbox", poll_interval_s=CATALOGUE_POLL_S
    )
    stop_polling = asyncio.Event()
    try:
        async with bus, WorkflowRuntime(WorkflowSettings.from_settings(settings)) as runtime:
            hub = Hub(settings, chosen, bus, connectors, erp, runtime, alerts)
            async with bus.transaction() as transaction:
                await create_alerts_table(transaction)
            hub.subscriptions += await subscribe_order_to_cash(
                bus, erp=erp, loyalty=loyalty, crm=crm, stock=stock, retry=retry
            )
            hub.subscriptions += await subscribe_customer_sync(
                bus,
                crm=crm,
                commerce=commerce,
                loyalty=loyalty,
                rules=rules,
                retry=retry,
            )
            hub.subscriptions += await subscribe_return_to_refund(
                bus, runtime, refunds, retry=retry
            )
            hub.subscriptions += await subscribe_promotion_publishing(
                bus,
                runtime,
                erp=erp,
                commerce=commerce,
                pos=pos,
                loyalty=loyalty,
                alerts=alerts,
                retry=retry,
            )
            catalogue_sync = await subscribe_catalogue_sync(
                bus,
                erp=erp,
                commerce=commerce,
                pos=pos,
                loyalty=loyalty,
                settings=catalogue_settings,
                retry=retry,
            )
            hub.subscriptions += catalogue_sync.subscriptions
            hub.reconciliation = await subscribe_reconciliation(
                bus,
                runtime,
                erps=booking_erps,
                loyalty=loyalty,
                alerts=alerts,
                erp=erp,
                retry=retry,
            )
            poller = asyncio.create_task(
                catalogue_sync.capture.run(stop_polling), name="catalogue-poller"
            )
            try:
                yield hub
            finally:
                stop_polling.set()
                await asyncio.gather(poller, return_exceptions=True)
    finally:
        if erp not in connectors.erps.values():
            await erp.close()
        await connectors.close()
