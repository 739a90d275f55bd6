"""Durable workflows and sagas on DBOS Transact, for the flows that need compensation.

`runtime` launches DBOS in the hub's process and starts each workflow once per business event;
`saga` runs coarse steps with compensations and alerts. Return-to-refund, promotion publishing
and reconciliation are built on them; high-volume synchronisation stays on the bus. Wiring, in
the composition root (docs/decisions/0006-durable-workflows-dbos.md says why):

    refund = Saga("return_to_refund", body_using(erp, loyalty, crm), alerts=alert_sink)
    register_saga(refund)                                   # every saga, before launch
    async with WorkflowRuntime(WorkflowSettings.from_settings(settings)) as runtime:

        async def start_refund(event: CloudEvent, context: HandlerContext) -> None:
            await start_saga(runtime, refund, event_key(event), event.data)

        await bus.subscribe("return_to_refund", ["retail.return.received.v1"], start_refund)
"""

from retailhub.flows.sagas.runtime import (
    WorkflowRuntime,
    WorkflowRuntimeError,
    WorkflowSettings,
    event_key,
    event_workflow_id,
    workflow_id,
)
from retailhub.flows.sagas.saga import (
    AlertSink,
    Saga,
    SagaAlert,
    SagaOutcome,
    SagaStatus,
    SagaSteps,
    StepRetry,
    register_saga,
    start_saga,
)

__all__ = [
    "AlertSink",
    "Saga",
    "SagaAlert",
    "SagaOutcome",
    "SagaStatus",
    "SagaSteps",
    "StepRetry",
    "WorkflowRuntime",
    "WorkflowRuntimeError",
    "WorkflowSettings",
    "event_key",
    "event_workflow_id",
    "register_saga",
    "start_saga",
    "workflow_id",
]
