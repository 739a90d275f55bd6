"""Reconciliation end to end: order-to-cash runs on a real SqliteBus against the Odoo, Open
Loyalty and HubSpot emulators over HTTP; the inconsistent thing is done directly against the
emulators (a posting behind the hub's back, a dead-lettered posting, a refund without a
reversal...), reconciliation finds it, raises its alert, repairs it, and a re-run is clean."""

from __future__ import annotations

import pytest

from retailhub.bus.port import Selection
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.order import OrderStatus
from retailhub.canonical.returns import ReturnStatus
from retailhub.flows.alerts import open_alerts
from retailhub.flows.order_to_cash.events import ORDER_CANCELLED, ORDER_CREATED, ORDER_UPDATED
from retailhub.flows.reconciliation import (
    Discrepancy,
    DiscrepancyKind,
    Reconciliation,
    ReconciliationReport,
    open_findings,
)

from .helpers import (
    World,
    cancelled,
    cleared,
    drained,
    members,
    refund_of,
    set_faults,
    till_orders,
    web_order,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

RETURN_RECEIVED = "retail.return.received.v1"
RETURN_REFUNDED = "retail.return.refunded.v1"


def skus(world: World, start: int, count: int = 2) -> list[str]:
    """SKUs of the estate outside the campaign, so points are base points only."""
    bonus = set(world.estate.campaign.eligibility.skus or ())
    plain = [p.sku for p in world.estate.products if p.sku not in bonus and p.sku]
    return plain[start : start + count]


def kinds(report: ReconciliationReport) -> list[tuple[DiscrepancyKind, str]]:
    return [(d.kind, d.key) for d in report.discrepancies]


def only(report: ReconciliationReport, kind: DiscrepancyKind) -> Discrepancy:
    found = [d for d in report.discrepancies if d.kind is kind]
    assert len(found) == 1, report.discrepancies
    return found[0]


async def open_alert_keys(bus: SqliteBus) -> set[tuple[str, str]]:
    async with bus.transaction() as transaction:
        alerts = await open_alerts(transaction, "reconciliation.")
    return {(a.alert.kind, a.alert.key) for a in alerts}


async def test_a_clean_day_has_no_discrepancies(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(0)
    people = members(world.estate)
    web = [
        web_order(world, "REC-CLEAN-W1", day, people[0], skus(world, 0)),
        web_order(world, "REC-CLEAN-W2", day, people[1], skus(world, 2), quantity=2),
        web_order(world, "REC-CLEAN-W3", day, None, skus(world, 4, 1)),
    ]
    store = await till_orders(world, "RTM02", day, 8, seed=11)
    assert any(e.type == ORDER_CANCELLED for e in store) or len(store) == 8
    await hub.publish([*(to_event(o, ORDER_CREATED, "/shopify/test") for o in web), *store])
    await drained(hub)

    report = await run.run(day)
    assert report.discrepancies == ()
    assert report.clean
    assert report.checked.orders == len(web) + len(store)
    assert report.checked.postings >= len(web)
    assert set(report.stores) == {"WEB", "RTM02"}
    one_store = await run.run(day, "RTM02")
    assert one_store.clean
    assert one_store.stores == ("RTM02",)
    assert one_store.checked.orders == len(store)
    assert await open_alert_keys(hub) == set()


async def test_a_posting_behind_the_hubs_back_is_found(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(1)
    odoo = world.connectors.erps["odoo"]
    known = web_order(world, "REC-BEHIND-1", day, None, skus(world, 6, 1))
    await hub.publish([to_event(known, ORDER_CREATED, "/shopify/test")])
    stray = web_order(world, "REC-BEHIND-2", day, None, skus(world, 7, 1))
    posting = await odoo.post_sale_order(stray, "MANUAL-BOOKING-7")
    await drained(hub)

    report = await run.run(day)
    assert kinds(report) == [(DiscrepancyKind.POSTING_WITHOUT_ORDER, "odoo:MANUAL-BOOKING-7")]
    found = report.discrepancies[0]
    assert found.posting_id == posting.external_id
    assert found.store == "WEB"
    assert found.business_day == day
    assert found.found == str(stray.totals.grand_total)
    assert found.needs_operator
    assert await open_alert_keys(hub) == {
        ("reconciliation.posting_without_order", "odoo:MANUAL-BOOKING-7")
    }
    outcome = await run.repair(found)
    assert not outcome.done
    again = await run.run(day)
    assert kinds(again) == kinds(report)
    async with hub.transaction() as transaction:
        [finding] = await open_findings(transaction, day)
    assert finding.times_found == 2
    assert finding.repair_note == outcome.action


async def test_an_order_whose_posting_was_dead_lettered_is_found_and_redriven(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(2)
    order = web_order(world, "REC-DEAD-1", day, members(world.estate)[5], skus(world, 8))
    await set_faults(world, "odoo", {"down": True})
    try:
        await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
        await drained(hub, dead_allowed=True)
    finally:
        await cleared(world, "odoo")
    assert await hub.dead_letters(Selection(subscription="o2c.erp", key=order.order_id))

    report = await run.run(day)
    missing = only(report, DiscrepancyKind.ORDER_WITHOUT_POSTING)
    assert kinds(report) == [(DiscrepancyKind.ORDER_WITHOUT_POSTING, order.order_id)]
    assert missing.expected == str(order.totals.grand_total)
    assert ("reconciliation.order_without_posting", order.order_id) in await open_alert_keys(hub)

    outcome = await run.repair(missing)
    assert outcome.done
    assert "retried 1 dead letter" in outcome.action
    await drained(hub)
    assert (await run.run(day)).clean
    assert await open_alert_keys(hub) == set()
    async with hub.transaction() as transaction:
        assert await open_findings(transaction, day) == []


async def test_an_order_without_posting_and_no_dead_letter_is_replayed(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(3)
    order = web_order(world, "REC-SKIP-1", day, None, skus(world, 10))
    await set_faults(world, "odoo", {"down": True})
    try:
        await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
        await drained(hub, dead_allowed=True)
    finally:
        await cleared(world, "odoo")
    await hub.skip(Selection(subscription="o2c.erp", key=order.order_id))

    missing = only(await run.run(day), DiscrepancyKind.ORDER_WITHOUT_POSTING)
    outcome = await run.repair(missing)
    assert outcome.done
    assert "replayed 1 event" in outcome.action
    await drained(hub)
    assert (await run.run(day)).clean


async def test_an_amount_changed_after_posting_is_a_mismatch(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(4)
    order = web_order(world, "REC-AMOUNT-1", day, None, skus(world, 12, 1))
    await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
    await drained(hub)
    changed = web_order(world, "REC-AMOUNT-1", day, None, skus(world, 12, 1), quantity=3)
    await hub.publish([to_event(changed, ORDER_UPDATED, "/shopify/test")])
    await drained(hub)

    report = await run.run(day)
    mismatch = only(report, DiscrepancyKind.AMOUNT_MISMATCH)
    assert kinds(report) == [(DiscrepancyKind.AMOUNT_MISMATCH, order.order_id)]
    assert mismatch.expected == str(changed.totals.grand_total)
    assert mismatch.found == str(order.totals.grand_total)
    assert mismatch.needs_operator
    assert not (await run.repair(mismatch)).done


async def test_points_kept_on_a_cancelled_order_are_found_and_reversed(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(5)
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    person = members(world.estate)[30]
    order = web_order(world, "REC-CANCEL-1", day, person, skus(world, 14))
    await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
    await drained(hub)
    await set_faults(world, "openloyalty", {"down": True})
    try:
        await hub.publish([to_event(cancelled(order), ORDER_CANCELLED, "/shopify/test")])
        await drained(hub, dead_allowed=True)
    finally:
        await cleared(world, "openloyalty")

    report = await run.run(day)
    points = only(report, DiscrepancyKind.POINTS_ON_CANCELLED_ORDER)
    assert points.points
    assert points.points > 0
    assert points.transfers
    member = await loyalty.find_member(card=person.card_number)
    assert member is not None
    assert points.member_id == member.member_id
    ledger = await loyalty.ledger(member.member_id)
    assert sum(r.points for r in ledger if r.order_id == order.order_id) == points.points

    outcomes = await run.repair_all(report)
    assert all(o.done for o in outcomes), outcomes
    await drained(hub)
    after = await run.run(day)
    assert DiscrepancyKind.POINTS_ON_CANCELLED_ORDER not in {d.kind for d in after.discrepancies}
    ledger = await loyalty.ledger(member.member_id)
    assert sum(r.points for r in ledger if r.order_id == order.order_id) == 0


async def test_a_cancelled_order_still_booked_in_the_erp_is_cancelled_there(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(6)
    odoo = world.connectors.erps["odoo"]
    order = web_order(world, "REC-BOOKED-1", day, None, skus(world, 16, 1))
    pending = order.model_copy(update={"status": OrderStatus.PENDING})
    await hub.publish(
        [
            to_event(pending, ORDER_CREATED, "/shopify/test"),
            to_event(cancelled(order), ORDER_CANCELLED, "/shopify/test"),
        ]
    )
    await drained(hub)
    assert await odoo.find_posting(order.order_id) is None
    booked = await odoo.post_sale_order(order, order.order_id)

    report = await run.run(day)
    assert kinds(report) == [(DiscrepancyKind.POSTING_FOR_CANCELLED_ORDER, order.order_id)]
    found = report.discrepancies[0]
    assert found.erp == "odoo"
    assert found.posting_id == booked.external_id
    outcome = await run.repair(found)
    assert outcome.done, outcome
    assert (await run.run(day)).clean
    after = await odoo.find_posting(order.order_id)
    assert after is not None
    assert after.status == "cancel"


async def test_a_refund_without_credit_note_or_points_reversal_is_found_and_repaired(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(7)
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    person = members(world.estate)[40]
    order = web_order(world, "REC-REFUND-1", day, person, skus(world, 18))
    await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
    await drained(hub)
    refund = refund_of(order, "RET-REC-1", ReturnStatus.REFUNDED)
    await hub.publish([to_event(refund, RETURN_REFUNDED, "/shopify/test")])
    await drained(hub)

    report = await run.run(day)
    assert sorted(kinds(report)) == [
        (DiscrepancyKind.REFUND_WITHOUT_CREDIT_NOTE, "RET-REC-1"),
        (DiscrepancyKind.REFUND_WITHOUT_POINTS_REVERSAL, "RET-REC-1"),
    ]
    reversal = only(report, DiscrepancyKind.REFUND_WITHOUT_POINTS_REVERSAL)
    assert reversal.points
    assert reversal.points > 0
    outcomes = await run.repair_all(report)
    assert all(o.done for o in outcomes), outcomes
    after = await run.run(day)
    assert after.clean, after.discrepancies
    member = await loyalty.find_member(card=person.card_number)
    assert member is not None
    rows = await loyalty.ledger(member.member_id)
    assert any(r.return_id == "RET-REC-1" and r.points < 0 for r in rows)
    assert await open_alert_keys(hub) == set()


async def test_points_reversed_for_a_return_never_refunded_are_found(
    hub: SqliteBus, world: World, run: Reconciliation
) -> None:
    day = world.day(8)
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    person = members(world.estate)[50]
    order = web_order(world, "REC-UNREFUNDED-1", day, person, skus(world, 20))
    await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
    await drained(hub)
    rejected = refund_of(order, "RET-REC-2", ReturnStatus.RECEIVED)
    await loyalty.register_return(rejected, "RET-REC-2")
    await hub.publish([to_event(rejected, RETURN_RECEIVED, "/shopify/test")])
    await drained(hub)

    report = await run.run(day)
    assert kinds(report) == [(DiscrepancyKind.POINTS_REVERSAL_WITHOUT_REFUND, "RET-REC-2")]
    found = report.discrepancies[0]
    assert found.needs_operator
    assert found.points
    assert found.points > 0
    assert found.store == "WEB"
    assert order.status is OrderStatus.COMPLETED
