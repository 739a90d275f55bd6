"""Loyalty: a member's account and the ledger of point movements that must sum to its balance."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel, DocumentId
from retailhub.canonical.errors import Problems
from retailhub.canonical.identifiers import ExternalIds


class MemberStatus(StrEnum):
    """Whether a member can earn and spend."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    CLOSED = "closed"


class LoyaltyAccount(CanonicalModel):
    """A loyalty member's standing: tier, spendable balance and points not yet released."""

    kind: Literal["loyalty_account"] = "loyalty_account"
    member_id: DocumentId
    customer_id: str | None = None
    card_numbers: list[str] = Field(default_factory=list)
    tier: str | None = None
    points_balance: int = Field(description="spendable points")
    pending_points: int = Field(default=0, ge=0, description="earned, not yet spendable")
    status: MemberStatus = MemberStatus.ACTIVE
    updated_at: AwareDatetime | None = None
    external_ids: ExternalIds = Field(default_factory=dict)


class LoyaltyTransactionType(StrEnum):
    """The kinds of point movement a ledger records."""

    ACCRUAL = "accrual"
    REDEMPTION = "redemption"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"
    EXPIRY = "expiry"


class LoyaltyTransaction(CanonicalModel):
    """One signed movement of points (earning positive, spending negative) and what caused it."""

    kind: Literal["loyalty_transaction"] = "loyalty_transaction"
    transaction_id: DocumentId
    member_id: str = Field(min_length=1)
    type: LoyaltyTransactionType
    points: int = Field(description="signed: + credits the member, − debits")
    order_id: str | None = None
    return_id: str | None = None
    promotion_id: str | None = None
    promotion_version: int | None = Field(default=None, ge=1)
    reverses: str | None = Field(default=None, description="the transaction a reversal undoes")
    reason: str | None = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _check(self) -> LoyaltyTransaction:
        problems = Problems()
        kind = self.type
        if kind is LoyaltyTransactionType.ACCRUAL and self.points <= 0:
            problems.add(("points",), "an accrual credits points: it must be positive")
        if kind in {LoyaltyTransactionType.REDEMPTION, LoyaltyTransactionType.EXPIRY} and (
            self.points >= 0
        ):
            problems.add(("points",), f"{kind.value} debits points: it must be negative")
        if kind in {LoyaltyTransactionType.REVERSAL, LoyaltyTransactionType.ADJUSTMENT} and (
            self.points == 0
        ):
            problems.add(("points",), f"a loyalty {kind.value} of zero points moves nothing")
        if kind in {LoyaltyTransactionType.ACCRUAL, LoyaltyTransactionType.REDEMPTION} and not (
            self.order_id or self.promotion_id
        ):
            problems.add(
                ("order_id",), f"a loyalty {kind.value} must reference the order that caused it"
            )
        if kind is LoyaltyTransactionType.REVERSAL and not (self.return_id or self.order_id):
            problems.add(("return_id",), "a reversal must reference the return or cancelled order")
        if kind is LoyaltyTransactionType.ADJUSTMENT and not self.reason:
            problems.add(("reason",), "a manual adjustment must give its reason")
        problems.raise_if_any()
        return self


def ledger_balance(transactions: list[LoyaltyTransaction]) -> int:
    """The balance a member's ledger adds up to; reconciliation compares it with the account."""
    return sum(t.points for t in transactions)
