"""Promotion publishing end to end: authored versions on a real SqliteBus start a DBOS saga that
validates against Odoo's pricing controls and publishes to the Shopify, POS and Open Loyalty
emulators over HTTP, reads each copy back and records drift."""

from __future__ import annotations

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.promotion import Promotion
from retailhub.flows.alerts import open_alerts
from retailhub.flows.promotions import (
    REJECTED_ALERT,
    ChannelState,
    VersionState,
    promotion_accuracy_summary,
)

from .helpers import World, promotion, publish_and_wait

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
