"""Field-level survivorship: merge one system's change into the golden record.

`merge` keeps the change's values as that system's claims (only when the change is newer than
what the system reported before, so a replay or an old event changes nothing), decides every
field again from all claims (`rules`), and says what changed, whom to tell, and which conflicts
opened or closed. It is pure: the caller stores the record, sends the propagations through the
ports and writes the audit trail, all in the handler's transaction.

The conflict rule, for `priority` fields. Claims are taken in the order of their changes'
stamps: by moment to the second (Shopify and Open Loyalty stamp changes to the second, HubSpot
to the millisecond), then by arrival in the hub's log, and at the same stamp the lower-priority
system first, so the higher one decides. A value stands until a claim:

1. agrees with it (compared within what the claiming system can hold): the value stays, and
   lineage moves to the claim only if it comes from a strictly higher-priority system;
2. comes from a strictly higher-priority system: it replaces the value;
3. is newer than the standing value by more than the field's window: it replaces the value
   (priority protects a value for the window, after that the most recent wins);
4. otherwise (equal or lower priority, within the window, different): it is refused.

A refused claim newer than the value that finally stands is an open `Conflict`: the golden
value is not changed, and the field is propagated to no system until a later change closes it
(a newer claim from a higher-priority system, or from either party, that settles the fold).
A data steward settles a conflict by reporting as a system ranked first for the field. A report
that only repeats either party's value leaves the conflict as it is (it is the refusal of one
change, `Conflict.key`), so repeated webhooks neither close nor reopen it.

Because every field is decided from the claims alone, changes from different systems give the
same golden record in any order. One exception is deliberate: when a system reports again a
value the hub had sent it something else for, a person there re-entered it, which counts as a
new claim (made at the report's time); whether a report came before or after a send is known
only from the order they arrived in.

Empty values (None, an empty list) are no opinion: a system that lacks a birth date never
erases the one another system has. Erasure (a GDPR request) is its own process.

Propagation follows convergence: every system linked to the customer (or named in
`create_missing`) is sent each field it keeps whose golden value, as it can hold it, differs
from what it is believed to hold. A system's own report is what it holds, so a change is never
sent back to its source - unless the golden value differs (the source lost), which is a
correction, not an echo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from retailhub.canonical.customer import Address, MarketingConsent
from retailhub.flows.customers.fields import (
    GOLDEN_FIELDS,
    LIST_FIELDS,
    FieldValue,
    build_customer,
    consent_order,
    digest,
    is_empty,
    profile_fields,
    same_value,
)
from retailhub.flows.customers.golden import (
    Claim,
    Conflict,
    GoldenRecord,
    Held,
    Lineage,
    ProfileChange,
    Source,
    across_systems,
)
from retailhub.flows.customers.identity import new_customer_id
from retailhub.flows.customers.rules import FieldRule, Strategy, SurvivorshipRules

EQUAL_PRIORITY = "two systems of equal priority set different values within the window"
LOWER_PRIORITY = "a lower-priority system changed a value a higher-priority system set recently"


@dataclass(frozen=True)
class FieldChange:
    """A golden field that changed: old and new value, and the change that caused it."""

    field: str
    old: FieldValue
    new: FieldValue
    source: Source


@dataclass(frozen=True)
class Propagation:
    """Fields a system must receive, as it can hold them; `external_id` None means the system
    does not know the customer yet and the port creates it (upsert by golden id)."""

    system: str
    customer_id: str
    external_id: str | None
    fields: Mapping[str, FieldValue]
    cause: Source


@dataclass(frozen=True)
class MergeOutcome:
    """The golden record after a change, what changed, whom to tell, conflicts opened/closed."""

    golden: GoldenRecord
    cause: Source
    changes: tuple[FieldChange, ...]
    propagations: tuple[Propagation, ...]
    conflicts: tuple[Conflict, ...]
    resolved: tuple[Conflict, ...]


@dataclass(frozen=True)
class Decision:
    """One field decided: its value, where it came from, the conflicts it leaves open."""

    value: FieldValue
    lineage: Lineage | None
    conflicts: tuple[Conflict, ...]


def merge(
    golden: GoldenRecord | None,
    change: ProfileChange,
    rules: SurvivorshipRules | None = None,
    *,
    customer_id: str | None = None,
) -> MergeOutcome:
    """Merge a system's change into the golden record (None: a new customer, whose id is
    `customer_id` or else derived from the change's system identity)."""
    rules = rules or SurvivorshipRules()
    if golden is None:
        golden = empty_golden(customer_id or new_customer_id(change.system, change.external_id))
    linked = golden.identities.get(change.system)
    if linked is not None and linked != change.external_id:
        raise ValueError(
            f"{golden.customer_id} is linked to {change.system} {linked}, not"
            f" {change.external_id}: resolve identity first"
        )
    claims, held = _take_claims(golden, change, rules)
    identities = {**golden.identities, change.system: change.external_id}
    after = resolve_golden(golden.customer_id, identities, claims, held, rules)
    propagations, held = _propagations(after, change.source, rules)
    after = replace(after, held=held)
    before_values = profile_fields(golden.customer)
    after_values = profile_fields(after.customer)
    changes = tuple(
        FieldChange(name, before_values[name], after_values[name], change.source)
        for name in GOLDEN_FIELDS
        if not same_value(before_values[name], after_values[name])
    )
    return MergeOutcome(
        after,
        change.source,
        changes,
        propagations,
        tuple(c for c in after.conflicts if c not in golden.conflicts),
        tuple(c for c in golden.conflicts if c not in after.conflicts),
    )


