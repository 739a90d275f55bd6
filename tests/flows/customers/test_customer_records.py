"""A golden record survives storage as a JSON document of its evidence."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from retailhub.flows.customers.golden import GoldenRecord, ProfileChange
from retailhub.flows.customers.records import golden_document, golden_from_document
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.survivorship import merge

from .profiles import change, changes


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes(5, increasing=False))
def test_a_stored_golden_record_loads_as_it_was(history: list[ProfileChange]) -> None:
    golden: GoldenRecord | None = None
    for item in history:
        golden = merge(golden, item, customer_id="GC-ANNA").golden
    assert golden is not None
    stored = json.loads(json.dumps(golden_document(golden)))
    assert golden_from_document(stored) == golden


def test_loading_under_new_rules_decides_again() -> None:
    crm = change("hubspot", 0, "crm-1", family_name="Jansen")
    shop = change("shopify", 1, "shop-1", family_name="Jansen-Smit")
    golden = merge(merge(None, crm, customer_id="GC-ANNA").golden, shop).golden
    assert golden.customer.family_name == "Jansen"
    shop_first = SurvivorshipRules.from_dict(
        {"fields": {"family_name": {"strategy": "priority", "priority": ["shopify"]}}}
    )
    reloaded = golden_from_document(golden_document(golden), shop_first)
    assert reloaded.customer.family_name == "Jansen-Smit"
    assert reloaded.conflicts == ()


def test_an_unknown_document_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 7 is unknown"):
        golden_from_document({"version": 7})
