"""Checkout loyalty with the platform up: quotes are the platform's own earning (campaign bonus
included), reservations block, capture spends and release gives back at the Open Loyalty
emulator over HTTP, once per Idempotency-Key, and unfinished reservations expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.flows.checkout import (
    CheckoutDesk,
    CheckoutPolicy,
    IdempotencyConflict,
    MemberNotFound,
    MemberRef,
    RedemptionClosed,
    RedemptionRefused,
    RedemptionState,
    expire_overdue_reservations,
    open_checkout_desk,
)

from .helpers import STORE, Clock, World, balance_at_platform, basket, store_sale

pytestmark = pytest.mark.asyncio(loop_scope="package")

ONLINE = CheckoutPolicy(loyalty_budget_s=5.0, reservation_ttl=timedelta(minutes=10))
"""A budget no loopback call under load reaches, so these tests never fall back by accident."""


async def desk_for(bus: SqliteBus, world: World, clock: Clock | None = None) -> CheckoutDesk:
    desk = await open_checkout_desk(bus, world.loyalty, ONLINE)
    if clock is not None:
        desk.clock = clock
    return desk


async def test_quote_is_what_the_sale_then_earns_campaign_bonus_included(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    lines = basket(world, [world.campaign_sku(), world.plain_sku()])

    quote = await desk.quote(MemberRef(card=member.card_number), lines, Channel.STORE, STORE)

    assert not quote.degraded
    assert quote.member_id == member.account.member_id
    assert quote.balance == member.points_balance
    assert quote.tier == member.account.tier
    assert quote.bonus_points == 2 * (world.estate.campaign.reward.points or 0)
    assert quote.max_redeemable == member.points_balance
    assert quote.rewards
    assert all(r.points_cost <= quote.balance for r in quote.rewards)
    sale = store_sale(f"SALE-QUOTE-{member.card_number}", member.card_number, lines)
    earned = await world.loyalty.register_sale(sale, sale.order_id)
    assert earned.points == quote.points_to_earn


async def test_quote_by_email_and_by_member_id_name_the_same_member(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    lines = basket(world, [world.plain_sku()])

    by_email = await desk.quote(
        MemberRef(email=member.golden.emails[0].upper()), lines, Channel.WEB
    )
    by_id = await desk.quote(MemberRef(member_id=member.account.member_id), lines, Channel.WEB)

    assert by_email.member_id == by_id.member_id == member.account.member_id
    assert by_email.points_to_earn == by_id.points_to_earn


async def test_unknown_member_is_not_found(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    with pytest.raises(MemberNotFound):
        await desk.quote(
            MemberRef(card="0000000000000"),
            basket(world, [world.plain_sku()]),
            Channel.STORE,
            STORE,
        )


async def test_reserve_blocks_and_capture_spends_at_the_platform(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    member_id = member.account.member_id

    reserved = await desk.reserve(
        "till-1", "key-capture", MemberRef(card=member.card_number), 300, "S-1"
    )

    assert reserved.state is RedemptionState.RESERVED
    assert reserved.transfer_id
    assert await balance_at_platform(world, member_id) == member.points_balance - 300
    captured = await desk.capture("till-1", reserved.redemption_id)
    assert captured.state is RedemptionState.CAPTURED
    assert captured.spend_transfer_id
    assert await balance_at_platform(world, member_id) == member.points_balance - 300
    spent = [t for t in await world.loyalty.ledger(member_id) if t.points == -300]
    assert len(spent) == 1
    again = await desk.capture("till-1", reserved.redemption_id)
    assert again == captured
    with pytest.raises(RedemptionClosed):
        await desk.release("till-1", reserved.redemption_id)


async def test_release_gives_the_points_back(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    member = world.member()

    reserved = await desk.reserve(
        "till-1", "key-release", MemberRef(card=member.card_number), 250, "S-2"
    )
    released = await desk.release("till-1", reserved.redemption_id)

    assert released.state is RedemptionState.RELEASED
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance
    assert await desk.release("till-1", reserved.redemption_id) == released
    with pytest.raises(RedemptionClosed):
        await desk.capture("till-1", reserved.redemption_id)


async def test_the_same_idempotency_key_reserves_once(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)

    first = await desk.reserve("till-1", "key-twice", ref, 200, "S-3")
    second = await desk.reserve("till-1", "key-twice", ref, 200, "S-3")
    other_client = await desk.reserve("till-2", "key-twice", ref, 200, "S-3b")

    assert second == first
    assert other_client.redemption_id != first.redemption_id
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance - 400
    with pytest.raises(IdempotencyConflict):
        await desk.reserve("till-1", "key-twice", ref, 999, "S-3")


async def test_a_redemption_belongs_to_the_client_that_made_it(
    bus: SqliteBus, world: World
) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    reserved = await desk.reserve(
        "till-1", "key-own", MemberRef(card=member.card_number), 100, "S-4"
    )

    with pytest.raises(Exception, match="no redemption"):
        await desk.capture("web-shop", reserved.redemption_id)


async def test_more_than_the_balance_is_refused(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    member = world.member()

    with pytest.raises(RedemptionRefused, match="available"):
        await desk.reserve(
            "till-1",
            "key-too-much",
            MemberRef(card=member.card_number),
            member.points_balance + 1,
            "S-5",
        )
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance


async def test_an_unfinished_reservation_expires_and_its_points_come_back(
    bus: SqliteBus, world: World
) -> None:
    clock = Clock()
    desk = await desk_for(bus, world, clock)
    member = world.member()
    reserved = await desk.reserve(
        "till-1", "key-expire", MemberRef(card=member.card_number), 150, "S-6"
    )

    early = await expire_overdue_reservations(desk)
    clock.advance(ONLINE.reservation_ttl + timedelta(seconds=1))
    late = await expire_overdue_reservations(desk)

    assert early.settled == 0
    assert late.settled == 1
    expired = await desk.redemption("till-1", reserved.redemption_id)
    assert expired.state is RedemptionState.EXPIRED
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance
    with pytest.raises(RedemptionClosed):
        await desk.capture("till-1", reserved.redemption_id)


async def test_a_reissued_card_is_quoted_for_its_new_holder(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    first, second = world.member(), world.member()
    card = first.card_number
    lines = basket(world, [world.plain_sku()])
    before = await desk.quote(MemberRef(card=card), lines, Channel.STORE, STORE)
    first_profile = await world.loyalty.find_member_profile(first.account.member_id)
    second_profile = await world.loyalty.find_member_profile(second.account.member_id)
    assert first_profile is not None
    assert second_profile is not None
    await world.loyalty.update_member(
        first.account.member_id,
        first_profile.model_copy(update={"loyalty_cards": ["2699999999990"]}),
    )
    await world.loyalty.update_member(
        second.account.member_id, second_profile.model_copy(update={"loyalty_cards": [card]})
    )

    after = await desk.quote(MemberRef(card=card), lines, Channel.STORE, STORE)

    assert before.member_id == first.account.member_id
    assert after.member_id == second.account.member_id
    assert after.balance == second.points_balance


async def test_concurrent_retries_of_one_key_reserve_once(bus: SqliteBus, world: World) -> None:
    desk = await desk_for(bus, world)
    member = world.member()
    ref = MemberRef(card=member.card_number)

    answers = await asyncio.gather(
        *(desk.reserve("till-1", "key-racing", ref, 70, "S-7") for _ in range(4))
    )

    assert len({a.redemption_id for a in answers}) == 1
    assert await balance_at_platform(world, member.account.member_id) == member.points_balance - 70
