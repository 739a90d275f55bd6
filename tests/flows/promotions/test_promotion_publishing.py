"""Promotion publishing end to end: authored versions on a real SqliteBus start a DBOS saga that
validates against Odoo's pricing controls and publishes to the Shopify, POS and Open Loyalty
emulators over HTTP, reads each copy back and records drift."""

from __future__ import annotations

from decimal import Decimal

import pytest
from dbos import DBOS

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.promotion import Promotion, PromotionStatus
from retailhub.connectors.ports import BasketLine
from retailhub.flows.alerts import open_alerts
from retailhub.flows.promotions import (
    DRIFT_ALERT,
    REJECTED_ALERT,
    SAGA_NAME,
    WITHDRAWAL_ALERT,
    ChannelState,
    VersionState,
    promotion_accuracy_summary,
    recheck_promotion,
)

from .helpers import (
    World,
    edit_earning_rule,
    handled,
    once_closed,
    promotion,
    publish_and_wait,
    set_faults,
    shopify_rule_titles,
    web_sale,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_valid_promotion_is_published_everywhere_it_runs_with_full_accuracy(
    world: World, hub: SqliteBus
) -> None:
    authored = promotion("SPRING-10", world.skus(0, 3), {"type": "percent_off", "percent": "10"})

    view = await publish_and_wait(hub, authored)

    latest = view.latest
    assert (latest.version, latest.state, latest.reasons) == (1, VersionState.PUBLISHED, ())
    channels = {c.target: c for c in latest.channels}
    assert set(channels) == {"commerce", "pos"}
    assert all(c.state == ChannelState.PUBLISHED and c.external_id for c in channels.values())
    assert latest.accuracy == 100
    assert latest.drift == ()
    assert view.live == latest
    on_shopify = await world.commerce.get_promotion("SPRING-10")
    assert on_shopify is not None
    assert on_shopify.version == 1
    assert sorted(on_shopify.eligibility.skus) == sorted(authored.eligibility.skus)
    on_pos = await world.pos.get_promotion("SPRING-10")
    assert on_pos is not None
    assert on_pos.reward == authored.reward
    assert await world.loyalty.get_campaign("SPRING-10") is None
    events = await hub.tail(types=["retail.promotion.published.v1"], key="SPRING-10")
    assert len(events) == 1
    published = Promotion.model_validate(events[0].event.data)
    assert published.external_ids["shopify"] == channels["commerce"].external_id
    async with hub.transaction() as transaction:
        summary = await promotion_accuracy_summary(transaction)
        assert not await open_alerts(transaction, REJECTED_ALERT)
    assert [(p.promotion_id, p.accuracy) for p in summary.promotions] == [("SPRING-10", 100)]
    assert summary.accuracy == 100
    assert summary.states == {"published": 1}


async def test_a_discount_below_the_price_floor_is_rejected_with_every_reason(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(5, 2)
    authored = promotion(
        "CLEARANCE-60", skus, {"type": "percent_off", "percent": "60"}, minimum_margin="30"
    )

    view = await publish_and_wait(hub, authored)

    assert view.latest.state == VersionState.REJECTED
    assert view.live is None
    reasons = view.latest.reasons
    for sku in skus:
        assert any(r.startswith(f"SKU {sku}:") and "below the price floor" in r for r in reasons)
        assert any(r.startswith(f"SKU {sku}: margin") and "minimum 30 %" in r for r in reasons)
    assert len(reasons) == 2 * len(skus)
    assert view.latest.channels == ()
    assert await world.commerce.get_promotion("CLEARANCE-60") is None
    assert await world.pos.get_promotion("CLEARANCE-60") is None
    async with hub.transaction() as transaction:
        (alert,) = await open_alerts(transaction, REJECTED_ALERT)
    assert alert.alert.key == "CLEARANCE-60:v1"
    assert all(reason in alert.alert.detail for reason in reasons)


async def test_an_overlapping_non_stackable_promotion_is_rejected(
    world: World, hub: SqliteBus
) -> None:
    first = promotion("WEEKEND-5", world.skus(10, 3), {"type": "percent_off", "percent": "5"})
    assert (await publish_and_wait(hub, first)).latest.state == VersionState.PUBLISHED
    shared = world.skus(12, 2)
    rival = promotion(
        "RIVAL-5", shared, {"type": "amount_off", "amount": {"amount": "0.05", "currency": "EUR"}}
    )
    later = promotion(
        "LATER-5", world.skus(10, 3), {"type": "percent_off", "percent": "5"}, days=(31, 40)
    )

    rejected = await publish_and_wait(hub, rival)
    published = await publish_and_wait(hub, later)

    assert rejected.latest.state == VersionState.REJECTED
    (reason,) = rejected.latest.reasons
    assert reason.startswith(f"overlaps WEEKEND-5 v1 (Test WEEKEND-5) on SKU {shared[0]}")
    assert "not stackable" in reason
    assert await world.commerce.get_promotion("RIVAL-5") is None
    assert published.latest.state == VersionState.PUBLISHED


async def test_a_system_refusing_for_good_withdraws_the_others_and_raises_alerts(
    world: World, hub: SqliteBus
) -> None:
    authored = promotion("FLASH-15", world.skus(40, 2), {"type": "percent_off", "percent": "15"})
    await set_faults(world, "poslog", {"error_rate": 1.0})
    try:
        view = await publish_and_wait(hub, authored)
    finally:
        await set_faults(world, "poslog", None)

    latest = view.latest
    assert latest.state == VersionState.FAILED
    assert latest.reasons[0].startswith("publish:pos:")
    channels = {c.target: c for c in latest.channels}
    assert channels["commerce"].state == ChannelState.WITHDRAWN
    assert channels["pos"].state == ChannelState.FAILED
    assert view.live is None
    assert await world.commerce.get_promotion("FLASH-15") is None
    assert await once_closed(lambda: world.pos.get_promotion("FLASH-15")) is None
    async with hub.transaction() as transaction:
        alerts = {a.alert.kind: a.alert for a in await open_alerts(transaction, SAGA_NAME)}
    saga = alerts[SAGA_NAME]
    assert saga.key == "promotion_publishing:FLASH-15:v1"
    assert "compensated at step publish:pos" in saga.summary
    assert "undone: publish:commerce" in saga.detail
    # The POS failed mid-publish, so whether it kept a copy is unknown: an operator checks.
    assert alerts[WITHDRAWAL_ALERT].needs_operator


async def test_drift_behind_the_hubs_back_is_found_and_named_then_cleared(
    world: World, hub: SqliteBus
) -> None:
    authored = promotion("BONUS-40", world.skus(50, 1), {"type": "bonus_points", "points": 40})
    view = await publish_and_wait(hub, authored)
    assert view.latest.state == VersionState.PUBLISHED
    assert view.latest.accuracy == 100
    loyalty = {c.target: c for c in view.latest.channels}["loyalty"]
    assert loyalty.external_id is not None

    await edit_earning_rule(world, loyalty.external_id, pointsAmount=15)
    drifted = await recheck_promotion(hub, world.channels, "BONUS-40")

    assert drifted is not None
    assert drifted.live is not None
    assert [(d.target, d.field, d.expected, d.found) for d in drifted.live.drift] == [
        ("loyalty", "reward.points", "40", "15")
    ]
    accuracy = drifted.live.accuracy
    assert accuracy is not None
    assert 0 < accuracy < 100
    by_target = {c.target: c.accuracy for c in drifted.live.channels}
    assert by_target["pos"] == 100
    assert by_target["loyalty"] is not None
    assert by_target["loyalty"] < 100
    async with hub.transaction() as transaction:
        (alert,) = await open_alerts(transaction, DRIFT_ALERT)
        summary = await promotion_accuracy_summary(transaction)
    assert "loyalty reward.points: expected 40, found 15" in alert.alert.detail
    assert summary.accuracy == accuracy

    await edit_earning_rule(world, loyalty.external_id, pointsAmount=40)
    cleared = await recheck_promotion(hub, world.channels, "BONUS-40")

    assert cleared is not None
    assert cleared.live is not None
    assert cleared.live.accuracy == 100
    assert cleared.live.drift == ()
    async with hub.transaction() as transaction:
        assert not await open_alerts(transaction, DRIFT_ALERT)


async def test_a_later_version_supersedes_and_an_earlier_one_arriving_late_is_stale(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(60, 2)
    first = promotion("AUTUMN-8", skus, {"type": "percent_off", "percent": "8"})
    second = promotion("AUTUMN-8", skus, {"type": "percent_off", "percent": "12"}, version=2)
    third = promotion("AUTUMN-8", skus, {"type": "percent_off", "percent": "9"}, version=3)
    assert (await publish_and_wait(hub, first)).latest.state == VersionState.PUBLISHED

    await publish_and_wait(hub, third)
    view = await publish_and_wait(hub, second)

    assert [(v, s.value) for v, s in view.versions] == [
        (3, "published"),
        (2, "stale"),
        (1, "superseded"),
    ]
    assert view.latest.version == 3
    assert view.latest.accuracy == 100
    on_shopify = await world.commerce.get_promotion("AUTUMN-8")
    on_pos = await world.pos.get_promotion("AUTUMN-8")
    assert on_shopify is not None
    assert on_pos is not None
    assert (on_shopify.version, on_shopify.reward.percent) == (3, 9)
    assert (on_pos.version, on_pos.reward.percent) == (3, 9)
    assert await shopify_rule_titles(world, "AUTUMN-8") == ["Test AUTUMN-8 [AUTUMN-8 v3]"]
    async with hub.transaction() as transaction:
        rows = await transaction.fetch_all(
            "SELECT version, state, reasons FROM promo_versions WHERE promotion_id = 'AUTUMN-8'"
            " AND version = 2"
        )
    assert rows[0][:2] == (2, "stale")
    assert "version 3 of this promotion arrived first" in rows[0][2]


async def test_a_cancelled_version_withdraws_the_promotion_everywhere(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(70, 1)
    live = promotion("FLYER-20", skus, {"type": "bonus_points", "points": 20})
    cancelled = promotion(
        "FLYER-20",
        skus,
        {"type": "bonus_points", "points": 20},
        version=2,
        status=PromotionStatus.CANCELLED,
    )
    assert (await publish_and_wait(hub, live)).latest.state == VersionState.PUBLISHED

    view = await publish_and_wait(hub, cancelled)

    assert [(v, s.value) for v, s in view.versions] == [(2, "withdrawn"), (1, "withdrawn")]
    assert view.live is None
    assert await world.pos.get_promotion("FLYER-20") is None
    on_loyalty = await world.loyalty.get_campaign("FLYER-20")
    assert on_loyalty is None or on_loyalty.status is PromotionStatus.CANCELLED


async def test_a_sale_of_the_bonus_sku_earns_the_published_campaign_bonus(
    world: World, hub: SqliteBus
) -> None:
    (sku,) = world.skus(80, 1)
    price = world.estate.price(sku, Channel.WEB).selling_price
    basket = [BasketLine(sku=sku, quantity=Decimal(3), unit_price=price)]
    before = await world.loyalty.register_sale(web_sale(world, "PROMO-SALE-1", sku, 3), "s1")
    quoted_before = await world.loyalty.quote(None, basket, Channel.WEB, None)

    view = await publish_and_wait(
        hub, promotion("TRIPLE-30", [sku], {"type": "bonus_points", "points": 30})
    )
    assert view.latest.state == VersionState.PUBLISHED

    quoted = await world.loyalty.quote(None, basket, Channel.WEB, None)
    after = await world.loyalty.register_sale(web_sale(world, "PROMO-SALE-2", sku, 3), "s2")
    assert quoted.bonus_points - quoted_before.bonus_points == 90
    assert quoted.points_to_earn - quoted_before.points_to_earn == 90
    assert after.points - before.points == 90


async def test_the_same_version_authored_twice_runs_one_saga(world: World, hub: SqliteBus) -> None:
    authored = promotion("TWICE-5", world.skus(100, 1), {"type": "percent_off", "percent": "5"})
    again = to_event(
        authored, "retail.promotion.authored.v1", "/loyalty/openloyalty", id="re-authored"
    )

    await publish_and_wait(hub, authored)
    await handled(hub, await hub.publish_one(again))

    workflows = await DBOS.list_workflows_async(workflow_id_prefix=f"{SAGA_NAME}:TWICE-5:")
    assert [w.workflow_id for w in workflows] == [f"{SAGA_NAME}:TWICE-5:v1"]
    assert await shopify_rule_titles(world, "TWICE-5") == ["Test TWICE-5 [TWICE-5 v1]"]


async def test_a_version_leaving_a_channel_is_withdrawn_from_it(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(105, 2)
    both = promotion("STORES-6", skus, {"type": "percent_off", "percent": "6"})
    store_only = promotion(
        "STORES-6",
        skus,
        {"type": "percent_off", "percent": "6"},
        version=2,
        channels=(Channel.STORE,),
    )
    await publish_and_wait(hub, both)

    view = await publish_and_wait(hub, store_only)

    assert view.latest.state == VersionState.PUBLISHED
    assert [c.target for c in view.latest.channels] == ["pos"]
    assert await world.commerce.get_promotion("STORES-6") is None
    on_pos = await world.pos.get_promotion("STORES-6")
    assert on_pos is not None
    assert on_pos.version == 2
    async with hub.transaction() as transaction:
        rows = await transaction.fetch_all(
            "SELECT target, state FROM promo_channels WHERE promotion_id = 'STORES-6'"
            " AND version = 1 ORDER BY target"
        )
    assert rows == [("commerce", "withdrawn"), ("pos", "superseded")]


async def test_a_failed_version_takes_its_predecessor_out_too_never_half_published(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(110, 2)
    first = promotion("HALF-7", skus, {"type": "percent_off", "percent": "7"})
    second = promotion("HALF-7", skus, {"type": "percent_off", "percent": "8"}, version=2)
    await publish_and_wait(hub, first)
    await set_faults(world, "poslog", {"error_rate": 1.0})
    try:
        view = await publish_and_wait(hub, second)
    finally:
        await set_faults(world, "poslog", None)

    assert [(v, s.value) for v, s in view.versions] == [(2, "failed"), (1, "withdrawn")]
    assert view.live is None
    assert await world.commerce.get_promotion("HALF-7") is None
    assert await shopify_rule_titles(world, "HALF-7") == []


async def test_a_hierarchy_node_reaches_sku_only_systems_as_its_skus(
    world: World, hub: SqliteBus
) -> None:
    (sku,) = world.skus(120, 1)
    node = world.estate.product(sku).hierarchy
    below = sorted(p.sku for p in world.estate.products if p.in_hierarchy(node))
    price = world.estate.price(sku, Channel.WEB).selling_price
    basket = [BasketLine(sku=sku, quantity=Decimal(2), unit_price=price)]
    quoted_before = await world.loyalty.quote(None, basket, Channel.WEB, None)
    authored = promotion("AISLE-12", [], {"type": "bonus_points", "points": 12}, hierarchy=[node])

    view = await publish_and_wait(hub, authored)

    assert view.latest.state == VersionState.PUBLISHED
    assert view.latest.accuracy == 100
    assert view.latest.skus == tuple(below)
    on_loyalty = await world.loyalty.get_campaign("AISLE-12")
    on_pos = await world.pos.get_promotion("AISLE-12")
    assert on_loyalty is not None
    assert on_pos is not None
    assert sorted(on_loyalty.eligibility.skus) == below
    assert on_pos.eligibility.hierarchy_nodes == [node]
    quoted = await world.loyalty.quote(None, basket, Channel.WEB, None)
    assert quoted.bonus_points - quoted_before.bonus_points == 24


async def test_a_reward_the_web_shop_cannot_express_fails_without_retrying(
    world: World, hub: SqliteBus
) -> None:
    (sku,) = world.skus(130, 1)
    list_price = world.estate.price(sku, Channel.STORE).list_price
    fixed = {"type": "fixed_price", "amount": {"amount": str(list_price.amount), "currency": "EUR"}}

    view = await publish_and_wait(hub, promotion("FIXED-1", [sku], fixed))

    assert view.latest.state == VersionState.FAILED
    (reason,) = view.latest.reasons
    assert reason.startswith("publish:commerce: MappingError:")
    assert "cannot give fixed_price" in reason
    assert "attempts" not in reason
    assert await world.pos.get_promotion("FIXED-1") is None


async def test_a_version_the_erp_cannot_validate_is_recorded_failed_and_the_live_one_stays(
    world: World, hub: SqliteBus
) -> None:
    skus = world.skus(135, 1)
    first = promotion("ERPDOWN-3", skus, {"type": "percent_off", "percent": "3"})
    second = promotion("ERPDOWN-3", skus, {"type": "percent_off", "percent": "4"}, version=2)
    await publish_and_wait(hub, first)
    await set_faults(world, "odoo", {"error_rate": 1.0})
    try:
        view = await publish_and_wait(hub, second)
    finally:
        await set_faults(world, "odoo", None)

    assert [(v, s.value) for v, s in view.versions] == [(2, "failed"), (1, "published")]
    assert view.latest.reasons[0].startswith("validate:")
    assert view.live is not None
    assert view.live.version == 1
    on_shopify = await world.commerce.get_promotion("ERPDOWN-3")
    assert on_shopify is not None
    assert on_shopify.version == 1
    async with hub.transaction() as transaction:
        (alert,) = await open_alerts(transaction, SAGA_NAME)
    assert alert.alert.key == f"{SAGA_NAME}:ERPDOWN-3:v2"
