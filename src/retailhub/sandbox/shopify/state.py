"""The Shopify emulator's state in SQLite: every resource as its JSON body, with the columns the
emulated filters need (parent, lookup key, status, update time), plus the variant index and
the inventory levels."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    parent_id INTEGER,
    lookup TEXT,
    status TEXT,
    updated_us INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS resource_lookup ON resource (kind, lookup);
CREATE INDEX IF NOT EXISTS resource_parent ON resource (kind, parent_id, id);
CREATE TABLE IF NOT EXISTS variant (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL,
    inventory_item_id INTEGER NOT NULL UNIQUE,
    sku TEXT,
    tax_rate TEXT NOT NULL DEFAULT '0.21'
);
CREATE INDEX IF NOT EXISTS variant_product ON variant (product_id);
CREATE TABLE IF NOT EXISTS inventory_level (
    inventory_item_id INTEGER NOT NULL,
    location_id INTEGER NOT NULL,
    available INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (inventory_item_id, location_id)
);
CREATE TABLE IF NOT EXISTS id_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

FIRST_NEW_ID = 9_000_000_000_001
"""Ids handed out for resources created through the API, above every seeded id."""

Body = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One stored resource: its id, parent and body."""

    id: int
    parent_id: int | None
    body: Body


@dataclass(frozen=True)
class VariantRow:
    """A variant as the index holds it: where it belongs, and the VAT rate orders charge on it."""

    id: int
    product_id: int
    inventory_item_id: int
    sku: str | None
    tax_rate: str


