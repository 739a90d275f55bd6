"""Feed records <-> canonical documents: lossless both ways, and a bad record named by field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.promotion import (
    Eligibility,
    PricingControls,
    Promotion,
    Reward,
    RewardType,
)
from retailhub.connectors.errors import MappingError
from retailhub.connectors.poslog.feed_mapping import (
    item_to_product,
    price_to_record,
    product_to_item,
    promotion_to_record,
    record_to_price,
    record_to_promotion,
)
from retailhub.sandbox.seed import CET, Estate


def test_items_and_prices_survive_the_feed(estate: Estate) -> None:
    for product in estate.products[:50]:
        assert item_to_product(product_to_item(product)) == product
        price = estate.price(product.sku, Channel.STORE).model_copy(update={"store": "UTR03"})
        assert record_to_price(price_to_record(price)) == price


@pytest.mark.parametrize(
    "reward",
    [
        Reward(type=RewardType.PERCENT_OFF, percent=Decimal("12.5")),
        Reward(type=RewardType.AMOUNT_OFF, amount=Money.of("0.50", "EUR")),
        Reward(type=RewardType.FIXED_PRICE, amount=Money.of("2.99", "EUR")),
        Reward(type=RewardType.BUY_X_GET_Y, buy_quantity=2, get_quantity=1, percent=Decimal(50)),
        Reward(type=RewardType.BONUS_POINTS, points=50),
        Reward(type=RewardType.POINTS_MULTIPLIER, multiplier=Decimal(2)),
    ],
)
def test_every_kind_of_promotion_survives_the_feed(reward: Reward) -> None:
    promotion = Promotion(
        promotion_id="gouda-deal",
        version=3,
        name="Gouda deal",
        description="Matured gouda for less",
        source="erp",
        channels=[Channel.STORE],
        stores=["AMS01"],
        eligibility=Eligibility(
            skus=["SKU-10001"],
            hierarchy_nodes=[["Food", "Cheese", "Gouda"]],
            customer_tiers=["gold"],
            minimum_spend=Money.of("10", "EUR"),
        ),
        reward=reward,
        valid_from=datetime(2026, 12, 1, tzinfo=CET),
        valid_to=datetime(2026, 12, 15, tzinfo=CET),
        priority=5,
        pricing_controls=PricingControls(minimum_margin_percent=Decimal(5)),
        external_ids={"odoo": "42"},
    )

    assert record_to_promotion(promotion_to_record(promotion)) == promotion


def test_an_unknown_rule_type_names_the_field(estate: Estate) -> None:
    record = promotion_to_record(estate.campaign)
    record["PriceDerivationRule"]["Type"] = "MysteryGift"

    with pytest.raises(MappingError) as failed:
        record_to_promotion(record)
    assert failed.value.path == "$.PriceDerivationRule.Type"
    assert failed.value.resource_id == estate.campaign.promotion_id


def test_an_invalid_price_record_names_the_field() -> None:
    record = {"ItemID": "SKU-1", "CurrencyCode": "EUR", "RegularSalesUnitPrice": "-1"}
    record["EffectiveDateTime"] = "2026-12-01T00:00:00+01:00"

    with pytest.raises(MappingError) as failed:
        record_to_price(record)
    assert failed.value.path.startswith("$.list_price")
