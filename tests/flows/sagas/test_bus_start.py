"""A saga started from a bus subscription runs once per event, however often it is delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from dbos import DBOS

from retailhub.bus.port import HandlerContext
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.flows.sagas import (
    Saga,
    SagaStatus,
    SagaSteps,
    WorkflowRuntime,
    event_key,
    event_workflow_id,
    register_saga,
    start_saga,
)

from .conftest import QUICK, WAIT, RecordingAlerts


async def eventually(condition: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    for _ in range(int(WAIT / 0.01)):
        met = condition()
        if await met if isinstance(met, Awaitable) else met:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def test_redelivery_and_replay_start_one_workflow(
    tmp_path: Path, runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    credit_notes: list[str] = []
    deliveries: list[str] = []

    async def post_credit_note(return_id: str) -> str:
        credit_notes.append(return_id)
        return f"CN-{return_id}"

    async def refund(steps: SagaSteps, return_id: str) -> str:
        return await steps.step("erp_credit_note", lambda: post_credit_note(return_id))

    saga = Saga("bus_refund", refund, alerts, step_retry=QUICK)
    register_saga(saga)

    async def start_refund(event: CloudEvent, context: HandlerContext) -> None:
        deliveries.append(event.id)
        await start_saga(runtime, saga, event_key(event), event.data["return_id"])

    returned = new_event(
        "retail.return.received.v1", "/pos/store-12", {"return_id": "R-9"}, subject="R-9"
    )
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        await bus.subscribe("return_to_refund", ["retail.return.*"], start_refund)
        first = await bus.publish_one(returned)
        assert await bus.publish_one(returned) == first
        await eventually(lambda: len(deliveries) == 1, "the event is delivered")

        async def handled() -> bool:
            return (await bus.status("return_to_refund")).cursor >= first

        await eventually(handled, "the delivery is committed")
        plan = await bus.replay("return_to_refund", from_position=first)
        assert plan.positions == (first,)
        await eventually(lambda: len(deliveries) == 2, "the event is delivered again")

    wid = event_workflow_id("bus_refund", returned)
    outcome = await runtime.result(wid, timeout=WAIT)
    assert (outcome.status, outcome.result) == (SagaStatus.COMPLETED, "CN-R-9")
    workflows = await DBOS.list_workflows_async(workflow_id_prefix="bus_refund:")
    assert [w.workflow_id for w in workflows] == [wid]
    assert credit_notes == ["R-9"]


async def test_a_saga_started_from_a_handler_may_open_hub_transactions(
    tmp_path: Path, runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:

        async def record_refund(return_id: str) -> str:
            async with bus.transaction() as transaction:
                await transaction.execute("CREATE TABLE IF NOT EXISTS refunds (id TEXT)")
                await transaction.execute("INSERT INTO refunds VALUES (?)", (return_id,))
            return return_id

        async def refund(steps: SagaSteps, return_id: str) -> str:
            return await steps.step("record", lambda: record_refund(return_id))

        saga = Saga("handler_refund", refund, alerts, step_retry=QUICK)
        register_saga(saga)
        started: list[str] = []

        async def start_refund(event: CloudEvent, context: HandlerContext) -> None:
            handle = await start_saga(runtime, saga, event_key(event), event.data["return_id"])
            started.append(handle.get_workflow_id())

        returned = new_event(
            "retail.return.received.v1", "/pos/store-12", {"return_id": "R-10"}, subject="R-10"
        )
        await bus.subscribe("handler_refund", ["retail.return.*"], start_refund)
        await bus.publish_one(returned)
        await eventually(lambda: len(started) == 1, "the saga is started")
        outcome = await runtime.result(started[0], timeout=WAIT)
        assert (outcome.status, outcome.result) == (SagaStatus.COMPLETED, "R-10")
        async with bus.transaction() as transaction:
            assert await transaction.fetch_all("SELECT id FROM refunds") == [("R-10",)]
