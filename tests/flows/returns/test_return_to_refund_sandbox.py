"""Return-to-refund end to end: returns on a real SqliteBus and a real DBOS runtime reach the
Odoo, Open Loyalty, HubSpot and Shopify emulators over HTTP, once each, or are refused or
compensated with a reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retailhub.flows.alerts import open_alerts
from retailhub.flows.returns import Outcome, ReturnState, ReturnStatusView

from .helpers import (
    STORE,
    Hub,
    World,
    ledger_points,
    on_hand,
    order_event,
    received_event,
    store_return,
    store_sale,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def settled(state: ReturnState) -> Callable[[ReturnStatusView], bool]:
    return lambda status: status.state is state


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
    assert status.outcome("commerce") is Outcome.PENDING
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
