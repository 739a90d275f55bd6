"""The events customer sync listens to and the ones it publishes.

In: `retail.customer.created|updated.v1` carry one system's profile as that system holds it
(its own id in `identities`); `retail.loyalty_account.updated.v1` carries a member's cards and
tier, which the loyalty platform is the source of. Whoever turns a webhook into an event
(HubSpot contact notices re-read with `CrmPort.get_contact`, Shopify `customers/*` deliveries
mapped with `customer_to_canonical`) publishes it with `profile_event`, whose source
`/<system>/customers` names the reporting system.

Out: one hub-internal event per target system and change, `retailhub.customers.<role>_update.v1`
(role `crm`, `commerce` or `loyalty`), keyed by the golden id so one customer's updates reach a
system in order, with an id derived from the change that caused it so a replay is one event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.canonical.customer import Customer, LoyaltyMemberRef
from retailhub.canonical.loyalty import LoyaltyAccount
from retailhub.flows.customers.fields import build_customer, from_json, to_json
from retailhub.flows.customers.golden import GoldenRecord, ProfileChange, Source
from retailhub.flows.customers.survivorship import Propagation

CUSTOMER_CREATED = "retail.customer.created.v1"
CUSTOMER_UPDATED = "retail.customer.updated.v1"
LOYALTY_ACCOUNT_UPDATED = "retail.loyalty_account.updated.v1"
PROFILE_EVENTS = (CUSTOMER_CREATED, CUSTOMER_UPDATED, LOYALTY_ACCOUNT_UPDATED)
LOYALTY_ACCOUNT_FIELDS = frozenset({"loyalty_cards", "loyalty"})
"""What a loyalty account event speaks for: the member's cards and tier, nothing else."""
HUB_SOURCE = "/hub/customer-sync"
ROLES = ("crm", "commerce", "loyalty")


def propagation_type(role: str) -> str:
    """The hub-internal event type that carries golden fields to the system in `role`."""
    return f"retailhub.customers.{role}_update.v1"


def profile_event(
    system: str,
    profile: Customer,
    *,
    created: bool = False,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """The event announcing a system's profile of a customer, as a webhook receiver publishes
    it (a deterministic `event_id`, like the webhook's own id, makes a redelivery one event)."""
    return to_event(
        profile,
        CUSTOMER_CREATED if created else CUSTOMER_UPDATED,
        f"/{system}/customers",
        id=event_id,
        time=time,
    )


def reporting_system(
    event: CloudEvent, identities: Iterable[str], systems: Iterable[str]
) -> str | None:
    """The system whose report an event is: the one taking part in sync named first in the
    source path, else the only one the document carries an id of; None when it names none."""
    known = set(systems) & set(identities)
    first = event.source.strip("/").split("/", 1)[0]
    if first in known:
        return first
    if len(known) == 1:
        return next(iter(known))
    if known:
        raise ValueError(
            f"event {event.id} from {event.source} carries ids of {', '.join(sorted(known))}:"
            " which system reported it is unclear"
        )
    return None


def _moment(declared: datetime | None, event: CloudEvent) -> datetime:
    return declared or event.time or datetime.now(UTC)


def profile_change(
    event: CloudEvent, systems: Iterable[str], position: int = 0
) -> ProfileChange | None:
    """The change an inbound event (at `position` in the hub's log) reports, or None when no
    system taking part in customer sync reported it (the hub's own events, a system outside)."""
    if event.source.startswith(HUB_SOURCE):
        return None
    if event.type == LOYALTY_ACCOUNT_UPDATED:
        account = LoyaltyAccount.model_validate(event.data)
        identities = account.external_ids or {}
        system = reporting_system(event, identities, systems)
        if system is None:
            return None
        profile = Customer(
            customer_id=account.customer_id or account.member_id,
            identities={system: identities[system]},
            loyalty_cards=account.card_numbers,
            loyalty=LoyaltyMemberRef(member_id=account.member_id, tier=account.tier),
        )
        at = _moment(account.updated_at, event)
        return ProfileChange(system, profile, at, event.id, LOYALTY_ACCOUNT_FIELDS, position)
    customer = Customer.model_validate(event.data)
    system = reporting_system(event, customer.identities, systems)
    if system is None:
        return None
    own = customer.model_copy(update={"identities": {system: customer.identities[system]}})
    at = _moment(customer.updated_at, event)
    return ProfileChange(system, own, at, event.id, sequence=position)


@dataclass(frozen=True)
class PropagationOrder:
    """What one system must be told about one golden customer: the fields, as a Customer that
    holds only them, its id there (None: not known there yet) and the change that caused it."""

    system: str
    customer_id: str
    external_id: str | None
    customer: Customer
    fields: tuple[str, ...]
    cause: Source


def propagation_event(propagation: Propagation, golden: GoldenRecord, role: str) -> CloudEvent:
    """The event carrying a propagation to the subscription of the system in `role`."""
    cause = propagation.cause
    data: dict[str, Any] = {
        "customer_id": propagation.customer_id,
        "system": propagation.system,
        "external_id": propagation.external_id,
        "identities": dict(golden.identities),
        "fields": {name: to_json(value) for name, value in propagation.fields.items()},
        "cause": {
            "system": cause.system,
            "event_id": cause.event_id,
            "at": cause.at.isoformat(),
            "sequence": cause.sequence,
        },
    }
    return new_event(
        propagation_type(role),
        HUB_SOURCE,
        data,
        id=f"{cause.system}/{cause.event_id}/{propagation.system}",
        subject=propagation.customer_id,
        partitionkey=propagation.customer_id,
    )


def propagation_order(event: CloudEvent) -> PropagationOrder:
    """The order a propagation event carries."""
    data = event.data
    if not isinstance(data, dict):
        raise ValueError(f"{event.type} {event.id} carries no JSON object")
    cause = data["cause"]
    at = datetime.fromisoformat(cause["at"])
    source = Source(cause["system"], cause["event_id"], at, int(cause.get("sequence", 0)))
    values = {name: from_json(name, raw) for name, raw in data["fields"].items()}
    customer_id = str(data["customer_id"])
    customer = build_customer(customer_id, data["identities"], values, source.at)
    external_id = data.get("external_id")
    return PropagationOrder(
        str(data["system"]),
        customer_id,
        None if external_id is None else str(external_id),
        customer,
        tuple(sorted(values)),
        source,
    )
