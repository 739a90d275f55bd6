"""The propagation subscriptions: one per target system, each writing golden fields through its
port (`customers.to_crm`, `customers.to_commerce`, `customers.to_loyalty`).

Each is its own durable subscription, so a system that is down retries and dead-letters only
its own updates while the others carry on, and one customer's updates reach a system in order
(keyed by golden id). The write happens first, with no database statement before it (on SQLite
a handler holds its batch's transaction from its first statement); then, in the handler's
transaction: the system's id is linked to the golden record if the write created the customer
there, and the delivery is audited. Every write is safe to repeat: contacts and shop customers
are upserted by their id (else email), members are updated by member id or registered under a
key derived from the golden id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from retailhub.bus.port import Handler, HandlerContext, Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.connectors.ports import CommercePort, CrmPort, LoyaltyPort
from retailhub.flows.customers.audit import audit_delivery
from retailhub.flows.customers.events import PropagationOrder, propagation_order
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.store import load_golden, save_golden
from retailhub.flows.customers.survivorship import resolve_golden
from retailhub.flows.customers.tables import take_turn
from retailhub.flows.customers.trail import append_audit

Write = Callable[[PropagationOrder], Awaitable[str]]


def subscription_name(role: str) -> str:
    """The subscription that carries golden fields to the system in `role`."""
    return f"customers.to_{role}"


def member_key(customer_id: str) -> str:
    """The idempotency key a golden customer is registered with the loyalty platform under."""
    return f"customer-sync/{customer_id}"


def write_contact(crm: CrmPort) -> Write:
    """Upsert the CRM contact; returns its id."""

    async def write(order: PropagationOrder) -> str:
        return await crm.upsert_contact(order.customer)

    return write


def write_shop_customer(commerce: CommercePort) -> Write:
    """Upsert the web shop's customer; returns its id."""

    async def write(order: PropagationOrder) -> str:
        return await commerce.upsert_customer(order.customer)

    return write


def write_member(loyalty: LoyaltyPort) -> Write:
    """Update the member's profile, or register the customer as a member; returns the id."""

    async def write(order: PropagationOrder) -> str:
        if order.external_id is not None:
            await loyalty.update_member(order.external_id, order.customer)
            return order.external_id
        return await loyalty.register_member(order.customer, member_key(order.customer_id))

    return write


async def link_system(
    transaction: Transaction,
    order: PropagationOrder,
    external_id: str,
    rules: SurvivorshipRules,
) -> str | None:
    """Link the system's id to the golden record if it lacks one; the id it was linked to
    before when that differs (for the audit), else None."""
    golden = await load_golden(transaction, order.customer_id, rules)
    if golden is None:
        raise LookupError(f"no golden customer {order.customer_id} to link {order.system} to")
    linked = golden.identities.get(order.system)
    if linked is not None:
        return None if linked == external_id else linked
    identities = {**golden.identities, order.system: external_id}
    await save_golden(
        transaction,
        resolve_golden(golden.customer_id, identities, golden.claims, golden.held, rules),
    )
    return None


def propagate(system: str, write: Write, rules: SurvivorshipRules) -> Handler:
    """The handler delivering `system`'s propagation events through `write`."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        order = propagation_order(event)
        if order.system != system:
            raise ValueError(f"{event.id} is for {order.system}, not {system}")
        external_id = await write(order)
        transaction = context.transaction
        await take_turn(transaction)
        other = None
        if order.external_id != external_id:
            other = await link_system(transaction, order, external_id, rules)
        record = audit_delivery(order.customer_id, system, external_id, order.fields, order.cause)
        if other is not None:
            detail = f"{record.detail}; but the golden record is linked to {system} {other}"
            record = replace(record, detail=detail)
        await append_audit(transaction, [record])

    return handle
