"""Reconciliation as a durable workflow on a real DBOS (SQLite, a home per test): on demand with
repairs, and the daily DBOS schedule, fired now, reconciling the day before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from dbos import DBOS

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.returns import ReturnStatus
from retailhub.flows.alerts import BusAlertSink, open_alerts
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.reconciliation import (
    DiscrepancyKind,
    Reconciliation,
    ReconciliationRun,
    open_findings,
    start_reconciliation,
    trigger_schedule,
)
from retailhub.flows.returns import register_return_to_refund, subscribe_return_to_refund
from retailhub.flows.sagas import WorkflowRuntime, WorkflowSettings

from .helpers import (
    World,
    cleared,
    drained,
    eventually,
    members,
    refund_of,
    set_faults,
    start_flows,
    web_order,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def runtime(tmp_path: Path) -> AsyncIterator[WorkflowRuntime]:
    """DBOS launched on a SQLite file of this test's own."""
    settings = WorkflowSettings.embedded(tmp_path / "home", notification_poll_interval=0.02)
    async with WorkflowRuntime(settings) as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module")
async def flows(bus: SqliteBus, world: World, runtime: WorkflowRuntime) -> Reconciliation:
    """Order-to-cash and reconciliation on the bus, the schedule applied in DBOS."""
    return await start_flows(bus, world, runtime)


def sku(world: World, n: int) -> str:
    found = world.estate.products[n].sku
    assert found is not None
    return found


async def test_an_on_demand_workflow_finds_repairs_and_a_rerun_is_clean(
    bus: SqliteBus, world: World, runtime: WorkflowRuntime, flows: Reconciliation
) -> None:
    day = world.day(30)
    order = web_order(world, "REC-WF-DEAD-1", day, None, [sku(world, 200)])
    await set_faults(world, "odoo", {"down": True})
    try:
        await bus.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
        await drained(bus, dead_allowed=True)
    finally:
        await cleared(world, "odoo")

    handle = await start_reconciliation(runtime, day, repair=True)
    run: ReconciliationRun = await handle.get_result()
    assert [(d.kind, d.key) for d in run.report.discrepancies] == [
        (DiscrepancyKind.ORDER_WITHOUT_POSTING, order.order_id)
    ]
    assert [r.done for r in run.repairs] == [True]
    assert handle.get_workflow_id().startswith(f"reconciliation:{day.isoformat()}:all:")
    async with bus.transaction() as transaction:
        [alert] = await open_alerts(transaction, "reconciliation.")
        [finding] = await open_findings(transaction, day)
    assert alert.alert.key == order.order_id
    assert finding.repair_note == run.repairs[0].action

    await drained(bus)
    again: ReconciliationRun = await (await start_reconciliation(runtime, day)).get_result()
    assert again.report.clean
    assert again.repairs == ()
    async with bus.transaction() as transaction:
        assert await open_alerts(transaction, "reconciliation.") == []


async def test_the_daily_schedule_reconciles_the_day_before(
    bus: SqliteBus, world: World, runtime: WorkflowRuntime, flows: Reconciliation
) -> None:
    settings = flows.settings
    schedule = await DBOS.get_schedule_async(settings.schedule_name)
    assert schedule is not None
    assert schedule["schedule"] == settings.schedule
    assert schedule["cron_timezone"] == settings.timezone
    yesterday = datetime.now(settings.zone).date() - timedelta(days=1)
    stray = web_order(world, "REC-WF-STRAY-1", yesterday, None, [sku(world, 201)])
    await world.connectors.erps["odoo"].post_sale_order(stray, "REC-WF-MANUAL-1")

    workflow = await trigger_schedule(flows)
    assert await runtime.result(workflow, timeout=30) is None
    async with bus.transaction() as transaction:
        found = await open_findings(transaction, yesterday)
    keys = {(f.discrepancy.kind, f.discrepancy.key) for f in found}
    assert (DiscrepancyKind.POSTING_WITHOUT_ORDER, "odoo:REC-WF-MANUAL-1") in keys
    assert all(f.discrepancy.business_day == yesterday for f in found)


async def test_a_return_refunded_by_the_return_saga_reconciles_clean(
    bus: SqliteBus, world: World, runtime: WorkflowRuntime, flows: Reconciliation
) -> None:
    connectors = world.connectors
    assert connectors.loyalty is not None
    assert connectors.crm is not None
    refunds = register_return_to_refund(
        bus,
        erp=connectors.erps["odoo"],
        loyalty=connectors.loyalty,
        crm=connectors.crm,
        commerce=None,
        alerts=BusAlertSink(bus),
    )
    await subscribe_return_to_refund(bus, runtime, refunds)
    day = world.day(31)
    person = members(world.estate)[70]
    sold = web_order(world, "REC-WF-RET-1", day, person, [sku(world, 202), sku(world, 203)])
    sold = sold.model_copy(update={"channel": Channel.STORE, "location": "AMS01"})
    await bus.publish([to_event(sold, ORDER_CREATED, "/pos/AMS01")])
    await drained(bus)
    back = refund_of(sold, "RET-WF-1", ReturnStatus.RECEIVED).model_copy(
        update={
            "initiated_channel": Channel.STORE,
            "received_channel": Channel.STORE,
            "received_location": "AMS01",
        }
    )
    await bus.publish([to_event(back, "retail.return.received.v1", "/pos/AMS01")])

    async def refunded() -> bool:
        return bool(await bus.tail(key="RET-WF-1", types=["retail.return.refunded.v1"]))

    await eventually(refunded, "the return saga to refund RET-WF-1")
    await drained(bus)
    run: ReconciliationRun = await (await start_reconciliation(runtime, day)).get_result()
    assert run.report.checked.returns == 1
    assert run.report.discrepancies == ()
    assert set(run.report.stores) == {"AMS01"}
