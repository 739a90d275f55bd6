"""The pure rules: targets, promotional prices against floors and margins, overlaps, and the
field-by-field drift comparison with its accuracy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.promotion import PromotionStatus, Reward
from retailhub.connectors.ports import PricingControl
from retailhub.flows.promotions.drift import FIELDS, accuracy, compare, percent, render
from retailhub.flows.promotions.rules import (
    LivePromotion,
    channel_reasons,
    overlap_reasons,
    pricing_reasons,
    promotional_price,
    target_systems,
)

from .helpers import promotion

EUR = "EUR"


def eur(amount: str) -> Money:
    return Money.of(amount, EUR)


def control(sku: str, cost: str, list_price: str, floor: str | None = None) -> PricingControl:
    return PricingControl(sku, eur(cost), eur(list_price), None if floor is None else eur(floor))


def test_targets_follow_the_reward_and_the_channels() -> None:
    percent_off = {"type": "percent_off", "percent": "10"}
    points = {"type": "bonus_points", "points": 5}
    assert target_systems(promotion("P", ["A"], percent_off)) == ("commerce", "pos")
    assert target_systems(promotion("P", ["A"], percent_off, channels=(Channel.WEB,))) == (
        "commerce",
    )
    assert target_systems(promotion("P", ["A"], points)) == ("pos", "loyalty")
    assert target_systems(promotion("P", ["A"], points, channels=(Channel.WEB,))) == ("loyalty",)
    app_only = promotion("P", ["A"], percent_off, channels=(Channel.APP, Channel.WEB))
    assert channel_reasons(app_only) == ["no system of the hub publishes to the app channel"]


def test_promotional_prices_per_reward_type() -> None:
    price = eur("10.00")
    rewards = {
        "percent_off": ({"percent": "25"}, "7.5"),
        "amount_off": ({"amount": {"amount": "2", "currency": EUR}}, "8"),
        "fixed_price": ({"amount": {"amount": "6.5", "currency": EUR}}, "6.5"),
        "buy_x_get_y": ({"buy_quantity": 2, "get_quantity": 1}, "6.666666666666666666666666667"),
    }
    for kind, (fields, expected) in rewards.items():
        found = promotional_price(Reward.model_validate({"type": kind, **fields}), price)
        assert found is not None
        assert found.amount == Decimal(expected), kind
    assert (
        promotional_price(Reward.model_validate({"type": "bonus_points", "points": 3}), price)
        is None
    )


def test_every_sku_breaking_a_control_is_named_once_per_rule() -> None:
    authored = promotion(
        "P", ["A", "B", "C", "GONE"], {"type": "percent_off", "percent": "40"}, minimum_margin="20"
    )
    controls = [
        control("A", cost="5.00", list_price="10.00", floor="6.50"),  # 6.00: floor and margin
        control("B", cost="3.00", list_price="10.00"),  # 6.00, margin 50 %: fine
        control("C", cost="5.00", list_price="10.00"),  # margin 16.7 %: below 20
    ]

    reasons = pricing_reasons(authored, ["A", "B", "C", "GONE"], controls)

    assert reasons == [
        "SKU A: promotional price 6.00 EUR is below the price floor 6.50 EUR",
        "SKU A: margin 16.7 % at 6.00 EUR is below the minimum 20 %",
        "SKU C: margin 16.7 % at 6.00 EUR is below the minimum 20 %",
        "SKU GONE: not in the ERP's item master",
    ]


def test_the_stricter_floor_and_margin_win_and_points_leave_prices_alone() -> None:
    authored = promotion("P", ["A"], {"type": "percent_off", "percent": "10"}, minimum_margin="5")
    tight = control("A", cost="8.00", list_price="10.00", floor="9.50")
    assert pricing_reasons(authored, ["A"], [tight], minimum_margin_percent=Decimal("15")) == [
        "SKU A: promotional price 9.00 EUR is below the price floor 9.50 EUR",
        "SKU A: margin 11.1 % at 9.00 EUR is below the minimum 15 %",
    ]
    bonus = promotion("P", ["A"], {"type": "bonus_points", "points": 50})
    assert pricing_reasons(bonus, ["A"], [tight], minimum_margin_percent=Decimal("90")) == []


def test_overlap_needs_a_shared_sku_channel_and_moment_and_a_non_stackable_side() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    authored = promotion("NEW", ["A", "B"], {"type": "percent_off", "percent": "5"})

    base = LivePromotion(
        promotion_id="CLASH",
        version=1,
        name="CLASH",
        channels=frozenset({"web"}),
        skus=frozenset({"B", "Z"}),
        valid_from=now - timedelta(days=3),
        valid_to=now + timedelta(days=3),
        stackable=True,
    )

    def live(pid: str, **changes: Any) -> LivePromotion:
        return replace(base, promotion_id=pid, name=pid, **changes)

    others = [
        live("CLASH"),
        live("OTHER-SKU", skus=frozenset({"Z"})),
        live("IN-STORE", channels=frozenset({"app"})),
        live("OVER", valid_to=authored.valid_from),
        live("NEW"),
    ]
    (reason,) = overlap_reasons(authored, ["A", "B"], others)
    assert reason.startswith("overlaps CLASH v1 (CLASH) on SKU B from ")
    assert reason.endswith("and this promotion is not stackable")
    stackable = promotion(
        "NEW", ["A", "B"], {"type": "percent_off", "percent": "5"}, stackable=True
    )
    assert overlap_reasons(stackable, ["A", "B"], others) == []
    assert overlap_reasons(stackable, ["B"], [live("SOLO", stackable=False)])[0].endswith(
        "and SOLO is not stackable"
    )


def test_drift_compares_values_not_spellings_and_names_each_field() -> None:
    sent = promotion("P", ["A", "B"], {"type": "percent_off", "percent": "20"})
    same = sent.model_copy(
        update={
            "eligibility": sent.eligibility.model_copy(update={"skus": ["B", "A"]}),
            "reward": Reward.model_validate({"type": "percent_off", "percent": "20.00"}),
            "valid_from": sent.valid_from.astimezone(datetime.now().astimezone().tzinfo),
        }
    )
    assert compare("pos", sent, same).drift == ()
    changed = same.model_copy(
        update={
            "reward": Reward.model_validate({"type": "percent_off", "percent": "25"}),
            "status": PromotionStatus.CANCELLED,
        }
    )
    check = compare("pos", sent, changed)
    assert [(d.field, d.expected, d.found) for d in check.drift] == [
        ("status", "draft", "cancelled"),
        ("reward.percent", "20", "25"),
    ]
    assert check.compared == len(FIELDS["pos"]) + 2
    assert check.matched == check.compared - 2
    absent = compare("commerce", sent, None)
    assert (absent.matched, absent.drift[0].found) == (0, "(absent)")
    assert accuracy([check, absent]) == percent(check.matched, check.compared + absent.compared)


def test_render_reads_lists_as_sets_and_amounts_by_value() -> None:
    assert render(["b", "a"]) == render(("a", "b")) == "a, b"
    assert render(Decimal("20.0")) == render(Decimal(20)) == "20"
    assert render(eur("1.50")) == "1.5 EUR"
    assert render([]) is None
    assert render("") is None


@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=100_000))
def test_accuracy_is_a_percentage_that_is_100_only_when_all_match(a: int, b: int) -> None:
    matched, compared = min(a, b), max(a, b)
    score = percent(matched, compared)
    assert Decimal(0) <= score <= Decimal(100)
    assert (score == 100) == (matched == compared)
