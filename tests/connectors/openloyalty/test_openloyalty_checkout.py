"""Contract tests of the checkout calls of the Open Loyalty connector against the emulator over
loopback HTTP: a quote that equals what the sale then earns, the rewards a balance pays for,
capturing a reservation once per key, and withdrawing a campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openloyalty_helpers import SaleBuilder, plain_sku

from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import LoyaltyTransactionType, ledger_balance
from retailhub.canonical.order import Order
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.connectors.ports import BasketLine
from retailhub.sandbox.openloyalty.state import REWARDS
from retailhub.sandbox.seed import Estate

BONUS = 30


def store_bonus(sku: str, promotion_id: str = "till-bonus") -> Promotion:
    """Bonus points per unit of `sku` bought in AMS01, live now."""
    now = datetime.now(UTC)
    return Promotion(
        promotion_id=promotion_id,
        version=1,
        name="Till bonus",
        source="hub",
        channels=[Channel.STORE],
        stores=["AMS01"],
        eligibility=Eligibility(skus=[sku]),
        reward=Reward(type=RewardType.BONUS_POINTS, points=BONUS),
        valid_from=now - timedelta(days=1),
        valid_to=now + timedelta(days=1),
        status=PromotionStatus.ACTIVE,
    )


def basket(order: Order) -> list[BasketLine]:
    return [BasketLine(line.sku or "", line.quantity, line.unit_price) for line in order.lines]


async def balance(loyalty: OpenLoyaltyConnector, member_id: str) -> int:
    account = await loyalty.find_member(member_id=member_id)
    assert account is not None
    return account.points_balance


@pytest.mark.parametrize(("channel", "location"), [(Channel.STORE, "AMS01"), (Channel.WEB, None)])
async def test_a_quote_equals_what_the_sale_then_earns(
    loyalty: OpenLoyaltyConnector,
    estate: Estate,
    sale: SaleBuilder,
    channel: Channel,
    location: str | None,
) -> None:
    bonus_sku, other = plain_sku(estate, 0), plain_sku(estate, 1)
    await loyalty.put_campaign(store_bonus(bonus_sku))
    member = estate.customers[5]
    order = sale(
        member,
        [(bonus_sku, 2), (other, 1)],
        order_id=f"QUOTE-{channel.value}",
        channel=channel,
        location=location or "WEB",
        at=datetime.now(UTC),
    )

    quote = await loyalty.quote(member.account.member_id, basket(order), channel, location)
    outcome = await loyalty.register_sale(order, key=order.order_id)

    assert quote.points_to_earn == outcome.points
    assert quote.bonus_points == (2 * BONUS if channel is Channel.STORE else 0)
    assert quote.points_to_earn > quote.bonus_points


async def test_a_quote_records_nothing(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[6]
    order = sale(member, [(plain_sku(estate), 3)], order_id="NOT-SOLD", at=datetime.now(UTC))
    before = await loyalty.ledger(member.account.member_id)

    quote = await loyalty.quote(member.account.member_id, basket(order), Channel.STORE, "AMS01")

    assert quote.points_to_earn > 0
    assert await loyalty.ledger(member.account.member_id) == before


async def test_a_quote_offers_the_rewards_the_balance_pays_for_and_none_to_a_stranger(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = next(c for c in estate.customers if 500 <= c.points_balance < 2500)
    order = sale(member, [(plain_sku(estate), 1)], order_id="REWARDS", at=datetime.now(UTC))
    lines = basket(order)

    known = await loyalty.quote(member.account.member_id, lines, Channel.STORE, "AMS01")
    stranger = await loyalty.quote(None, lines, Channel.STORE, "AMS01")

    affordable = {name for name, cost in REWARDS if cost <= member.points_balance}
    assert {offer.name for offer in known.rewards} == affordable
    assert all(offer.points_cost <= member.points_balance for offer in known.rewards)
    assert stranger.rewards == ()
    assert stranger.points_to_earn == known.points_to_earn


async def test_a_store_basket_without_its_store_cannot_be_quoted(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    order = sale(estate.customers[7], [(plain_sku(estate), 1)], order_id="NOWHERE")
    with pytest.raises(MappingError, match="needs its store"):
        await loyalty.quote(None, basket(order), Channel.STORE, None)


async def test_a_reservation_is_captured_once_per_key(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = next(c for c in estate.customers if c.points_balance >= 200).account.member_id
    before = await balance(loyalty, member_id)
    reservation = await loyalty.block_points(member_id, 150, key="basket:1")

    spend = await loyalty.capture_points(reservation, key="capture:1")
    again = await loyalty.capture_points(reservation, key="capture:1")

    assert again == spend != reservation
    assert await balance(loyalty, member_id) == before - 150
    ledger = await loyalty.ledger(member_id)
    assert ledger_balance(ledger) == before - 150
    captured = [row for row in ledger if row.transaction_id == spend]
    assert [(row.type, row.points) for row in captured] == [
        (LoyaltyTransactionType.ADJUSTMENT, -150)
    ]
    assert reservation not in {row.transaction_id for row in ledger}
    with pytest.raises(RequestRefused):
        await loyalty.unblock_points(reservation)
    with pytest.raises(RequestRefused):
        await loyalty.capture_points(reservation, key="capture:other")
    assert await balance(loyalty, member_id) == before - 150


async def test_a_released_reservation_cannot_be_captured(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = next(c for c in estate.customers if c.points_balance >= 100).account.member_id
    before = await balance(loyalty, member_id)
    reservation = await loyalty.block_points(member_id, 60, key="basket:2")
    await loyalty.unblock_points(reservation)

    with pytest.raises(RequestRefused, match="canceled"):
        await loyalty.capture_points(reservation, key="capture:2")
    assert await balance(loyalty, member_id) == before


async def test_a_withdrawn_campaign_earns_nothing_more_and_reads_back_cancelled(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    sku = plain_sku(estate, 2)
    promotion = store_bonus(sku, "withdrawn-bonus")
    await loyalty.put_campaign(promotion)
    member = estate.customers[8]
    order = sale(member, [(sku, 1)], order_id="AFTER-WITHDRAWAL", at=datetime.now(UTC))
    lines = basket(order)
    assert (await loyalty.quote(None, lines, Channel.STORE, "AMS01")).bonus_points == BONUS

    await loyalty.withdraw_campaign(promotion.promotion_id)
    await loyalty.withdraw_campaign(promotion.promotion_id)
    await loyalty.put_campaign(promotion)

    read = await loyalty.get_campaign(promotion.promotion_id)
    assert read is not None
    assert read.status is PromotionStatus.CANCELLED
    assert promotion.promotion_id not in {p.promotion_id for p in await loyalty.campaigns()}
    assert (await loyalty.quote(None, lines, Channel.STORE, "AMS01")).bonus_points == 0
    outcome = await loyalty.register_sale(order, key=order.order_id)
    assert (
        outcome.points == (await loyalty.quote(None, lines, Channel.STORE, "AMS01")).points_to_earn
    )


async def test_withdrawing_a_campaign_never_published_changes_nothing(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    before = await loyalty.campaigns()
    await loyalty.withdraw_campaign("never-published")
    assert await loyalty.campaigns() == before
