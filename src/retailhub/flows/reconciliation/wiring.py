"""Reconciliation wiring: the hub's record of each day kept by a bus subscription, the
reconciliation registered for its workflows, and its daily schedule in DBOS."""

from __future__ import annotations

from collections.abc import Mapping

from retailhub.bus.port import DEFAULT_RETRY, EventBus, RetryPolicy
from retailhub.connectors.ports import ErpPort, LoyaltyPort
from retailhub.flows.reconciliation.ledger import LEDGER_EVENTS, LEDGER_SUBSCRIPTION, keep_ledger
from retailhub.flows.reconciliation.reconciler import AlertRecorder, Reconciliation
from retailhub.flows.reconciliation.settings import ReconciliationSettings
from retailhub.flows.reconciliation.workflow import register_reconciliation, schedule_reconciliation
from retailhub.flows.sagas.runtime import WorkflowRuntime


async def subscribe_reconciliation(
    bus: EventBus,
    runtime: WorkflowRuntime,
    *,
    erps: Mapping[str, ErpPort],
    loyalty: LoyaltyPort,
    alerts: AlertRecorder,
    erp: ErpPort | None = None,
    settings: ReconciliationSettings | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: int = 16,
) -> Reconciliation:
    """Create the tables, run `reconciliation.ledger` here (from the start of the retained log),
    register the reconciliation for its workflows and apply the daily schedule.

    `erps` are the estate's ERPs by name, without a shadow ERP (its copies are not bookings);
    `erp` is the routed ERP a credit note repair posts through (the only ERP when omitted and
    there is one). Returns the reconciliation, to run or repair on demand.
    """
    reconciliation = Reconciliation(
        bus, erps=erps, loyalty=loyalty, alerts=alerts, erp=erp, settings=settings
    )
    await reconciliation.create_tables()
    await bus.subscribe(
        LEDGER_SUBSCRIPTION,
        LEDGER_EVENTS,
        keep_ledger(reconciliation.settings),
        retry=retry,
        concurrency=concurrency,
        from_position=0,
    )
    register_reconciliation(reconciliation)
    if runtime.launched:
        await schedule_reconciliation(reconciliation)
    return reconciliation
