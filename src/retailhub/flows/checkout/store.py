"""Checkout's tables in the hub's database: the last-known balance of each member the tills
asked about, the card / email / id aliases that name them, and the redemptions with their
states. Every function takes the caller's bus transaction, so a state change and the alert it
raises commit together; the SQL runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from retailhub.bus.port import Transaction
from retailhub.flows.checkout.documents import (
    KnownBalance,
    Redemption,
    RedemptionState,
    SaleOutcome,
)
from retailhub.flows.storage import is_postgres, placeholders

MEMBERS = "checkout_members"
ALIASES = "checkout_member_aliases"
REDEMPTIONS = "checkout_redemptions"

DDL = (
    f"""CREATE TABLE IF NOT EXISTS {MEMBERS} (
    member_id TEXT PRIMARY KEY,
    balance   BIGINT NOT NULL,
    tier      TEXT,
    active    INTEGER NOT NULL,
    as_of     TEXT NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS {ALIASES} (
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (kind, value)
)""",
    f"""CREATE TABLE IF NOT EXISTS {REDEMPTIONS} (
    redemption_id      TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    idempotency_key    TEXT NOT NULL,
    member_id          TEXT NOT NULL,
    points             BIGINT NOT NULL,
    sale_id            TEXT NOT NULL,
    state              TEXT NOT NULL,
    offline            INTEGER NOT NULL,
    approved_day       TEXT NOT NULL,
    sale_outcome       TEXT,
    transfer_id        TEXT,
    spend_transfer_id  TEXT,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    rejection_reason   TEXT,
    platform_attempted INTEGER NOT NULL DEFAULT 0
)""",
    f"CREATE INDEX IF NOT EXISTS {REDEMPTIONS}_by_state ON {REDEMPTIONS} (state, expires_at)",
    f"CREATE INDEX IF NOT EXISTS {REDEMPTIONS}_by_member ON {REDEMPTIONS} (member_id, state)",
)

_COLUMNS = (
    "redemption_id, client_id, idempotency_key, member_id, points, sale_id, state, offline,"
    " sale_outcome, transfer_id, spend_transfer_id, created_at, expires_at, updated_at,"
    " attempts, last_error, rejection_reason, platform_attempted"
)


def stamp(moment: datetime) -> str:
    """A moment as fixed-width UTC text, so the text order is the time order in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


async def create_checkout_tables(transaction: Transaction) -> None:
    """Create checkout's tables and indexes if missing (idempotent)."""
    for statement in DDL:
        await transaction.execute(statement)


async def remember_member(
    transaction: Transaction, known: KnownBalance, aliases: Iterable[tuple[str, str]]
) -> None:
    """Keep the platform's latest answer for a member (an older reading never overwrites a newer
    one) and the aliases that led to them."""
    marks = placeholders(transaction, 5)
    await transaction.execute(
        f"INSERT INTO {MEMBERS} (member_id, balance, tier, active, as_of)"
        f" VALUES ({', '.join(marks)}) ON CONFLICT (member_id) DO UPDATE SET"
        " balance = excluded.balance, tier = excluded.tier, active = excluded.active,"
        f" as_of = excluded.as_of WHERE {MEMBERS}.as_of <= excluded.as_of",
        (known.member_id, known.balance, known.tier, int(known.active), stamp(known.as_of)),
    )
    for kind, value in dict.fromkeys(aliases):
        marks = placeholders(transaction, 3)
        await transaction.execute(
            f"INSERT INTO {ALIASES} (kind, value, member_id) VALUES ({', '.join(marks)})"
            " ON CONFLICT (kind, value) DO UPDATE SET member_id = excluded.member_id",
            (kind, value, known.member_id),
        )


async def adjust_known_balance(
    transaction: Transaction, member_id: str, delta: int, at: datetime
) -> None:
    """Apply a movement the hub itself made at the platform (a block takes points, a release
    gives them back) to the last-known balance, so it stays true between readings."""
    delta_mark, at_mark, member_mark = placeholders(transaction, 3)
    await transaction.execute(
        f"UPDATE {MEMBERS} SET balance = balance + {delta_mark}, as_of = {at_mark}"
        f" WHERE member_id = {member_mark}",
        (delta, stamp(at), member_id),
    )


async def member_by_alias(transaction: Transaction, alias: tuple[str, str]) -> str | None:
    """The member id a card, email or id was last resolved to, if the hub has seen it."""
    kind_mark, value_mark = placeholders(transaction, 2)
    rows = await transaction.fetch_all(
        f"SELECT member_id FROM {ALIASES} WHERE kind = {kind_mark} AND value = {value_mark}",
        alias,
    )
    return str(rows[0][0]) if rows else None


async def known_balance(
    transaction: Transaction, member_id: str, *, for_update: bool = False
) -> KnownBalance | None:
    """The last-known balance of a member; `for_update` locks the row on PostgreSQL so offline
    approvals for one member are decided one at a time (SQLite serialises writers anyway)."""
    (mark,) = placeholders(transaction, 1)
    lock = " FOR UPDATE" if for_update and is_postgres(transaction) else ""
    rows = await transaction.fetch_all(
        f"SELECT member_id, balance, tier, active, as_of FROM {MEMBERS}"
        f" WHERE member_id = {mark}{lock}",
        (member_id,),
    )
    if not rows:
        return None
    member, balance, tier, active, as_of = rows[0]
    return KnownBalance(str(member), int(balance), tier, bool(active), _moment(as_of))


async def offline_outstanding(transaction: Transaction, member_id: str) -> int:
    """Points approved offline for a member that the platform does not hold yet (so its balance
    does not show them) and that a sale still uses."""
    state_mark, member_mark, voided_mark, expired_mark = placeholders(transaction, 4)
    rows = await transaction.fetch_all(
        f"SELECT COALESCE(SUM(points), 0) FROM {REDEMPTIONS} WHERE state = {state_mark}"
        f" AND member_id = {member_mark} AND (sale_outcome IS NULL"
        f" OR sale_outcome NOT IN ({voided_mark}, {expired_mark}))",
        (RedemptionState.OFFLINE_APPROVED, member_id, SaleOutcome.VOIDED, SaleOutcome.EXPIRED),
    )
    return int(rows[0][0])


async def offline_approved_on(transaction: Transaction, member_id: str, day: date) -> int:
    """Points approved offline for a member on a business day that went to a sale (released or
    expired approvals gave nothing away and do not count)."""
    member_mark, day_mark, released_mark, expired_mark = placeholders(transaction, 4)
    rows = await transaction.fetch_all(
        f"SELECT COALESCE(SUM(points), 0) FROM {REDEMPTIONS} WHERE offline = 1"
        f" AND member_id = {member_mark} AND approved_day = {day_mark}"
        f" AND state NOT IN ({released_mark}, {expired_mark})",
        (member_id, day.isoformat(), RedemptionState.RELEASED, RedemptionState.EXPIRED),
    )
    return int(rows[0][0])


async def insert_redemption(transaction: Transaction, redemption: Redemption, day: date) -> None:
    """Record a new redemption; a second insert of the same id changes nothing."""
    marks = placeholders(transaction, 19)
    await transaction.execute(
        f"INSERT INTO {REDEMPTIONS} ({_COLUMNS}, approved_day) VALUES ({', '.join(marks)})"
        " ON CONFLICT (redemption_id) DO NOTHING",
        (*_row(redemption), day.isoformat()),
    )


async def save_redemption(transaction: Transaction, redemption: Redemption) -> None:
    """Write a redemption's changed state, outcome, transfers and attempts."""
    marks = placeholders(transaction, 10)
    assignments = ", ".join(
        f"{column} = {mark}"
        for column, mark in zip(
            (
                "state",
                "sale_outcome",
                "transfer_id",
                "spend_transfer_id",
                "updated_at",
                "attempts",
                "last_error",
                "rejection_reason",
                "platform_attempted",
            ),
            marks,
            strict=False,
        )
    )
    await transaction.execute(
        f"UPDATE {REDEMPTIONS} SET {assignments} WHERE redemption_id = {marks[9]}",
        (
            redemption.state,
            redemption.sale_outcome,
            redemption.transfer_id,
            redemption.spend_transfer_id,
            stamp(redemption.updated_at),
            redemption.attempts,
            redemption.last_error,
            redemption.rejection_reason,
            int(redemption.platform_attempted),
            redemption.redemption_id,
        ),
    )


async def get_redemption(transaction: Transaction, redemption_id: str) -> Redemption | None:
    """One redemption by id."""
    (mark,) = placeholders(transaction, 1)
    rows = await transaction.fetch_all(
        f"SELECT {_COLUMNS} FROM {REDEMPTIONS} WHERE redemption_id = {mark}", (redemption_id,)
    )
    return _redemption(rows[0]) if rows else None


async def redemptions_to_settle(transaction: Transaction, limit: int) -> list[Redemption]:
    """Redemptions the platform still has to be told about, oldest first: offline approvals and
    reservations whose sale was completed, voided or has expired."""
    offline_mark, reserved_mark, limit_mark = placeholders(transaction, 3)
    rows = await transaction.fetch_all(
        f"SELECT {_COLUMNS} FROM {REDEMPTIONS} WHERE state = {offline_mark}"
        f" OR (state = {reserved_mark} AND sale_outcome IS NOT NULL)"
        f" ORDER BY created_at, redemption_id LIMIT {limit_mark}",
        (RedemptionState.OFFLINE_APPROVED, RedemptionState.RESERVED, limit),
    )
    return [_redemption(row) for row in rows]


async def redemptions_expired(
    transaction: Transaction, now: datetime, limit: int
) -> list[Redemption]:
    """Open redemptions past their expiry whose sale the till never finished."""
    reserved_mark, offline_mark, now_mark, limit_mark = placeholders(transaction, 4)
    rows = await transaction.fetch_all(
        f"SELECT {_COLUMNS} FROM {REDEMPTIONS} WHERE state IN ({reserved_mark}, {offline_mark})"
        f" AND sale_outcome IS NULL AND expires_at <= {now_mark}"
        f" ORDER BY expires_at, redemption_id LIMIT {limit_mark}",
        (RedemptionState.RESERVED, RedemptionState.OFFLINE_APPROVED, stamp(now), limit),
    )
    return [_redemption(row) for row in rows]


async def redemptions_in_state(
    transaction: Transaction, state: RedemptionState, limit: int = 1000
) -> list[Redemption]:
    """Redemptions in one state, newest first (rejected ones are the follow-up list)."""
    state_mark, limit_mark = placeholders(transaction, 2)
    rows = await transaction.fetch_all(
        f"SELECT {_COLUMNS} FROM {REDEMPTIONS} WHERE state = {state_mark}"
        f" ORDER BY updated_at DESC, redemption_id LIMIT {limit_mark}",
        (state, limit),
    )
    return [_redemption(row) for row in rows]


def _row(r: Redemption) -> tuple[Any, ...]:
    return (
        r.redemption_id,
        r.client_id,
        r.idempotency_key,
        r.member_id,
        r.points,
        r.sale_id,
        r.state,
        int(r.offline),
        r.sale_outcome,
        r.transfer_id,
        r.spend_transfer_id,
        stamp(r.created_at),
        stamp(r.expires_at),
        stamp(r.updated_at),
        r.attempts,
        r.last_error,
        r.rejection_reason,
        int(r.platform_attempted),
    )


def _redemption(row: tuple[Any, ...]) -> Redemption:
    (
        redemption_id,
        client_id,
        key,
        member_id,
        points,
        sale_id,
        state,
        offline,
        outcome,
        transfer_id,
        spend_transfer_id,
        created_at,
        expires_at,
        updated_at,
        attempts,
        last_error,
        rejection_reason,
        attempted,
    ) = row
    return Redemption(
        redemption_id=str(redemption_id),
        client_id=str(client_id),
        idempotency_key=str(key),
        member_id=str(member_id),
        points=int(points),
        sale_id=str(sale_id),
        state=RedemptionState(state),
        offline=bool(offline),
        sale_outcome=SaleOutcome(outcome) if outcome else None,
        transfer_id=transfer_id,
        spend_transfer_id=spend_transfer_id,
        created_at=_moment(created_at),
        expires_at=_moment(expires_at),
        updated_at=_moment(updated_at),
        attempts=int(attempts),
        last_error=last_error,
        rejection_reason=rejection_reason,
        platform_attempted=bool(attempted),
    )
