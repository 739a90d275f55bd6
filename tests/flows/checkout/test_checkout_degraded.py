"""Checkout loyalty with the platform down or slow (sandbox fault injection): degraded quotes
from the last-known balance, offline approvals within the policy and refusals beyond it, and,
once the platform recovers, the offline queue posted and a rejection reported for follow-up."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.flows.alerts import open_alerts
from retailhub.flows.checkout import (
    REJECTED_ALERT,
    CheckoutDesk,
    CheckoutPolicy,
    LoyaltyUnavailable,
    MemberRef,
    RedemptionRefused,
    RedemptionState,
    SaleOutcome,
    open_checkout_desk,
    post_offline_queue,
    rejected_redemptions,
)
from retailhub.sandbox.seed import EstateCustomer

from .helpers import STORE, World, balance_at_platform, basket, set_faults, until_posted

pytestmark = pytest.mark.asyncio(loop_scope="package")

POLICY = CheckoutPolicy(
    loyalty_budget_s=5.0,
    breaker_threshold=3,
    breaker_reset_s=0.2,
    max_offline_points_per_sale=400,
    max_offline_points_per_member_per_day=600,
    reservation_ttl=timedelta(minutes=10),
    settle_timeout_s=5.0,
)
DOWN = {"down": True}


async def desk_for(bus: SqliteBus, world: World, policy: CheckoutPolicy = POLICY) -> CheckoutDesk:
    return await open_checkout_desk(bus, world.loyalty, policy)


async def warm(desk: CheckoutDesk, world: World, member: EstateCustomer) -> int:
    """Quote once with the platform up, so the hub knows the member's balance; returns it."""
    quote = await desk.quote(
        MemberRef(card=member.card_number), basket(world, [world.plain_sku()]), Channel.STORE, STORE
    )
    assert not quote.degraded
    return quote.balance


