"""What the emulated platform does with member profiles, rewards and its product catalogue:
registering a member (email and card unique), updating a profile, rewards as the platform
lists them, and the items of the product catalogue."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from retailhub.canonical.base import normalise_email
from retailhub.sandbox.openloyalty.ledger import Refusal
from retailhub.sandbox.openloyalty.state import TIERS, level_id, new_id, now

_PROFILE_COLUMNS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "loyaltyCardNumber": "card",
}


def _customer(document: Any) -> dict[str, Any]:
    """The `customer` of a register or update request, its fields strings or null."""
    customer = document.get("customer") if isinstance(document, dict) else None
    if not isinstance(customer, dict):
        raise Refusal(400, "This value should not be blank.", "customer")
    for name in _PROFILE_COLUMNS:
        value = customer.get(name)
        if value is not None and not isinstance(value, str):
            raise Refusal(400, "This value should be of type string.", f"customer.{name}")
    if isinstance(customer.get("email"), str):
        customer["email"] = normalise_email(customer["email"]) or None
    return customer


def _check_unique(
    db: sqlite3.Connection, customer: Mapping[str, Any], member_id: str | None
) -> None:
    """Email and loyalty card belong to one member each."""
    for name, column in (("email", "email"), ("loyaltyCardNumber", "card")):
        value = customer.get(name)
        if not value:
            continue
        taken = db.execute(
            f"SELECT member_id FROM member WHERE {column} = ? AND member_id != ?",
            (value, member_id or ""),
        ).fetchone()
        if taken is not None:
            raise Refusal(400, "This value is already used.", f"customer.{name}")


def register_member(db: sqlite3.Connection, document: Any) -> str:
    """Enrol a member at the first tier; one of email and loyalty card is needed to find them
    again, and neither may belong to another member."""
    customer = _customer(document)
    if not customer.get("email") and not customer.get("loyaltyCardNumber"):
        raise Refusal(400, "An email or a loyalty card number is needed.", "customer.email")
    _check_unique(db, customer, None)
    member_id, at = new_id(), now()
    db.execute(
        "INSERT INTO member (member_id, card, email, first_name, last_name, phone, level_id,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            member_id,
            customer.get("loyaltyCardNumber") or "",
            customer.get("email"),
            customer.get("firstName"),
            customer.get("lastName"),
            customer.get("phone"),
            level_id(TIERS[0][0]),
            at,
            at,
        ),
    )
    return member_id


def update_member(db: sqlite3.Connection, member_id: str, document: Any) -> None:
    """Replace the profile fields the request names (null clears one; a card cannot be)."""
    if db.execute("SELECT 1 FROM member WHERE member_id = ?", (member_id,)).fetchone() is None:
        raise Refusal(404, "Member not found.")
    customer = _customer(document)
    _check_unique(db, customer, member_id)
    changes = {
        column: customer[name]
        for name, column in _PROFILE_COLUMNS.items()
        if name in customer and not (column == "card" and not customer[name])
    }
    if not changes:
        return
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(
        f"UPDATE member SET {assignments}, updated_at = ? WHERE member_id = ?",
        (*changes.values(), now(), member_id),
    )


def reward(row: Any) -> dict[str, Any]:
    """A reward as the platform lists it."""
    return {
        "rewardId": row["reward_id"],
        "name": row["name"],
        "costInPoints": row["cost_in_points"],
        "active": bool(row["active"]),
    }


def put_product(db: sqlite3.Connection, sku: str, document: Any) -> dict[str, Any]:
    """Create or replace one item of the product catalogue under its SKU code."""
    product = document.get("product") if isinstance(document, dict) else None
    if not isinstance(product, dict):
        raise Refusal(400, "This value should not be blank.", "product")
    name = product.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Refusal(400, "This value should not be blank.", "product.name")
    code = product.get("sku", {}).get("code") if isinstance(product.get("sku"), dict) else None
    if code != sku:
        raise Refusal(400, "The SKU code must be the one in the path.", "product.sku.code")
    stored = {**product, "updatedAt": now()}
    db.execute(
        "INSERT OR REPLACE INTO product (sku, body) VALUES (?, ?)",
        (sku, orjson.dumps(stored).decode()),
    )
    return stored
