"""The emulated platform's earning engine: which earning rules a sale line triggers, how many
points each rule gives it, and how much of that a return of some of its units takes back.

Rule types, as Open Loyalty names them:
- `points` (general spending rule): `pointValue` points per 1 unit of currency of the line's
  gross value, rounded down per line, except `excludedSKUs`;
- `product_purchase`: `pointsAmount` bonus points per unit bought of a SKU in `skuIds` (per
  unit, as the estate's winter campaign is written);
- `multiply_for_product`: the general spending points of a SKU in `skuIds` times `multiplier`
  (the extra over the base goes to this rule).

A rule applies when it is active, the purchase time falls in its window (or it is
`allTimeActive`) and the purchase place is one of its `pos` (or it has `allPos`). Points are
kept per line and rule, so a return reverses exactly what its lines earned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

GENERAL_SPENDING = "points"
PRODUCT_PURCHASE = "product_purchase"
MULTIPLY_FOR_PRODUCT = "multiply_for_product"
RULE_TYPES = (GENERAL_SPENDING, PRODUCT_PURCHASE, MULTIPLY_FOR_PRODUCT)


def whole_points(value: Decimal) -> int:
    """Points are whole: fractions are dropped, as the platform rounds down."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 moment from a rule or a transaction, or None."""
    return None if not text else datetime.fromisoformat(text)


@dataclass(frozen=True)
class EarningRule:
    """One earning rule as the engine applies it."""

    rule_id: str
    type: str
    active: bool
    all_time_active: bool
    start_at: datetime | None
    end_at: datetime | None
    all_pos: bool
    pos: frozenset[str]
    sku_ids: frozenset[str]
    excluded_skus: frozenset[str]
    point_value: Decimal
    points_amount: int
    multiplier: Decimal

    @classmethod
    def from_body(cls, rule_id: str, body: Mapping[str, Any]) -> EarningRule:
        """The rule from its stored JSON body."""
        return cls(
            rule_id=rule_id,
            type=str(body["type"]),
            active=bool(body.get("active", False)),
            all_time_active=bool(body.get("allTimeActive", False)),
            start_at=parse_time(body.get("startAt")),
            end_at=parse_time(body.get("endAt")),
            all_pos=bool(body.get("allPos", True)),
            pos=frozenset(body.get("pos") or ()),
            sku_ids=frozenset(body.get("skuIds") or ()),
            excluded_skus=frozenset(body.get("excludedSKUs") or ()),
            point_value=Decimal(str(body.get("pointValue") or 0)),
            points_amount=int(body.get("pointsAmount") or 0),
            multiplier=Decimal(str(body.get("multiplier") or 1)),
        )

    def applies(self, place: str, at: datetime) -> bool:
        """True when the rule earns on a purchase at `place` at moment `at`."""
        if not self.active or not (self.all_pos or place in self.pos):
            return False
        if self.all_time_active:
            return True
        after_start = self.start_at is None or self.start_at <= at
        return after_start and (self.end_at is None or at < self.end_at)


@dataclass(frozen=True)
class SaleLine:
    """A transaction item as the engine sees it."""

    sku: str
    quantity: Decimal
    gross_value: Decimal


def line_points(rules: Sequence[EarningRule], line: SaleLine) -> dict[str, int]:
    """Points per rule id that one line earns under the rules that apply to its purchase."""
    earned: dict[str, int] = {}
    base = Decimal(0)
    for rule in rules:
        if rule.type == GENERAL_SPENDING and line.sku not in rule.excluded_skus:
            points = whole_points(line.gross_value * rule.point_value)
            base += points
            earned[rule.rule_id] = points
    for rule in rules:
        if line.sku not in rule.sku_ids:
            continue
        if rule.type == PRODUCT_PURCHASE:
            earned[rule.rule_id] = rule.points_amount * whole_points(line.quantity)
        elif rule.type == MULTIPLY_FOR_PRODUCT:
            earned[rule.rule_id] = whole_points(base * (rule.multiplier - 1))
    return {rule_id: points for rule_id, points in earned.items() if points > 0}


def sale_points(
    rules: Sequence[EarningRule], lines: Sequence[SaleLine], place: str, at: datetime
) -> list[dict[str, int]]:
    """Points per rule id that each line of a purchase at `place` at moment `at` earns: the
    one computation a registered sale and a simulated one share."""
    live = [rule for rule in rules if rule.applies(place, at)]
    return [line_points(live, line) for line in lines]


def reversal(
    earned: Mapping[str, int],
    reversed_so_far: Mapping[str, int],
    sold: Decimal,
    returned_before: Decimal,
    returned_now: Decimal,
) -> dict[str, int]:
    """Points per rule to take back when `returned_now` more units of a line come back: the
    share of what the line earned that the units returned so far stand for, less what earlier
    returns took; the last unit back takes the remainder, so a full return reverses exactly."""
    returned_total = min(sold, returned_before + returned_now)
    taken: dict[str, int] = {}
    for rule_id, points in earned.items():
        due = whole_points(points * returned_total / sold) if sold else points
        more = due - reversed_so_far.get(rule_id, 0)
        if more > 0:
            taken[rule_id] = more
    return taken
