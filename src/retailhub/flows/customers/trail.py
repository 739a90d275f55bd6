"""The audit trail, conflicts and echo fingerprints in the hub database.

Audit rows are appended once per fact: a replayed event adds nothing (the unique key of
`tables.AUDIT`). Field conflicts mirror the golden record's open conflicts as of its last save:
new ones open, those the record no longer has close, with the event that closed them. Identity
conflicts stay open for a person. Fingerprints are kept one per system, customer and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import orjson

from retailhub.bus.port import Transaction
from retailhub.flows.customers.audit import AuditRecord
from retailhub.flows.customers.echo import Fingerprint
from retailhub.flows.customers.fields import to_json
from retailhub.flows.customers.golden import Conflict, ProfileChange, Source
from retailhub.flows.customers.identity import IdentityConflict
from retailhub.flows.customers.tables import AUDIT, CONFLICTS, FINGERPRINTS
from retailhub.flows.storage import Reader, placeholders

FIELD_CONFLICT = "field"
IDENTITY_CONFLICT = "identity"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


async def append_audit(transaction: Transaction, records: Iterable[AuditRecord]) -> None:
    """Append audit records; one already recorded for the same event is left as it is."""
    columns = (
        "customer_id",
        "kind",
        "field",
        "old_json",
        "new_json",
        "system",
        "event_id",
        "changed_at",
        "target",
        "detail",
        "recorded_at",
    )
    marks = ", ".join(placeholders(transaction, len(columns)))
    statement = (
        f"INSERT INTO {AUDIT} ({', '.join(columns)}) VALUES ({marks})"
        " ON CONFLICT (event_id, kind, customer_id, field, target) DO NOTHING"
    )
    for record in records:
        await transaction.execute(
            statement,
            (
                record.customer_id,
                record.kind.value,
                record.field or "",
                _json(record.old),
                _json(record.new),
                record.system,
                record.event_id,
                record.changed_at.isoformat(),
                record.target or "",
                record.detail,
                _now(),
            ),
        )


async def open_field_conflicts(
    transaction: Transaction, conflicts: Iterable[Conflict], cause: Source
) -> None:
    """Record conflicts that opened (a repeat leaves the row as it is)."""
    marks = ", ".join(placeholders(transaction, 10))
    for conflict in conflicts:
        await transaction.execute(
            f"INSERT INTO {CONFLICTS} (customer_id, field, challenger_system, challenger_event,"
            " kind, standing_system, standing_json, challenger_json, reason, opened_at)"
            f" VALUES ({marks})"
            " ON CONFLICT (customer_id, field, challenger_system, challenger_event) DO NOTHING",
            (
                conflict.customer_id,
                conflict.field,
                conflict.challenger.source.system,
                conflict.challenger.source.event_id,
                FIELD_CONFLICT,
                conflict.standing.source.system,
                _json(to_json(conflict.standing.value)),
                _json(to_json(conflict.challenger.value)),
                conflict.reason,
                cause.at.isoformat(),
            ),
        )


async def close_field_conflicts(
    transaction: Transaction, conflicts: Iterable[Conflict], cause: Source
) -> None:
    """Close conflicts the golden record no longer has, naming the event that settled them."""
    marks = placeholders(transaction, 6)
    for conflict in conflicts:
        await transaction.execute(
            f"UPDATE {CONFLICTS} SET closed_at = {marks[0]}, closed_by_event = {marks[1]}"
            f" WHERE customer_id = {marks[2]} AND field = {marks[3]}"
            f" AND challenger_system = {marks[4]} AND challenger_event = {marks[5]}"
            " AND closed_at IS NULL",
            (
                cause.at.isoformat(),
                cause.event_id,
                conflict.customer_id,
                conflict.field,
                conflict.challenger.source.system,
                conflict.challenger.source.event_id,
            ),
        )


async def record_identity_conflict(
    transaction: Transaction, change: ProfileChange, conflict: IdentityConflict
) -> None:
    """Record (or refresh) the identity conflict of one system account, for a person."""
    marks = ", ".join(placeholders(transaction, 8))
    evidence = "; ".join(f"{m.key.value} {m.value} -> {m.customer_id}" for m in conflict.evidence)
    await transaction.execute(
        f"INSERT INTO {CONFLICTS} (customer_id, field, challenger_system, challenger_event,"
        f" kind, challenger_json, reason, opened_at) VALUES ({marks})"
        " ON CONFLICT (customer_id, field, challenger_system, challenger_event) DO UPDATE SET"
        " challenger_json = excluded.challenger_json, reason = excluded.reason,"
        " closed_at = NULL, closed_by_event = NULL",
        (
            ",".join(conflict.customer_ids),
            "",
            change.system,
            change.external_id,
            IDENTITY_CONFLICT,
            change.profile.model_dump_json(),
            f"{conflict.reason}: {evidence}",
            change.at.isoformat(),
        ),
    )


async def expected_fingerprints(
    reader: Reader, system: str, customer_id: str
) -> Mapping[str, Fingerprint]:
    """The fingerprints of what the hub sent `system` for a customer, by field."""
    marks = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"SELECT field, digest FROM {FINGERPRINTS}"
        f" WHERE system = {marks[0]} AND customer_id = {marks[1]}",
        (system, customer_id),
    )
    return {name: Fingerprint(system, customer_id, name, digest) for name, digest in rows}


async def remember_fingerprints(
    transaction: Transaction, fingerprints: Iterable[Fingerprint]
) -> None:
    """Keep fingerprints, each replacing the one for its system, customer and field."""
    marks = ", ".join(placeholders(transaction, 5))
    for fingerprint in fingerprints:
        await transaction.execute(
            f"INSERT INTO {FINGERPRINTS} (system, customer_id, field, digest, recorded_at)"
            f" VALUES ({marks}) ON CONFLICT (system, customer_id, field) DO UPDATE SET"
            " digest = excluded.digest, recorded_at = excluded.recorded_at",
            (
                fingerprint.system,
                fingerprint.customer_id,
                fingerprint.field,
                fingerprint.digest,
                _now(),
            ),
        )


async def forget_fingerprints(
    transaction: Transaction, system: str, customer_id: str, fields: Iterable[str]
) -> None:
    """Drop the fingerprints of fields the system has changed since."""
    marks = placeholders(transaction, 3)
    for name in sorted(fields):
        await transaction.execute(
            f"DELETE FROM {FINGERPRINTS} WHERE system = {marks[0]} AND customer_id = {marks[1]}"
            f" AND field = {marks[2]}",
            (system, customer_id, name),
        )
