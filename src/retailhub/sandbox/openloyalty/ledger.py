"""What the emulated platform does to its state: points transfers that move a member's counters,
and transactions whose lines earn (a sale) or give back (a return) points under the rules."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from retailhub.sandbox.openloyalty.earning import (
    GENERAL_SPENDING,
    EarningRule,
    SaleLine,
    parse_time,
    reversal,
    sale_points,
)
from retailhub.sandbox.openloyalty.state import new_id, next_seq, now

ADDING, SPENDING, BLOCKED = "adding", "spending", "blocked"
ACTIVE, CANCELED, SPENT = "active", "canceled", "spent"


@dataclass
class Refusal(Exception):
    """A request the platform refuses: HTTP status, message, and the field at fault if any."""

    status: int
    message: str
    path: str | None = None


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Refusal(400, "This value should be a number.", path)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise Refusal(400, "This value should be a number.", path) from None


def add_transfer(
    db: sqlite3.Connection,
    member_id: str,
    kind: str,
    value: int,
    comment: str | None,
    *,
    transfer_id: str | None = None,
    transaction: tuple[str, str] | None = None,
    earning_rule_id: str | None = None,
) -> str:
    """Record a transfer and move the member's counters; spending and blocking need the points."""
    if value <= 0:
        raise Refusal(400, "This value should be greater than 0.", "transfer.points")
    member = db.execute(
        "SELECT active_points FROM member WHERE member_id = ?", (member_id,)
    ).fetchone()
    if member is None:
        raise Refusal(404, "Member not found.", "transfer.member")
    if kind != ADDING and member["active_points"] < value:
        raise Refusal(400, "Not enough points.", "transfer.points")
    transfer_id = transfer_id or new_id()
    if db.execute("SELECT 1 FROM transfer WHERE transfer_id = ?", (transfer_id,)).fetchone():
        raise Refusal(400, "Transfer with this id already exists.", "transfer.transferId")
    transaction_id, document_number = transaction or (None, None)
    db.execute(
        "INSERT INTO transfer (transfer_id, seq, member_id, type, state, value, comment,"
        " transaction_id, document_number, earning_rule_id, created_at)"
        " VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
        (
            transfer_id,
            next_seq(db, "transfer"),
            member_id,
            kind,
            value,
            comment,
            transaction_id,
            document_number,
            earning_rule_id,
            now(),
        ),
    )
    _move(db, member_id, kind, value)
    return transfer_id


def _move(db: sqlite3.Connection, member_id: str, kind: str, value: int) -> None:
    """Apply a transfer of `value` (negative to undo it) to the member's counters."""
    column = {ADDING: "earned_points", SPENDING: "spent_points", BLOCKED: "blocked_points"}[kind]
    sign = 1 if kind == ADDING else -1
    db.execute(
        f"UPDATE member SET active_points = active_points + ?, {column} = {column} + ?,"
        " updated_at = ? WHERE member_id = ?",
        (sign * value, value, now(), member_id),
    )


def cancel_transfer(db: sqlite3.Connection, transfer_id: str, *, unblock: bool) -> None:
    """Cancel a transfer (or release a block), giving back or taking back its points."""
    row = db.execute("SELECT * FROM transfer WHERE transfer_id = ?", (transfer_id,)).fetchone()
    if row is None:
        raise Refusal(404, "Transfer not found.")
    if row["state"] != ACTIVE:
        raise Refusal(400, f"Transfer is {row['state']} already.")
    if unblock and row["type"] != BLOCKED:
        raise Refusal(400, "Only blocked points can be unblocked.")
    if row["type"] == ADDING:
        member = db.execute(
            "SELECT active_points FROM member WHERE member_id = ?", (row["member_id"],)
        ).fetchone()
        if member["active_points"] < row["value"]:
            raise Refusal(400, "Not enough active points to cancel this transfer.")
    db.execute("UPDATE transfer SET state = ? WHERE transfer_id = ?", (CANCELED, transfer_id))
    _move(db, row["member_id"], row["type"], -row["value"])


def spend_blocked(
    db: sqlite3.Connection, blocked_id: str, transfer_id: str | None, comment: str | None
) -> str:
    """Spend the points a block reserved: the block ends (state `spent`) and a spending
    transfer of its value takes its place, so the member's active points do not move again.
    A transfer id already used is refused before the block's state is looked at, so a repeat
    of a capture whose answer was lost is told which transfer it made."""
    transfer_id = transfer_id or new_id()
    if db.execute("SELECT 1 FROM transfer WHERE transfer_id = ?", (transfer_id,)).fetchone():
        raise Refusal(400, "Transfer with this id already exists.", "transfer.transferId")
    row = db.execute("SELECT * FROM transfer WHERE transfer_id = ?", (blocked_id,)).fetchone()
    if row is None:
        raise Refusal(404, "Transfer not found.")
    if row["type"] != BLOCKED:
        raise Refusal(400, "Only blocked points can be spent this way.")
    if row["state"] != ACTIVE:
        raise Refusal(400, f"Transfer is {row['state']} already.")
    db.execute("UPDATE transfer SET state = ? WHERE transfer_id = ?", (SPENT, blocked_id))
    _move(db, row["member_id"], BLOCKED, -row["value"])
    return add_transfer(
        db,
        row["member_id"],
        SPENDING,
        row["value"],
        comment or f"Spent blocked points of {blocked_id}",
        transfer_id=transfer_id,
    )


