"""Canonical promotions <-> Shopify price rules, read back for drift reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

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
from retailhub.connectors.shopify.mapping import (
    OPEN_ENDED,
    price_rule_to_canonical,
    promotion_to_price_rule,
)

Sample = Callable[[str], dict[str, Any]]

VARIANTS = {"IPOD2008PINK": 808950810, "IPOD2008RED": 49148385}
SKUS = {variant: sku for sku, variant in VARIANTS.items()}


def test_the_sample_price_rule_is_an_open_ended_percentage_off_everything(shopify: Sample) -> None:
    promotion = price_rule_to_canonical(shopify("price_rule"), [shopify("discount_code")])
    assert promotion.promotion_id == "SHOPIFY-PRICE-RULE-1213131"
    assert promotion.external_ids == {"shopify": "1213131"}
    assert (promotion.name, promotion.source, promotion.version) == ("BOGO", "shopify", 1)
    assert promotion.channels == [Channel.WEB]
    # Titled BOGO, but the rule itself says -100 % on every line item, and that is what it does.
    assert promotion.reward == Reward(type=RewardType.PERCENT_OFF, percent=Decimal(100))
    assert promotion.eligibility == Eligibility()
    assert promotion.valid_from == datetime.fromisoformat("2017-05-30T04:13:56+00:00")
    assert promotion.valid_to == OPEN_ENDED
    assert promotion.status is PromotionStatus.ACTIVE


def test_the_sample_price_rule_survives_the_round_trip(shopify: Sample) -> None:
    promotion = price_rule_to_canonical(shopify("price_rule"))
    rule = promotion_to_price_rule(promotion)
    assert rule["id"] == 1213131
    assert (rule["value_type"], rule["value"], rule["target_selection"]) == (
        "percentage",
        "-100",
        "all",
    )
    assert rule["ends_at"] is None
    assert price_rule_to_canonical(rule) == promotion


def hub_promotion(reward: Reward, **changes: Any) -> Promotion:
    fields: dict[str, Any] = {
        "promotion_id": "PROMO-IPOD-WINTER",
        "version": 3,
        "name": "iPod winter deal",
        "source": "odoo",
        "channels": [Channel.STORE, Channel.WEB],
        "eligibility": Eligibility(
            skus=["IPOD2008PINK", "IPOD2008RED"], minimum_spend=Money.of("50.00", "USD")
        ),
        "reward": reward,
        "valid_from": datetime.fromisoformat("2026-12-01T00:00:00-05:00"),
        "valid_to": datetime.fromisoformat("2027-01-06T00:00:00-05:00"),
        "status": PromotionStatus.ACTIVE,
    }
    return Promotion(**{**fields, **changes})


PERCENT = Reward(type=RewardType.PERCENT_OFF, percent=Decimal(10))
READ_BACK_IDENTITY = {"promotion_id", "version", "source", "channels", "external_ids"}


@pytest.mark.parametrize(
    "reward",
    [
        Reward(type=RewardType.PERCENT_OFF, percent=Decimal("12.5")),
        Reward(type=RewardType.AMOUNT_OFF, amount=Money.of("20.00", "USD")),
        Reward(type=RewardType.BUY_X_GET_Y, buy_quantity=2, get_quantity=1, percent=Decimal(100)),
        Reward(type=RewardType.BUY_X_GET_Y, buy_quantity=1, get_quantity=1, percent=Decimal(50)),
    ],
)
def test_a_hub_promotion_reads_back_with_the_same_offer(reward: Reward) -> None:
    promotion = hub_promotion(reward)
    rule = promotion_to_price_rule(promotion, variant_id_by_sku=VARIANTS)
    assert rule["entitled_variant_ids"] == [808950810, 49148385]
    assert rule["prerequisite_subtotal_range"] == {"greater_than_or_equal_to": "50.00"}
    back = price_rule_to_canonical({**rule, "id": 77}, currency="USD", sku_by_variant_id=SKUS)
    assert back.model_dump(exclude=READ_BACK_IDENTITY) == promotion.model_dump(
        exclude=READ_BACK_IDENTITY
    )


def test_customer_segments_travel_as_shopify_segment_ids() -> None:
    eligibility = Eligibility(customer_segments=["4242"])
    promotion = hub_promotion(PERCENT, eligibility=eligibility)
    rule = promotion_to_price_rule(promotion)
    assert (rule["customer_selection"], rule["customer_segment_prerequisite_ids"]) == (
        "prerequisite",
        [4242],
    )
    assert price_rule_to_canonical({**rule, "id": 77}).eligibility == eligibility


def test_buy_x_get_y_is_sent_with_its_quantities_and_items() -> None:
    reward = Reward(
        type=RewardType.BUY_X_GET_Y, buy_quantity=2, get_quantity=1, percent=Decimal(100)
    )
    rule = promotion_to_price_rule(hub_promotion(reward), variant_id_by_sku=VARIANTS)
    assert rule["prerequisite_variant_ids"] == rule["entitled_variant_ids"]
    assert rule["prerequisite_to_entitlement_quantity_ratio"] == {
        "prerequisite_quantity": 2,
        "entitled_quantity": 1,
    }
    assert (rule["value"], rule["allocation_method"]) == ("-100", "each")


def test_products_named_by_a_rule_expand_to_their_skus(shopify: Sample) -> None:
    rule = {
        **shopify("price_rule"),
        "target_selection": "entitled",
        "entitled_product_ids": [632910392],
    }
    promotion = price_rule_to_canonical(
        rule, skus_by_product_id={632910392: ["IPOD2008PINK", "IPOD2008RED"]}
    )
    assert promotion.eligibility.skus == ["IPOD2008PINK", "IPOD2008RED"]


@pytest.mark.parametrize(
    ("promotion", "path"),
    [
        (
            hub_promotion(Reward(type=RewardType.FIXED_PRICE, amount=Money.of("9.99", "USD"))),
            "$.reward.type",
        ),
        (hub_promotion(Reward(type=RewardType.BONUS_POINTS, points=50)), "$.reward.type"),
        (hub_promotion(PERCENT, channels=[Channel.STORE]), "$.channels"),
        (hub_promotion(PERCENT, status=PromotionStatus.DRAFT), "$.status"),
        (
            hub_promotion(PERCENT, eligibility=Eligibility(hierarchy_nodes=[["Audio"]])),
            "$.eligibility.hierarchy_nodes",
        ),
        (
            hub_promotion(PERCENT, eligibility=Eligibility(customer_tiers=["gold"])),
            "$.eligibility.customer_tiers",
        ),
        (
            hub_promotion(PERCENT, eligibility=Eligibility(skus=["NOT-IN-SHOPIFY"])),
            "$.eligibility.skus[0]",
        ),
    ],
)
def test_what_a_price_rule_cannot_say_is_refused(promotion: Promotion, path: str) -> None:
    with pytest.raises(MappingError) as caught:
        promotion_to_price_rule(promotion, variant_id_by_sku=VARIANTS)
    assert (caught.value.resource_id, caught.value.path) == ("PROMO-IPOD-WINTER:v3", path)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"value_type": "fixed_amount", "value": "-10.00"}, "$.allocation_method"),
        ({"value_type": "fixed_amount", "value": "-10.00", "allocation_method": "each"}, "$.value"),
        ({"value": "10.0"}, "$.value"),
        ({"value": -100.0}, "$.value"),
        ({"target_type": "shipping_line"}, "$.target_type"),
        (
            {"target_selection": "entitled", "entitled_collection_ids": [1]},
            "$.entitled_collection_ids",
        ),
        (
            {"target_selection": "entitled", "entitled_variant_ids": [1]},
            "$.entitled_variant_ids[0]",
        ),
        ({"target_selection": "entitled"}, "$.target_selection"),
        (
            {"prerequisite_subtotal_range": {"greater_than_or_equal_to": "50.0"}},
            "$.prerequisite_subtotal_range",
        ),
        (
            {"customer_selection": "prerequisite", "prerequisite_customer_ids": [1]},
            "$.customer_selection",
        ),
        (
            {
                "customer_selection": "prerequisite",
                "customer_segment_prerequisite_ids": [4242],
                "prerequisite_customer_ids": [1],
            },
            "$.customer_selection",
        ),
        ({"entitled_variant_ids": 808950810}, "$.entitled_variant_ids"),
        ({"ends_at": "2017-05-01T00:00:00Z"}, "$.ends_at"),
        ({"starts_at": None}, "$.starts_at"),
    ],
)
def test_a_price_rule_the_hub_cannot_read_names_its_id_and_the_field(
    shopify: Sample, changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(MappingError) as caught:
        price_rule_to_canonical({**shopify("price_rule"), **changes})
    assert (caught.value.resource, caught.value.resource_id, caught.value.path) == (
        "price_rule",
        "1213131",
        path,
    )


def test_a_discount_code_of_another_rule_is_refused(shopify: Sample) -> None:
    code = {**shopify("discount_code"), "price_rule_id": 999}
    with pytest.raises(MappingError) as caught:
        price_rule_to_canonical(shopify("price_rule"), [code])
    assert caught.value.path == "$.discount_codes[0]"
