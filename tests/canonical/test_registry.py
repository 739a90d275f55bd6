"""The schema registry: committed schemas match the code, and breaking changes are caught."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

from retailhub.canonical.registry import check_registry, current_schemas, incompatibilities

REGISTRY = Path(__file__).resolve().parents[2] / "schemas"


def _committed() -> dict[str, Any]:
    return {
        p.relative_to(REGISTRY).as_posix(): orjson.loads(p.read_bytes())
        for p in REGISTRY.rglob("*.json")
    }


def test_committed_registry_is_up_to_date_with_the_code() -> None:
    problems = check_registry(_committed())
    assert not problems, "\n".join(str(p) for p in problems) + "\nrun `retailhub schemas export`"


def test_every_kind_and_event_type_has_a_versioned_schema() -> None:
    paths = set(current_schemas())
    assert "models/order/v1.json" in paths
    assert "models/loyalty_transaction/v1.json" in paths
    assert "events/retail.order.created.v1.json" in paths


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


def test_removing_a_field_is_breaking() -> None:
    old = _object({"sku": {"type": "string"}, "title": {"type": "string"}})
    new = _object({"sku": {"type": "string"}})
    assert incompatibilities(old, new) == ["$.title: field removed"]


def test_adding_an_optional_field_is_compatible() -> None:
    old = _object({"sku": {"type": "string"}})
    new = _object({"sku": {"type": "string"}, "brand": {"type": "string"}})
    assert incompatibilities(old, new) == []


def test_making_a_field_required_is_breaking() -> None:
    old = _object({"sku": {"type": "string"}, "brand": {"type": "string"}}, ["sku"])
    new = _object({"sku": {"type": "string"}, "brand": {"type": "string"}}, ["sku", "brand"])
    assert incompatibilities(old, new) == ["$.brand: field newly required"]


def test_narrowing_a_type_is_breaking_and_widening_is_not() -> None:
    old = _object({"qty": {"type": ["string", "integer"]}})
    new = _object({"qty": {"type": "string"}})
    assert incompatibilities(old, new) == ["$.qty: type narrowed (no longer accepts integer)"]
    assert incompatibilities(new, old) == []


def test_dropping_null_from_an_optional_union_is_breaking() -> None:
    old = _object({"tier": {"anyOf": [{"type": "string"}, {"type": "null"}]}})
    new = _object({"tier": {"anyOf": [{"type": "string"}]}})
    assert incompatibilities(old, new) == ["$.tier: no longer accepts null"]


def test_removing_an_enum_value_is_breaking_and_adding_one_is_not() -> None:
    old = _object({"channel": {"$ref": "#/$defs/Channel"}})
    old["$defs"] = {"Channel": {"type": "string", "enum": ["store", "web", "app"]}}
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"] = ["store", "web"]
    assert incompatibilities(old, new) == ["$.channel: enum value(s) removed: ['app']"]
    wider = copy.deepcopy(old)
    wider["$defs"]["Channel"]["enum"].append("marketplace")
    assert incompatibilities(old, wider) == []


def test_tightening_a_constraint_is_breaking() -> None:
    old = _object({"sku": {"type": "string", "maxLength": 64}})
    new = _object({"sku": {"type": "string", "maxLength": 32}})
    assert incompatibilities(old, new) == ["$.sku: maxLength tightened to 32"]


def test_nested_changes_are_found_through_refs() -> None:
    old = _object({"lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}})
    old["$defs"] = {"Line": _object({"sku": {"type": "string"}, "gtin": {"type": "string"}})}
    new = copy.deepcopy(old)
    del new["$defs"]["Line"]["properties"]["gtin"]
    assert incompatibilities(old, new) == ["$.lines[].gtin: field removed"]


def test_check_flags_a_breaking_change_made_without_a_new_version() -> None:
    committed = copy.deepcopy(current_schemas())
    order = committed["models/order/v1.json"]
    order["properties"]["till_colour"] = {"type": "string"}
    problems = check_registry(committed)
    assert [(p.path, p.breaking) for p in problems] == [("models/order/v1.json", True)]
    assert "till_colour: field removed" in problems[0].reason


def test_check_flags_a_stale_compatible_change_as_not_breaking() -> None:
    committed = copy.deepcopy(current_schemas())
    del committed["models/product/v1.json"]["properties"]["brand"]
    problems = check_registry(committed)
    assert [(p.path, p.breaking) for p in problems] == [("models/product/v1.json", False)]


def test_check_flags_a_removed_event_type() -> None:
    committed = copy.deepcopy(current_schemas())
    committed["events/retail.order.teleported.v1.json"] = {"type": "object"}
    problems = check_registry(committed)
    assert [(p.path, p.breaking) for p in problems] == [
        ("events/retail.order.teleported.v1.json", True)
    ]


def test_older_model_versions_stay_as_history() -> None:
    committed = copy.deepcopy(current_schemas())
    committed["models/order/v0.json"] = {"type": "object"}
    assert check_registry(committed) == []
