"""The emulated portal's CRM objects in SQLite: contacts, notes and tickets with their properties
(all strings, as HubSpot keeps them), timestamps, associations, and search over them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS crm_object (
    object_type TEXT NOT NULL,
    id INTEGER NOT NULL,
    email TEXT,
    properties TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (object_type, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS crm_contact_email ON crm_object (object_type, email);
CREATE INDEX IF NOT EXISTS crm_object_updated ON crm_object (object_type, updated_ms);
CREATE INDEX IF NOT EXISTS crm_object_note_key
    ON crm_object (object_type, lower(json_extract(properties, '$.retailhub_note_key')));
CREATE INDEX IF NOT EXISTS crm_object_case_key
    ON crm_object (object_type, lower(json_extract(properties, '$.retailhub_case_key')));
CREATE TABLE IF NOT EXISTS crm_association (
    from_type TEXT NOT NULL,
    from_id INTEGER NOT NULL,
    to_type TEXT NOT NULL,
    to_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type_id)
);
"""

KEY_PROPERTIES = ("retailhub_note_key", "retailhub_case_key")
"""Properties looked up by exact value (the connector's idempotency keys): indexed, as HubSpot's
search index answers such a lookup without reading every object of the type."""

FIRST_ID = {"contacts": 1001, "notes": 50_000_000_001, "tickets": 9_000_000_001}
"""Where new ids start per object type when the portal holds none of that type yet."""

CREATED = {"contacts": "createdate", "notes": "hs_createdate", "tickets": "createdate"}
MODIFIED = {
    "contacts": "lastmodifieddate",
    "notes": "hs_lastmodifieddate",
    "tickets": "hs_lastmodifieddate",
}
"""The read-only date properties HubSpot keeps per object type."""

DATE_PROPERTIES = frozenset({*CREATED.values(), *MODIFIED.values(), "hs_timestamp"})


@dataclass(frozen=True)
class CrmObject:
    """One stored object."""

    object_type: str
    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int

    def as_json(self, wanted: Iterable[str]) -> dict[str, Any]:
        """The object as the v3 API returns it: the wanted properties (null when unset) and the
        ones HubSpot always includes."""
        always = (CREATED[self.object_type], MODIFIED[self.object_type], "hs_object_id")
        names = dict.fromkeys([*always, *wanted])
        return {
            "id": str(self.id),
            "properties": {name: self.properties.get(name) for name in names},
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.updated_ms),
            "archived": False,
        }


