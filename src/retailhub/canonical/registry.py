"""The schema registry: versioned JSON Schemas of every canonical model and catalogued event type,
and the compatibility rules that decide when a change needs a new version."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retailhub.canonical.catalogue import CATALOGUE, EventType
from retailhub.canonical.cloudevents import ENVELOPE_JSON_SCHEMA
from retailhub.canonical.kinds import DOCUMENT_KINDS

Schema = dict[str, Any]

SCHEMA_BASE_URI = "https://retailhub.dev/schemas/"

MODEL_VERSIONS: dict[str, int] = dict.fromkeys(DOCUMENT_KINDS, 1)
"""The current major version of each canonical model's schema; raise one to publish a breaking change."""


def model_path(kind: str, version: int) -> str:
    """Where a model's schema lives in the registry (`models/order/v1.json`)."""
    return f"models/{kind}/v{version}.json"


def event_path(type_: str) -> str:
    """Where an event type's schema lives in the registry (`events/retail.order.created.v1.json`)."""
    return f"events/{type_}.json"


def model_schema(kind: str) -> Schema:
    """The JSON Schema (draft 2020-12) of a canonical model at its current version."""
    schema = DOCUMENT_KINDS[kind].model_json_schema(mode="validation")
    version = MODEL_VERSIONS[kind]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URI + model_path(kind, version),
        "x-retailhub-version": version,
        **schema,
    }


def event_schema(entry: EventType) -> Schema:
    """The JSON Schema of a catalogued event: the CloudEvents envelope with its payload as `data`."""
    payload = entry.payload.model_json_schema(mode="validation")
    definitions = payload.pop("$defs", {})
    schema = copy.deepcopy(ENVELOPE_JSON_SCHEMA)
    schema.pop("$schema", None)
    properties = schema.setdefault("properties", {})
    properties["type"] = {"const": entry.type}
    properties["data"] = payload
    properties.pop("data_base64", None)
    required = [r for r in schema.get("required", []) if r != "data"]
    schema["required"] = [*required, "data"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URI + event_path(entry.type),
        "title": entry.type,
        "description": entry.description,
        "x-retailhub-version": entry.version,
        **{k: v for k, v in schema.items() if k not in {"$id", "title", "description"}},
        "$defs": {**schema.get("$defs", {}), **definitions},
    }


def current_schemas() -> dict[str, Schema]:
    """Every schema the registry should hold for the code as it is now, by registry path."""
    schemas = {
        model_path(kind, MODEL_VERSIONS[kind]): model_schema(kind) for kind in DOCUMENT_KINDS
    }
    schemas.update({event_path(t): event_schema(e) for t, e in CATALOGUE.items()})
    return schemas


@dataclass(frozen=True)
class RegistryProblem:
    """Something wrong between the code and the committed registry; `breaking` means a new version
    is needed, otherwise running the export fixes it."""

    path: str
    reason: str
    breaking: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_registry(committed: Mapping[str, Schema]) -> list[RegistryProblem]:
    """Compare the committed registry with the code: stale files, and breaking changes that were made
    without a new version."""
    problems: list[RegistryProblem] = []
    current = current_schemas()
    for path, schema in current.items():
        old = committed.get(path)
        if old is None:
            problems.append(
                RegistryProblem(path, "not exported yet: run `retailhub schemas export`")
            )
        elif old != schema:
            breaks = incompatibilities(old, schema)
            if breaks:
                reasons = "; ".join(breaks)
                problems.append(
                    RegistryProblem(path, f"breaking change without a new version: {reasons}", True)
                )
            else:
                problems.append(RegistryProblem(path, "stale: run `retailhub schemas export`"))
    for path in committed:
        if path not in current and not _is_older_model_version(path):
            problems.append(
                RegistryProblem(
                    path, "no longer produced by the code: an event type was removed", breaking=True
                )
            )
    return problems


