"""The POS feed connector against the store server emulator over loopback HTTP: a promotion
withdrawn from the feed (every version, once however often repeated, an unknown one changing
nothing) and the breaker state the connector reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from retailhub.canonical.base import Channel
from retailhub.canonical.promotion import Promotion, Reward, RewardType
from retailhub.connectors.http import SystemFailure
from retailhub.connectors.poslog.feed import PoslogFeedConnector
from retailhub.resilience import ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.poslog import PoslogEmulator
from retailhub.sandbox.seed import CET, Estate

FAST = ResiliencePolicy(
    timeout_s=2.0,
    max_attempts=1,
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    breaker_threshold=2,
    breaker_reset_s=30.0,
)


@pytest.fixture
async def pos(store_server: PoslogEmulator) -> AsyncIterator[PoslogFeedConnector]:
    assert store_server.url is not None
    connector = PoslogFeedConnector(store_server.url, "head-office-key", FAST)
    yield connector
    await connector.close()


def held(server: PoslogEmulator, promotion_id: str) -> int:
    (rows,) = server.db.execute(
        "SELECT count(*) FROM promotion WHERE promotion_id = ?", (promotion_id,)
    ).fetchone()
    return int(rows)


def cheese_week(version: int) -> Promotion:
    return Promotion(
        promotion_id="cheese-week",
        version=version,
        name="Cheese week",
        source="erp",
        channels=[Channel.STORE],
        stores=["AMS01"],
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(10 + version)),
        valid_from=datetime(2026, 12, 1, tzinfo=CET),
        valid_to=datetime(2026, 12, 1, tzinfo=CET) + timedelta(days=7),
    )


async def test_a_withdrawn_promotion_leaves_the_feed_with_every_version(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    await pos.publish_promotion(estate.campaign)
    await pos.publish_promotion(cheese_week(1))
    await pos.publish_promotion(cheese_week(2))

    await pos.withdraw_promotion("cheese-week")
    await pos.withdraw_promotion("cheese-week")

    assert await pos.get_promotion("cheese-week") is None
    assert held(store_server, "cheese-week") == 0
    assert await pos.get_promotion(estate.campaign.promotion_id) == estate.campaign


async def test_a_withdrawn_promotion_can_be_published_again(pos: PoslogFeedConnector) -> None:
    await pos.publish_promotion(cheese_week(1))
    await pos.withdraw_promotion("cheese-week")

    await pos.publish_promotion(cheese_week(1))

    assert await pos.get_promotion("cheese-week") == cheese_week(1)


async def test_withdrawing_a_promotion_the_feed_never_held_changes_nothing(
    pos: PoslogFeedConnector, store_server: PoslogEmulator
) -> None:
    await pos.publish_promotion(cheese_week(1))
    await pos.withdraw_promotion("never-published")
    assert held(store_server, "cheese-week") == 1


async def test_the_circuit_state_is_the_breakers(
    pos: PoslogFeedConnector, store_server: PoslogEmulator
) -> None:
    assert pos.circuit_state() == "closed"
    store_server.faults.set(store_server.faults.faults.updated({"error_rate": 1.0}))
    for _ in range(FAST.breaker_threshold):
        with pytest.raises(SystemFailure):
            await pos.withdraw_promotion("cheese-week")
    with pytest.raises(SystemUnavailable):
        await pos.withdraw_promotion("cheese-week")
    assert pos.circuit_state() == "open"
