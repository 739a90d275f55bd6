"""Return-to-refund end to end: returns on a real SqliteBus and a real DBOS runtime reach the
Odoo, Open Loyalty, HubSpot and Shopify emulators over HTTP, once each, or are refused or
compensated with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.flows.alerts import BusAlertSink, open_alerts
from retailhub.flows.returns import (
    Outcome,
    ReturnRefused,
    ReturnState,
    ReturnStatusView,
    initiate_return,
    register_return_to_refund,
    subscribe_return_to_refund,
)
from retailhub.flows.returns.benchmark import run_returns_benchmark
from retailhub.flows.returns.ledger import keep_order
from retailhub.flows.sagas import WorkflowRuntime, WorkflowSettings, start_saga

from .helpers import (
    FAST_CALLS,
    FAST_RETRY,
    SHOP_SOURCE,
    STORE,
    Hub,
    World,
    balance,
    expected_points,
    ledger_points,
    on_hand,
    online_request,
    order_event,
    place_web_order,
    received_event,
    set_faults,
    status_of,
    store_return,
    store_sale,
    wait_for,
    wait_until_known,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def settled(state: ReturnState) -> Callable[[ReturnStatusView], bool]:
    """The return reached `state` and its CRM case is written (the saga's last effect)."""
    return lambda status: status.state is state and status.outcome("crm") is not Outcome.PENDING


async def test_a_store_return_of_a_store_order_is_refunded_once(world: World, hub: Hub) -> None:
    member = world.members()[0]
    bonus, plain = world.bonus_skus()[0], world.plain_skus()[0]
    sale = store_sale(world, "POS-AMS01-T1-SALE", member, [(bonus, 2), (plain, 1)])
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    earned = await loyalty.register_sale(sale, sale.order_id)
    back = store_return(world, "POS-AMS01-T1-RET", sale, [("1", 2)])
    before = await on_hand(world, STORE, {bonus})
    await hub.bus.publish([order_event(sale), received_event(back)])

    status = (await wait_for(hub.bus, [back.return_id], settled(ReturnState.REFUNDED)))[
        back.return_id
    ]
    for system in ("guard", "erp", "loyalty", "stock", "crm"):
        assert status.outcome(system) is Outcome.DONE, (system, status)
    assert status.outcome("commerce") is Outcome.SKIPPED
    erp = world.connectors.erps["odoo"]
    posting = await erp.find_posting(f"return_to_refund:{back.return_id}:erp")
    assert posting is not None
    assert posting.external_id == status.systems["erp"].reference
    assert (await on_hand(world, STORE, {bonus}))[bonus] == before[bonus] + 2
    assert await ledger_points(world, earned.member_id, back.return_id) < 0
    assert status.case_id

    # The same receipt in a second journal (another event id) refunds nothing more.
    await hub.bus.publish([received_event(back, id="second-file")])
    await wait_for(hub.bus, [back.return_id], settled(ReturnState.REFUNDED))
    assert (await on_hand(world, STORE, {bonus}))[bonus] == before[bonus] + 2
    refunded = await hub.bus.tail(types=["retail.return.refunded.v1"])
    assert [e.event.subject for e in refunded] == [back.return_id]


async def test_a_duplicate_return_is_refused_with_its_reason(world: World, hub: Hub) -> None:
    member = world.members()[1]
    plain = world.plain_skus()[1]
    sale = store_sale(world, "POS-AMS01-T2-SALE", member, [(plain, 1)])
    first = store_return(world, "POS-AMS01-T2-RET1", sale, [("1", 1)])
    again = store_return(world, "POS-AMS01-T2-RET2", sale, [("1", 1)])
    await hub.bus.publish([order_event(sale), received_event(first)])
    await wait_for(hub.bus, [first.return_id], settled(ReturnState.REFUNDED))
    await hub.bus.publish([received_event(again)])

    status = (await wait_for(hub.bus, [again.return_id], settled(ReturnState.REFUSED)))[
        again.return_id
    ]
    assert status.reason == (
        "$.lines[0].quantity: 1 bought on line 1, 1 already returned: 1 more is too many"
    )
    assert status.outcome("guard") is Outcome.FAILED
    assert status.outcome("erp") is Outcome.PENDING
    assert status.outcome("crm") is Outcome.DONE
    assert status.case_id
    erp = world.connectors.erps["odoo"]
    assert await erp.find_posting(f"return_to_refund:{again.return_id}:erp") is None
    async with hub.bus.transaction() as transaction:
        alerts = await open_alerts(transaction, "return_to_refund.refused")
    assert [(a.alert.key, a.alert.needs_operator) for a in alerts] == [(again.return_id, True)]


async def test_a_web_order_started_online_and_returned_in_a_store(world: World, hub: Hub) -> None:
    member = world.members()[2]
    bonus = world.bonus_skus()[1]
    order = await place_web_order(world, member, [(bonus, 2)])
    loyalty = world.connectors.loyalty
    commerce = world.connectors.commerce
    assert loyalty is not None
    assert commerce is not None
    earned = await loyalty.register_sale(order, order.order_id)
    await hub.bus.publish([order_event(order, SHOP_SOURCE)])
    line_id = order.lines[0].line_id
    goods = store_return(world, "POS-AMS01-T3-RET", order, [(line_id, 1)], paid_at_till=False)

    requested = await initiate_return(
        hub.bus, online_request(goods).model_dump(mode="json"), commerce=commerce
    )
    request = (await wait_for(hub.bus, [requested.return_id], settled(ReturnState.REQUESTED)))[
        requested.return_id
    ]
    assert request.case_id
    before = await on_hand(world, STORE, {bonus})
    await hub.bus.publish([received_event(goods)])

    status = (await wait_for(hub.bus, [goods.return_id], settled(ReturnState.REFUNDED)))[
        goods.return_id
    ]
    assert status.request_id == requested.return_id
    assert status.case_id == request.case_id
    assert (await status_of(hub.bus, requested.return_id)).state is ReturnState.REFUNDED  # type: ignore[union-attr]
    assert status.outcome("commerce") is Outcome.DONE
    refunds = await commerce.returns_for_order(order.order_id)
    assert len(refunds) == 1
    assert refunds[0].refund_total == goods.refund_total
    assert (await on_hand(world, STORE, {bonus}))[bonus] == before[bonus] + 1
    _, bonus_points = expected_points(world, order)
    assert bonus_points > 0
    reversed_ = -await ledger_points(world, earned.member_id, goods.return_id)
    assert reversed_ >= bonus_points // 2


async def test_an_over_return_across_two_channels_is_refused(world: World, hub: Hub) -> None:
    member = world.members()[3]
    plain = world.plain_skus()[3]
    sale = store_sale(world, "POS-AMS01-T4-SALE", member, [(plain, 2)])
    await hub.bus.publish([order_event(sale)])
    online = online_request(store_return(world, "POS-AMS01-T4-WEB", sale, [("1", 1)]))
    await wait_until_known(hub, sale.order_id)
    requested = await initiate_return(hub.bus, online)
    await wait_for(hub.bus, [requested.return_id], settled(ReturnState.REQUESTED))

    with pytest.raises(ReturnRefused) as refused:
        await initiate_return(
            hub.bus, online_request(store_return(world, "T4-B", sale, [("1", 2)]))
        )
    assert [(f.path, f.reason) for f in refused.value.faults] == [
        ("$.lines[0].quantity", "2 bought on line 1, 1 already returned: 2 more is too many")
    ]
    till = store_return(world, "POS-AMS01-T4-TILL", sale, [("1", 2)])
    await hub.bus.publish([received_event(till)])
    status = (await wait_for(hub.bus, [till.return_id], settled(ReturnState.REFUSED)))[
        till.return_id
    ]
    assert status.reason == (
        "$.lines[0].quantity: 2 bought on line 1, 1 already returned: 2 more is too many"
    )


async def test_a_platform_refund_failing_for_good_undoes_everything(world: World, hub: Hub) -> None:
    member = world.members()[4]
    bonus = world.bonus_skus()[2]
    order = await place_web_order(world, member, [(bonus, 1)])
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    earned = await loyalty.register_sale(order, order.order_id)
    await hub.bus.publish([order_event(order, SHOP_SOURCE)])
    goods = store_return(
        world, "POS-AMS01-T5-RET", order, [(order.lines[0].line_id, 1)], paid_at_till=False
    )
    points_before = await balance(world, earned.member_id)
    stock_before = await on_hand(world, STORE, {bonus})
    await set_faults(world, "shopify", {"error_rate": 1.0})
    try:
        await hub.bus.publish([received_event(goods)])
        status = (await wait_for(hub.bus, [goods.return_id], settled(ReturnState.COMPENSATED)))[
            goods.return_id
        ]
    finally:
        await set_faults(world, "shopify", None)

    assert status.outcome("commerce") is Outcome.FAILED
    for system in ("erp", "loyalty", "stock"):
        assert status.outcome(system) is Outcome.REVERSED, (system, status)
    assert status.outcome("crm") is Outcome.DONE
    assert "case left open" in (status.systems["crm"].detail or "")
    erp = world.connectors.erps["odoo"]
    note = await erp.find_posting(f"return_to_refund:{goods.return_id}:erp")
    assert note is not None
    assert note.status == "cancel"
    assert await balance(world, earned.member_id) == points_before
    assert await on_hand(world, STORE, {bonus}) == stock_before
    async with hub.bus.transaction() as transaction:
        alerts = await open_alerts(transaction, "return_to_refund")
    assert [a.alert.key for a in alerts] == [f"return_to_refund:{goods.return_id}"]
    assert "commerce_refund" in alerts[0].alert.summary
    assert "the platform may hold a refund" in alerts[0].alert.summary
    assert not await hub.bus.tail(types=["retail.return.refunded.v1"])

    # The claim was released: the same goods can be returned again and refunded.
    again = goods.model_copy(update={"return_id": "POS-AMS01-T5-RET2"})
    await hub.bus.publish([received_event(again)])
    await wait_for(hub.bus, [again.return_id], settled(ReturnState.REFUNDED))


async def test_points_reversed_include_the_bonus_and_spent_points_come_back(
    world: World, hub: Hub
) -> None:
    member = world.members()[5]
    bonus, plain = world.bonus_skus()[3], world.plain_skus()[5]
    loyalty = world.connectors.loyalty
    assert loyalty is not None
    account = await loyalty.find_member(card=member.card_number)
    assert account is not None
    await loyalty.add_points(account.member_id, 1000, "test top-up", "T6-topup")
    sale = store_sale(world, "POS-AMS01-T6-SALE", member, [(bonus, 2), (plain, 1)], points=400)
    await loyalty.spend_points(account.member_id, 400, "paid at the till", "T6-spend")
    earned = await loyalty.register_sale(sale, sale.order_id)
    base, bonus_points = expected_points(world, sale)
    assert earned.points == base + bonus_points
    before = await balance(world, account.member_id)
    goods = store_return(world, "POS-AMS01-T6-RET", sale, [("1", 2)], paid_at_till=False)
    await hub.bus.publish([order_event(sale), received_event(goods)])

    status = (await wait_for(hub.bus, [goods.return_id], settled(ReturnState.REFUNDED)))[
        goods.return_id
    ]
    line = sale.lines[0]
    line_base = int(line.net.amount)
    line_bonus = bonus_points
    spent_share = round(400 * goods.refund_total.amount / sale.totals.grand_total.amount)
    assert status.systems["loyalty"].detail == (
        f"{line_base + line_bonus} points reversed, {spent_share} re-credited"
    )
    after = await balance(world, account.member_id)
    assert after - before == spent_share - (line_base + line_bonus)


async def test_the_returns_benchmark_measures_sagas_against_the_emulators(
    world: World, tmp_path: Path
) -> None:
    figures = await run_returns_benchmark(world.urls, tmp_path, sales=4, concurrency=2)
    assert figures["states"] == {"refunded": 4}
    assert figures["sagas_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert set(figures["split_ms"]["http"]) == {"odoo", "openloyalty", "hubspot"}
    assert figures["requests_per_saga"]["odoo"] > 0
    assert figures["requests_per_saga"]["shopify"] == 0


async def test_a_refund_cut_off_by_a_restart_resumes_and_books_once(
    world: World, tmp_path: Path
) -> None:
    connectors = world.connectors
    loyalty, crm = connectors.loyalty, connectors.crm
    assert loyalty is not None
    assert crm is not None
    member = world.members()[6]
    bonus = world.bonus_skus()[4]
    sale = store_sale(world, "POS-AMS01-T7-SALE", member, [(bonus, 1)])
    earned = await loyalty.register_sale(sale, sale.order_id)
    goods = store_return(world, "POS-AMS01-T7-RET", sale, [("1", 1)])
    before = await on_hand(world, STORE, {bonus})
    settings = WorkflowSettings.embedded(tmp_path / "home", notification_poll_interval=0.02)
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as bus:
        flow = register_return_to_refund(
            bus,
            erp=connectors.erps["odoo"],
            loyalty=loyalty,
            crm=crm,
            commerce=connectors.commerce,
            alerts=BusAlertSink(bus),
            settings=FAST_CALLS,
        )
        runtime = WorkflowRuntime(settings)
        await runtime.launch()
        await subscribe_return_to_refund(bus, runtime, flow, retry=FAST_RETRY)
        async with bus.transaction() as transaction:
            await keep_order(transaction, sale)
        # The loyalty platform answers slowly: the booking is in flight when the hub stops.
        await set_faults(world, "openloyalty", {"latency_ms": 1500})
        try:
            await start_saga(runtime, flow.saga(), goods.return_id, goods.model_dump(mode="json"))
            await wait_for(
                bus, [goods.return_id], lambda s: s.state is ReturnState.RECEIVED, timeout_s=10
            )
            await runtime.shutdown(grace=0)
        finally:
            await set_faults(world, "openloyalty", None)
        cut_off = await status_of(bus, goods.return_id)
        assert cut_off is not None
        assert cut_off.state is ReturnState.RECEIVED
        async with WorkflowRuntime(settings):
            status = (await wait_for(bus, [goods.return_id], settled(ReturnState.REFUNDED)))[
                goods.return_id
            ]
    erp = connectors.erps["odoo"]
    notes = [p for p in await erp.postings(goods.created_at.date()) if goods.return_id in p.key]
    assert [p.key for p in notes] == [f"return_to_refund:{goods.return_id}:erp"]
    assert status.systems["erp"].reference == notes[0].external_id
    assert (await on_hand(world, STORE, {bonus}))[bonus] == before[bonus] + 1
    reversed_rows = [
        r for r in await loyalty.ledger(earned.member_id) if r.return_id == goods.return_id
    ]
    assert -sum(r.points for r in reversed_rows) == earned.points


async def test_a_crm_outage_does_not_undo_a_refund_but_raises_an_alert(
    world: World, hub: Hub
) -> None:
    member = world.members()[7]
    plain = world.plain_skus()[7]
    sale = store_sale(world, "POS-AMS01-T8-SALE", member, [(plain, 1)])
    goods = store_return(world, "POS-AMS01-T8-RET", sale, [("1", 1)])
    await set_faults(world, "hubspot", {"error_rate": 1.0})
    try:
        await hub.bus.publish([order_event(sale), received_event(goods)])
        status = (await wait_for(hub.bus, [goods.return_id], settled(ReturnState.REFUNDED)))[
            goods.return_id
        ]
    finally:
        await set_faults(world, "hubspot", None)
    assert status.outcome("erp") is Outcome.DONE
    assert status.outcome("stock") is Outcome.DONE
    assert status.outcome("crm") is Outcome.FAILED
    assert status.reason is not None
    assert status.reason.startswith("refunded; CRM case not closed")
    async with hub.bus.transaction() as transaction:
        alerts = await open_alerts(transaction, "return_to_refund.crm")
    assert [a.alert.key for a in alerts] == [goods.return_id]
    refunded = await hub.bus.tail(types=["retail.return.refunded.v1"])
    assert goods.return_id in [e.event.subject for e in refunded]
