"""Promotion: one versioned offer published alike to the web shop, the POS and the loyalty platform."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel, Channel, DocumentId
from retailhub.canonical.errors import Problems
from retailhub.canonical.identifiers import ExternalIds, LocationCode, Sku, SystemName
from retailhub.canonical.money import Amount, Money


class RewardType(StrEnum):
    """What the customer gets."""

    PERCENT_OFF = "percent_off"
    AMOUNT_OFF = "amount_off"
    FIXED_PRICE = "fixed_price"
    BUY_X_GET_Y = "buy_x_get_y"
    BONUS_POINTS = "bonus_points"
    POINTS_MULTIPLIER = "points_multiplier"


_REWARD_FIELDS: dict[RewardType, tuple[str, ...]] = {
    RewardType.PERCENT_OFF: ("percent",),
    RewardType.AMOUNT_OFF: ("amount",),
    RewardType.FIXED_PRICE: ("amount",),
    RewardType.BUY_X_GET_Y: ("buy_quantity", "get_quantity"),
    RewardType.BONUS_POINTS: ("points",),
    RewardType.POINTS_MULTIPLIER: ("multiplier",),
}


class Reward(CanonicalModel):
    """The benefit of a promotion; `type` says which of the other fields carry it."""

    type: RewardType
    percent: Amount | None = Field(
        default=None, description="percent_off, and buy_x_get_y's discount"
    )
    amount: Money | None = Field(default=None, description="amount_off per unit, or fixed_price")
    buy_quantity: int | None = Field(default=None, ge=1)
    get_quantity: int | None = Field(default=None, ge=1)
    points: int | None = Field(default=None, ge=1, description="bonus points per eligible unit")
    multiplier: Amount | None = None

    @model_validator(mode="after")
    def _check(self) -> Reward:
        problems = Problems()
        needed = _REWARD_FIELDS[self.type]
        for name in needed:
            if getattr(self, name) is None:
                problems.add((name,), f"a reward of type {self.type.value} needs {name}")
        allowed = {*needed, "percent"} if self.type is RewardType.BUY_X_GET_Y else set(needed)
        for name in ("percent", "amount", "buy_quantity", "get_quantity", "points", "multiplier"):
            if name not in allowed and getattr(self, name) is not None:
                problems.add((name,), f"a reward of type {self.type.value} does not use {name}")
        if self.percent is not None and not Decimal(0) < self.percent <= Decimal(100):
            problems.add(("percent",), "a percentage must be above 0 and at most 100")
        if self.amount is not None and self.amount.amount <= 0:
            problems.add(("amount", "amount"), "a reward amount must be positive")
        if self.multiplier is not None and self.multiplier <= 1:
            problems.add(("multiplier",), "a points multiplier must be above 1")
        problems.raise_if_any()
        return self


class Eligibility(CanonicalModel):
    """What a basket must contain, and who must be buying, for the promotion to apply."""

    skus: list[Sku] = Field(default_factory=list)
    hierarchy_nodes: list[list[str]] = Field(
        default_factory=list, description="Merchandise hierarchy paths; items below them qualify"
    )
    customer_tiers: list[str] = Field(default_factory=list)
    customer_segments: list[str] = Field(default_factory=list)
    minimum_spend: Money | None = None

    @property
    def targets_items(self) -> bool:
        """True when eligibility names items (SKUs or hierarchy nodes) rather than the whole basket."""
        return bool(self.skus or self.hierarchy_nodes)


class PricingControls(CanonicalModel):
    """Guard rails set by the ERP's pricing team that a promotion must not break."""

    price_floor: Money | None = Field(default=None, description="lowest selling price allowed")
    minimum_margin_percent: Amount | None = Field(default=None, description="lowest gross margin")


class PromotionStatus(StrEnum):
    """Where a promotion is in its life."""

    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Promotion(CanonicalModel):
    """A promotion version: who authored it, where it runs, who qualifies, what they get, and when."""

    kind: Literal["promotion"] = "promotion"
    promotion_id: DocumentId
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    source: SystemName
    channels: list[Channel] = Field(min_length=1)
    stores: list[LocationCode] = Field(default_factory=list, description="empty: every store")
    eligibility: Eligibility = Field(default_factory=Eligibility)
    reward: Reward
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    stackable: bool = False
    priority: int = Field(default=0, description="higher wins when non-stackable offers compete")
    pricing_controls: PricingControls = Field(default_factory=PricingControls)
    status: PromotionStatus = PromotionStatus.DRAFT
    external_ids: ExternalIds = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Promotion:
        problems = Problems()
        if self.valid_to <= self.valid_from:
            problems.add(("valid_to",), "the promotion ends before it starts")
        if len(set(self.channels)) != len(self.channels):
            problems.add(("channels",), "a channel is listed twice")
        money_kinds = {RewardType.AMOUNT_OFF, RewardType.FIXED_PRICE}
        if self.reward.type in money_kinds and not self.eligibility.targets_items:
            problems.add(
                ("eligibility",),
                f"a reward of type {self.reward.type.value} applies per item:"
                " name SKUs or hierarchy nodes",
            )
        floor = self.pricing_controls.price_floor
        if floor is not None and self.reward.amount is not None:
            if floor.currency != self.reward.amount.currency:
                problems.add(
                    ("pricing_controls", "price_floor", "currency"),
                    f"the price floor is in {floor.currency}"
                    f" but the reward in {self.reward.amount.currency}",
                )
            elif self.reward.type is RewardType.FIXED_PRICE and self.reward.amount < floor:
                problems.add(
                    ("reward", "amount"),
                    f"fixed price {self.reward.amount} is below the price floor {floor}",
                )
        problems.raise_if_any()
        return self

    @property
    def key(self) -> str:
        """The idempotency key of this version when it is published to a channel."""
        return f"{self.promotion_id}:v{self.version}"

    def is_live(self, at: AwareDatetime) -> bool:
        """True when the promotion is active and `at` falls in its window."""
        return self.status is PromotionStatus.ACTIVE and self.valid_from <= at < self.valid_to