class ShopState:
    """Reads and writes of the emulated shop; callers commit through `with state.db:`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def next_id(self) -> int:
        """A fresh id for a created resource (Shopify ids are unique across resource kinds)."""
        row = self.db.execute("SELECT value FROM id_counter WHERE name = 'id'").fetchone()
        value = FIRST_NEW_ID if row is None else int(row["value"]) + 1
        self.db.execute(
            "INSERT OR REPLACE INTO id_counter (name, value) VALUES ('id', ?)", (value,)
        )
        return value

    def put(
        self,
        kind: str,
        body: Body,
        *,
        parent_id: int | None = None,
        lookup: str | None = None,
        status: str | None = None,
        updated_us: int = 0,
    ) -> None:
        """Store (or replace) a resource under its `id`."""
        self.db.execute(
            "INSERT OR REPLACE INTO resource (kind, id, parent_id, lookup, status, updated_us, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, body["id"], parent_id, lookup, status, updated_us, orjson.dumps(body).decode()),
        )

    def put_many(self, kind: str, rows: Iterable[tuple[Body, str | None]]) -> None:
        """Store many resources of one kind at once, each with its lookup key (seeding)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO resource (kind, id, lookup, body) VALUES (?, ?, ?, ?)",
            ((kind, body["id"], lookup, orjson.dumps(body).decode()) for body, lookup in rows),
        )

    def get(self, kind: str, resource_id: int) -> Body | None:
        """One resource's body, or None."""
        row = self.db.execute(
            "SELECT body FROM resource WHERE kind = ? AND id = ?", (kind, resource_id)
        ).fetchone()
        return None if row is None else _body(row)

    def find(self, kind: str, lookup: str) -> Body | None:
        """The first resource of `kind` with this lookup key (an email, a discount code)."""
        row = self.db.execute(
            "SELECT body FROM resource WHERE kind = ? AND lookup = ? ORDER BY id LIMIT 1",
            (kind, lookup),
        ).fetchone()
        return None if row is None else _body(row)

    def children(self, kind: str, parent_id: int) -> list[Body]:
        """The resources of `kind` under a parent (an order's refunds), oldest first."""
        rows = self.db.execute(
            "SELECT body FROM resource WHERE kind = ? AND parent_id = ? ORDER BY id",
            (kind, parent_id),
        )
        return [_body(row) for row in rows]

    def page(
        self,
        kind: str,
        after: int,
        limit: int,
        *,
        statuses: Sequence[str] = (),
        updated_us_min: int | None = None,
        lookup_like: str | None = None,
    ) -> list[Body]:
        """Up to `limit` resources with ids above `after`, in id order, filtered."""
        sql = "SELECT body FROM resource WHERE kind = ? AND id > ?"
        args: list[Any] = [kind, after]
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += statuses
        if updated_us_min is not None:
            sql += " AND updated_us >= ?"
            args.append(updated_us_min)
        if lookup_like is not None:
            sql += " AND lookup LIKE ?"
            args.append(lookup_like)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [_body(row) for row in self.db.execute(sql, args)]

    def remove(self, kind: str, resource_id: int) -> bool:
        """Delete a resource and the resources under it; False when there was none."""
        gone = self.db.execute(
            "DELETE FROM resource WHERE kind = ? AND id = ?", (kind, resource_id)
        ).rowcount
        self.db.execute("DELETE FROM resource WHERE parent_id = ?", (resource_id,))
        return gone > 0

    def count(self, kind: str) -> int:
        """How many resources of `kind` the shop holds."""
        row = self.db.execute("SELECT COUNT(*) FROM resource WHERE kind = ?", (kind,)).fetchone()
        return int(row[0])

    # Variants.

    def put_variants(self, rows: Iterable[VariantRow]) -> None:
        """Index variants (their product, inventory item, SKU and VAT rate)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO variant (id, product_id, inventory_item_id, sku, tax_rate)"
            " VALUES (?, ?, ?, ?, ?)",
            ((v.id, v.product_id, v.inventory_item_id, v.sku, v.tax_rate) for v in rows),
        )

    def variant(self, variant_id: int) -> VariantRow | None:
        """One indexed variant, or None."""
        row = self.db.execute("SELECT * FROM variant WHERE id = ?", (variant_id,)).fetchone()
        return None if row is None else VariantRow(**dict(row))

    def forget_variants(self, variant_ids: Iterable[int]) -> None:
        """Drop variants removed from their product, with their stock."""
        for variant_id in variant_ids:
            found = self.variant(variant_id)
            if found is None:
                continue
            self.db.execute("DELETE FROM variant WHERE id = ?", (variant_id,))
            self.db.execute(
                "DELETE FROM inventory_level WHERE inventory_item_id = ?",
                (found.inventory_item_id,),
            )

    def has_inventory_item(self, inventory_item_id: int) -> bool:
        """True when a variant tracks stock under this inventory item."""
        row = self.db.execute(
            "SELECT 1 FROM variant WHERE inventory_item_id = ?", (inventory_item_id,)
        ).fetchone()
        return row is not None

    # Inventory levels.

    def set_levels(self, rows: Iterable[tuple[int, int, int, str]]) -> None:
        """Write levels as (inventory item, location, available, updated_at)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO inventory_level"
            " (inventory_item_id, location_id, available, updated_at) VALUES (?, ?, ?, ?)",
            rows,
        )

    def level(self, inventory_item_id: int, location_id: int) -> Body | None:
        """One level as Shopify shows it, or None when the item is not stocked there."""
        row = self.db.execute(
            "SELECT * FROM inventory_level WHERE inventory_item_id = ? AND location_id = ?",
            (inventory_item_id, location_id),
        ).fetchone()
        return None if row is None else dict(row)

    def levels(
        self, item_ids: Sequence[int], location_ids: Sequence[int], after: int, limit: int
    ) -> list[Body]:
        """Levels of the items and/or at the locations, paged by their row order."""
        sql = "SELECT rowid, * FROM inventory_level WHERE rowid > ?"
        args: list[Any] = [after]
        for column, values in (("inventory_item_id", item_ids), ("location_id", location_ids)):
            if values:
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                args += values
        sql += " ORDER BY rowid LIMIT ?"
        args.append(limit)
        return [dict(row) for row in self.db.execute(sql, args)]


def _body(row: sqlite3.Row) -> Body:
    body: Body = orjson.loads(row["body"])
    return body
