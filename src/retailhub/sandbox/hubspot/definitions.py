"""The emulated portal's property definitions: HubSpot's standard properties per object type,
and custom properties and groups created through `POST /crm/v3/properties/{objectType}`."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from retailhub.connectors.hubspot.install import CUSTOM_PROPERTIES, PROPERTY_GROUP
from retailhub.sandbox.hubspot.errors import Refusal
from retailhub.sandbox.hubspot.store import iso, to_ms

SCHEMA = """
CREATE TABLE IF NOT EXISTS crm_property_group (
    object_type TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (object_type, name)
);
CREATE TABLE IF NOT EXISTS crm_property (
    object_type TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (object_type, name)
);
"""

STANDARD: Mapping[str, frozenset[str]] = {
    "contacts": frozenset(
        {
            "email",
            "firstname",
            "lastname",
            "phone",
            "mobilephone",
            "address",
            "city",
            "zip",
            "state",
            "country",
            "company",
            "jobtitle",
            "website",
            "date_of_birth",
            "hs_email_optout",
            "hs_marketable_status",
        }
    ),
    "notes": frozenset({"hs_note_body", "hs_timestamp", "hubspot_owner_id"}),
    "tickets": frozenset(
        {
            "subject",
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "hubspot_owner_id",
        }
    ),
}
"""The writable standard properties the emulator knows per object type."""
STANDARD_GROUPS = {
    "contacts": {"contactinformation"},
    "notes": {"engagement"},
    "tickets": {"ticketinformation"},
}
TYPES = {
    "string": {"text", "textarea"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "datetime": {"date"},
    "date": {"date"},
    "number": {"number"},
}
"""Property `type`s and the `fieldType`s each may be shown with."""


class PropertyCatalogue:
    """Which properties an object type has, and what values its custom ones accept."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def custom(self, object_type: str) -> dict[str, dict[str, Any]]:
        """The custom property definitions of an object type, by name."""
        rows = self.db.execute(
            "SELECT name, definition FROM crm_property WHERE object_type = ?", (object_type,)
        ).fetchall()
        return {row["name"]: orjson.loads(row["definition"]) for row in rows}

    def writable(self, object_type: str) -> frozenset[str]:
        """Every property a create or update may set."""
        return STANDARD[object_type] | frozenset(self.custom(object_type))

    def unique(self, object_type: str) -> list[str]:
        """Custom properties whose values must be unique across the object type."""
        return [n for n, d in self.custom(object_type).items() if d.get("hasUniqueValue")]

    def problems(self, object_type: str, values: Mapping[str, str]) -> list[tuple[str, str, str]]:
        """(name, error, message) for each value its custom definition refuses."""
        found = []
        for name, definition in self.custom(object_type).items():
            value = values.get(name)
            if not value:
                continue
            options = {o["value"] for o in definition.get("options") or []}
            if definition["type"] == "enumeration" and value not in options:
                found.append(
                    (name, "INVALID_OPTION", f"{value} was not one of the allowed options")
                )
            if definition["type"] in ("datetime", "date") and to_ms(value) is None:
                found.append((name, "INVALID_DATE", f"{value} is not a valid date"))
        return found

    def define_group(self, object_type: str, body: Any) -> dict[str, Any]:
        """Create a property group; 409 when the name is taken."""
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name or not isinstance(body.get("label"), str):
            raise Refusal(400, "VALIDATION_ERROR", "A property group needs a name and a label")
        taken = name in STANDARD_GROUPS[object_type] or self._has(
            "crm_property_group", object_type, name
        )
        if taken:
            raise Refusal(
                409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists."
            )
        group = {
            "name": name,
            "label": body["label"],
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        self._put("crm_property_group", object_type, name, group)
        return group

    def define(self, object_type: str, body: Any, now_ms: int) -> dict[str, Any]:
        """Create a custom property; 409 when the name is taken, 400 for a bad definition."""
        if not isinstance(body, dict):
            raise Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
        name, group, kind, field, label = (
            body.get(key) for key in ("name", "groupName", "type", "fieldType", "label")
        )
        if not (
            isinstance(name, str)
            and isinstance(group, str)
            and all(isinstance(v, str) and v for v in (name, group, kind, field, label))
        ):
            raise Refusal(
                400,
                "VALIDATION_ERROR",
                "A property needs name, label, groupName, type and fieldType",
            )
        if field not in TYPES.get(str(kind), set()):
            raise Refusal(
                400, "VALIDATION_ERROR", f"fieldType {field} is not valid for a {kind} property"
            )
        if group not in STANDARD_GROUPS[object_type] and not self._has(
            "crm_property_group", object_type, group
        ):
            raise Refusal(400, "VALIDATION_ERROR", f"Property group {group} does not exist")
        if name in STANDARD[object_type] or self._has("crm_property", object_type, name):
            raise Refusal(409, "OBJECT_ALREADY_EXISTS", f"Property named '{name}' already exists.")
        definition = {
            "options": [],
            "hasUniqueValue": False,
            "hidden": False,
            "calculated": False,
            "externalOptions": False,
            "formField": False,
            "displayOrder": -1,
            "description": "",
            **body,
            "createdAt": iso(now_ms),
            "updatedAt": iso(now_ms),
            "archived": False,
        }
        self._put("crm_property", object_type, name, definition)
        return definition

    def install_connector(self, now_ms: int) -> None:
        """Define what the connector's install step defines, as a portal with it installed."""
        for object_type, definitions in CUSTOM_PROPERTIES.items():
            self.define_group(object_type, PROPERTY_GROUP)
            for definition in definitions:
                self.define(object_type, definition, now_ms)

    def _has(self, table: str, object_type: str, name: str) -> bool:
        query = f"SELECT 1 FROM {table} WHERE object_type = ? AND name = ?"
        return self.db.execute(query, (object_type, name)).fetchone() is not None

    def _put(self, table: str, object_type: str, name: str, definition: Mapping[str, Any]) -> None:
        self.db.execute(
            f"INSERT INTO {table} (object_type, name, definition) VALUES (?, ?, ?)",
            (object_type, name, orjson.dumps(definition)),
        )
