"""Contract tests of promotions published as Open Loyalty earning rules: the estate's winter
campaign read back, publishing once per version, and refusals of offers that are no earning rule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from openloyalty_helpers import IN_CAMPAIGN, SaleBuilder, plain_sku

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.connectors.errors import MappingError
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.sandbox.seed import Estate


async def test_the_winter_campaign_reads_back_as_the_estate_wrote_it(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    winter = estate.campaign

    live = await loyalty.campaigns()
    read = await loyalty.get_campaign(winter.promotion_id)

    assert [p.promotion_id for p in live] == [winter.promotion_id]
    assert read == live[0]
    assert read is not None
    assert read.model_dump(exclude={"external_ids", "source"}) == winter.model_dump(
        exclude={"external_ids", "source"}
    )
    assert read.external_ids["openloyalty"]


def multiplier_offer(sku: str, version: int, multiplier: str) -> Promotion:
    return Promotion(
        promotion_id="double-points",
        version=version,
        name="Double points",
        source="hub",
        channels=[Channel.STORE],
        stores=["RTM02"],
        eligibility=Eligibility(skus=[sku]),
        reward=Reward(type=RewardType.POINTS_MULTIPLIER, multiplier=Decimal(multiplier)),
        valid_from=IN_CAMPAIGN - timedelta(days=7),
        valid_to=IN_CAMPAIGN + timedelta(days=7),
        status=PromotionStatus.ACTIVE,
    )


async def test_a_promotion_is_published_once_per_version_and_updated_by_the_next(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    sku = plain_sku(estate, 2)
    first = await loyalty.put_campaign(multiplier_offer(sku, 1, "2"))
    again = await loyalty.put_campaign(multiplier_offer(sku, 1, "2"))
    assert again == first
    assert len(await loyalty.campaigns()) == 2

    assert await loyalty.put_campaign(multiplier_offer(sku, 2, "3")) == first
    read = await loyalty.get_campaign("double-points")
    assert read == multiplier_offer(sku, 2, "3").model_copy(
        update={"source": "openloyalty", "external_ids": {"openloyalty": first}}
    )
    assert await loyalty.get_campaign(first) == read

    member = estate.customers[30]
    order = sale(member, [(sku, 4)], order_id="ORD-30", location="RTM02")
    base = int(order.lines[0].net.amount)
    assert (await loyalty.register_sale(order, "order:ORD-30")).points == base * 3


async def test_an_unknown_promotion_is_not_found(loyalty: OpenLoyaltyConnector) -> None:
    assert await loyalty.get_campaign("no-such-promotion") is None


async def test_a_price_discount_is_no_earning_rule(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    discount = Promotion(
        promotion_id="ten-off",
        version=1,
        name="10 % off",
        source="hub",
        channels=[Channel.WEB],
        eligibility=Eligibility(skus=[plain_sku(estate)]),
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(10)),
        valid_from=IN_CAMPAIGN,
        valid_to=IN_CAMPAIGN + timedelta(days=1),
    )
    with pytest.raises(MappingError, match=r"ten-off:v1: \$\.reward\.type"):
        await loyalty.put_campaign(discount)
    spend_based = discount.model_copy(
        update={
            "reward": Reward(type=RewardType.BONUS_POINTS, points=10),
            "eligibility": Eligibility(
                skus=[plain_sku(estate)], minimum_spend=Money.of("20.00", "EUR")
            ),
        }
    )
    with pytest.raises(MappingError, match="spend conditions"):
        await loyalty.put_campaign(spend_based)
