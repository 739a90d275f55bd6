"""Reconciliation as a durable workflow on DBOS: started on demand for a day (and store), and
every day by a DBOS schedule for the day before.

The workflow is two coarse steps — `compare` (read the hub's record, ask the ERPs and the
loyalty platform) and `record` (discrepancies, resolutions, alerts) — plus one `repair` step per
discrepancy the hub can re-drive when asked. A crash between steps resumes after the last
checkpoint: a compared day is not asked for again, and recording is idempotent per kind and key.

Like the sagas, the workflows are registered with DBOS at import and find their ports in this
process's registry (`register_reconciliation`, done by `subscribe_reconciliation`); a workflow
recovered before the registration waits for it rather than failing for good.

The schedule is a DBOS schedule (`DBOS.apply_schedules`, kept in DBOS's system database, fired
once per cron tick whichever process fires it): its workflow id is DBOS's
`sched-<name>-<tick>`, so a tick runs once across restarts and processes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from dbos import DBOS, StepOptions, WorkflowHandleAsync

from retailhub.flows.reconciliation.discrepancies import ReconciliationReport
from retailhub.flows.reconciliation.reconciler import Reconciliation
from retailhub.flows.reconciliation.repair import RepairOutcome
from retailhub.flows.sagas.runtime import WorkflowRuntime, workflow_id

RECONCILIATION_WORKFLOW = "retailhub.reconciliation"
SCHEDULED_WORKFLOW = "retailhub.reconciliation.scheduled"
WORKFLOW_NAME = "reconciliation"
REGISTRATION_WAIT = 3600.0
REGISTRATION_POLL = 5.0
ALL_STORES = "all"

_log = structlog.get_logger(__name__)
_registered: Reconciliation | None = None


@dataclass(frozen=True)
class ReconciliationRun:
    """A finished run: its report and, when repairs were asked for, what each did."""

    report: ReconciliationReport
    repairs: tuple[RepairOutcome, ...] = ()


def register_reconciliation(reconciliation: Reconciliation) -> None:
    """Make the workflows run (and recover) with these ports in this process."""
    global _registered
    _registered = reconciliation


async def _registration() -> Reconciliation:
    """The registered reconciliation, waiting (cancellably) for a process that registers late."""
    deadline = time.monotonic() + REGISTRATION_WAIT
    while _registered is None and time.monotonic() < deadline:
        _log.warning("a reconciliation was recovered before it was registered; waiting")
        await asyncio.sleep(REGISTRATION_POLL)
    if _registered is None:
        raise LookupError("no reconciliation is registered in this process")
    return _registered


def _step(name: str, attempts: int = 3) -> StepOptions:
    return {
        "name": name,
        "retries_allowed": attempts > 1,
        "max_attempts": attempts,
        "interval_seconds": 2.0,
        "backoff_rate": 2.0,
    }


async def _reconcile(day: date, store: str | None, repair: bool) -> ReconciliationRun:
    """The body both workflows run: compare, record, and repair when asked."""
    reconciliation = await _registration()
    report = await DBOS.run_step_async(_step("compare"), reconciliation.compare, day, store)
    await DBOS.run_step_async(_step("record"), reconciliation.record, report)
    repairs = []
    if repair:
        for discrepancy in report.discrepancies:
            if not discrepancy.needs_operator:
                outcome = await DBOS.run_step_async(
                    _step("repair", attempts=1), reconciliation.repair, discrepancy
                )
                repairs.append(outcome)
    return ReconciliationRun(report, tuple(repairs))


@DBOS.workflow(name=RECONCILIATION_WORKFLOW)
async def reconcile_day(day: str, store: str | None, repair: bool) -> ReconciliationRun:
    """The on-demand workflow: reconcile one business day (ISO date), one store or all."""
    return await _reconcile(date.fromisoformat(day), store, repair)


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
async def reconcile_yesterday(scheduled_at: datetime, context: Any) -> None:
    """The scheduled workflow: reconcile every store's business day before the tick's date."""
    reconciliation = await _registration()
    settings = reconciliation.settings
    day = scheduled_at.astimezone(settings.zone).date() - timedelta(days=1)
    run = await _reconcile(day, None, settings.repair_on_schedule)
    _log.info(
        "scheduled reconciliation finished",
        business_day=day.isoformat(),
        discrepancies=len(run.report.discrepancies),
    )


def run_id(day: date, store: str | None, at: datetime | None = None) -> str:
    """The workflow id of an on-demand run: its day, store and when it was asked for (each
    request is a run of its own, so a re-run after a repair reconciles again)."""
    moment = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return workflow_id(WORKFLOW_NAME, f"{day.isoformat()}:{store or ALL_STORES}:{moment}")


async def start_reconciliation(
    runtime: WorkflowRuntime, day: date, store: str | None = None, *, repair: bool = False
) -> WorkflowHandleAsync[ReconciliationRun]:
    """Start an on-demand run as a durable workflow; await the handle's result for the run."""
    handle: WorkflowHandleAsync[ReconciliationRun] = await runtime.start_once(
        run_id(day, store), reconcile_day, day.isoformat(), store, repair
    )
    return handle


async def schedule_reconciliation(reconciliation: Reconciliation) -> None:
    """Create or update the daily schedule in DBOS (the runtime must be launched)."""
    settings = reconciliation.settings
    await DBOS.apply_schedules_async(
        [
            {
                "schedule_name": settings.schedule_name,
                "workflow_fn": reconcile_yesterday,
                "schedule": settings.schedule,
                "cron_timezone": settings.timezone,
                "automatic_backfill": True,
            }
        ]
    )


async def trigger_schedule(reconciliation: Reconciliation) -> str:
    """Fire the daily schedule now (an operator's catch-up); returns the run's workflow id."""
    name = reconciliation.settings.schedule_name
    handle = await asyncio.to_thread(DBOS.trigger_schedule, name)
    return handle.get_workflow_id()
