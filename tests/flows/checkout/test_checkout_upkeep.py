"""Checkout's background work over the Open Loyalty emulator: offline approvals that expire
without the platform, a block the platform took after the till had given up waiting, and the
settlement loop posting the queue by itself once the platform recovers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.flows.alerts import open_alerts
from retailhub.flows.checkout import (
    REJECTED_ALERT,
    CheckoutDesk,
    CheckoutPolicy,
    MemberRef,
    RedemptionState,
    expire_overdue_reservations,
    keep_checkout_settled,
    open_checkout_desk,
    post_offline_queue,
)
from retailhub.sandbox.seed import EstateCustomer

from .helpers import (
    BOUNDED_WAIT_S,
    STORE,
    Clock,
    World,
    balance_at_platform,
    basket,
    burn_requests,
    fails_then_answers,
    set_faults,
    until_platform_answers,
    until_posted,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")

POLICY = CheckoutPolicy(
    loyalty_budget_s=5.0,
    breaker_reset_s=0.2,
    max_offline_points_per_sale=400,
    max_offline_points_per_member_per_day=600,
    reservation_ttl=timedelta(minutes=10),
    settle_interval_s=0.05,
)


async def warm(desk: CheckoutDesk, world: World, member: EstateCustomer) -> None:
    """Quote once with the platform up, so the hub knows the member's balance."""
    quote = await desk.quote(
        MemberRef(card=member.card_number), basket(world, [world.plain_sku()]), Channel.STORE, STORE
    )
    assert not quote.degraded


async def test_an_offline_approval_expires_without_the_platform_and_frees_the_allowance(
    bus: SqliteBus, world: World
) -> None:
    clock = Clock()
    desk = await open_checkout_desk(bus, world.loyalty, POLICY)
    desk.clock = clock
    member = world.member()
    ref = MemberRef(card=member.card_number)
    await warm(desk, world, member)
    await set_faults(world.url, {"down": True})
    approved = await desk.reserve("till-1", "k-abandoned", ref, 400, "S-1")

    clock.advance(POLICY.reservation_ttl + timedelta(seconds=1))
    report = await expire_overdue_reservations(desk)

    assert report.settled == 1
    assert not report.platform_down
    expired = await desk.redemption("till-1", approved.redemption_id)
    assert expired.state is RedemptionState.EXPIRED
    assert not expired.pending
    again = await desk.reserve("till-1", "k-next", ref, 400, "S-2")
    assert again.state is RedemptionState.OFFLINE_APPROVED


async def test_a_block_whose_answer_was_lost_is_given_back_on_void(
    bus: SqliteBus, world: World
) -> None:
    """The member lookup answers, the block's answer does not come within the budget: the till
    gets an offline approval marked as tried at the platform. Whatever the platform did with
    that block (here it holds it: the emulator drops a request the client gave up on, so the
    test places the block under the redemption's key as a lost answer would leave it), the void
    is settled by blocking under the same key, which finds that block, and releasing it."""
    desk = await open_checkout_desk(
        bus, world.loyalty, CheckoutPolicy(loyalty_budget_s=1.0, breaker_reset_s=0.2)
    )
    member = world.member()
    member_id = member.account.member_id
    ref = MemberRef(card=member.card_number)
    await warm(desk, world, member)
    await set_faults(world.url, {"slow_after": 1, "latency_ms": 3000})

    approved = await desk.reserve("till-1", "k-late", ref, 200, "S-1")

    assert approved.state is RedemptionState.OFFLINE_APPROVED
    assert approved.platform_attempted
    voided = await desk.release("till-1", approved.redemption_id)
    assert voided.state is RedemptionState.OFFLINE_APPROVED
    assert voided.pending
    await set_faults(world.url, None)
    await until_platform_answers(world)
    await world.loyalty.block_points(member_id, 200, approved.redemption_id)
    assert await balance_at_platform(world, member_id) == member.points_balance - 200
    await until_posted(lambda: post_offline_queue(desk))
    released = await desk.redemption("till-1", approved.redemption_id)
    assert released.state is RedemptionState.RELEASED
    assert await balance_at_platform(world, member_id) == member.points_balance


async def test_the_settlement_loop_posts_the_queue_once_the_platform_is_back(
    bus: SqliteBus, world: World
) -> None:
    desk = await open_checkout_desk(bus, world.loyalty, POLICY)
    member = world.member()
    await warm(desk, world, member)
    await set_faults(world.url, {"down": True})
    approved = await desk.reserve("till-1", "k-loop", MemberRef(card=member.card_number), 150, "S")
    await desk.capture("till-1", approved.redemption_id)
    loop = asyncio.create_task(keep_checkout_settled(desk))
    try:
        await set_faults(world.url, None)
        deadline = asyncio.get_running_loop().time() + BOUNDED_WAIT_S
        while (await desk.redemption("till-1", approved.redemption_id)).pending:
            assert asyncio.get_running_loop().time() < deadline, "the queue was never posted"
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    posted = await desk.redemption("till-1", approved.redemption_id)
    assert posted.state is RedemptionState.POSTED
    balance = await balance_at_platform(world, member.account.member_id)
    assert balance == member.points_balance - 150


async def test_a_redemption_that_keeps_failing_while_the_platform_answers_is_given_up(
    bus: SqliteBus, world: World
) -> None:
    """The block fails (HTTP 500) while a member lookup right after it is answered: that
    failure counts, and after `max_settle_attempts` (here 1) the redemption is rejected for an
    operator instead of being retried for ever."""
    desk = await open_checkout_desk(bus, world.loyalty, replace(POLICY, max_settle_attempts=1))
    member = world.member()
    await warm(desk, world, member)
    await set_faults(world.url, {"down": True})
    approved = await desk.reserve("till-1", "k-flaky", MemberRef(card=member.card_number), 90, "S")
    await desk.capture("till-1", approved.redemption_id)
    await set_faults(world.url, None)
    await until_platform_answers(world)
    flaky, burn = await fails_then_answers(world)
    await set_faults(world.url, flaky)
    await burn_requests(world, burn)

    report = await post_offline_queue(desk)

    assert report.rejected == 1
    given_up = await desk.redemption("till-1", approved.redemption_id)
    assert given_up.state is RedemptionState.REJECTED
    assert given_up.attempts == 1
    assert "gave up after 1 attempts" in (given_up.rejection_reason or "")
    async with bus.transaction() as transaction:
        alerts = await open_alerts(transaction, REJECTED_ALERT)
    assert [a.alert.key for a in alerts] == [approved.redemption_id]
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance
