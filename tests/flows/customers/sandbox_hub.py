"""Customer sync against the sandbox: the world of emulators, the hub subscribed to a bus, what
a webhook receiver publishes, people editing profiles in each product, and bounded waits until
the bus has nothing left to do."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from retailhub.bootstrap import Connectors
from retailhub.bus.port import EventBus, HoldState, RetryPolicy, Selection
from retailhub.canonical.customer import Customer
from retailhub.connectors.ports import CommercePort, CrmPort, LoyaltyPort
from retailhub.connectors.shopify.customers import customer_to_canonical
from retailhub.connectors.shopify.documents import shopify_documents
from retailhub.connectors.shopify.webhooks import (
    CUSTOMERS_CREATE,
    CUSTOMERS_UPDATE,
    HMAC_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    verify_shopify_webhook,
)
from retailhub.flows.customers.events import profile_event
from retailhub.flows.customers.fields import FieldValue, is_empty, profile_fields, same_value
from retailhub.flows.customers.queries import GoldenView, golden_record_by_system_id
from retailhub.flows.customers.settings import CustomerSyncRules
from retailhub.flows.customers.wiring import subscribe_customer_sync
from retailhub.sandbox.seed import Estate, EstateCustomer
from retailhub.sandbox.shopify.emulator import DEFAULT_WEBHOOK_SECRET

ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
SYNCED_SYSTEMS = ("hubspot", "shopify", "openloyalty")
SANDBOX_PORTS = {"shopify": 8701, "hubspot": 8703, "openloyalty": 8704}
PLAIN_CUSTOMERS = 40
FAST_RETRY = RetryPolicy(
    max_attempts=6,
    initial_backoff=timedelta(milliseconds=20),
    max_backoff=timedelta(milliseconds=200),
)
WAIT_S = 30.0
RULES = CustomerSyncRules()


def seeded_customers(estate: Estate) -> list[EstateCustomer]:
    """The first plain customers and, for each way profiles disagree, a few with a phone."""
    plain = [c for c in estate.customers if not c.conflicts][:PLAIN_CUSTOMERS]
    conflicted: list[EstateCustomer] = []
    for kind in ("crm_other_email", "loyalty_old_phone", "shop_name_typo"):
        conflicted += [c for c in estate.customers if kind in c.conflicts and c.golden.phones][:3]
    return plain + conflicted


def estate_text(urls: Mapping[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators; breakers reset fast so a fault
    cleared by a test ends its outage at once."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{SANDBOX_PORTS[system]}\b", url, text)
    return re.sub(r"breaker_reset_s = [0-9.]+", "breaker_reset_s = 0.2", text)


class ShopWebhooks:
    """The hub's Shopify webhook receiver as the API serves it, in miniature: verify the
    signature, map the customer, publish its profile event (when a bus is attached)."""

    def __init__(self) -> None:
        self.bus: EventBus | None = None
        self.received = 0
        self.published = 0
        self.address = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/webhooks/shopify", self.receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.address = f"http://127.0.0.1:{port}/webhooks/shopify"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def receive(self, request: web.Request) -> web.Response:
        """One delivery: refused unless signed; a customer topic becomes a profile event."""
        body = await request.read()
        if not verify_shopify_webhook(
            body, request.headers.get(HMAC_HEADER), DEFAULT_WEBHOOK_SECRET
        ):
            return web.Response(status=401)
        self.received += 1
        topic = request.headers.get(TOPIC_HEADER)
        if self.bus is None or topic not in (CUSTOMERS_CREATE, CUSTOMERS_UPDATE):
            return web.Response(status=200)
        (document,) = shopify_documents(orjson.loads(body), "customer")
        profile = customer_to_canonical(document)
        event = profile_event(
            "shopify",
            profile,
            created=topic == CUSTOMERS_CREATE,
            event_id=f"shopify-webhook-{request.headers.get(WEBHOOK_ID_HEADER)}",
        )
        await self.bus.publish([event])
        self.published += 1
        return web.Response(status=200)


@dataclass
class SyncWorld:
    """The running sandbox: its estate, URLs, connectors and the Shopify webhook receiver."""

    estate: Estate
    urls: dict[str, str]
    connectors: Connectors
    webhooks: ShopWebhooks
    used: set[str] = field(default_factory=set)

    @property
    def crm(self) -> CrmPort:
        """The HubSpot connector."""
        assert self.connectors.crm is not None
        return self.connectors.crm

    @property
    def commerce(self) -> CommercePort:
        """The Shopify connector."""
        assert self.connectors.commerce is not None
        return self.connectors.commerce

    @property
    def loyalty(self) -> LoyaltyPort:
        """The Open Loyalty connector."""
        assert self.connectors.loyalty is not None
        return self.connectors.loyalty

    def take(self, kind: str | None = None) -> EstateCustomer:
        """A seeded customer no other test of the module has touched (`kind`: a conflict kind,
        None: a customer whose systems agree)."""
        for customer in self.estate.customers:
            fits = kind in customer.conflicts if kind else not customer.conflicts
            if fits and customer.golden.customer_id not in self.used:
                self.used.add(customer.golden.customer_id)
                return customer
        raise LookupError(f"no unused seeded customer of kind {kind}")


def external_id(customer: EstateCustomer, system: str) -> str:
    """The customer's id in `system` as the estate seeded it."""
    view = {"hubspot": customer.crm_view, "shopify": customer.shop_view}.get(system)
    return (view or customer.loyalty_view).identities[system]


