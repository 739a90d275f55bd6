"""Drift: a promotion as each system holds it, compared field by field with what the hub sent.

Each system is compared on the fields it can hold: Shopify's price rules keep no description,
stores, stackability or priority (the hub enforces those before publishing), Open Loyalty's
earning rules no customer conditions; the POS feed keeps the whole promotion. Lists whose order
means nothing (SKUs, stores, channels) are compared as sets, amounts by value (20 and 20.00 are
the same percentage), moments as instants. The reward is compared on its type and the fields
that type uses. Accuracy is the share of system x field comparisons that match; a system that
no longer holds the promotion, or could not be read, fails every comparison it owes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from typing import Any

from retailhub.canonical.money import Money
from retailhub.canonical.promotion import Promotion, RewardType
from retailhub.flows.promotions.rules import COMMERCE, LOYALTY, POS

ABSENT = "(absent)"
"""What a drift row says was found when the system does not hold the promotion at all."""

_REWARD_FIELDS: dict[RewardType, tuple[str, ...]] = {
    RewardType.PERCENT_OFF: ("percent",),
    RewardType.AMOUNT_OFF: ("amount",),
    RewardType.FIXED_PRICE: ("amount",),
    RewardType.BUY_X_GET_Y: ("buy_quantity", "get_quantity", "percent"),
    RewardType.BONUS_POINTS: ("points",),
    RewardType.POINTS_MULTIPLIER: ("multiplier",),
}
_BOTH = ("name", "version", "eligibility.skus", "valid_from", "valid_to")
_CUSTOMERS = ("eligibility.customer_segments", "eligibility.minimum_spend")
FIELDS: dict[str, tuple[str, ...]] = {
    COMMERCE: (*_BOTH, *_CUSTOMERS),
    POS: (
        *_BOTH,
        "description",
        "channels",
        "stores",
        "eligibility.hierarchy_nodes",
        "eligibility.customer_tiers",
        *_CUSTOMERS,
        "stackable",
        "priority",
        "status",
        "pricing_controls.price_floor",
        "pricing_controls.minimum_margin_percent",
    ),
    LOYALTY: (*_BOTH, "description", "channels", "stores", "status"),
}
"""The promotion fields each system holds, besides the reward."""

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class FieldDrift:
    """One field a system holds differently from what the hub sent."""

    target: str
    field: str
    expected: str | None
    found: str | None


@dataclass(frozen=True)
class ChannelCheck:
    """One system's copy compared with what was sent: how many fields, how many match, which not."""

    target: str
    compared: int
    matched: int
    drift: tuple[FieldDrift, ...] = ()
    error: str | None = None

    @property
    def accuracy(self) -> Decimal:
        """Matching comparisons of this system, in percent."""
        return percent(self.matched, self.compared)


def percent(matched: int, compared: int) -> Decimal:
    """`matched` of `compared` as a percentage with one decimal, rounded down so that only a
    full match reads 100; 100 when nothing was compared."""
    if compared == 0:
        return _HUNDRED
    return (Decimal(matched) * _HUNDRED / Decimal(compared)).quantize(
        Decimal("0.1"), rounding=ROUND_DOWN
    )


def accuracy(checks: Iterable[ChannelCheck]) -> Decimal:
    """The promotion's accuracy: matching system x field comparisons over all of them."""
    done = list(checks)
    return percent(sum(c.matched for c in done), sum(c.compared for c in done))


def compared_fields(target: str, sent: Promotion) -> tuple[str, ...]:
    """The fields `target` is compared on for this promotion: its own, and the reward's."""
    reward = ("reward.type", *(f"reward.{name}" for name in _REWARD_FIELDS[sent.reward.type]))
    return (*FIELDS[target], *reward)


def render(value: Any) -> str | None:
    """A field's value in one comparable text: sets sorted, amounts by value, moments in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, Money):
        return f"{render(value.amount)} {value.currency}"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(
            "/".join(str(part) for part in item) if isinstance(item, list) else str(render(item))
            for item in value
        )
        return ", ".join(items) if items else None
    return str(value)


def _lookup(promotion: Promotion, field: str) -> Any:
    value: Any = promotion
    for part in field.split("."):
        value = getattr(value, part)
    # Buy X get Y without a percentage gives the Y units free; systems write that as 100.
    free = promotion.reward.type is RewardType.BUY_X_GET_Y
    if field == "reward.percent" and value is None and free:
        return _HUNDRED
    return value


def compare(target: str, sent: Promotion, found: Promotion | None) -> ChannelCheck:
    """Compare one system's copy (None: it holds none) with the version the hub sent."""
    fields = compared_fields(target, sent)
    if found is None:
        return ChannelCheck(target, len(fields), 0, (FieldDrift(target, "*", sent.key, ABSENT),))
    drift = []
    for field in fields:
        expected, actual = render(_lookup(sent, field)), render(_lookup(found, field))
        if expected != actual:
            drift.append(FieldDrift(target, field, expected, actual))
    return ChannelCheck(target, len(fields), len(fields) - len(drift), tuple(drift))


def unreadable(target: str, sent: Promotion, error: str) -> ChannelCheck:
    """A system that could not be read back: nothing it holds is confirmed."""
    fields = compared_fields(target, sent)
    return ChannelCheck(
        target, len(fields), 0, (FieldDrift(target, "*", sent.key, f"unreadable: {error}"),), error
    )
