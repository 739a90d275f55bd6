"""Customer profile sync, the decision core: identity resolution, survivorship, echo suppression
and the audit trail, as pure functions (docs/flows-customer-sync.md).

A system's profile change goes: `identity.resolve_identity` (which golden customer, or new,
or a conflict for a person) -> `echo.suppress_echo` (drop what the hub itself sent it) ->
`survivorship.merge` (the golden record, its lineage, field changes, propagations, conflicts)
-> `audit.audit_merge` (the trail) and `echo.record_propagation` for each send;
`records` stores a golden record as a JSON document of its evidence. The bus subscription
that wires these to the ports and the hub database comes next.
"""
