"""Customer profile sync on the bus: one intake subscription and one propagation subscription
per target system (docs/flows-customer-sync.md).

`customers.intake` takes every system's profile changes and decides the golden record; it runs
on the hub database only, serialised by the intake turn, so its concurrency buys little.
`customers.to_crm`, `customers.to_commerce` and `customers.to_loyalty` each write to one
system, retried and dead-lettered on their own by the bus.
"""

from __future__ import annotations

from retailhub.bus.port import DEFAULT_RETRY, EventBus, RetryPolicy
from retailhub.connectors.ports import CommercePort, CrmPort, LoyaltyPort
from retailhub.flows.customers.events import PROFILE_EVENTS, propagation_type
from retailhub.flows.customers.intake import INTAKE_SUBSCRIPTION, take_profile_changes
from retailhub.flows.customers.propagation import (
    Write,
    propagate,
    subscription_name,
    write_contact,
    write_member,
    write_shop_customer,
)
from retailhub.flows.customers.settings import CustomerSyncRules
from retailhub.flows.customers.tables import create_customer_sync_tables


async def subscribe_customer_sync(
    bus: EventBus,
    *,
    crm: CrmPort,
    commerce: CommercePort,
    loyalty: LoyaltyPort,
    rules: CustomerSyncRules | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: int = 8,
) -> list[str]:
    """Create the customer sync tables and run its subscriptions here; returns their names.
    ValueError when the rules name a system none of the ports is."""
    rules = rules or CustomerSyncRules()
    writers: dict[str, tuple[str, str, Write]] = {
        crm.name: ("crm", crm.name, write_contact(crm)),
        commerce.name: ("commerce", commerce.name, write_shop_customer(commerce)),
        loyalty.name: ("loyalty", loyalty.name, write_member(loyalty)),
    }
    missing = rules.systems - set(writers)
    if missing:
        raise ValueError(
            f"customer sync rules name {', '.join(sorted(missing))}, which no port reaches"
        )
    async with bus.transaction() as transaction:
        await create_customer_sync_tables(transaction)
    roles = {system: role for system, (role, _, _) in writers.items() if system in rules.systems}
    await bus.subscribe(
        INTAKE_SUBSCRIPTION,
        PROFILE_EVENTS,
        take_profile_changes(bus, rules, roles),
        retry=retry,
        concurrency=concurrency,
    )
    names = [INTAKE_SUBSCRIPTION]
    for system, (role, _, write) in writers.items():
        if system not in rules.systems:
            continue
        name = subscription_name(role)
        handler = propagate(system, write, rules.survivorship)
        await bus.subscribe(
            name, (propagation_type(role),), handler, retry=retry, concurrency=concurrency
        )
        names.append(name)
    return names