def _text(source: Mapping[str, Any], name: str, path: str) -> str:
    value = source.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refusal(400, "This value should not be blank.", f"{path}.{name}")
    return value


def _sku_code(item: Mapping[str, Any], at: str) -> str:
    if not isinstance(item.get("sku"), dict):
        raise Refusal(400, "This value should not be blank.", f"{at}.sku")
    return _text(item["sku"], "code", f"{at}.sku")


def _lines(items: Any) -> list[SaleLine]:
    if not isinstance(items, list) or not items:
        raise Refusal(400, "This collection should contain 1 element or more.", "transaction.items")
    lines = []
    for i, item in enumerate(items):
        at = f"transaction.items[{i}]"
        if not isinstance(item, dict):
            raise Refusal(400, "This value should be an item.", at)
        # `{"sku": {"code": ...}}` as the API reference writes it; the getting-started guide
        # sends the bare code, and the platform takes both.
        bare = item.get("sku")
        sku = bare if isinstance(bare, str) and bare else _sku_code(item, at)
        _text(item, "name", at)
        quantity = _decimal(item.get("quantity"), f"{at}.quantity")
        gross = _decimal(item.get("grossValue"), f"{at}.grossValue")
        if quantity <= 0 or gross < 0:
            raise Refusal(400, "This value should be positive.", f"{at}.quantity")
        lines.append(SaleLine(sku, quantity, gross))
    return lines


def _match_member(db: sqlite3.Connection, customer: Mapping[str, Any]) -> str | None:
    """The member a transaction belongs to: by loyalty card number, else by email."""
    card, email = customer.get("loyaltyCardNumber"), customer.get("email")
    row = None
    if isinstance(card, str) and card:
        row = db.execute("SELECT member_id FROM member WHERE card = ?", (card,)).fetchone()
    if row is None and isinstance(email, str) and email:
        row = db.execute(
            "SELECT member_id FROM member WHERE email = ?", (email.strip().lower(),)
        ).fetchone()
    return None if row is None else str(row["member_id"])


