"""The emulated Open Loyalty's SQLite state: members with their point counters kept on the row
(so a card lookup is one indexed read), tiers, earning rules, transactions with the points each
line earned, and the points transfers that make up every member's ledger."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from retailhub.canonical.base import Channel, normalise_email
from retailhub.canonical.promotion import Promotion

if TYPE_CHECKING:
    from retailhub.sandbox.seed import Estate

SCHEMA = """
CREATE TABLE IF NOT EXISTS member (
    member_id TEXT PRIMARY KEY,
    card TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    level_id TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    active_points INTEGER NOT NULL DEFAULT 0,
    locked_points INTEGER NOT NULL DEFAULT 0,
    blocked_points INTEGER NOT NULL DEFAULT 0,
    earned_points INTEGER NOT NULL DEFAULT 0,
    spent_points INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS member_card ON member (card);
CREATE INDEX IF NOT EXISTS member_email ON member (email);
CREATE TABLE IF NOT EXISTS level (
    level_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    condition_value INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS earning_rule (
    rule_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS txn (
    transaction_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    document_number TEXT NOT NULL UNIQUE,
    document_type TEXT NOT NULL,
    member_id TEXT,
    points_earned INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS txn_line (
    transaction_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity TEXT NOT NULL,
    earned TEXT NOT NULL,
    returned_quantity TEXT NOT NULL DEFAULT '0',
    reversed TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (transaction_id, line_no)
);
CREATE TABLE IF NOT EXISTS transfer (
    transfer_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    value INTEGER NOT NULL,
    comment TEXT,
    transaction_id TEXT,
    document_number TEXT,
    earning_rule_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transfer_member ON transfer (member_id, seq);
CREATE TABLE IF NOT EXISTS reward (
    reward_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    cost_in_points INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS product (
    sku TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transfer_transaction ON transfer (transaction_id);
"""

_IDS = uuid.UUID("6f1d3c2e-5a7b-4c8d-9e0f-1a2b3c4d5e6f")
TIERS = (("bronze", 0), ("silver", 1000), ("gold", 5000))
BASE_RULE_ID = str(uuid.uuid5(_IDS, "earning-rule:general-spending"))
PROMOTION_LABEL = "retailhub.promotion"
VERSION_LABEL = "retailhub.version"
WEB_PLACE = "WEB"
REWARDS = (
    ("Free tote bag", 250),
    ("EUR 5 voucher", 500),
    ("EUR 10 voucher", 1000),
    ("EUR 25 voucher", 2500),
)
"""The programme's rewards as the sandbox seeds them: name and cost in points."""


def level_id(name: str) -> str:
    """The stable id of a seeded tier."""
    return str(uuid.uuid5(_IDS, f"level:{name}"))


def new_id() -> str:
    """A fresh platform id (UUID v4, as the platform issues them)."""
    return str(uuid.uuid4())


def now() -> str:
    """The current moment as the platform writes it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def next_seq(db: sqlite3.Connection, table: str) -> int:
    """The next insertion number of `table`, which orders lists oldest first."""
    row = db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def base_rule() -> dict[str, object]:
    """The programme's base earning rule: 1 point per 1 EUR of a line's gross value, everywhere."""
    return {
        "name": "General spending rule",
        "description": "1 point per 1 EUR spent, rounded down per line",
        "type": "points",
        "active": True,
        "allTimeActive": True,
        "pointValue": 1,
        "excludedSKUs": [],
        "allPos": True,
        "pos": [],
        "labels": [],
    }


def campaign_rule(campaign: Promotion, places: list[str]) -> dict[str, object]:
    """The estate's bonus-points campaign as the product-purchase earning rule it runs as."""
    everywhere = set(campaign.channels) >= {Channel.STORE, Channel.WEB} and not campaign.stores
    return {
        "name": campaign.name,
        "description": campaign.description or "",
        "type": "product_purchase",
        "active": True,
        "allTimeActive": False,
        "startAt": campaign.valid_from.isoformat(),
        "endAt": campaign.valid_to.isoformat(),
        "pointsAmount": campaign.reward.points,
        "skuIds": list(campaign.eligibility.skus),
        "allPos": everywhere,
        "pos": [] if everywhere else places,
        "labels": [
            {"key": PROMOTION_LABEL, "value": campaign.promotion_id},
            {"key": VERSION_LABEL, "value": str(campaign.version)},
        ],
    }


def seed_estate(db: sqlite3.Connection, estate: Estate) -> None:
    """Write the platform's view of the estate: tiers, rewards, the base rule, the winter
    campaign, every member with their opening balance as one adding transfer so the ledger sums to it."""
    execute, executemany = db.execute, db.executemany
    executemany(
        "INSERT INTO level (level_id, name, condition_value) VALUES (?, ?, ?)",
        [(level_id(name), name, value) for name, value in TIERS],
    )
    executemany(
        "INSERT INTO reward (reward_id, name, cost_in_points) VALUES (?, ?, ?)",
        [(str(uuid.uuid5(_IDS, f"reward:{name}")), name, cost) for name, cost in REWARDS],
    )
    places = [store.code for store in estate.stores]
    for seq, (rule_id, body) in enumerate(
        [
            (BASE_RULE_ID, base_rule()),
            (str(uuid.uuid5(_IDS, estate.campaign.key)), campaign_rule(estate.campaign, places)),
        ],
        start=1,
    ):
        execute(
            "INSERT INTO earning_rule (rule_id, seq, body) VALUES (?, ?, ?)",
            (rule_id, seq, orjson.dumps(body).decode()),
        )
    members: list[tuple[object, ...]] = []
    transfers: list[tuple[object, ...]] = []
    for customer in estate.customers:
        # The loyalty view read from plain data: validating 10,000 views costs seconds.
        view = {**customer.profile, **customer.differences.get("loyalty", {})}
        member_id = view["identities"]["openloyalty"]
        enrolled = view["updated_at"].isoformat()
        balance = customer.points_balance
        members.append(
            (
                member_id,
                customer.card_number,
                normalise_email(view["emails"][0]) if view["emails"] else None,
                view["given_name"],
                view["family_name"],
                view["phones"][0] if view["phones"] else None,
                level_id(view["loyalty"]["tier"]),
                enrolled,
                enrolled,
                balance,
                balance,
            )
        )
        if balance:
            transfers.append(
                (
                    str(uuid.uuid5(_IDS, f"opening:{member_id}")),
                    len(transfers) + 1,
                    member_id,
                    balance,
                    enrolled,
                )
            )
    executemany(
        "INSERT INTO member (member_id, card, email, first_name, last_name, phone, level_id,"
        " created_at, updated_at, active_points, earned_points)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        members,
    )
    executemany(
        "INSERT INTO transfer (transfer_id, seq, member_id, type, state, value, comment,"
        " created_at) VALUES (?, ?, ?, 'adding', 'active', ?, 'Opening balance', ?)",
        transfers,
    )
