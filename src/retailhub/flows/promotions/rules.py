"""What a promotion version must satisfy before it is published, and where it goes: pure rules.

- Targets: a price reward (percent or amount off, fixed price, buy X get Y) goes to the web
  shop (`commerce`) for the web channel and to the POS feed (`pos`) for the store channel; a
  points reward (bonus points, multiplier) goes to the loyalty platform (`loyalty`), which
  earns it in store and online, and to the POS feed when it runs in store, so tills show it.
  A channel no system of the hub serves (marketplace, app) is a reason to reject.
- Pricing controls, per eligible SKU: the promotional unit price must not fall below the
  stricter of the promotion's and the ERP's price floor, nor leave a gross margin below the
  stricter of the promotion's and the hub's minimum. Buy X get Y is judged on its average unit
  price over the X + Y units. Points rewards leave the price alone: only the SKUs are checked.
- Hierarchy nodes are resolved into SKUs (from the ERP's item master) for the systems that
  name items by SKU only: the web shop and the loyalty platform.
- Overlap: another live promotion of the hub on a shared SKU, in a shared channel, with
  overlapping dates, conflicts unless both are stackable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.promotion import Promotion, Reward, RewardType
from retailhub.connectors.ports import PricingControl

COMMERCE = "commerce"
POS = "pos"
LOYALTY = "loyalty"
TARGETS = (COMMERCE, POS, LOYALTY)
"""The systems a promotion is published to, in publishing order."""

POINTS_REWARDS = frozenset({RewardType.BONUS_POINTS, RewardType.POINTS_MULTIPLIER})
_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class LivePromotion:
    """Another promotion version the hub has published (or is publishing), for overlap checks."""

    promotion_id: str
    version: int
    name: str
    channels: frozenset[str]
    skus: frozenset[str]
    valid_from: datetime
    valid_to: datetime
    stackable: bool


def is_points_reward(reward: Reward) -> bool:
    """True when the reward is earned in points rather than taken off the price."""
    return reward.type in POINTS_REWARDS


def target_systems(promotion: Promotion) -> tuple[str, ...]:
    """The systems this promotion version is published to, in publishing order."""
    channels = set(promotion.channels)
    wanted: set[str] = set()
    if is_points_reward(promotion.reward):
        wanted.add(LOYALTY)
    elif Channel.WEB in channels:
        wanted.add(COMMERCE)
    if Channel.STORE in channels:
        wanted.add(POS)
    return tuple(target for target in TARGETS if target in wanted)


def as_sent(promotion: Promotion, target: str, skus: Sequence[str]) -> Promotion:
    """The version as one system gets it: the web shop and the loyalty platform name items by
    SKU only, so hierarchy nodes go to them resolved into the SKUs below them (the POS feed
    takes the nodes as they are)."""
    eligibility = promotion.eligibility
    if target == POS or not eligibility.hierarchy_nodes:
        return promotion
    resolved = eligibility.model_copy(update={"skus": sorted(skus), "hierarchy_nodes": []})
    return promotion.model_copy(update={"eligibility": resolved})


def channel_reasons(promotion: Promotion) -> list[str]:
    """Why the promotion cannot be published to the channels it names, if it cannot."""
    served = {Channel.STORE, Channel.WEB}
    return [
        f"no system of the hub publishes to the {channel.value} channel"
        for channel in promotion.channels
        if channel not in served
    ]


def promotional_price(reward: Reward, list_price: Money) -> Money | None:
    """The unit price a customer pays under a price reward; None for a points reward."""
    match reward.type:
        case RewardType.PERCENT_OFF if reward.percent is not None:
            return list_price * ((_HUNDRED - reward.percent) / _HUNDRED)
        case RewardType.AMOUNT_OFF if reward.amount is not None:
            return list_price - reward.amount
        case RewardType.FIXED_PRICE if reward.amount is not None:
            return reward.amount
        case RewardType.BUY_X_GET_Y if reward.buy_quantity and reward.get_quantity:
            discount = (reward.percent or _HUNDRED) / _HUNDRED
            units = reward.buy_quantity + reward.get_quantity
            paid = reward.buy_quantity + reward.get_quantity * (1 - discount)
            return list_price * (paid / units)
    return None


def _stricter_floor(*floors: Money | None) -> Money | None:
    present = [floor for floor in floors if floor is not None]
    return max(present, key=lambda floor: floor.amount) if present else None


def _stricter_margin(*minimums: Decimal | None) -> Decimal | None:
    present = [minimum for minimum in minimums if minimum is not None]
    return max(present) if present else None


def _money(value: Money) -> str:
    return f"{value.amount.quantize(value.minor_unit, rounding=ROUND_HALF_UP)} {value.currency}"


def margin_percent(price: Money, cost: Money) -> Decimal:
    """Gross margin of selling at `price` what costs `cost`, in percent of the price."""
    return (price.amount - cost.amount) / price.amount * _HUNDRED


def pricing_reasons(
    promotion: Promotion,
    skus: Sequence[str],
    controls: Iterable[PricingControl],
    *,
    minimum_margin_percent: Decimal | None = None,
) -> list[str]:
    """Every way the promotion breaks the ERP's pricing controls, one reason per SKU and rule."""
    by_sku: Mapping[str, PricingControl] = {control.sku: control for control in controls}
    reasons: list[str] = []
    rules = promotion.pricing_controls
    minimum = _stricter_margin(rules.minimum_margin_percent, minimum_margin_percent)
    for sku in skus:
        control = by_sku.get(sku)
        if control is None:
            reasons.append(f"SKU {sku}: not in the ERP's item master")
            continue
        if is_points_reward(promotion.reward):
            continue
        if control.list_price is None:
            reasons.append(f"SKU {sku}: the ERP holds no list price to discount")
            continue
        reward_amount = promotion.reward.amount
        if reward_amount is not None and reward_amount.currency != control.list_price.currency:
            reasons.append(
                f"SKU {sku}: the reward is in {reward_amount.currency}, the list price in"
                f" {control.list_price.currency}"
            )
            continue
        price = promotional_price(promotion.reward, control.list_price)
        if price is None:
            continue
        if price.amount <= 0:
            reasons.append(f"SKU {sku}: the promotion gives it away ({_money(price)})")
            continue
        floors = [f for f in (rules.price_floor, control.price_floor) if f is not None]
        reasons.extend(
            f"SKU {sku}: a price floor is in {other.currency}, the price in {price.currency}"
            for other in floors
            if other.currency != price.currency
        )
        floor = _stricter_floor(*(f for f in floors if f.currency == price.currency))
        if floor is not None and price < floor:
            reasons.append(
                f"SKU {sku}: promotional price {_money(price)} is below the price floor"
                f" {_money(floor)}"
            )
        if minimum is not None and control.cost is not None:
            margin = margin_percent(price, control.cost)
            if margin < minimum:
                reasons.append(
                    f"SKU {sku}: margin {margin.quantize(_TENTH, rounding=ROUND_HALF_UP)} % at"
                    f" {_money(price)} is below the minimum {minimum} %"
                )
    return reasons


def overlap_reasons(
    promotion: Promotion, skus: Iterable[str], live: Iterable[LivePromotion]
) -> list[str]:
    """One reason per live promotion of the hub this one would compete with, non-stackably."""
    mine = set(skus)
    channels = {channel.value for channel in promotion.channels}
    reasons: list[str] = []
    for other in sorted(live, key=lambda o: (o.promotion_id, o.version)):
        if other.promotion_id == promotion.promotion_id:
            continue
        shared = sorted(mine & other.skus)
        if not shared or not channels & other.channels:
            continue
        if promotion.valid_to <= other.valid_from or other.valid_to <= promotion.valid_from:
            continue
        if promotion.stackable and other.stackable:
            continue
        who = "this promotion is" if not promotion.stackable else f"{other.promotion_id} is"
        listed = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
        reasons.append(
            f"overlaps {other.promotion_id} v{other.version} ({other.name}) on SKU {listed}"
            f" from {max(promotion.valid_from, other.valid_from).isoformat()}"
            f" to {min(promotion.valid_to, other.valid_to).isoformat()}, and {who} not stackable"
        )
    return reasons
