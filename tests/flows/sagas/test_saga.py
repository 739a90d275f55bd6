"""Sagas on a real DBOS: steps complete, or the done ones are undone in reverse and alerted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from dbos import error as dbos_error

from retailhub.flows.sagas import (
    Saga,
    SagaOutcome,
    SagaStatus,
    SagaSteps,
    StepRetry,
    WorkflowRuntime,
    WorkflowSettings,
    register_saga,
    start_saga,
)
from retailhub.flows.sagas import saga as saga_module

from .conftest import QUICK, WAIT, RecordingAlerts

R = TypeVar("R")


class Refused(Exception):
    """A refusal that retrying cannot change."""


class Ledger:
    """The effects the saga's steps had on the outside world, in order."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self.attempts: dict[str, int] = {}

    async def do(self, what: str, *, fail_times: int = 0, error: Exception | None = None) -> str:
        self.attempts[what] = self.attempts.get(what, 0) + 1
        if error is not None or self.attempts[what] <= fail_times:
            raise error or ConnectionError(f"{what} timed out")
        self.entries.append(what)
        return f"{what}-ref"


def return_saga(
    name: str,
    ledger: Ledger,
    alerts: RecordingAlerts,
    *,
    third: Exception | None = None,
    failing_undo: str | None = None,
) -> Saga[str, str]:
    """Credit note, points reversal, restock: three coarse steps, the first two undoable."""

    async def undo(reference: str) -> None:
        if reference.startswith(failing_undo or "-"):
            raise ConnectionError(f"cannot undo {reference}")
        ledger.entries.append(f"undo {reference}")

    async def body(steps: SagaSteps, return_id: str) -> str:
        note = await steps.step(
            "erp_credit_note", lambda: ledger.do(f"credit:{return_id}"), compensate=undo
        )
        await steps.step(
            "loyalty_reversal", lambda: ledger.do(f"points:{return_id}"), compensate=undo
        )
        if third is not None:
            await steps.step("restock", lambda: ledger.do("restock", error=third))
        return note

    saga = Saga(name, body, alerts, step_retry=QUICK, compensation_retry=QUICK)
    register_saga(saga)
    return saga


async def outcome_of(runtime: WorkflowRuntime, saga: Saga[str, R], key: str) -> SagaOutcome[R]:
    handle = await start_saga(runtime, saga, key, key)
    return await asyncio.wait_for(handle.get_result(), WAIT)


async def test_two_steps_complete(runtime: WorkflowRuntime, alerts: RecordingAlerts) -> None:
    ledger = Ledger()
    saga = return_saga("refund_ok", ledger, alerts)

    outcome = await outcome_of(runtime, saga, "R1")

    assert outcome.status is SagaStatus.COMPLETED
    assert outcome.result == "credit:R1-ref"
    assert outcome.workflow_id == "refund_ok:R1"
    assert ledger.entries == ["credit:R1", "points:R1"]
    assert alerts.alerts == []


