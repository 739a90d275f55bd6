"""Checkout's tables and SQL on PostgreSQL (the scale-out state store): the last-known balance,
offline approvals under the limits, the queue posted on recovery and a rejection recorded, in a
schema of its own that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from retailhub.bus.port import EventBus
from retailhub.canonical.base import Channel
from retailhub.flows.alerts import open_alerts
from retailhub.flows.checkout import (
    REJECTED_ALERT,
    CheckoutPolicy,
    MemberRef,
    RedemptionRefused,
    RedemptionState,
    open_checkout_desk,
    post_offline_queue,
    rejected_redemptions,
)

from .helpers import (
    STORE,
    World,
    balance_at_platform,
    basket,
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
)


@pytest_asyncio.fixture(loop_scope="package")
async def pg_bus(world: World) -> AsyncIterator[EventBus]:
    """A PostgreSQL bus in a fresh schema, dropped afterwards; faults cleared after the test."""
    asyncpg = pytest.importorskip("asyncpg")
    from retailhub.bus.postgres import PostgresBus
    from services import require_postgres

    url = require_postgres()
    schema = f"checkout_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresBus(url, schema=schema, pool_size=2) as bus:
            yield bus
    finally:
        await set_faults(world.url, None)
        await until_platform_answers(world)
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def test_checkout_on_postgresql(pg_bus: EventBus, world: World) -> None:
    desk = await open_checkout_desk(pg_bus, world.loyalty, POLICY)
    member, other = world.member(), world.member()
    ref, other_ref = MemberRef(card=member.card_number), MemberRef(card=other.card_number)
    lines = basket(world, [world.campaign_sku()])
    online = await desk.quote(ref, lines, Channel.STORE, STORE)
    await desk.quote(other_ref, lines, Channel.STORE, STORE)
    reserved = await desk.reserve("till-1", "pg-online", ref, 100, "S-0")
    await world.loyalty.spend_points(
        other.account.member_id,
        other.points_balance - 50,
        "spent elsewhere",
        f"pg-{other.card_number}",
    )
    await set_faults(world.url, {"down": True})

    degraded = await desk.quote(ref, lines, Channel.STORE, STORE)
    approved = await desk.reserve("till-1", "pg-offline", ref, 400, "S-1")
    with pytest.raises(RedemptionRefused, match="per member per day"):
        await desk.reserve("till-1", "pg-over", ref, 300, "S-2")
    doomed = await desk.reserve("till-1", "pg-doomed", other_ref, 300, "S-3")
    await desk.capture("till-1", approved.redemption_id)
    await desk.capture("till-1", doomed.redemption_id)
    await desk.capture("till-1", reserved.redemption_id)
    await set_faults(world.url, None)
    report = await until_posted(lambda: post_offline_queue(desk))

    assert degraded.degraded
    assert degraded.balance == online.balance - 100
    assert degraded.max_redeemable == 400
    assert report.settled == 3
    assert report.rejected == 1
    states = {
        r.redemption_id: (await desk.redemption("till-1", r.redemption_id)).state
        for r in (reserved, approved, doomed)
    }
    assert states == {
        reserved.redemption_id: RedemptionState.CAPTURED,
        approved.redemption_id: RedemptionState.POSTED,
        doomed.redemption_id: RedemptionState.REJECTED,
    }
    assert [r.redemption_id for r in await rejected_redemptions(desk)] == [doomed.redemption_id]
    async with pg_bus.transaction() as transaction:
        alerts = await open_alerts(transaction, REJECTED_ALERT)
    assert [a.alert.key for a in alerts] == [doomed.redemption_id]
    assert await balance_at_platform(world, member.account.member_id) == online.balance - 500
