"""The checkout desk: what tills and the web checkout ask of loyalty, answered within the
latency budget, from the last-known balance when the platform is slow or down.

Online, a quote and a reservation are the platform's answers (member lookup, then quote or
block), and every answer refreshes the member's last-known balance. When the platform does not
answer within the budget, or checkout's breaker is open, the quote is `degraded` and a
reservation is approved by the hub alone within the offline policy; it waits in the offline
queue (see `upkeep`) until the platform is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from weakref import WeakValueDictionary

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import LoyaltyAccount, MemberStatus
from retailhub.connectors.ports import BasketLine, LoyaltyPort, LoyaltyQuote
from retailhub.flows.alerts import resolve_alert
from retailhub.flows.checkout.documents import (
    CheckoutQuote,
    KnownBalance,
    LoyaltyUnavailable,
    MemberNotFound,
    MemberRef,
    Redemption,
    RedemptionClosed,
    RedemptionNotFound,
    RedemptionRefused,
    RedemptionRequest,
    RedemptionState,
    SaleOutcome,
)
from retailhub.flows.checkout.guard import UNAVAILABLE, TillGuard, is_unavailability
from retailhub.flows.checkout.policy import CheckoutPolicy
from retailhub.flows.checkout.settlement import REJECTED_ALERT, settle
from retailhub.flows.checkout.store import (
    adjust_known_balance,
    create_checkout_tables,
    get_redemption,
    insert_redemption,
    known_balance,
    member_by_alias,
    offline_approved_on,
    offline_outstanding,
    remember_member,
    save_redemption,
)


def utc_now() -> datetime:
    """The current moment in UTC."""
    return datetime.now(UTC)


def _aliases(member: MemberRef, account: LoyaltyAccount) -> list[tuple[str, str]]:
    """Every name the platform's answer shows for the member: the one asked by, its id, cards."""
    cards = [("card", card) for card in account.card_numbers]
    return [member.alias, ("member_id", account.member_id), *cards]