def empty_golden(customer_id: str) -> GoldenRecord:
    """A golden record that knows nothing yet."""
    return GoldenRecord(customer_id, {}, {}, {}, build_customer(customer_id, {}, {}, None), {}, ())


def _take_claims(
    golden: GoldenRecord, change: ProfileChange, rules: SurvivorshipRules
) -> tuple[dict[str, dict[str, Claim]], dict[str, dict[str, Held]]]:
    """The claims and held values after the change: a field's claim moves only when the change
    is newer, and keeps its old source when the value did not change and the hub sent the
    system nothing else since (a full-profile report does not make an unchanged name look
    freshly set)."""
    claims = {name: dict(by_system) for name, by_system in golden.claims.items()}
    held = {system: dict(fields) for system, fields in golden.held.items()}
    source = change.source
    own_held = held.setdefault(change.system, {})
    for name, value in change.values(rules).items():
        by_system = claims.setdefault(name, {})
        previous = by_system.get(change.system)
        if previous is not None and previous.confirmed >= source.stamp:
            continue
        fingerprint = digest(value)
        was = own_held.get(name)
        # What the hub believes the system holds may come from another system's change.
        newer = was is None or across_systems(was.stamp) < across_systems(source.stamp)
        # Sent something else since, the system now reports its old value again: a person
        # there re-entered it, which is a new claim (and may well be a conflict).
        reentered = was is not None and newer and was.digest != fingerprint
        if previous is None or not same_value(previous.value, value) or reentered:
            by_system[change.system] = Claim(value, source, source.stamp)
        else:
            by_system[change.system] = replace(previous, confirmed=source.stamp)
        if newer:
            own_held[name] = Held(fingerprint, source.stamp)
    return claims, held


def resolve_golden(
    customer_id: str,
    identities: Mapping[str, str],
    claims: Mapping[str, Mapping[str, Claim]],
    held: Mapping[str, Mapping[str, Held]],
    rules: SurvivorshipRules,
) -> GoldenRecord:
    """Decide every field from the claims: the golden record as the rules say it stands."""
    values: dict[str, FieldValue] = {}
    lineage: dict[str, Lineage] = {}
    conflicts: list[Conflict] = []
    for name in GOLDEN_FIELDS:
        decision = decide_field(customer_id, name, claims.get(name, {}), rules)
        values[name] = decision.value
        if decision.lineage is not None:
            lineage[name] = decision.lineage
        conflicts.extend(decision.conflicts)
    moments = [c.source.at for by_system in claims.values() for c in by_system.values()]
    customer = build_customer(customer_id, identities, values, max(moments, default=None))
    return GoldenRecord(
        customer_id, dict(identities), claims, held, customer, lineage, tuple(conflicts)
    )


