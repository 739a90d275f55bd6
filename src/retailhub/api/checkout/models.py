"""Request and answer bodies of the checkout loyalty API: money and quantities as decimal
strings, points as whole numbers, moments as ISO 8601 with offset."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Amount, CurrencyCode, Money
from retailhub.connectors.ports import BasketLine
from retailhub.flows.checkout import CheckoutQuote, MemberRef, Redemption

MAX_POINTS = 10_000_000
"""More points than any member holds: a figure above it is a till's mistake."""


class Strict(BaseModel):
    """A request body: unknown fields are refused, so a misspelt one is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MemberIn(Strict):
    """Who the basket is for: a scanned loyalty card, the member id, or the member's email."""

    card: str | None = Field(default=None, min_length=1, max_length=64)
    member_id: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, min_length=3, max_length=254)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not (self.card or self.member_id or self.email):
            raise ValueError("name the member by card, member_id or email")
        return self

    def ref(self) -> MemberRef:
        """The member as the checkout desk names them."""
        return MemberRef(card=self.card, member_id=self.member_id, email=self.email)


class LineIn(Strict):
    """One basket line: SKU, quantity (weighed goods in kg) and unit price, VAT included."""

    sku: str = Field(min_length=1, max_length=64, examples=["SKU-10017"])
    quantity: Amount = Field(examples=["2"])
    unit_price: Amount = Field(examples=["3.49"])

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if self.quantity <= 0:
            raise ValueError("quantity must be more than 0")
        if self.unit_price < 0:
            raise ValueError("unit_price cannot be negative")
        return self


class QuoteIn(Strict):
    """A basket to quote for a member, where it is being bought."""

    member: MemberIn
    channel: Channel = Field(examples=["store"])
    location: str | None = Field(default=None, min_length=1, max_length=32, examples=["AMS01"])
    currency: CurrencyCode = Field(examples=["EUR"])
    lines: list[LineIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _placed(self) -> Self:
        if self.channel is not Channel.WEB and not self.location:
            raise ValueError(f"a {self.channel.value} basket needs its location (store code)")
        return self

    def basket(self) -> list[BasketLine]:
        """The lines as the loyalty port takes them."""
        return [
            BasketLine(
                line.sku, line.quantity, Money(amount=line.unit_price, currency=self.currency)
            )
            for line in self.lines
        ]

    def total(self) -> Decimal:
        """What the basket comes to, in its currency, rounded to the minor unit."""
        amount = sum((line.quantity * line.unit_price for line in self.lines), Decimal(0))
        return Money(amount=amount, currency=self.currency).rounded().amount


class RewardOut(BaseModel):
    """A reward the member's points pay for."""

    reward_id: str
    name: str
    points_cost: int


class QuoteOut(BaseModel):
    """What the basket means for the member. `degraded`: the loyalty platform did not answer in
    time, so balance and tier are the last-known ones (`balance_as_of`), earning is unknown
    (null) and `max_redeemable` is what the offline policy allows."""

    member_id: str
    tier: str | None
    balance: int
    balance_as_of: datetime
    points_to_earn: int | None = Field(description="campaign bonus included; null when degraded")
    bonus_points: int | None = Field(description="of which campaign bonus")
    rewards: list[RewardOut]
    max_redeemable: int
    basket_total: Amount
    currency: str
    degraded: bool
    degraded_reason: str | None = None

    @classmethod
    def of(cls, quote: CheckoutQuote, basket: QuoteIn) -> QuoteOut:
        """The answer for a desk's quote of `basket`."""
        return cls(
            member_id=quote.member_id,
            tier=quote.tier,
            balance=quote.balance,
            balance_as_of=quote.balance_as_of,
            points_to_earn=quote.points_to_earn,
            bonus_points=quote.bonus_points,
            rewards=[RewardOut(**vars(r)) for r in quote.rewards],
            max_redeemable=quote.max_redeemable,
            basket_total=basket.total(),
            currency=basket.currency,
            degraded=quote.degraded,
            degraded_reason=quote.degraded_reason,
        )


class ReserveIn(Strict):
    """Points to set aside for a sale in progress."""

    member: MemberIn
    points: int = Field(gt=0, le=MAX_POINTS, strict=True, examples=[500])
    sale_id: str = Field(min_length=1, max_length=100, examples=["AMS01-T03-000123"])


class RedemptionOut(BaseModel):
    """A redemption as it stands. `offline`: approved by the hub alone while the platform was
    unavailable; `pending`: the platform has not yet been told what the till decided (the hub
    posts it when the platform is back)."""

    redemption_id: str
    state: str = Field(
        description="reserved, captured, released, expired, offline_approved, posted or rejected"
    )
    member_id: str
    points: int
    sale_id: str
    offline: bool
    pending: bool
    sale_outcome: str | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    rejection_reason: str | None = None

    @classmethod
    def of(cls, redemption: Redemption) -> RedemptionOut:
        """The answer for one of the desk's redemptions."""
        return cls(
            redemption_id=redemption.redemption_id,
            state=redemption.state.value,
            member_id=redemption.member_id,
            points=redemption.points,
            sale_id=redemption.sale_id,
            offline=redemption.offline,
            pending=redemption.pending,
            sale_outcome=redemption.sale_outcome.value if redemption.sale_outcome else None,
            created_at=redemption.created_at,
            expires_at=redemption.expires_at,
            updated_at=redemption.updated_at,
            rejection_reason=redemption.rejection_reason,
        )
