"""The customer audit trail: every change to a golden record with its source, as plain records.

One `AuditRecord` per fact: a field changed (old and new value, the system, event and moment
of the change that caused it), a conflict opened or closed, fields sent to a system and their
delivery (with the customer's id there), a report recognised as an echo, a profile whose
identity keys conflict. Values are JSON-ready, so a record is stored and shown as it is.

Storage (`trail.append_audit`): the append-only table `customer_sync_audit` in the hub
database, written in the same transaction as the golden record and the bus dedupe record, so
a change and its audit commit together or not at all:

    customer_sync_audit(seq primary key, customer_id, kind, field, old_json, new_json,
                        system, event_id, changed_at, target, detail, recorded_at)
    unique (event_id, kind, customer_id, field, target)   -- a replayed event adds nothing
    index (customer_id, seq)                             -- one customer's history, in order

Rows are never updated or deleted by the flows; a GDPR erasure replaces the values of a
customer's rows with a tombstone rather than dropping the history of what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from retailhub.flows.customers.fields import FieldValue, to_json
from retailhub.flows.customers.golden import Conflict, ProfileChange, Source
from retailhub.flows.customers.identity import IdentityConflict
from retailhub.flows.customers.survivorship import MergeOutcome


class AuditKind(StrEnum):
    """What an audit record says happened."""

    FIELD_CHANGED = "field_changed"
    CONFLICT_OPENED = "conflict_opened"
    CONFLICT_CLOSED = "conflict_closed"
    PROPAGATED = "propagated"
    ECHO_SUPPRESSED = "echo_suppressed"
    IDENTITY_CONFLICT = "identity_conflict"
    DELIVERED = "delivered"
    """The target system accepted the propagated fields (after any retries)."""


@dataclass(frozen=True)
class AuditRecord:
    """One fact in a customer's history, with the change (system, event, moment) behind it."""

    customer_id: str
    kind: AuditKind
    field: str | None
    old: Any
    new: Any
    system: str
    event_id: str
    changed_at: datetime
    target: str | None = None
    """The system a propagation went to."""
    detail: str | None = None


def audit_merge(outcome: MergeOutcome) -> tuple[AuditRecord, ...]:
    """The audit records of a merge: changed fields, conflicts opened and closed, sends."""
    customer_id = outcome.golden.customer_id
    records = [
        _record(customer_id, AuditKind.FIELD_CHANGED, c.field, c.old, c.new, c.source)
        for c in outcome.changes
    ]
    records.extend(
        _conflict(c, AuditKind.CONFLICT_OPENED, outcome.cause) for c in outcome.conflicts
    )
    records.extend(_conflict(c, AuditKind.CONFLICT_CLOSED, outcome.cause) for c in outcome.resolved)
    records.extend(
        _record(
            customer_id,
            AuditKind.PROPAGATED,
            name,
            None,
            value,
            propagation.cause,
            target=propagation.system,
        )
        for propagation in outcome.propagations
        for name, value in propagation.fields.items()
    )
    return tuple(records)


def audit_echo(change: ProfileChange, customer_id: str, echoed: Iterable[str]) -> AuditRecord:
    """The record of a report recognised (wholly or partly) as the echo of a propagation."""
    return _record(
        customer_id,
        AuditKind.ECHO_SUPPRESSED,
        None,
        None,
        None,
        change.source,
        detail=", ".join(sorted(echoed)),
    )


def audit_delivery(
    customer_id: str, target: str, external_id: str, fields: Iterable[str], cause: Source
) -> AuditRecord:
    """The record of fields written to a target system, with the customer's id there."""
    return _record(
        customer_id,
        AuditKind.DELIVERED,
        None,
        None,
        external_id,
        cause,
        target=target,
        detail=", ".join(sorted(fields)),
    )


def audit_identity_conflict(change: ProfileChange, conflict: IdentityConflict) -> AuditRecord:
    """The record of a profile that could not be placed: the keys and where they point."""
    evidence = "; ".join(f"{m.key.value} {m.value} -> {m.customer_id}" for m in conflict.evidence)
    return _record(
        ",".join(conflict.customer_ids),
        AuditKind.IDENTITY_CONFLICT,
        None,
        None,
        None,
        change.source,
        detail=f"{conflict.reason}: {evidence}",
    )


def _conflict(conflict: Conflict, kind: AuditKind, cause: Source) -> AuditRecord:
    return _record(
        conflict.customer_id,
        kind,
        conflict.field,
        conflict.standing.value,
        conflict.challenger.value,
        cause,
        detail=f"{conflict.reason} ({conflict.standing.source.system} vs"
        f" {conflict.challenger.source.system})",
    )


def _record(
    customer_id: str,
    kind: AuditKind,
    field: str | None,
    old: FieldValue,
    new: FieldValue,
    source: Source,
    *,
    target: str | None = None,
    detail: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        customer_id,
        kind,
        field,
        to_json(old),
        to_json(new),
        source.system,
        source.event_id,
        source.at,
        target,
        detail,
    )