async def test_failing_third_step_compensates_in_reverse_and_alerts(
    runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    ledger = Ledger()
    saga = return_saga("refund_fails", ledger, alerts, third=ConnectionError("WMS down"))

    outcome = await outcome_of(runtime, saga, "R2")

    assert outcome.status is SagaStatus.COMPENSATED
    assert outcome.failed_step == "restock"
    assert "WMS down" in (outcome.reason or "")
    assert outcome.compensated == ("loyalty_reversal", "erp_credit_note")
    assert ledger.entries == [
        "credit:R2",
        "points:R2",
        "undo points:R2-ref",
        "undo credit:R2-ref",
    ]
    assert ledger.attempts["restock"] == QUICK.max_attempts
    (alert,) = alerts.alerts
    assert (alert.workflow_id, alert.failed_step, alert.status) == (
        "refund_fails:R2",
        "restock",
        SagaStatus.COMPENSATED,
    )
    assert not alert.needs_operator


async def test_a_refusal_is_not_retried(runtime: WorkflowRuntime, alerts: RecordingAlerts) -> None:
    ledger = Ledger()
    saga = return_saga("refund_refused", ledger, alerts, third=Refused("more than was bought"))
    saga = Saga(
        saga.name,
        saga.body,
        alerts,
        step_retry=StepRetry(max_attempts=3, interval=0.01, give_up_on=(Refused,)),
        compensation_retry=QUICK,
    )
    register_saga(saga)

    outcome = await outcome_of(runtime, saga, "R3")

    assert outcome.status is SagaStatus.COMPENSATED
    assert ledger.attempts["restock"] == 1
    assert outcome.reason == "restock: Refused: more than was bought"


async def test_a_transient_failure_is_retried_by_dbos(
    runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    ledger = Ledger()

    async def body(steps: SagaSteps, key: str) -> str:
        return await steps.step("erp_credit_note", lambda: ledger.do("credit", fail_times=2))

    saga = Saga("refund_flaky", body, alerts, step_retry=QUICK)
    register_saga(saga)

    outcome = await outcome_of(runtime, saga, "R4")

    assert outcome.status is SagaStatus.COMPLETED
    assert ledger.attempts["credit"] == 3
    assert ledger.entries == ["credit"]


async def test_an_undo_that_fails_is_flagged_for_an_operator(
    runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    ledger = Ledger()
    saga = return_saga(
        "refund_stuck", ledger, alerts, third=ConnectionError("down"), failing_undo="points"
    )

    outcome = await outcome_of(runtime, saga, "R5")

    assert outcome.status is SagaStatus.COMPENSATION_FAILED
    assert outcome.compensated == ("erp_credit_note",)
    assert outcome.not_compensated == ("loyalty_reversal",)
    assert ledger.entries[-1] == "undo credit:R5-ref"
    (alert,) = alerts.alerts
    assert alert.needs_operator


async def test_an_error_in_the_body_compensates_too(
    runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    ledger = Ledger()

    async def undo(reference: str) -> None:
        ledger.entries.append(f"undo {reference}")

    async def body(steps: SagaSteps, key: str) -> str:
        await steps.step("erp_credit_note", lambda: ledger.do("credit"), compensate=undo)
        raise ValueError("no store for this return")

    saga = Saga("refund_bug", body, alerts, step_retry=QUICK)
    register_saga(saga)

    outcome = await outcome_of(runtime, saga, "R6")

    assert (outcome.status, outcome.failed_step) == (SagaStatus.COMPENSATED, "body")
    assert ledger.entries == ["credit", "undo credit-ref"]


async def test_reserved_step_names_are_refused(
    runtime: WorkflowRuntime, alerts: RecordingAlerts
) -> None:
    async def body(steps: SagaSteps, key: str) -> None:
        await steps.step("alert", lambda: Ledger().do("x"))

    saga = Saga("refund_reserved", body, alerts, step_retry=QUICK)
    register_saga(saga)

    outcome = await outcome_of(runtime, saga, "R7")

    assert outcome.status is SagaStatus.COMPENSATED
    assert "reserved" in (outcome.reason or "")


def test_step_retry_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StepRetry(max_attempts=0)


async def test_a_saga_recovered_before_it_is_registered_waits_for_a_process_that_has_it(
    settings: WorkflowSettings, alerts: RecordingAlerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    gate = asyncio.Event()

    async def held(what: str) -> str:
        await gate.wait()
        return await ledger.do(what)

    async def body(steps: SagaSteps, key: str) -> str:
        await steps.step("erp_credit_note", lambda: ledger.do("credit"))
        return await steps.step("loyalty_reversal", lambda: held("points"))

    saga = Saga("refund_orphan", body, alerts, step_retry=QUICK)
    register_saga(saga)
    async with WorkflowRuntime(settings) as runtime:
        await start_saga(runtime, saga, "R8", "R8")
        await eventually(lambda: ledger.entries == ["credit"], "the first step is done")
        await runtime.shutdown(grace=0.05)

    monkeypatch.delitem(saga_module._SAGAS, "refund_orphan")
    async with WorkflowRuntime(settings) as runtime:
        await eventually_async(
            lambda: recovered_once(runtime, "refund_orphan:R8"), "recovery tried the saga"
        )
        await runtime.shutdown(grace=0.05)

    gate.set()
    register_saga(saga)
    async with WorkflowRuntime(settings) as runtime:
        outcome = await runtime.result("refund_orphan:R8", timeout=WAIT)
    assert outcome.status is SagaStatus.COMPLETED
    assert ledger.entries == ["credit", "points"]


async def recovered_once(runtime: WorkflowRuntime, workflow_id: str) -> bool:
    status = await runtime.status(workflow_id)
    return status is not None and status.status == "PENDING" and (status.recovery_attempts or 0) > 1


async def eventually(condition: Callable[[], bool], what: str) -> None:
    await eventually_async(lambda: asyncio.sleep(0, condition()), what)


async def eventually_async(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(int(WAIT / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def test_a_live_saga_whose_steps_changed_fails_without_compensating(
    settings: WorkflowSettings, alerts: RecordingAlerts
) -> None:
    ledger = Ledger()
    gate = asyncio.Event()

    async def undo(reference: str) -> None:
        ledger.entries.append(f"undo {reference}")

    async def held(what: str) -> str:
        await gate.wait()
        return await ledger.do(what)

    async def before_deploy(steps: SagaSteps, key: str) -> str:
        await steps.step("erp_credit_note", lambda: ledger.do("credit"), compensate=undo)
        return await steps.step("loyalty_reversal", lambda: held("points"))

    async def after_deploy(steps: SagaSteps, key: str) -> str:
        await steps.step("erp_credit_memo", lambda: ledger.do("memo"), compensate=undo)
        return await steps.step("loyalty_reversal", lambda: ledger.do("points"))

    register_saga(Saga("refund_renamed", before_deploy, alerts, step_retry=QUICK))
    async with WorkflowRuntime(settings) as runtime:
        await start_saga(runtime, saga_module.registered_saga("refund_renamed"), "R9", "R9")
        await eventually(lambda: ledger.entries == ["credit"], "the first step is done")
        await runtime.shutdown(grace=0.05)

    register_saga(Saga("refund_renamed", after_deploy, alerts, step_retry=QUICK))
    async with WorkflowRuntime(settings) as runtime:
        with pytest.raises(dbos_error.DBOSUnexpectedStepError):
            await runtime.result("refund_renamed:R9", timeout=WAIT)
    assert ledger.entries == ["credit"]
    assert alerts.alerts == []