def _is_older_model_version(path: str) -> bool:
    """Earlier versions of a model stay in the registry as history."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "models" or parts[1] not in MODEL_VERSIONS:
        return False
    return parts[2] != f"v{MODEL_VERSIONS[parts[1]]}.json"


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Why `new` breaks readers or writers of `old`: a field removed, a field newly required, a type
    narrowed, an enum value removed, or a constraint tightened."""
    found: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "$", found, set())
    return found


def _resolve(node: Schema, defs: Mapping[str, Schema]) -> Schema:
    """Follow a local `$ref` to its definition."""
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _types(node: Schema) -> set[str]:
    """The JSON types a node admits (an empty set means any)."""
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    return set()


_TIGHTER_IF_LARGER = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
_TIGHTER_IF_SMALLER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")


def _compare(
    old: Schema,
    new: Schema,
    old_defs: Mapping[str, Schema],
    new_defs: Mapping[str, Schema],
    path: str,
    found: list[str],
    seen: set[tuple[int, int]],
) -> None:
    """Walk two schemas side by side, recording every narrowing of `new` relative to `old`."""
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    old_types, new_types = _types(old), _types(new)
    if new_types and (not old_types or not old_types <= new_types):
        lost = sorted(old_types - new_types) or ["any"]
        found.append(f"{path}: type narrowed (no longer accepts {', '.join(lost)})")
    if "const" in new and old.get("const") != new["const"]:
        found.append(f"{path}: now fixed to {new['const']!r}")
    if "enum" in old or "enum" in new:
        kept = new["enum"] if "enum" in new else old.get("enum", [])
        removed = [v for v in old.get("enum", []) if v not in kept]
        if "enum" in new and "enum" not in old:
            found.append(f"{path}: now limited to {new['enum']}")
        elif removed:
            found.append(f"{path}: enum value(s) removed: {removed}")
    if old.get("pattern") != new.get("pattern") and "pattern" in new:
        found.append(f"{path}: pattern changed to {new['pattern']!r}")
    for key in _TIGHTER_IF_LARGER:
        if key in new and (key not in old or new[key] > old[key]):
            found.append(f"{path}: {key} tightened to {new[key]}")
    for key in _TIGHTER_IF_SMALLER:
        if key in new and (key not in old or new[key] < old[key]):
            found.append(f"{path}: {key} tightened to {new[key]}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            found.append(f"{path}.{name}: field removed")
        else:
            _compare(old_prop, new_props[name], old_defs, new_defs, f"{path}.{name}", found, seen)
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        found.append(f"{path}.{name}: field newly required")
    if old.get("additionalProperties") is not False and new.get("additionalProperties") is False:
        found.append(f"{path}: no longer accepts additional properties")
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_defs, new_defs, f"{path}[]", found, seen)
    for combinator in ("anyOf", "oneOf"):
        old_options, new_options = old.get(combinator), new.get(combinator)
        if old_options is not None and new_options is not None:
            _compare_options(old_options, new_options, old_defs, new_defs, path, found, seen)
        elif new_options is not None and old_options is None and (old_types or old):
            options = [_resolve(o, new_defs) for o in new_options]
            if not any(_types(o) >= old_types for o in options if _types(o)) and old_types:
                found.append(f"{path}: type narrowed to {combinator} options")


def _compare_options(
    old_options: list[Schema],
    new_options: list[Schema],
    old_defs: Mapping[str, Schema],
    new_defs: Mapping[str, Schema],
    path: str,
    found: list[str],
    seen: set[tuple[int, int]],
) -> None:
    """Each option of an old union must survive in the new one, matched by its JSON types."""
    remaining = [_resolve(o, new_defs) for o in new_options]
    for option in (_resolve(o, old_defs) for o in old_options):
        match = next((n for n in remaining if _types(n) == _types(option)), None)
        if match is None:
            label = ", ".join(sorted(_types(option))) or "an option"
            found.append(f"{path}: no longer accepts {label}")
        else:
            _compare(option, match, old_defs, new_defs, path, found, seen)
