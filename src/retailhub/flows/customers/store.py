"""Golden records and the identity index in the hub database.

A golden record is saved as its evidence (`records.golden_document`) and loaded by deciding it
again under the rules in force. The identity index holds every key value of the resolved
customer, so `identity_snapshot` can hand `identity.resolve_identity` exactly the golden
customers a profile's keys point at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

from retailhub.bus.port import Transaction
from retailhub.canonical.customer import Customer
from retailhub.flows.customers.golden import GoldenRecord, Lineage
from retailhub.flows.customers.identity import (
    InMemoryIdentityIndex,
    MatchKey,
    MatchRules,
    key_values,
)
from retailhub.flows.customers.records import golden_document, golden_from_document
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.tables import GOLDEN, KEYS
from retailhub.flows.storage import Reader, placeholders


def lineage_json(lineage: Iterable[Lineage]) -> dict[str, list[dict[str, str]]]:
    """Lineage as JSON-ready data: per field, its sources (system, event id, moment)."""
    return {
        item.field: [
            {"system": s.system, "event_id": s.event_id, "at": s.at.isoformat()}
            for s in item.sources
        ]
        for item in lineage
    }


async def load_golden(
    reader: Reader, customer_id: str, rules: SurvivorshipRules
) -> GoldenRecord | None:
    """The golden record stored under `customer_id`, decided under `rules`; None if unknown."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT document FROM {GOLDEN} WHERE customer_id = {mark}", (customer_id,)
    )
    if not rows:
        return None
    return golden_from_document(orjson.loads(rows[0][0]), rules)


async def save_golden(transaction: Transaction, golden: GoldenRecord) -> None:
    """Store a golden record and re-index its keys."""
    marks = placeholders(transaction, 5)
    await transaction.execute(
        f"INSERT INTO {GOLDEN} (customer_id, document, customer, lineage, updated_at)"
        f" VALUES ({', '.join(marks)}) ON CONFLICT (customer_id) DO UPDATE SET"
        " document = excluded.document, customer = excluded.customer,"
        " lineage = excluded.lineage, updated_at = excluded.updated_at",
        (
            golden.customer_id,
            orjson.dumps(golden_document(golden)).decode(),
            golden.customer.model_dump_json(),
            orjson.dumps(lineage_json(golden.lineage.values())).decode(),
            datetime.now(UTC).isoformat(),
        ),
    )
    (mark,) = placeholders(transaction, 1)
    await transaction.execute(
        f"DELETE FROM {KEYS} WHERE customer_id = {mark}", (golden.customer_id,)
    )
    marks = placeholders(transaction, 3)
    for key, value in sorted(index_entries(golden.customer)):
        await transaction.execute(
            f"INSERT INTO {KEYS} (key, value, customer_id) VALUES ({', '.join(marks)})",
            (key, value, golden.customer_id),
        )


def index_entries(customer: Customer) -> set[tuple[str, str]]:
    """Every (key, value) a golden customer can be found by."""
    return {(key.value, value) for key in MatchKey for value in key_values(key, customer)}


async def customers_by_key(reader: Reader, key: MatchKey, value: str) -> list[str]:
    """The golden ids a key value points at."""
    marks = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"SELECT customer_id FROM {KEYS} WHERE key = {marks[0]} AND value = {marks[1]}"
        " ORDER BY customer_id",
        (key.value, value),
    )
    return [row[0] for row in rows]


async def identity_snapshot(
    reader: Reader, profile: Customer, match: MatchRules, rules: SurvivorshipRules
) -> InMemoryIdentityIndex:
    """An identity index holding every golden customer one of the profile's keys points at,
    which is all `resolve_identity` consults for this profile."""
    index = InMemoryIdentityIndex()
    found: set[str] = set()
    for rule in match.rules:
        for value in key_values(rule.key, profile):
            found.update(await customers_by_key(reader, rule.key, value))
    for customer_id in sorted(found):
        golden = await load_golden(reader, customer_id, rules)
        if golden is not None:
            index.put(golden.customer)
    return index
