"""Durable workflows and sagas on DBOS Transact, for the flows that need compensation.

`runtime` launches DBOS in the hub's process and starts each workflow once per business event;
`saga` runs coarse steps with compensations and alerts. Return-to-refund, promotion publishing
and reconciliation are built on them; high-volume synchronisation stays on the bus.
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
