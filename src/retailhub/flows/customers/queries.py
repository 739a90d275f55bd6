"""What customer sync answers: a golden record with its lineage (by golden id, any system's id
or an email), a customer's audit trail, and the conflicts waiting for a person.

`golden_record` decides the record again from its stored evidence under the rules in force, so
what the API serves (`GET /v1/customers/{id}`) always agrees with the claims behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from retailhub.canonical.base import normalise_email
from retailhub.flows.customers.audit import AuditKind, AuditRecord
from retailhub.flows.customers.fields import to_json
from retailhub.flows.customers.golden import GoldenRecord
from retailhub.flows.customers.identity import MatchKey, system_key
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.store import customers_by_key, lineage_json, load_golden
from retailhub.flows.customers.tables import AUDIT, CONFLICTS
from retailhub.flows.storage import Reader, placeholders


@dataclass(frozen=True)
class GoldenView:
    """A golden customer as the hub serves it: the record, where each field came from, and the
    fields held back by an open conflict."""

    golden: GoldenRecord

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: `customer`, `lineage` (per field its sources), `conflicts`."""
        return {
            "customer": self.golden.customer.model_dump(mode="json"),
            "lineage": lineage_json(self.golden.lineage.values()),
            "conflicts": [
                {
                    "field": c.field,
                    "standing": {
                        "system": c.standing.source.system,
                        "value": to_json(c.standing.value),
                    },
                    "challenger": {
                        "system": c.challenger.source.system,
                        "value": to_json(c.challenger.value),
                    },
                    "reason": c.reason,
                }
                for c in self.golden.conflicts
            ],
        }


async def golden_record(
    reader: Reader, golden_id: str, rules: SurvivorshipRules | None = None
) -> GoldenView | None:
    """The golden customer with this id and its lineage; None when the hub does not know it."""
    golden = await load_golden(reader, golden_id, rules or SurvivorshipRules())
    return None if golden is None else GoldenView(golden)


async def golden_record_by_system_id(
    reader: Reader, system: str, external_id: str, rules: SurvivorshipRules | None = None
) -> GoldenView | None:
    """The golden customer a system's id (`shopify`, `6000000001`) is linked to."""
    found = await customers_by_key(reader, MatchKey.SYSTEM_ID, system_key(system, external_id))
    return await golden_record(reader, found[0], rules) if found else None


async def golden_records_by_email(
    reader: Reader, email: str, rules: SurvivorshipRules | None = None
) -> list[GoldenView]:
    """Every golden customer with this email (normally one; more while an identity conflict
    waits for a person). ValueError when `email` is not an address."""
    found = await customers_by_key(reader, MatchKey.EMAIL, normalise_email(email))
    views = [await golden_record(reader, customer_id, rules) for customer_id in found]
    return [view for view in views if view is not None]


async def customer_audit(reader: Reader, golden_id: str) -> list[AuditRecord]:
    """A golden customer's audit trail, oldest first."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        "SELECT customer_id, kind, field, old_json, new_json, system, event_id, changed_at,"
        f" target, detail FROM {AUDIT} WHERE customer_id = {mark} ORDER BY seq",
        (golden_id,),
    )
    return [
        AuditRecord(
            customer_id=row[0],
            kind=AuditKind(row[1]),
            field=row[2] or None,
            old=orjson.loads(row[3]) if row[3] is not None else None,
            new=orjson.loads(row[4]) if row[4] is not None else None,
            system=row[5],
            event_id=row[6],
            changed_at=datetime.fromisoformat(row[7]),
            target=row[8] or None,
            detail=row[9],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class OpenConflict:
    """A conflict waiting for a person: a field two systems disagree on (`kind` "field"), or a
    system account whose keys point at different golden customers (`kind` "identity")."""

    kind: str
    customer_ids: tuple[str, ...]
    field: str | None
    standing_system: str | None
    standing: Any
    challenger_system: str
    challenger: Any
    """For an identity conflict, the profile as the system reported it."""
    challenger_event: str
    reason: str
    opened_at: datetime


async def open_conflicts(reader: Reader, golden_id: str | None = None) -> list[OpenConflict]:
    """Open conflicts, oldest first; only one golden customer's when `golden_id` is given."""
    where = "closed_at IS NULL"
    parameters: tuple[str, ...] = ()
    if golden_id is not None:
        (mark,) = placeholders(reader, 1)
        where += f" AND customer_id = {mark}"
        parameters = (golden_id,)
    rows = await reader.fetch_all(
        "SELECT kind, customer_id, field, standing_system, standing_json, challenger_system,"
        f" challenger_json, challenger_event, reason, opened_at FROM {CONFLICTS}"
        f" WHERE {where} ORDER BY opened_at, customer_id, field",
        parameters,
    )
    return [
        OpenConflict(
            kind=row[0],
            customer_ids=tuple(row[1].split(",")),
            field=row[2] or None,
            standing_system=row[3],
            standing=orjson.loads(row[4]) if row[4] is not None else None,
            challenger_system=row[5],
            challenger=orjson.loads(row[6]) if row[6] is not None else None,
            challenger_event=row[7],
            reason=row[8],
            opened_at=datetime.fromisoformat(row[9]),
        )
        for row in rows
    ]
