"""Customer profile sync (docs/flows-customer-sync.md).

The decision core is pure: `identity.resolve_identity` (which golden customer, new, or a
conflict for a person) -> `echo.split_echo` (drop what the hub itself sent) ->
`survivorship.merge` (the golden record, its lineage, field changes, propagations, conflicts)
-> `audit.audit_merge` (the trail); `records` stores a golden record as a JSON document of its
evidence. On the bus, `subscribe_customer_sync` runs the `customers.intake` subscription
(`intake`) and one propagation subscription per target system (`propagation`), keeping their
state in the hub database (`tables`, `store`, `trail`); `queries` answers what the API serves.
"""

from retailhub.flows.customers.events import profile_event
from retailhub.flows.customers.queries import (
    GoldenView,
    OpenConflict,
    customer_audit,
    golden_record,
    golden_record_by_system_id,
    golden_records_by_email,
    open_conflicts,
)
from retailhub.flows.customers.settings import CustomerSyncRules
from retailhub.flows.customers.wiring import subscribe_customer_sync

__all__ = [
    "CustomerSyncRules",
    "GoldenView",
    "OpenConflict",
    "customer_audit",
    "golden_record",
    "golden_record_by_system_id",
    "golden_records_by_email",
    "open_conflicts",
    "profile_event",
    "subscribe_customer_sync",
]
