"""How a golden record is stored: its identities, claims and held values as one JSON document.

Only the evidence is stored; the resolved customer, lineage and open conflicts are decided again
from it when the record is loaded. So a change to the survivorship rules in the estate file
applies to every customer the next time it is read, and a stored record can never disagree
with its own claims. In the hub database this is one row per golden customer (`customer_id`
primary key, the document as JSON, a version for optimistic locking), next to the identity
index's key table, written in the handler's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from retailhub.flows.customers.fields import from_json, to_json
from retailhub.flows.customers.golden import Claim, GoldenRecord, Held, Source, Stamp
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.survivorship import resolve_golden

DOCUMENT_VERSION = 1


def golden_document(golden: GoldenRecord) -> dict[str, Any]:
    """The golden record's evidence as JSON-ready data."""
    return {
        "version": DOCUMENT_VERSION,
        "customer_id": golden.customer_id,
        "identities": dict(golden.identities),
        "claims": {
            name: {system: _claim(claim) for system, claim in by_system.items()}
            for name, by_system in golden.claims.items()
        },
        "held": {
            system: {name: [held.digest, *_stamp(held.stamp)] for name, held in fields.items()}
            for system, fields in golden.held.items()
        },
    }


def golden_from_document(
    document: Mapping[str, Any], rules: SurvivorshipRules | None = None
) -> GoldenRecord:
    """The golden record a stored document holds, decided under `rules`."""
    if document.get("version") != DOCUMENT_VERSION:
        raise ValueError(f"golden record document version {document.get('version')!r} is unknown")
    claims = {
        name: {system: _read_claim(name, system, raw) for system, raw in by_system.items()}
        for name, by_system in document["claims"].items()
    }
    held = {
        system: {
            name: Held(digest, _read_stamp(*stamp)) for name, (digest, *stamp) in fields.items()
        }
        for system, fields in document["held"].items()
    }
    return resolve_golden(
        document["customer_id"], document["identities"], claims, held, rules or SurvivorshipRules()
    )


def _claim(claim: Claim) -> dict[str, Any]:
    return {
        "value": to_json(claim.value),
        "event_id": claim.source.event_id,
        "at": claim.source.at.isoformat(),
        "sequence": claim.source.sequence,
        "confirmed": _stamp(claim.confirmed),
    }


def _read_claim(name: str, system: str, raw: Mapping[str, Any]) -> Claim:
    at = datetime.fromisoformat(raw["at"])
    source = Source(system, raw["event_id"], at, int(raw.get("sequence", 0)))
    return Claim(from_json(name, raw["value"]), source, _read_stamp(*raw["confirmed"]))


def _stamp(stamp: Stamp) -> list[str | int]:
    return [stamp[0].isoformat(), stamp[1], stamp[2]]


def _read_stamp(*parts: Any) -> Stamp:
    """A stamp as stored: [at, sequence, event id] (or [at, event id], from before sequences)."""
    if len(parts) == 2:
        return (datetime.fromisoformat(parts[0]), 0, str(parts[1]))
    at, sequence, event_id = parts
    return (datetime.fromisoformat(at), int(sequence), str(event_id))
