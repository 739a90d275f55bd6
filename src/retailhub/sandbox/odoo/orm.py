"""A small ORM over the emulator's SQLite state that behaves as Odoo's does over JSON-2: domains,
`search_read` with fields, order, limit and offset, `create` with x2many commands, `write`,
`active_test`, and values served as Odoo serves them (False for empty, many2one as
`[id, display_name]`, datetimes as UTC `YYYY-MM-DD HH:MM:SS`)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson

from retailhub.sandbox.odoo import faults
from retailhub.sandbox.odoo.models import MODELS, Field, Kind, Model

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
Record = dict[str, Any]
Context = Mapping[str, Any]

_OPERATORS = {"=": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_ORDER_TERM = re.compile(r"^\s*([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


def model_of(name: str) -> Model:
    """The model called `name`, or Odoo's 404 for a model that does not exist."""
    try:
        return MODELS[name]
    except KeyError:
        raise faults.not_found(f"the model {name!r} does not exist") from None


def odoo_datetime(moment: datetime) -> str:
    """A moment as Odoo writes a datetime field: UTC, to the second, no zone."""
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


class Orm:
    """Generic record access for every model in `MODELS`; business rules live elsewhere."""

    def __init__(self, db: sqlite3.Connection, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    # reading

    def search(
        self,
        model: Model,
        domain: Any,
        context: Context,
        *,
        order: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[int]:
        """Ids of the records matching `domain`, in `order`, the page `offset`..`limit`."""
        where, params = self._where(model, _domain(domain), context)
        sql = f"SELECT id FROM {model.table} WHERE {where} ORDER BY {self._order(model, order)}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else _whole(limit, "limit"), _whole(offset, "offset")]
        return [row[0] for row in self.db.execute(sql, params)]

    def read(self, model: Model, ids: Sequence[int], fields: Any) -> list[Record]:
        """The records `ids` (in that order) with `fields` (all when None) and `id`."""
        names = self._field_names(model, fields)
        rows = {row["id"]: row for row in self._rows(model, ids)}
        records = [{"id": i} for i in ids]
        for name in names:
            spec = model.fields[name]
            values = self._served(model, spec, name, [rows[i] for i in ids])
            for record, value in zip(records, values, strict=True):
                record[name] = value
        return records

    def row(self, model: Model, record_id: int) -> sqlite3.Row:
        """One record's stored columns; MissingError when it does not exist."""
        return self._rows(model, [record_id])[0]

    def _rows(self, model: Model, ids: Sequence[int]) -> list[sqlite3.Row]:
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise faults.value_error(f"ids must be integers, not {list(ids)!r}")
        found: dict[int, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            query = f"SELECT * FROM {model.table} WHERE id IN ({marks})"
            found.update((row["id"], row) for row in self.db.execute(query, chunk))
        missing = [i for i in ids if i not in found]
        if missing:
            raise faults.missing_error(model.name, missing)
        return [found[i] for i in ids]

    def _field_names(self, model: Model, fields: Any) -> list[str]:
        if not fields:
            return list(model.fields)
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise faults.value_error("fields must be a list of field names")
        for name in fields:
            if name != "id" and name not in model.fields:
                raise faults.value_error(f"Invalid field {name!r} on model {model.name!r}")
        return [name for name in fields if name != "id"]

    def _served(self, model: Model, spec: Field, name: str, rows: list[sqlite3.Row]) -> list[Any]:
        """Values of one field for many records, shaped as Odoo serialises them."""
        if spec.kind is Kind.ONE2MANY:
            assert spec.comodel is not None
            assert spec.inverse is not None
            table = MODELS[spec.comodel].table
            children: dict[int, list[int]] = {row["id"]: [] for row in rows}
            for child_id, parent in self.db.execute(
                f"SELECT id, {spec.inverse} FROM {table} WHERE {spec.inverse} IN "
                f"({','.join('?' * len(children))}) ORDER BY id",
                list(children),
            ):
                children[parent].append(child_id)
            return [children[row["id"]] for row in rows]
        if spec.kind is Kind.MANY2ONE:
            assert spec.comodel is not None
            targets = {row[name] for row in rows if row[name] is not None}
            names = self._display_names(MODELS[spec.comodel], targets)
            return [False if row[name] is None else [row[name], names[row[name]]] for row in rows]
        return [_serve(spec, row[name]) for row in rows]

    def _display_names(self, model: Model, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        query = f"SELECT id, display_name FROM {model.table} WHERE id IN ({marks})"
        return {row[0]: row[1] or "" for row in self.db.execute(query, list(ids))}

    # writing

    def create(self, model: Model, values: Mapping[str, Any]) -> int:
        """Insert one record from `values` as `create` takes them: unknown fields are ignored
        (Odoo logs and drops them), mandatory ones checked, x2many commands applied."""
        if not isinstance(values, Mapping):
            raise faults.value_error("create takes a list of field dictionaries")
        known = {name: value for name, value in values.items() if name in model.fields}
        now = odoo_datetime(self.clock())
        columns: dict[str, Any] = {"create_date": now, "write_date": now}
        columns |= self._columns(model, known)
        for name, spec in model.fields.items():
            if spec.required and columns.get(name) is None and spec.kind is not Kind.ONE2MANY:
                raise faults.missing_required(model.label, model.name, spec.label, name)
        for name, spec in model.fields.items():
            if spec.kind in (Kind.FLOAT, Kind.INTEGER, Kind.BOOLEAN):
                columns.setdefault(name, 1 if name == "active" else 0)
        record_id = self.insert(model, columns)
        self._apply_one2many(model, record_id, known)
        self.refresh_display_name(model, record_id)
        return record_id

    def write(self, model: Model, ids: Sequence[int], values: Mapping[str, Any]) -> None:
        """Update the records `ids`; an unknown field is Odoo's ValueError."""
        if not isinstance(values, Mapping):
            raise faults.value_error("write takes a dictionary of field values")
        for name in values:
            if name not in model.fields:
                raise faults.value_error(f"Invalid field {name!r} on model {model.name!r}")
        self._rows(model, ids)
        columns = self._columns(model, values)
        columns["write_date"] = odoo_datetime(self.clock())
        assignments = ", ".join(f"{name} = ?" for name in columns)
        for record_id in ids:
            self.db.execute(
                f"UPDATE {model.table} SET {assignments} WHERE id = ?",
                [*columns.values(), record_id],
            )
            self._apply_one2many(model, record_id, values)
            self.refresh_display_name(model, record_id)

    def delete(self, model: Model, ids: Sequence[int]) -> None:
        """Remove the records `ids`; MissingError when one does not exist."""
        self._rows(model, ids)
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM {model.table} WHERE id IN ({marks})", chunk)

    def insert(self, model: Model, columns: Mapping[str, Any]) -> int:
        """Insert stored column values as they are (seeding and business methods use this)."""
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        cursor = self.db.execute(
            f"INSERT INTO {model.table} ({names}) VALUES ({marks})", list(columns.values())
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def refresh_display_name(self, model: Model, record_id: int) -> None:
        """Recompute the record's display name the way Odoo shows it in a many2one."""
        row = self.row(model, record_id)
        name = display_name(model, record_id, dict(zip(row.keys(), row, strict=True)))
        self.db.execute(
            f"UPDATE {model.table} SET display_name = ? WHERE id = ?", (name, record_id)
        )

    def _columns(self, model: Model, values: Mapping[str, Any]) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for name, value in values.items():
            spec = model.fields[name]
            if spec.kind is Kind.ONE2MANY:
                continue
            columns[name] = self._stored(model, name, spec, value)
        return columns

    def _stored(self, model: Model, name: str, spec: Field, value: Any) -> Any:
        """A value as written over JSON-2, converted as Odoo's fields convert it."""
        if value is False or value is None:
            return 0 if spec.kind in (Kind.BOOLEAN, Kind.FLOAT, Kind.INTEGER) else None
        try:
            if spec.kind is Kind.CHAR:
                return str(value)
            if spec.kind is Kind.FLOAT:
                return float(value)
            if spec.kind is Kind.INTEGER:
                return int(value)
            if spec.kind is Kind.BOOLEAN:
                return 1 if value else 0
            if spec.kind is Kind.DATE:
                return date.fromisoformat(str(value)).isoformat()
            if spec.kind is Kind.DATETIME:
                return _datetime(str(value))
        except (TypeError, ValueError) as error:
            raise faults.value_error(f"{model.name}.{name}: {error}") from None
        if spec.kind is Kind.MANY2ONE:
            assert spec.comodel is not None
            target = value[0] if isinstance(value, list) and value else value
            if not isinstance(target, int) or isinstance(target, bool):
                raise faults.value_error(f"{model.name}.{name}: {value!r} is not a record id")
            if not self.db.execute(
                f"SELECT 1 FROM {MODELS[spec.comodel].table} WHERE id = ?", (target,)
            ).fetchone():
                raise faults.validation_error(
                    f"The operation cannot be completed: {model.name}.{name} refers to"
                    f" {spec.comodel}({target},), which does not exist."
                )
            return target
        assert spec.kind is Kind.MANY2MANY
        return orjson.dumps(_many2many_ids(model.name, name, value)).decode()

    def _apply_one2many(self, model: Model, record_id: int, values: Mapping[str, Any]) -> None:
        """Run `[0, 0, {values}]` (create) commands on the one2many fields in `values`."""
        for name, value in values.items():
            spec = model.fields[name]
            if spec.kind is not Kind.ONE2MANY or not value:
                continue
            assert spec.comodel is not None
            assert spec.inverse is not None
            comodel = MODELS[spec.comodel]
            if not isinstance(value, list):
                raise faults.value_error(f"{model.name}.{name} takes a list of commands")
            for command in value:
                if not (isinstance(command, list) and len(command) == 3 and command[0] == 0):
                    raise faults.value_error(
                        f"{model.name}.{name}: only create commands [0, 0, {{...}}] are"
                        f" emulated, not {command!r}"
                    )
                self.create(comodel, {**command[2], spec.inverse: record_id})

    # domains and order

    def _where(self, model: Model, domain: list[Any], context: Context) -> tuple[str, list[Any]]:
        """The SQL condition of an Odoo domain (prefix `&`, `|`, `!`; implicit `&`)."""
        stack: list[tuple[str, list[Any]]] = []
        for token in reversed(domain):
            if token in ("&", "|"):
                if len(stack) < 2:
                    raise faults.value_error(f"Invalid domain: {domain!r}")
                (left, lp), (right, rp) = stack.pop(), stack.pop()
                joiner = "AND" if token == "&" else "OR"
                stack.append((f"({left} {joiner} {right})", lp + rp))
            elif token == "!":
                if not stack:
                    raise faults.value_error(f"Invalid domain: {domain!r}")
                inner, params = stack.pop()
                stack.append((f"(NOT {inner})", params))
            else:
                stack.append(self._leaf(model, token))
        mentions_active = any(isinstance(t, list) and t and t[0] == "active" for t in domain)
        if "active" in model.fields and context.get("active_test", True) and not mentions_active:
            stack.append(("active = 1", []))
        if not stack:
            return "1 = 1", []
        parts = list(reversed(stack))
        return " AND ".join(p for p, _ in parts), [v for _, params in parts for v in params]

    def _leaf(self, model: Model, leaf: Any) -> tuple[str, list[Any]]:
        if not (isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str)):
            raise faults.value_error(f"Invalid leaf {leaf!r}")
        name, operator, value = leaf
        if name != "id" and (name not in model.fields or not model.fields[name].stored):
            raise faults.value_error(f"Invalid field {model.name}.{name} in leaf {leaf!r}")
        spec = model.fields.get(name)
        if operator in ("in", "not in"):
            if not isinstance(value, list):
                raise faults.value_error(f"Invalid leaf {leaf!r}: {operator} takes a list")
            if not value:
                return ("1 = 0" if operator == "in" else "1 = 1"), []
            sql = f"{name} {operator.upper()} ({','.join('?' * len(value))})"
            return sql, [self._compared(spec, v) for v in value]
        if operator == "child_of":
            return self._child_of(model, name, spec, value)
        if operator in ("like", "ilike", "not ilike"):
            negate = "NOT " if operator.startswith("not") else ""
            return f"COALESCE({name}, '') {negate}LIKE ?", [f"%{value}%"]
        if operator in ("=like", "=ilike"):
            # Odoo hands the pattern to SQL as it is: `%` and `_` match, `\` escapes.
            return f"COALESCE({name}, '') LIKE ? ESCAPE '\\'", [value]
        if operator not in _OPERATORS:
            raise faults.value_error(f"Invalid leaf {leaf!r}: operator {operator!r}")
        if value is False or value is None:
            if spec is not None and spec.kind is Kind.BOOLEAN:
                return f"COALESCE({name}, 0) {_OPERATORS[operator]} 0", []
            if operator in ("=", "!="):
                return f"{name} IS {'' if operator == '=' else 'NOT '}NULL", []
        return f"{name} {_OPERATORS[operator]} ?", [self._compared(spec, value)]

    def _child_of(
        self, model: Model, name: str, spec: Field | None, value: Any
    ) -> tuple[str, list[Any]]:
        target = model if spec is None else MODELS.get(spec.comodel or "")
        if target is None or not target.hierarchical:
            raise faults.value_error(f"child_of is not supported on {model.name}.{name}")
        roots = value if isinstance(value, list) else [value]
        if not roots:
            return "1 = 0", []
        below = " OR ".join(
            f"parent_path LIKE (SELECT parent_path FROM {target.table} WHERE id = ?) || '%'"
            for _ in roots
        )
        return f"{name} IN (SELECT id FROM {target.table} WHERE {below})", list(roots)

    @staticmethod
    def _compared(spec: Field | None, value: Any) -> Any:
        if spec is not None and spec.kind is Kind.BOOLEAN:
            return 1 if value else 0
        if spec is not None and spec.kind is Kind.DATETIME and isinstance(value, str):
            try:
                return _datetime(value)
            except ValueError as error:
                raise faults.value_error(str(error)) from None
        return value

    def _order(self, model: Model, order: Any) -> str:
        if not order:
            order = model.order
        if not isinstance(order, str):
            raise faults.value_error(f"Invalid order {order!r}")
        terms = []
        for term in order.split(","):
            match = _ORDER_TERM.match(term)
            if match is None:
                raise faults.value_error(f"Invalid order {order!r}")
            name, direction = match.group(1), (match.group(2) or "asc").upper()
            if name != "id" and (name not in model.fields or not model.fields[name].stored):
                raise faults.value_error(f"Invalid field {name!r} on model {model.name!r}")
            terms.append(f"{name} {direction}")
        return ", ".join(terms)


def display_name(model: Model, record_id: int, values: Mapping[str, Any]) -> str:
    """A record's name in a many2one: the full path of a tree, `[code] name` of a product."""
    if values.get("complete_name"):
        return str(values["complete_name"])
    if values.get("default_code"):
        return f"[{values['default_code']}] {values['name']}"
    if values.get("name"):
        return str(values["name"])
    return f"{model.name},{record_id}"


def _domain(domain: Any) -> list[Any]:
    if domain is None or domain is False:
        return []
    if not isinstance(domain, list):
        raise faults.value_error(f"Invalid domain: {domain!r}")
    return domain


def _whole(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise faults.value_error(f"{name} must be a whole number, not {value!r}")
    return value


def _datetime(text: str) -> str:
    """A datetime value as Odoo accepts it (`YYYY-MM-DD[ HH:MM:SS]`), normalised."""
    text = text.strip()
    if len(text) == 10:
        return datetime.fromisoformat(text).strftime(DATETIME_FORMAT)
    return datetime.strptime(text[:19], DATETIME_FORMAT).strftime(DATETIME_FORMAT)


def _many2many_ids(model: str, name: str, value: Any) -> list[int]:
    """Ids from `[[6, 0, ids]]` (replace) or a plain list of ids."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        command = value[0]
        if len(command) == 3 and command[0] == 6 and isinstance(command[2], list):
            return [int(i) for i in command[2]]
    if isinstance(value, list) and all(isinstance(i, int) for i in value):
        return list(value)
    raise faults.value_error(f"{model}.{name}: only [[6, 0, ids]] is emulated, not {value!r}")


def _serve(spec: Field, value: Any) -> Any:
    """A stored column as JSON-2 serves it: False for an empty value, never null."""
    if spec.kind is Kind.FLOAT:
        return float(value or 0.0)
    if spec.kind is Kind.INTEGER:
        return int(value or 0)
    if spec.kind is Kind.BOOLEAN:
        return bool(value)
    if spec.kind is Kind.MANY2MANY:
        return orjson.loads(value) if value else []
    return False if value is None or value == "" else value
