"""What checkout asks and answers in retail terms: who the member is, a basket's loyalty quote,
a points redemption and its states, and the refusals a till must show its cashier."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from retailhub.connectors.ports import RewardOffer


@dataclass(frozen=True)
class MemberRef:
    """How the till names a member: by loyalty card, member id or email (first given wins)."""

    card: str | None = None
    member_id: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        if not (self.card or self.member_id or self.email):
            raise ValueError("a member is named by a card, a member id or an email")

    @property
    def alias(self) -> tuple[str, str]:
        """The (kind, value) the hub remembers this reference under, email in lower case."""
        if self.card:
            return "card", self.card.strip()
        if self.member_id:
            return "member_id", self.member_id.strip()
        return "email", (self.email or "").strip().lower()


@dataclass(frozen=True)
class KnownBalance:
    """A member's balance and tier as the platform last reported them, and when."""

    member_id: str
    balance: int
    tier: str | None
    active: bool
    as_of: datetime


@dataclass(frozen=True)
class CheckoutQuote:
    """What a basket means for a member: balance, tier, points it would earn (campaign bonus
    included), rewards within reach and the most points the till may redeem now.

    When `degraded`, the platform did not answer in time: balance and tier are the last-known
    ones (`balance_as_of`), earning is unknown (None) and `max_redeemable` is what the offline
    policy allows."""

    member_id: str
    tier: str | None
    balance: int
    balance_as_of: datetime
    points_to_earn: int | None
    bonus_points: int | None
    rewards: tuple[RewardOffer, ...]
    max_redeemable: int
    degraded: bool = False
    degraded_reason: str | None = None


class RedemptionState(StrEnum):
    """Where a redemption stands at the loyalty platform.

    reserved: points blocked at the platform; captured: spent there (sale completed);
    released / expired: given back (sale voided or abandoned, or never finished in time);
    offline_approved: approved by the hub alone while the platform was unavailable, not yet at
    the platform; posted: an offline approval spent at the platform once it recovered;
    rejected: the platform refused it when the hub posted it (an alert for follow-up)."""

    RESERVED = "reserved"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"
    OFFLINE_APPROVED = "offline_approved"
    POSTED = "posted"
    REJECTED = "rejected"


class SaleOutcome(StrEnum):
    """What became of the sale a redemption belongs to, as the till (or the clock) said."""

    COMPLETED = "completed"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Redemption:
    """Points set aside for one sale: its state at the platform, what the till said of the sale,
    and what is still to be done at the platform (`pending`)."""

    redemption_id: str
    client_id: str
    idempotency_key: str
    member_id: str
    points: int
    sale_id: str
    state: RedemptionState
    offline: bool
    sale_outcome: SaleOutcome | None
    transfer_id: str | None
    spend_transfer_id: str | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    attempts: int = 0
    last_error: str | None = None
    rejection_reason: str | None = None
    platform_attempted: bool = False

    @property
    def pending(self) -> bool:
        """True while the platform has not yet been told what the till decided."""
        if self.state is RedemptionState.OFFLINE_APPROVED:
            return True
        return self.state is RedemptionState.RESERVED and self.sale_outcome is not None


def redemption_id_for(client_id: str, idempotency_key: str) -> str:
    """The redemption id one client's Idempotency-Key always leads to, so the same key reserves
    once (in the hub and, as the block's key, at the platform)."""
    digest = hashlib.sha256(f"{client_id}\n{idempotency_key}".encode()).hexdigest()
    return f"rdm_{digest[:32]}"


@dataclass(frozen=True)
class RedemptionRequest:
    """A till's request to set points aside for a sale, under its Idempotency-Key."""

    client_id: str
    idempotency_key: str
    member: MemberRef
    points: int
    sale_id: str

    @property
    def redemption_id(self) -> str:
        """The id this request's redemption has, whichever attempt creates it."""
        return redemption_id_for(self.client_id, self.idempotency_key)

    def redemption(
        self,
        member_id: str,
        state: RedemptionState,
        now: datetime,
        ttl: timedelta,
        *,
        transfer_id: str | None = None,
        platform_attempted: bool,
        note: str | None = None,
    ) -> Redemption:
        """The new redemption for this request, valid for `ttl` from `now`."""
        return Redemption(
            redemption_id=self.redemption_id,
            client_id=self.client_id,
            idempotency_key=self.idempotency_key,
            member_id=member_id,
            points=self.points,
            sale_id=self.sale_id,
            state=state,
            offline=state is RedemptionState.OFFLINE_APPROVED,
            sale_outcome=None,
            transfer_id=transfer_id,
            spend_transfer_id=None,
            created_at=now,
            expires_at=now + ttl,
            updated_at=now,
            last_error=note,
            platform_attempted=platform_attempted,
        )

    def replayed(self, existing: Redemption) -> Redemption:
        """The redemption a repeated Idempotency-Key reserved, if the request is the same."""
        if (existing.client_id, existing.points, existing.sale_id) != (
            self.client_id,
            self.points,
            self.sale_id,
        ):
            raise IdempotencyConflict(
                f"Idempotency-Key {self.idempotency_key!r} reserved {existing.points} points"
                f" for sale {existing.sale_id} already"
            )
        return existing


class CheckoutError(Exception):
    """A checkout request that cannot be served; `status` is the HTTP status it maps to."""

    status = 400
    title = "Checkout request refused"


class MemberNotFound(CheckoutError):
    """The platform knows no member by the card, id or email given."""

    status = 404
    title = "Loyalty member not found"


class LoyaltyUnavailable(CheckoutError):
    """The platform is unavailable and the hub has never seen this member: nothing to fall
    back on."""

    status = 503
    title = "Loyalty platform unavailable"


class RedemptionRefused(CheckoutError):
    """Redeeming these points is not allowed: not enough points, or above an offline limit."""

    status = 409
    title = "Redemption refused"


class RedemptionNotFound(CheckoutError):
    """No redemption by this id for this client."""

    status = 404
    title = "Redemption not found"


class RedemptionClosed(CheckoutError):
    """The redemption is already finished another way (captured cannot be released, released
    or expired cannot be captured)."""

    status = 409
    title = "Redemption already finished"


class IdempotencyConflict(CheckoutError):
    """The Idempotency-Key was used before for a different redemption."""

    status = 422
    title = "Idempotency-Key reused with another request"