class CheckoutDesk:
    """Loyalty at checkout: quotes, reservations, capture and release, degraded when needed."""

    def __init__(
        self,
        bus: EventBus,
        loyalty: LoyaltyPort,
        policy: CheckoutPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.bus = bus
        self.loyalty = loyalty
        self.policy = policy or CheckoutPolicy()
        self.clock = clock
        self.guard = TillGuard(
            self.policy.loyalty_budget_s,
            self.policy.breaker_threshold,
            self.policy.breaker_reset_s,
        )
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def create_tables(self) -> None:
        """Create checkout's tables (idempotent); the wiring does it once at start."""
        async with self.bus.transaction() as transaction:
            await create_checkout_tables(transaction)

    def business_day(self, moment: datetime) -> date:
        """The calendar day the per-member daily offline limit counts `moment` in."""
        return moment.astimezone(self.policy.zone).date()

    async def quote(
        self,
        member: MemberRef,
        lines: Sequence[BasketLine],
        channel: Channel,
        location: str | None = None,
    ) -> CheckoutQuote:
        """Balance, tier, points the basket would earn, rewards in reach and the most points
        redeemable; degraded (last-known balance, offline allowance) when the platform does not
        answer within the budget."""
        known_id = await self._member_id_of(member)
        deadline = self.guard.deadline()
        try:
            account, quote = await self.guard.run(
                lambda: self._ask_quote(member, known_id, lines, channel, location), deadline
            )
        except UNAVAILABLE as error:
            return await self._degraded_quote(member, known_id, error)
        now = self.clock()
        async with self.bus.transaction() as transaction:
            known = await self._remember(transaction, member, account, now)
            outstanding = await offline_outstanding(transaction, account.member_id)
        available = max(0, known.balance - outstanding) if known.active else 0
        return CheckoutQuote(
            member_id=account.member_id,
            tier=account.tier,
            balance=known.balance,
            balance_as_of=now,
            points_to_earn=quote.points_to_earn,
            bonus_points=quote.bonus_points,
            rewards=tuple(r for r in quote.rewards if r.points_cost <= available),
            max_redeemable=available,
        )

    async def _ask_quote(
        self,
        member: MemberRef,
        known_id: str | None,
        lines: Sequence[BasketLine],
        channel: Channel,
        location: str | None,
    ) -> tuple[LoyaltyAccount, LoyaltyQuote]:
        """Lookup and quote: side by side when the hub already knows the member's id (if that
        id is stale, or the card now belongs to someone else, the member is looked up again by
        the till's reference)."""
        if known_id is not None:
            found, quote = await asyncio.gather(
                self.loyalty.find_member(member_id=known_id),
                self.loyalty.quote(known_id, lines, channel, location),
                return_exceptions=True,
            )
            current = isinstance(found, LoyaltyAccount) and _still_holds_card(member, found)
            if current and isinstance(found, LoyaltyAccount) and isinstance(quote, LoyaltyQuote):
                return found, quote
            for outcome in (found, quote):
                if isinstance(outcome, BaseException) and (
                    is_unavailability(outcome) or not isinstance(outcome, Exception)
                ):
                    raise outcome
        account = await self._find(member)
        return account, await self.loyalty.quote(account.member_id, lines, channel, location)

    async def _find(self, member: MemberRef) -> LoyaltyAccount:
        account = await self.loyalty.find_member(
            card=member.card, member_id=member.member_id, email=member.email
        )
        if account is None:
            raise MemberNotFound(f"no loyalty member by {member.alias[0]} {member.alias[1]!r}")
        return account

    async def _degraded_quote(
        self, member: MemberRef, known_id: str | None, error: BaseException
    ) -> CheckoutQuote:
        reason = _unavailable_reason(error)
        async with self.bus.transaction() as transaction:
            known = await self._last_known(transaction, member, known_id, reason)
            allowance = await self._offline_allowance(transaction, known)
        return CheckoutQuote(
            member_id=known.member_id,
            tier=known.tier,
            balance=known.balance,
            balance_as_of=known.as_of,
            points_to_earn=None,
            bonus_points=None,
            rewards=(),
            max_redeemable=allowance,
            degraded=True,
            degraded_reason=reason,
        )

    async def reserve(
        self,
        client_id: str,
        idempotency_key: str,
        member: MemberRef,
        points: int,
        sale_id: str,
    ) -> Redemption:
        """Set `points` aside for a sale, once per (client, Idempotency-Key): blocked at the
        platform, or approved offline within the policy when the platform is unavailable."""
        if points <= 0:
            raise RedemptionRefused(f"points to redeem must be positive, not {points}")
        request = RedemptionRequest(client_id, idempotency_key, member, points, sale_id)
        async with self.lock_for(request.redemption_id):
            async with self.bus.transaction() as transaction:
                existing = await get_redemption(transaction, request.redemption_id)
            if existing is not None:
                return request.replayed(existing)
            known_id = await self._member_id_of(member)
            deadline = self.guard.deadline()
            block_sent = False
            try:
                account = await self.guard.run(lambda: self._find(member), deadline)
                now = self.clock()
                async with self.bus.transaction() as transaction:
                    known = await self._remember(transaction, member, account, now)
                    outstanding = await offline_outstanding(transaction, account.member_id)
                _check_online(known, outstanding, points)
                block_sent = True
                transfer_id = await self.guard.run(
                    lambda: self._block(account.member_id, points, request.redemption_id),
                    deadline,
                )
            except UNAVAILABLE as error:
                return await self._approve_offline(request, known_id, block_sent, error)
            now = self.clock()
            reserved = request.redemption(
                account.member_id,
                RedemptionState.RESERVED,
                now,
                self.policy.reservation_ttl,
                transfer_id=transfer_id,
                platform_attempted=True,
            )
            async with self.bus.transaction() as transaction:
                await insert_redemption(transaction, reserved, self.business_day(now))
                await adjust_known_balance(transaction, account.member_id, -points, now)
                stored = await get_redemption(transaction, request.redemption_id)
            return stored or reserved

    async def _block(self, member_id: str, points: int, redemption_id: str) -> str:
        """Block the points at the platform; a refusal (not enough points) is the till's."""
        try:
            return await self.loyalty.block_points(member_id, points, redemption_id)
        except UNAVAILABLE:
            raise
        except Exception as refusal:
            raise RedemptionRefused(f"the loyalty platform refused: {refusal}") from refusal

    async def _approve_offline(
        self,
        request: RedemptionRequest,
        known_id: str | None,
        block_sent: bool,
        error: BaseException,
    ) -> Redemption:
        """Approve within the offline policy from the last-known balance, or refuse saying which
        limit stands in the way; the approval joins the offline queue. `block_sent`: the
        platform may have taken the block although its answer never came."""
        reason = _unavailable_reason(error)
        now = self.clock()
        day = self.business_day(now)
        async with self.bus.transaction() as transaction:
            known = await self._last_known(transaction, request.member, known_id, reason, lock=True)
            await self._check_offline(transaction, known, request.points, day)
            approved = request.redemption(
                known.member_id,
                RedemptionState.OFFLINE_APPROVED,
                now,
                self.policy.reservation_ttl,
                platform_attempted=block_sent,
                note=reason,
            )
            await insert_redemption(transaction, approved, day)
            stored = await get_redemption(transaction, request.redemption_id)
        return stored or approved

    async def _check_offline(
        self, transaction: Transaction, known: KnownBalance, points: int, day: date
    ) -> None:
        policy = self.policy
        if not known.active:
            raise RedemptionRefused(f"member {known.member_id} cannot redeem (not active)")
        if points > policy.max_offline_points_per_sale:
            raise RedemptionRefused(
                f"{points} points is above the offline limit of"
                f" {policy.max_offline_points_per_sale} points per sale"
            )
        today = await offline_approved_on(transaction, known.member_id, day)
        left_today = policy.max_offline_points_per_member_per_day - today
        if points > left_today:
            raise RedemptionRefused(
                f"{points} points is above the offline limit of"
                f" {policy.max_offline_points_per_member_per_day} points per member per day"
                f" ({max(0, left_today)} left today)"
            )
        outstanding = await offline_outstanding(transaction, known.member_id)
        if points > known.balance - outstanding:
            raise RedemptionRefused(
                f"{points} points is above the last-known balance of {known.balance} points"
                f" (as of {known.as_of.isoformat()}) less {outstanding} already approved offline"
            )

    async def _offline_allowance(self, transaction: Transaction, known: KnownBalance) -> int:
        """The most points an offline approval could give this member now."""
        if not known.active:
            return 0
        policy = self.policy
        today = await offline_approved_on(
            transaction, known.member_id, self.business_day(self.clock())
        )
        outstanding = await offline_outstanding(transaction, known.member_id)
        return max(
            0,
            min(
                policy.max_offline_points_per_sale,
                policy.max_offline_points_per_member_per_day - today,
                known.balance - outstanding,
            ),
        )

    async def capture(self, client_id: str, redemption_id: str) -> Redemption:
        """The sale completed: spend the reserved points (at once, or through the queue when the
        platform is unavailable); capturing again changes nothing."""
        async with self.lock_for(redemption_id):
            current = await self.redemption(client_id, redemption_id)
            if current.state in (RedemptionState.CAPTURED, RedemptionState.POSTED):
                return current
            if current.state in (RedemptionState.RELEASED, RedemptionState.EXPIRED) or (
                current.sale_outcome in (SaleOutcome.VOIDED, SaleOutcome.EXPIRED)
            ):
                raise RedemptionClosed(
                    f"redemption {redemption_id} was {current.state.value}: nothing to capture"
                )
            return await self._record_outcome(current, SaleOutcome.COMPLETED)

    async def release(self, client_id: str, redemption_id: str) -> Redemption:
        """The sale was voided or abandoned: give the points back; releasing again changes
        nothing, and a captured redemption cannot be released (that is a return)."""
        async with self.lock_for(redemption_id):
            current = await self.redemption(client_id, redemption_id)
            if current.state in (RedemptionState.RELEASED, RedemptionState.EXPIRED):
                return current
            if current.state in (RedemptionState.CAPTURED, RedemptionState.POSTED) or (
                current.sale_outcome is SaleOutcome.COMPLETED
            ):
                raise RedemptionClosed(
                    f"redemption {redemption_id} was spent on sale {current.sale_id};"
                    " give points back through a return"
                )
            return await self._record_outcome(current, SaleOutcome.VOIDED)

    async def _record_outcome(self, current: Redemption, outcome: SaleOutcome) -> Redemption:
        """Save what the till said of the sale, then settle at the platform within the budget
        (a voided offline approval the platform never saw is finished here)."""
        now = self.clock()
        updated = replace(current, sale_outcome=current.sale_outcome or outcome, updated_at=now)
        never_held = updated.state is RedemptionState.OFFLINE_APPROVED and not (
            updated.platform_attempted
        )
        if never_held and outcome is SaleOutcome.VOIDED:
            updated = replace(updated, state=RedemptionState.RELEASED)
        async with self.bus.transaction() as transaction:
            await save_redemption_and_resolve(transaction, updated, outcome)
        if not updated.pending:
            return updated
        deadline = self.guard.deadline()
        try:
            return await settle(
                self.bus,
                self.loyalty,
                updated,
                lambda call: self.guard.run(call, deadline),
                self.clock,
            )
        except UNAVAILABLE:
            async with self.bus.transaction() as transaction:
                return await get_redemption(transaction, updated.redemption_id) or updated

    async def redemption(self, client_id: str, redemption_id: str) -> Redemption:
        """One of the client's redemptions, as it stands."""
        async with self.bus.transaction() as transaction:
            found = await get_redemption(transaction, redemption_id)
        if found is None or found.client_id != client_id:
            raise RedemptionNotFound(f"no redemption {redemption_id}")
        return found

    async def _member_id_of(self, member: MemberRef) -> str | None:
        async with self.bus.transaction() as transaction:
            return await member_by_alias(transaction, member.alias)

    async def _remember(
        self,
        transaction: Transaction,
        member: MemberRef,
        account: LoyaltyAccount,
        now: datetime,
    ) -> KnownBalance:
        known = KnownBalance(
            member_id=account.member_id,
            balance=account.points_balance,
            tier=account.tier,
            active=account.status is MemberStatus.ACTIVE,
            as_of=now,
        )
        await remember_member(transaction, known, _aliases(member, account))
        return known

    async def _last_known(
        self,
        transaction: Transaction,
        member: MemberRef,
        known_id: str | None,
        reason: str,
        *,
        lock: bool = False,
    ) -> KnownBalance:
        member_id = known_id or await member_by_alias(transaction, member.alias)
        known = None
        if member_id is not None:
            known = await known_balance(transaction, member_id, for_update=lock)
        if known is None:
            raise LoyaltyUnavailable(
                f"{reason}, and the hub has no last-known balance for {member.alias[0]}"
                f" {member.alias[1]!r}"
            )
        return known

    def lock_for(self, redemption_id: str) -> asyncio.Lock:
        """The lock that keeps a till's calls and the background settlement from acting on one
        redemption at the same time (within this process)."""
        lock = self._locks.get(redemption_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[redemption_id] = lock
        return lock


async def save_redemption_and_resolve(
    transaction: Transaction, redemption: Redemption, outcome: SaleOutcome
) -> None:
    """Save a redemption; a rejected one whose sale was voided gave nothing away, so its
    follow-up alert is resolved."""
    await save_redemption(transaction, redemption)
    if redemption.state is RedemptionState.REJECTED and outcome is SaleOutcome.VOIDED:
        await resolve_alert(transaction, REJECTED_ALERT, redemption.redemption_id)


def _still_holds_card(member: MemberRef, account: LoyaltyAccount) -> bool:
    """False when the till's card is no longer one of the member's (a reissued card)."""
    return member.card is None or member.card.strip() in account.card_numbers


def _check_online(known: KnownBalance, outstanding: int, points: int) -> None:
    """Refuse what the platform's balance, less offline approvals it does not hold yet, cannot
    cover."""
    if not known.active:
        raise RedemptionRefused(f"member {known.member_id} cannot redeem (not active)")
    available = known.balance - outstanding
    if points > available:
        raise RedemptionRefused(
            f"{points} points is more than the {max(0, available)} points available"
            f" (balance {known.balance}, {outstanding} approved offline not yet posted)"
        )


def _unavailable_reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "the loyalty platform did not answer within the checkout budget"
    return f"the loyalty platform is unavailable ({error})"
