"""The `customers.intake` subscription: a system's profile change becomes the golden record's.

For each change, in the handler's transaction (so everything commits with the handled mark):
take the intake turn, resolve identity against the stored index, drop the fields that echo
what the hub sent that system, merge the rest under the survivorship rules, then store the
golden record, its keys, the audit trail, the conflicts opened and closed, the fingerprints of
what is about to be sent, and one propagation event per target system (an outbox: the events
exist if and only if the golden record changed).

Fingerprints are recorded here, before any system is written to, not after the write: the
target's webhook can come back before the propagating handler commits, and it must already be
recognised as an echo then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from retailhub.bus.port import EventBus, Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.flows.customers.audit import audit_echo, audit_identity_conflict, audit_merge
from retailhub.flows.customers.echo import fingerprints, split_echo
from retailhub.flows.customers.events import profile_change, propagation_event
from retailhub.flows.customers.identity import IdentityConflict, resolve_identity
from retailhub.flows.customers.settings import CustomerSyncRules
from retailhub.flows.customers.store import identity_snapshot, load_golden, save_golden
from retailhub.flows.customers.survivorship import merge
from retailhub.flows.customers.tables import take_turn
from retailhub.flows.customers.trail import (
    append_audit,
    close_field_conflicts,
    expected_fingerprints,
    forget_fingerprints,
    open_field_conflicts,
    record_identity_conflict,
    remember_fingerprints,
)

INTAKE_SUBSCRIPTION = "customers.intake"


def take_profile_changes(
    bus: EventBus, rules: CustomerSyncRules, roles: Mapping[str, str]
) -> Handler:
    """The intake handler; `roles` maps each target system to its port's role."""
    survivorship = rules.survivorship

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        change = profile_change(event, rules.systems, context.position)
        if change is None:
            return
        transaction = context.transaction
        await take_turn(transaction)
        index = await identity_snapshot(transaction, change.profile, rules.match, survivorship)
        resolution = resolve_identity(change.system, change.profile, index, rules.match)
        if isinstance(resolution, IdentityConflict):
            await record_identity_conflict(transaction, change, resolution)
            record = audit_identity_conflict(change, resolution)
            await append_audit(
                transaction, [replace(record, customer_id=c) for c in resolution.customer_ids]
            )
            return
        customer_id = resolution.customer_id
        expected = await expected_fingerprints(transaction, change.system, customer_id)
        split = split_echo(change, expected, survivorship)
        if split.differing:
            await forget_fingerprints(transaction, change.system, customer_id, split.differing)
        if split.echoed:
            await append_audit(transaction, [audit_echo(change, customer_id, split.echoed)])
        if split.change is None:
            return
        golden = await load_golden(transaction, customer_id, survivorship)
        outcome = merge(golden, split.change, survivorship, customer_id=customer_id)
        await save_golden(transaction, outcome.golden)
        await append_audit(transaction, audit_merge(outcome))
        await open_field_conflicts(transaction, outcome.conflicts, outcome.cause)
        await close_field_conflicts(transaction, outcome.resolved, outcome.cause)
        await remember_fingerprints(
            transaction, [f for p in outcome.propagations for f in fingerprints(p)]
        )
        events = [
            propagation_event(p, outcome.golden, roles[p.system])
            for p in outcome.propagations
            if p.system in roles
        ]
        if events:
            await bus.publish(events, transaction=transaction)

    return handle