def decide_field(
    customer_id: str, name: str, claims: Mapping[str, Claim], rules: SurvivorshipRules
) -> Decision:
    """One field's value, lineage and open conflicts from the systems' claims."""
    rule = rules.fields[name]
    present = [c for c in claims.values() if not is_empty(c.value)]
    if not present:
        return Decision(() if name in LIST_FIELDS else None, None, ())
    if rule.strategy is Strategy.UNION:
        return _union(name, rule, present)
    if rule.strategy is Strategy.LATEST:
        latest = max(present, key=lambda c: _latest_order(c, rule))
        return Decision(latest.value, Lineage(name, (latest.source,)), ())
    return _priority(customer_id, name, rule, present, rules)


def _union(name: str, rule: FieldRule, present: list[Claim]) -> Decision:
    """Every system's items, systems in priority order, first mention kept."""
    items: list[str | Address] = []
    sources: list[Source] = []
    for claim in sorted(present, key=lambda c: (rule.rank(c.source.system), c.source.system)):
        for item in claim.value if isinstance(claim.value, tuple) else ():
            if not any(same_value(item, kept) for kept in items):
                items.append(item)
                sources.append(claim.source)
    return Decision(cast(FieldValue, tuple(items)), Lineage(name, tuple(sources)), ())


def _latest_order(claim: Claim, rule: FieldRule) -> tuple[datetime, bool, datetime, int, str]:
    """Most recent decision first; for consent the customer's moment of decision, and at the
    same moment a withdrawal; then the most recent report, then priority, then system name."""
    value = claim.value
    decided, withdrawal = (
        consent_order(value) if isinstance(value, MarketingConsent) else (claim.source.at, False)
    )
    return (
        decided,
        withdrawal,
        claim.source.at,
        -rule.rank(claim.source.system),
        claim.source.system,
    )


def _priority(
    customer_id: str,
    name: str,
    rule: FieldRule,
    present: list[Claim],
    rules: SurvivorshipRules,
) -> Decision:
    """The fold described in the module docstring."""

    def order(claim: Claim) -> tuple[datetime, int, int, str]:
        moment, sequence, _ = across_systems(claim.source.stamp)
        return (moment, sequence, -rule.rank(claim.source.system), claim.source.system)

    standing: Claim | None = None
    refused: list[Claim] = []
    for claim in sorted(present, key=order):
        if standing is None:
            standing = claim
            continue
        rank, standing_rank = rule.rank(claim.source.system), rule.rank(standing.source.system)
        held_as = rules.system(claim.source.system).project(name, standing.value)
        if same_value(claim.value, held_as):
            if rank < standing_rank and same_value(claim.value, standing.value):
                standing = claim
        elif rank < standing_rank or claim.source.at - standing.source.at > rule.window:
            standing = claim
        else:
            refused.append(claim)
    assert standing is not None
    conflicts = tuple(
        Conflict(
            customer_id,
            name,
            standing,
            claim,
            EQUAL_PRIORITY
            if rule.rank(claim.source.system) == rule.rank(standing.source.system)
            else LOWER_PRIORITY,
        )
        for claim in refused
        if order(claim) > order(standing)
    )
    return Decision(standing.value, Lineage(name, (standing.source,)), conflicts)


def _propagations(
    golden: GoldenRecord, cause: Source, rules: SurvivorshipRules
) -> tuple[tuple[Propagation, ...], dict[str, dict[str, Held]]]:
    """What each system must receive to hold the golden record, and the held values after."""
    held = {system: dict(fields) for system, fields in golden.held.items()}
    values = profile_fields(golden.customer)
    blocked = golden.conflicted_fields()
    propagations: list[Propagation] = []
    for system, profile in sorted(rules.systems.items()):
        external_id = golden.identities.get(system)
        if external_id is None and system not in rules.create_missing:
            continue
        believed = held.setdefault(system, {})
        send: dict[str, FieldValue] = {}
        for name in sorted(profile.fields - blocked):
            value = profile.project(name, values[name])
            if is_empty(value):
                continue
            fingerprint = digest(value)
            was = believed.get(name)
            if was is not None and was.digest == fingerprint:
                continue
            send[name] = value
            believed[name] = Held(
                fingerprint, max(was.stamp, cause.stamp, key=across_systems) if was else cause.stamp
            )
        if send:
            propagations.append(Propagation(system, golden.customer_id, external_id, send, cause))
    return tuple(propagations), held