async def start_sync(
    bus: EventBus, world: SyncWorld, rules: CustomerSyncRules = RULES
) -> list[str]:
    """Subscribe customer sync to the bus against the sandbox's connectors."""
    return await subscribe_customer_sync(
        bus,
        crm=world.crm,
        commerce=world.commerce,
        loyalty=world.loyalty,
        rules=rules,
        retry=FAST_RETRY,
        concurrency=4,
    )


async def read_profile(world: SyncWorld, system: str, system_id: str) -> Customer:
    """The profile as the system holds it now, read through its port."""
    if system == "hubspot":
        found = await world.crm.get_contact(system_id)
    elif system == "shopify":
        found = await world.commerce.get_customer(system_id)
    else:
        found = await world.loyalty.find_member_profile(system_id)
    assert found is not None, (system, system_id)
    return found


async def report(bus: EventBus, world: SyncWorld, system: str, system_id: str) -> str:
    """What the system's webhook leads to: the profile re-read and published; its event id."""
    profile = await read_profile(world, system, system_id)
    event = profile_event(system, profile)
    await bus.publish([event])
    return event.id


async def drain(bus: EventBus, timeout_s: float = WAIT_S) -> None:
    """Wait (bounded) until no customer sync subscription has events to handle or retry
    (events parked behind a dead letter wait for an operator, so they count as settled)."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 3:
        statuses = [s for s in await bus.subscriptions() if s.name.startswith("customers.")]
        busy = [s for s in statuses if s.lag or s.retrying or (s.parked and not s.dead)]
        quiet = 0 if busy else quiet + 1
        if time.monotonic() > deadline:
            raise AssertionError(f"customer sync did not settle: {busy}")
        await asyncio.sleep(0.05)


async def dead_letters(bus: EventBus) -> list[str]:
    """The customer sync subscriptions' dead letters, as `subscription: error`."""
    held = await bus.held(Selection(), states=(HoldState.DEAD,))
    return [f"{h.subscription}: {h.error}" for h in held if h.subscription.startswith("customers.")]


async def onboard(bus: EventBus, world: SyncWorld, customer: EstateCustomer) -> GoldenView:
    """Every system reports the customer once (as an initial load would); the golden record."""
    for system in SYNCED_SYSTEMS:
        await report(bus, world, system, external_id(customer, system))
    await drain(bus)
    return await golden_of(bus, "openloyalty", external_id(customer, "openloyalty"))


async def golden_of(bus: EventBus, system: str, system_id: str) -> GoldenView:
    """The golden record a system's id is linked to."""
    async with bus.transaction() as transaction:
        view = await golden_record_by_system_id(transaction, system, system_id)
    assert view is not None, (system, system_id)
    return view


async def edit(world: SyncWorld, system: str, system_id: str, **values: Any) -> None:
    """A person changes a profile in the product itself (not through the hub): `given_name`,
    `family_name` or `phone`; in the CRM also `email` and `loyalty_card`."""
    if system == "hubspot":
        names = {
            "given_name": "firstname",
            "family_name": "lastname",
            "phone": "phone",
            "email": "email",
            "loyalty_card": "loyalty_card",
        }
        crm: Any = world.crm
        await crm.client.update("contacts", system_id, {names[k]: v for k, v in values.items()})
    elif system == "shopify":
        names = {"given_name": "first_name", "family_name": "last_name", "phone": "phone"}
        shop: Any = world.commerce
        body = {"id": int(system_id), **{names[k]: v for k, v in values.items()}}
        await shop.client.update_customer(int(system_id), body)
    else:
        names = {"given_name": "firstName", "family_name": "lastName", "phone": "phone"}
        loyalty: Any = world.loyalty
        client = loyalty.client
        body = {"customer": {names[k]: v for k, v in values.items()}}
        await client.put(client.path("member", system_id), body)


def disagreements(
    golden: GoldenView, profile: Customer, system: str, rules: CustomerSyncRules = RULES
) -> dict[str, tuple[FieldValue, FieldValue]]:
    """The fields a system holds differently from the golden record (as the system can hold
    it), leaving out fields held back by an open conflict and fields the golden lacks."""
    keeps = rules.survivorship.system(system)
    ours = profile_fields(golden.golden.customer)
    theirs = profile_fields(profile)
    blocked = golden.golden.conflicted_fields()
    found = {}
    for name in sorted(keeps.fields - blocked):
        expected = keeps.project(name, ours[name])
        if is_empty(expected):
            continue
        held = keeps.project(name, theirs[name])
        if not same_value(expected, held):
            found[name] = (expected, held)
    return found