def iso(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes date-times (`2019-10-30T03:30:17.883Z`)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(value: str) -> int | None:
    """A date value from a filter or a property (epoch ms or ISO 8601) as epoch ms."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _row(row: sqlite3.Row) -> CrmObject:
    return CrmObject(
        row["object_type"],
        row["id"],
        orjson.loads(row["properties"]),
        row["created_ms"],
        row["updated_ms"],
    )


class CrmStore:
    """Reads and writes the objects of the emulated portal."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, object_type: str, object_id: int) -> CrmObject | None:
        """One object by type and id."""
        row = self.db.execute(
            "SELECT * FROM crm_object WHERE object_type = ? AND id = ?", (object_type, object_id)
        ).fetchone()
        return None if row is None else _row(row)

    def contact_id_by_email(self, email: str) -> int | None:
        """The id of the contact holding `email` (emails are stored lower-cased)."""
        row = self.db.execute(
            "SELECT id FROM crm_object WHERE object_type = 'contacts' AND email = ?",
            (email.lower(),),
        ).fetchone()
        return None if row is None else int(row["id"])

    def insert(
        self,
        object_type: str,
        properties: Mapping[str, str],
        now_ms: int,
        *,
        object_id: int | None = None,
        created_ms: int | None = None,
    ) -> CrmObject:
        """Store a new object, stamping the read-only properties HubSpot keeps."""
        if object_id is None:
            row = self.db.execute(
                "SELECT MAX(id) AS top FROM crm_object WHERE object_type = ?", (object_type,)
            ).fetchone()
            object_id = FIRST_ID[object_type] if row["top"] is None else int(row["top"]) + 1
        created = now_ms if created_ms is None else created_ms
        stored = {
            **properties,
            CREATED[object_type]: iso(created),
            MODIFIED[object_type]: iso(now_ms),
            "hs_object_id": str(object_id),
        }
        self.db.execute(
            "INSERT INTO crm_object (object_type, id, email, properties, created_ms, updated_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                object_type,
                object_id,
                stored.get("email") if object_type == "contacts" else None,
                orjson.dumps(stored),
                created,
                now_ms,
            ),
        )
        return CrmObject(object_type, object_id, stored, created, now_ms)

    def update(self, current: CrmObject, changes: Mapping[str, str], now_ms: int) -> CrmObject:
        """Overwrite the given properties (an empty string clears one, as in HubSpot)."""
        properties = {**current.properties}
        for name, value in changes.items():
            if value == "":
                properties.pop(name, None)
            else:
                properties[name] = value
        properties[MODIFIED[current.object_type]] = iso(now_ms)
        self.db.execute(
            "UPDATE crm_object SET properties = ?, email = ?, updated_ms = ?"
            " WHERE object_type = ? AND id = ?",
            (
                orjson.dumps(properties),
                properties.get("email") if current.object_type == "contacts" else None,
                now_ms,
                current.object_type,
                current.id,
            ),
        )
        return CrmObject(current.object_type, current.id, properties, current.created_ms, now_ms)

    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int
    ) -> None:
        """Record an association (HUBSPOT_DEFINED type id) between two objects."""
        self.db.execute(
            "INSERT OR IGNORE INTO crm_association VALUES (?, ?, ?, ?, ?)",
            (from_type, from_id, to_type, to_id, type_id),
        )

    def associations(self, from_type: str, from_id: int) -> list[tuple[str, int, int]]:
        """(to_type, to_id, type_id) of each association from an object."""
        rows = self.db.execute(
            "SELECT to_type, to_id, type_id FROM crm_association"
            " WHERE from_type = ? AND from_id = ? ORDER BY to_type, to_id",
            (from_type, from_id),
        ).fetchall()
        return [(r["to_type"], r["to_id"], r["type_id"]) for r in rows]

    def page_by_modified(
        self,
        object_type: str,
        groups: Sequence[Sequence[Filter]],
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[int, list[CrmObject]] | None:
        """A search page computed in SQL when it filters and sorts by the modification date only
        (the change feed's query); None when the search needs the general path."""
        column = MODIFIED[object_type]
        clauses: list[str] = []
        values: list[Any] = [object_type]
        for group in groups:
            parts = []
            for f in group:
                bound = to_ms(f.value) if f.value is not None else None
                if f.property_name != column or f.operator not in _SQL_OPERATORS or bound is None:
                    return None
                parts.append(f"updated_ms {_SQL_OPERATORS[f.operator]} ?")
                values.append(bound)
            clauses.append("(" + " AND ".join(parts or ["1"]) + ")")
        where = "object_type = ?" + (f" AND ({' OR '.join(clauses)})" if clauses else "")
        total = int(
            self.db.execute(f"SELECT COUNT(*) FROM crm_object WHERE {where}", values).fetchone()[0]
        )
        order = "DESC" if descending else "ASC"
        rows = self.db.execute(
            f"SELECT * FROM crm_object WHERE {where} ORDER BY updated_ms {order}, id {order}"
            " LIMIT ? OFFSET ?",
            [*values, limit, offset],
        ).fetchall()
        return total, [_row(row) for row in rows]

    def candidates(self, object_type: str, groups: Sequence[Sequence[Filter]]) -> list[CrmObject]:
        """Objects that may match, narrowed in SQL when every group pins the email, a single
        group pins a key property, or every group bounds the modification date; `matches` then
        decides exactly."""
        email = _pinned_email(groups)
        key = _pinned_key(groups)
        if email is not None:
            rows = self.db.execute(
                "SELECT * FROM crm_object WHERE object_type = ? AND email = ?",
                (object_type, email.lower()),
            ).fetchall()
        elif key is not None:
            name, values = key
            marks = ", ".join("?" * len(values))
            rows = self.db.execute(
                "SELECT * FROM crm_object WHERE object_type = ?"
                f" AND lower(json_extract(properties, '$.{name}')) IN ({marks})",
                (object_type, *(value.lower() for value in values)),
            ).fetchall()
        else:
            since = _modified_floor(object_type, groups)
            rows = self.db.execute(
                "SELECT * FROM crm_object WHERE object_type = ? AND updated_ms >= ?",
                (object_type, since),
            ).fetchall()
        return [_row(row) for row in rows]


_SQL_OPERATORS = {"EQ": "=", "NEQ": "!=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}


@dataclass(frozen=True)
class Filter:
    """One search filter: property, operator, value."""

    property_name: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] = ()
    """The values of an `IN` filter."""

    def matches(self, item: CrmObject) -> bool:
        """Whether `item` passes this filter, comparing dates as instants and text case-blind."""
        actual = item.properties.get(self.property_name)
        if self.operator == "IN":
            return actual is not None and actual.lower() in {v.lower() for v in self.values}
        if self.operator == "HAS_PROPERTY":
            return actual is not None
        if self.operator == "NOT_HAS_PROPERTY":
            return actual is None
        if actual is None or self.value is None:
            return self.operator == "NEQ" and actual != self.value
        left: int | str | None
        right: int | str | None
        if self.property_name in DATE_PROPERTIES:
            left, right = to_ms(actual), to_ms(self.value)
            if left is None or right is None:
                return False
        else:
            left, right = actual.lower(), self.value.lower()
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,  # type: ignore[operator]
            "GTE": left >= right,  # type: ignore[operator]
            "LT": left < right,  # type: ignore[operator]
            "LTE": left <= right,  # type: ignore[operator]
        }[self.operator]


def matches(item: CrmObject, groups: Sequence[Sequence[Filter]]) -> bool:
    """Filters within a group are ANDed, groups are ORed; no group matches everything."""
    return not groups or any(all(f.matches(item) for f in group) for group in groups)


def _pinned_email(groups: Sequence[Sequence[Filter]]) -> str | None:
    emails = {
        f.value
        for group in groups
        for f in group
        if f.property_name == "email" and f.operator == "EQ" and f.value
    }
    return emails.pop() if len(groups) == 1 and len(emails) == 1 else None


def _pinned_key(groups: Sequence[Sequence[Filter]]) -> tuple[str, tuple[str, ...]] | None:
    """The key property and the values a one-group search pins it to (EQ or IN), if any."""
    if len(groups) != 1:
        return None
    for f in groups[0]:
        if f.property_name not in KEY_PROPERTIES:
            continue
        if f.operator == "EQ" and f.value is not None:
            return f.property_name, (f.value,)
        if f.operator == "IN" and f.values:
            return f.property_name, f.values
    return None


def _modified_floor(object_type: str, groups: Sequence[Sequence[Filter]]) -> int:
    """The earliest modification time any group can match (0 when a group does not bound it)."""
    floors = []
    for group in groups:
        bounds = [
            to_ms(f.value)
            for f in group
            if f.property_name == MODIFIED[object_type] and f.operator in ("GT", "GTE") and f.value
        ]
        known = [b for b in bounds if b is not None]
        floors.append(max(known) if known else 0)
    return min(floors) if floors else 0
