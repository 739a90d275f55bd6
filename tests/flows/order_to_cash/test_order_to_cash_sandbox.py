"""Order-to-cash end to end: store and web orders on a real SqliteBus reach Odoo, Open Loyalty
and HubSpot emulators over HTTP once each, through outages and cancellations."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest

from retailhub.bus.port import Selection
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.order import Order, OrderStatus
from retailhub.connectors.poslog.intake import poslog_intake
from retailhub.flows.order_to_cash import CrossSystemStatus, Outcome, StockSettings
from retailhub.flows.order_to_cash.decisions import order_note_key, points_note_key
from retailhub.flows.order_to_cash.events import ORDER_CANCELLED, ORDER_CREATED, order_of

from .helpers import (
    World,
    expected_points,
    note_count,
    plain_customers,
    ring_up,
    set_faults,
    start_flow,
    status_of,
    wait_for,
    web_order,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "/shopify/test-shop"


def settled(status: CrossSystemStatus) -> bool:
    return bool(status.settled)


async def drained(bus: SqliteBus, names: list[str]) -> bool:
    """True when every subscription has passed the head and holds nothing."""
    for name in names:
        state = await bus.status(name)
        if state.lag or state.retrying or state.dead or state.parked:
            return False
    return True


async def wait_drained(bus: SqliteBus, names: list[str]) -> None:
    """Bounded wait until the subscriptions have handled everything published."""
    deadline = time.monotonic() + 10
    while not await drained(bus, names):
        assert time.monotonic() < deadline, "subscriptions did not drain"
        await asyncio.sleep(0.05)


async def stock_on_hand(world: World, location: str, skus: set[str]) -> dict[str, Decimal]:
    levels = await world.connectors.erps["odoo"].stock_levels(location)
    return {level.sku: level.on_hand for level in levels if level.sku in skus}


async def ledger_points(world: World, member_id: str, order_id: str) -> int:
    assert world.connectors.loyalty is not None
    rows = await world.connectors.loyalty.ledger(member_id)
    return sum(row.points for row in rows if row.order_id == order_id)


async def test_store_and_web_orders_reach_every_system_once(world: World, bus: SqliteBus) -> None:
    estate = world.estate
    erp = world.connectors.erps["odoo"]
    names = await start_flow(bus, world, stock=StockSettings(erp_moves_stock=False))
    people = plain_customers(estate)
    bonus_skus = sorted(estate.campaign.eligibility.skus or ())
    plain_skus = [p.sku for p in estate.products[:40] if p.sku not in set(bonus_skus)]
    web = [
        web_order(world, "WEB-1001", people[0], [bonus_skus[0], plain_skus[0]]),
        web_order(world, "WEB-1002", people[1], [plain_skus[1], bonus_skus[1]], with_card=True),
        web_order(world, "WEB-1003", None, [plain_skus[2]]),
    ]
    journal = poslog_intake(await ring_up(world, "AMS01", 12, seed=7))
    store_events = [e for e in journal.events if e.type in (ORDER_CREATED, ORDER_CANCELLED)]
    store = [order_of(e) for e in store_events]
    sold: Counter[tuple[str, str]] = Counter()
    for order in [*web, *(o for o in store if o.status is OrderStatus.COMPLETED)]:
        for line in order.lines:
            assert line.sku is not None
            sold[(order.location or "WEB", line.sku)] += line.quantity  # type: ignore[assignment]
    before = {
        location: await stock_on_hand(world, location, {s for loc, s in sold if loc == location})
        for location in {loc for loc, _ in sold}
    }
    web_events = [to_event(order, ORDER_CREATED, SOURCE) for order in web]
    await bus.publish([*web_events, *store_events])

    everything = [*web, *store]
    statuses = await wait_for(bus, [o.order_id for o in everything], settled)

    # A repeat of the same event ids is dropped by the bus; a second event for the same order
    # is handled again and changes nothing anywhere.
    await bus.publish(web_events)
    await bus.publish([to_event(web[0], ORDER_CREATED, SOURCE), store_events[0]])
    await wait_drained(bus, names)

    day = world.trading_day.date()
    keys = Counter(p.key for p in await erp.postings(day))
    for order in everything:
        status = statuses[order.order_id]
        if order.status is OrderStatus.COMPLETED:
            assert status.outcome("erp") is Outcome.DONE
            assert keys[order.order_id] == 1
            assert status.outcome("stock") is Outcome.DONE
        else:
            assert status.outcome("erp") is Outcome.SKIPPED
            assert keys[order.order_id] == 0
            assert status.outcome("loyalty") is Outcome.SKIPPED

    for location, levels in before.items():
        after = await stock_on_hand(world, location, set(levels))
        for sku, on_hand in levels.items():
            assert after[sku] == on_hand - sold[(location, sku)], (location, sku)

    members = [o for o in everything if o.status is OrderStatus.COMPLETED and o.loyalty_card]
    members += [web[0]]
    assert any(expected_points(world, o)[1] for o in members), "no campaign SKU was sold"
    for order in members:
        loyalty = statuses[order.order_id].systems["loyalty"]
        assert loyalty.outcome is Outcome.DONE
        assert loyalty.reference
        base, bonus = expected_points(world, order)
        assert loyalty.points == base + bonus
        assert await ledger_points(world, loyalty.reference, order.order_id) == base + bonus

    assert statuses["WEB-1003"].outcome("loyalty") is Outcome.SKIPPED
    assert statuses["WEB-1003"].outcome("crm") is Outcome.SKIPPED
    for order in web[:2]:
        assert statuses[order.order_id].outcome("crm") is Outcome.DONE
        assert await note_count(world, order_note_key(order.order_id)) == 1
        assert await note_count(world, points_note_key(order.order_id)) == 1


async def test_a_loyalty_outage_holds_back_only_loyalty(world: World, bus: SqliteBus) -> None:
    await start_flow(bus, world, stock=StockSettings(erp_moves_stock=True))
    people = plain_customers(world.estate)[10:12]
    bonus_skus = sorted(world.estate.campaign.eligibility.skus or ())
    orders = [
        web_order(world, f"WEB-2{n:03d}", person, [bonus_skus[5 + n]], with_card=True)
        for n, person in enumerate(people)
    ]
    ids = [o.order_id for o in orders]
    await set_faults(world, "openloyalty", {"down": True})
    try:
        await bus.publish([to_event(order, ORDER_CREATED, SOURCE) for order in orders])
        statuses = await wait_for(bus, ids, lambda s: s.outcome("loyalty") is Outcome.FAILED)
        statuses = await wait_for(bus, ids, lambda s: s.outcome("crm") is Outcome.DONE)
    finally:
        await set_faults(world, "openloyalty", None)
    for status in statuses.values():
        assert status.outcome("erp") is Outcome.DONE
        assert status.outcome("stock") is Outcome.SKIPPED
        assert status.failed == ["loyalty"]
        assert status.systems["loyalty"].attempts == 3
        assert status.systems["loyalty"].last_error
    assert len(await bus.dead_letters(Selection(subscription="o2c.loyalty"))) == 2

    await bus.retry(Selection(subscription="o2c.loyalty"))
    statuses = await wait_for(bus, ids, settled)
    for order in orders:
        loyalty = statuses[order.order_id].systems["loyalty"]
        base, bonus = expected_points(world, order)
        assert bonus > 0
        assert loyalty.points == base + bonus
        assert loyalty.reference
        assert await ledger_points(world, loyalty.reference, order.order_id) == base + bonus
    await bus.retry(Selection(subscription="o2c.loyalty"))
    await bus.publish([to_event(order, ORDER_CREATED, SOURCE) for order in orders])
    await wait_drained(bus, ["o2c.erp", "o2c.stock", "o2c.loyalty", "o2c.crm"])
    for order in orders:
        loyalty = statuses[order.order_id].systems["loyalty"]
        assert loyalty.reference
        assert await ledger_points(world, loyalty.reference, order.order_id) == sum(
            expected_points(world, order)
        )
        assert await note_count(world, points_note_key(order.order_id)) == 1


def cancelled(order: Order) -> CloudEvent:
    return to_event(
        order.model_copy(update={"status": OrderStatus.CANCELLED}), ORDER_CANCELLED, SOURCE
    )


async def test_a_cancelled_order_keeps_no_points(world: World, bus: SqliteBus) -> None:
    await start_flow(bus, world, stock=StockSettings(erp_moves_stock=False))
    people = plain_customers(world.estate)[20:22]
    bonus_skus = sorted(world.estate.campaign.eligibility.skus or ())
    after_sale = web_order(world, "WEB-3001", people[0], [bonus_skus[9]], with_card=True)
    never_sold = web_order(world, "WEB-3002", people[1], [bonus_skus[10]], with_card=True)
    sku = bonus_skus[9]
    (before,) = (await stock_on_hand(world, "WEB", {sku})).values()
    await bus.publish(
        [to_event(after_sale, ORDER_CREATED, SOURCE), cancelled(after_sale), cancelled(never_sold)]
    )
    statuses = await wait_for(bus, ["WEB-3001", "WEB-3002"], settled)

    reversed_sale = statuses["WEB-3001"]
    assert reversed_sale.outcome("erp") is Outcome.REVERSED
    posting = await world.connectors.erps["odoo"].find_posting("WEB-3001")
    assert posting is not None
    assert posting.status == "cancel"
    assert reversed_sale.outcome("stock") is Outcome.REVERSED
    assert reversed_sale.outcome("loyalty") is Outcome.REVERSED
    member = reversed_sale.systems["loyalty"].reference
    assert member
    assert await ledger_points(world, member, "WEB-3001") == 0
    assert (await stock_on_hand(world, "WEB", {sku}))[sku] == before
    await wait_drained(bus, ["o2c.erp", "o2c.stock", "o2c.loyalty", "o2c.crm"])
    assert await note_count(world, "order:WEB-3001:cancelled") == 1
    assert await note_count(world, "order:WEB-3001:points-reversed") == 1
    assert (await status_of(bus, "WEB-3001")).systems["crm"].points == 0

    never = statuses["WEB-3002"]
    assert {s.outcome for s in never.systems.values()} == {Outcome.SKIPPED}
    assert world.connectors.loyalty is not None
    account = await world.connectors.loyalty.find_member(card=never_sold.loyalty_card)
    assert account is not None
    assert await ledger_points(world, account.member_id, "WEB-3002") == 0