def _transaction_body(document: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `transaction` of a request and its `header`, refused when either is missing."""
    if not isinstance(document, dict) or not isinstance(document.get("transaction"), dict):
        raise Refusal(400, "This value should not be blank.", "transaction")
    body: dict[str, Any] = document["transaction"]
    header = body.get("header")
    if not isinstance(header, dict):
        raise Refusal(400, "This value should not be blank.", "transaction.header")
    return body, header


def _purchased_at(header: Mapping[str, Any]) -> datetime:
    try:
        purchased_at = parse_time(_text(header, "purchasedAt", "transaction.header"))
    except ValueError:
        raise Refusal(
            400, "This value is not a valid datetime.", "transaction.header.purchasedAt"
        ) from None
    if purchased_at is None or purchased_at.tzinfo is None:
        raise Refusal(400, "The time must carry its offset.", "transaction.header.purchasedAt")
    return purchased_at


@dataclass(frozen=True)
class Simulation:
    """What a sale would earn: points in all, and per earning rule (id -> (type, points))."""

    points: int
    per_rule: dict[str, tuple[str, int]]

    @property
    def bonus_points(self) -> int:
        """The points of rules other than the general spending rule: campaigns."""
        return sum(p for kind, p in self.per_rule.values() if kind != GENERAL_SPENDING)


def simulate_sale(document: Any, rules: Sequence[EarningRule], at: datetime) -> Simulation:
    """The points a sale would earn under the rules, recording nothing: the same computation
    as `register_transaction`; `purchasedAt` defaults to `at` (now)."""
    body, header = _transaction_body(document)
    purchased_at = _purchased_at(header) if header.get("purchasedAt") else at
    place = str(header.get("purchasePlace") or "")
    kinds = {rule.rule_id: rule.type for rule in rules}
    per_rule: dict[str, tuple[str, int]] = {}
    for earned in sale_points(rules, _lines(body.get("items")), place, purchased_at):
        for rule_id, points in earned.items():
            before = per_rule.get(rule_id, (kinds[rule_id], 0))[1]
            per_rule[rule_id] = (kinds[rule_id], before + points)
    return Simulation(sum(p for _, p in per_rule.values()), per_rule)


def register_transaction(
    db: sqlite3.Connection, document: Any, rules: Sequence[EarningRule]
) -> str:
    """Register a sale or a return, match its member, and move the points it earns or gives
    back: one adding transfer per rule a sale triggers, one spending transfer per rule a return
    reverses. A document number is registered once; a repeat is refused."""
    body, header = _transaction_body(document)
    number = _text(header, "documentNumber", "transaction.header")
    kind = _text(header, "documentType", "transaction.header")
    if kind not in ("sell", "return"):
        raise Refusal(400, "The value should be sell or return.", "transaction.header.documentType")
    purchased_at = _purchased_at(header)
    place = str(header.get("purchasePlace") or "")
    lines = _lines(body.get("items"))
    customer_data = body.get("customerData")
    customer = customer_data if isinstance(customer_data, dict) else {}
    if db.execute("SELECT 1 FROM txn WHERE document_number = ?", (number,)).fetchone():
        raise Refusal(
            400, "This document number is already used.", "transaction.header.documentNumber"
        )
    member_id = _match_member(db, customer)
    transaction_id = new_id()
    if kind == "sell":
        moved = _earn(db, transaction_id, number, member_id, lines, place, purchased_at, rules)
    else:
        linked = header.get("linkedDocumentNumber")
        moved, member_id = _give_back(db, transaction_id, number, member_id, lines, linked)
    db.execute(
        "INSERT INTO txn (transaction_id, seq, document_number, document_type, member_id,"
        " points_earned, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            transaction_id,
            next_seq(db, "txn"),
            number,
            kind,
            member_id,
            moved,
            orjson.dumps(body).decode(),
        ),
    )
    return transaction_id


def _earn(
    db: sqlite3.Connection,
    transaction_id: str,
    number: str,
    member_id: str | None,
    lines: list[SaleLine],
    place: str,
    at: Any,
    rules: Sequence[EarningRule],
) -> int:
    """Points a sale earns, kept per line and rule; credited when a member was matched."""
    per_rule: dict[str, int] = {}
    earnings = sale_points(rules, lines, place, at)
    for line_no, (line, earned) in enumerate(zip(lines, earnings, strict=True)):
        for rule_id, points in earned.items():
            per_rule[rule_id] = per_rule.get(rule_id, 0) + points
        db.execute(
            "INSERT INTO txn_line (transaction_id, line_no, sku, quantity, earned)"
            " VALUES (?, ?, ?, ?, ?)",
            (transaction_id, line_no, line.sku, str(line.quantity), orjson.dumps(earned).decode()),
        )
    if member_id is None:
        return 0
    comments = {rule.rule_id: rule for rule in rules}
    for rule_id, points in per_rule.items():
        add_transfer(
            db,
            member_id,
            ADDING,
            points,
            f"Earning rule {comments[rule_id].type} - {points}",
            transaction=(transaction_id, number),
            earning_rule_id=rule_id,
        )
    return sum(per_rule.values())


def _give_back(
    db: sqlite3.Connection,
    transaction_id: str,
    number: str,
    member_id: str | None,
    lines: list[SaleLine],
    linked_number: Any,
) -> tuple[int, str | None]:
    """Points a return takes back: what the returned units of the linked sale's lines earned,
    per rule. A return without a linked sale moves no points."""
    sale = None
    if isinstance(linked_number, str) and linked_number:
        sale = db.execute(
            "SELECT transaction_id, member_id FROM txn WHERE document_number = ?"
            " AND document_type = 'sell'",
            (linked_number,),
        ).fetchone()
    if sale is None or sale["member_id"] is None:
        return 0, member_id
    member_id = str(sale["member_id"])
    per_rule: dict[str, int] = {}
    for line in lines:
        for rule_id, points in _reverse_line(db, sale["transaction_id"], line).items():
            per_rule[rule_id] = per_rule.get(rule_id, 0) + points
    for rule_id, points in per_rule.items():
        take = min(points, _active_points(db, member_id))
        if take > 0:
            add_transfer(
                db,
                member_id,
                SPENDING,
                take,
                f"Return of {linked_number} - {take}",
                transaction=(transaction_id, number),
                earning_rule_id=rule_id,
            )
    return -sum(per_rule.values()), member_id


def _active_points(db: sqlite3.Connection, member_id: str) -> int:
    row = db.execute("SELECT active_points FROM member WHERE member_id = ?", (member_id,))
    return int(row.fetchone()["active_points"])


def _reverse_line(db: sqlite3.Connection, sale_id: str, line: SaleLine) -> dict[str, int]:
    """Take back, from the sale's lines of the same SKU, what `line`'s units earned there."""
    taken: dict[str, int] = {}
    left = line.quantity
    rows = db.execute(
        "SELECT * FROM txn_line WHERE transaction_id = ? AND sku = ? ORDER BY line_no",
        (sale_id, line.sku),
    ).fetchall()
    for row in rows:
        sold, before = Decimal(row["quantity"]), Decimal(row["returned_quantity"])
        now_back = min(left, sold - before)
        if now_back <= 0:
            continue
        reversed_so_far: dict[str, int] = orjson.loads(row["reversed"])
        more = reversal(orjson.loads(row["earned"]), reversed_so_far, sold, before, now_back)
        for rule_id, points in more.items():
            taken[rule_id] = taken.get(rule_id, 0) + points
            reversed_so_far[rule_id] = reversed_so_far.get(rule_id, 0) + points
        db.execute(
            "UPDATE txn_line SET returned_quantity = ?, reversed = ?"
            " WHERE transaction_id = ? AND line_no = ?",
            (
                str(before + now_back),
                orjson.dumps(reversed_so_far).decode(),
                sale_id,
                row["line_no"],
            ),
        )
        left -= now_back
    return taken