async def test_a_degraded_quote_answers_from_the_last_known_balance(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    online = await desk.quote(
        MemberRef(card=member.card_number), basket(world, [world.plain_sku()]), Channel.STORE, STORE
    )
    await set_faults(world.url, DOWN)

    quote = await desk.quote(
        MemberRef(member_id=member.account.member_id),
        basket(world, [world.plain_sku()]),
        Channel.WEB,
        None,
    )

    assert quote.degraded
    assert quote.degraded_reason
    assert quote.member_id == online.member_id
    assert quote.balance == online.balance == member.points_balance
    assert quote.balance_as_of == online.balance_as_of
    assert quote.tier == online.tier
    assert quote.points_to_earn is None
    assert quote.max_redeemable == 400


async def test_a_member_never_seen_cannot_be_served_while_the_platform_is_down(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    await set_faults(world.url, DOWN)

    with pytest.raises(LoyaltyUnavailable):
        await desk.quote(
            MemberRef(card=member.card_number),
            basket(world, [world.plain_sku()]),
            Channel.STORE,
            STORE,
        )
    with pytest.raises(LoyaltyUnavailable):
        await desk.reserve("till-1", "never-seen", MemberRef(card=member.card_number), 10, "S-1")


async def test_offline_approvals_stay_within_the_per_sale_and_per_day_limits(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)
    await warm(desk, world, member)
    await set_faults(world.url, DOWN)

    with pytest.raises(RedemptionRefused, match="per sale"):
        await desk.reserve("till-1", "k-401", ref, 401, "S-1")
    first = await desk.reserve("till-1", "k-300", ref, 300, "S-2")
    second = await desk.reserve("till-1", "k-300b", ref, 300, "S-3")
    with pytest.raises(RedemptionRefused, match="per member per day"):
        await desk.reserve("till-1", "k-1", ref, 1, "S-4")

    assert first.state is RedemptionState.OFFLINE_APPROVED
    assert second.state is RedemptionState.OFFLINE_APPROVED
    assert first.offline
    quote = await desk.quote(ref, basket(world, [world.plain_sku()]), Channel.STORE, STORE)
    assert quote.degraded
    assert quote.max_redeemable == 0
    released = await desk.release("till-1", second.redemption_id)
    assert released.state is RedemptionState.RELEASED
    again = await desk.quote(ref, basket(world, [world.plain_sku()]), Channel.STORE, STORE)
    assert again.max_redeemable == 300


async def test_offline_approval_never_goes_above_the_last_known_balance(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)
    member_id = member.account.member_id
    await world.loyalty.spend_points(
        member_id, member.points_balance - 350, "spent elsewhere", f"elsewhere-{member_id}"
    )
    assert await warm(desk, world, member) == 350
    await set_faults(world.url, DOWN)

    approved = await desk.reserve("till-1", "k-300", ref, 300, "S-1")
    with pytest.raises(RedemptionRefused, match="last-known balance"):
        await desk.reserve("till-1", "k-100", ref, 100, "S-2")

    assert approved.state is RedemptionState.OFFLINE_APPROVED
    fits = await desk.reserve("till-1", "k-50", ref, 50, "S-3")
    assert fits.state is RedemptionState.OFFLINE_APPROVED


async def test_recovery_posts_the_offline_queue(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)
    member_id = member.account.member_id
    await warm(desk, world, member)
    await set_faults(world.url, DOWN)
    sold = await desk.reserve("till-1", "k-sold", ref, 200, "S-1")
    sold = await desk.capture("till-1", sold.redemption_id)
    open_sale = await desk.reserve("till-1", "k-open", ref, 100, "S-2")
    assert sold.state is RedemptionState.OFFLINE_APPROVED
    assert sold.sale_outcome is SaleOutcome.COMPLETED
    assert sold.pending

    await set_faults(world.url, None)
    report = await until_posted(lambda: post_offline_queue(desk))

    assert report.settled == 2
    assert report.rejected == 0
    posted = await desk.redemption("till-1", sold.redemption_id)
    assert posted.state is RedemptionState.POSTED
    assert not posted.pending
    blocked = await desk.redemption("till-1", open_sale.redemption_id)
    assert blocked.state is RedemptionState.RESERVED
    assert blocked.transfer_id
    assert await balance_at_platform(world, member_id) == member.points_balance - 300
    spent = [t for t in await world.loyalty.ledger(member_id) if t.points == -200]
    assert len(spent) == 1
    finished = await desk.capture("till-1", open_sale.redemption_id)
    assert finished.state is RedemptionState.POSTED
    assert (await post_offline_queue(desk)).settled == 0


async def test_a_capture_while_the_platform_is_down_is_posted_when_it_recovers(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    reserved = await desk.reserve(
        "till-1", "k-online", MemberRef(card=member.card_number), 120, "S-1"
    )
    await set_faults(world.url, DOWN)

    queued = await desk.capture("till-1", reserved.redemption_id)

    assert queued.state is RedemptionState.RESERVED
    assert queued.pending
    await set_faults(world.url, None)
    await until_posted(lambda: post_offline_queue(desk))
    captured = await desk.redemption("till-1", reserved.redemption_id)
    assert captured.state is RedemptionState.CAPTURED
    balance = await balance_at_platform(world, member.account.member_id)
    assert balance == member.points_balance - 120


async def test_a_redemption_rejected_on_posting_is_reported_for_follow_up(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)
    member_id = member.account.member_id
    await warm(desk, world, member)
    await world.loyalty.spend_points(
        member_id, member.points_balance - 50, "spent on another channel", f"other-{member_id}"
    )
    await set_faults(world.url, DOWN)
    approved = await desk.reserve("till-1", "k-reject", ref, 300, "S-9")
    await desk.capture("till-1", approved.redemption_id)

    await set_faults(world.url, None)
    report = await until_posted(lambda: post_offline_queue(desk))

    assert report.rejected == 1
    rejected = await desk.redemption("till-1", approved.redemption_id)
    assert rejected.state is RedemptionState.REJECTED
    assert rejected.rejection_reason
    assert [r.redemption_id for r in await rejected_redemptions(desk)] == [approved.redemption_id]
    async with bus.transaction() as transaction:
        alerts = await open_alerts(transaction, REJECTED_ALERT)
    assert [a.alert.key for a in alerts] == [approved.redemption_id]
    assert alerts[0].alert.needs_operator
    assert "300 points" in alerts[0].alert.summary
    assert await balance_at_platform(world, member_id) == 50


async def test_a_slow_platform_gets_a_degraded_answer_and_then_is_not_asked(
    bus: SqliteBus, world: World
) -> None:
    member = world.member()
    await warm(await desk_for(bus, world), world, member)
    hurried = await desk_for(bus, world, POLICY.__class__(loyalty_budget_s=0.2, breaker_reset_s=30))
    await set_faults(world.url, {"latency_ms": 3000})
    lines = basket(world, [world.plain_sku()])

    answers = [
        await hurried.quote(MemberRef(card=member.card_number), lines, Channel.STORE, STORE)
        for _ in range(hurried.policy.breaker_threshold + 1)
    ]

    assert all(a.degraded for a in answers)
    assert all(a.balance == member.points_balance for a in answers)
    assert "within the checkout budget" in (answers[0].degraded_reason or "")
    assert "breaker" in (answers[-1].degraded_reason or "")


async def test_concurrent_offline_approvals_share_one_daily_limit(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)
    await warm(desk, world, member)
    await set_faults(world.url, DOWN)

    outcomes = await asyncio.gather(
        *(desk.reserve("till-1", f"k-race-{n}", ref, 250, f"S-{n}") for n in range(6)),
        return_exceptions=True,
    )

    approved = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, RedemptionRefused)]
    assert len(approved) == 2
    assert len(refused) == 4
