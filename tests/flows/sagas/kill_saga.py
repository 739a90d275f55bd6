"""One process of the kill tests: a three-step saga whose every effect is a row in SQLite.

`block` starts the saga and holds it (after touching the `started` file) until the test kills
the process: in its second step (scenario `forward`), or, with the third step refused, in the
compensation of the second (scenario `compensation`). `resume` only launches on the same
workflow file, so the saga can finish only through DBOS's recovery at launch; it waits for the
outcome, then starts the saga again as a redelivered event would and checks that this returns
the same outcome.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from retailhub.flows.sagas import (
    Saga,
    SagaAlert,
    SagaSteps,
    StepRetry,
    WorkflowRuntime,
    WorkflowSettings,
    register_saga,
    start_saga,
)

HOLD_SECONDS = 60.0


def record(effects: Path, workflow_id: str, step: str) -> str:
    """Apply one effect: a row per call, so a step applied twice shows as two rows."""
    with closing(sqlite3.connect(effects)) as connection, connection:
        connection.execute("CREATE TABLE IF NOT EXISTS effect (workflow_id TEXT, step TEXT)")
        connection.execute("INSERT INTO effect VALUES (?, ?)", (workflow_id, step))
    return step


class RecordedAlerts:
    """Alerts are effects too: one row each."""

    def __init__(self, effects: Path) -> None:
        self.effects = effects

    async def raise_alert(self, alert: SagaAlert) -> None:
        record(self.effects, alert.workflow_id, f"alert {alert.status.value}")


def build_saga(effects: Path, scenario: str, hold: Path | None) -> Saga[str, str]:
    async def held() -> None:
        if hold is not None:
            hold.touch()
            await asyncio.sleep(HOLD_SECONDS)

    async def effect(steps: SagaSteps, step: str) -> str:
        if step == "loyalty_reversal" and scenario == "forward":
            await held()
        if step == "crm_ticket" and scenario == "compensation":
            raise PermissionError("the CRM refused the ticket")
        return record(effects, steps.workflow_id, step)

    async def undo(step: str) -> None:
        if step == "loyalty_reversal" and scenario == "compensation":
            await held()
        record(effects, "undo", f"undo {step}")

    async def body(steps: SagaSteps, return_id: str) -> str:
        note = await steps.step(
            "erp_credit_note", lambda: effect(steps, "erp_credit_note"), compensate=undo
        )
        await steps.step(
            "loyalty_reversal", lambda: effect(steps, "loyalty_reversal"), compensate=undo
        )
        await steps.step("crm_ticket", lambda: effect(steps, "crm_ticket"))
        return note

    no_retry = StepRetry(max_attempts=1)
    return Saga(
        "kill_refund",
        body,
        RecordedAlerts(effects),
        step_retry=no_retry,
        compensation_retry=no_retry,
    )


async def main(mode: str, scenario: str, home: Path, effects: Path, started: Path) -> None:
    saga = build_saga(effects, scenario, started if mode == "block" else None)
    register_saga(saga)
    settings = WorkflowSettings.embedded(home, notification_poll_interval=0.05)
    async with WorkflowRuntime(settings) as runtime:
        if mode == "block":
            handle = await start_saga(runtime, saga, "R-100", "R-100")
            await asyncio.wait_for(handle.get_result(), HOLD_SECONDS)
            return
        outcome = await runtime.result(saga.workflow_id("R-100"), timeout=HOLD_SECONDS)
        redelivered = await start_saga(runtime, saga, "R-100", "R-100")
        again = await asyncio.wait_for(redelivered.get_result(), HOLD_SECONDS)
        print(outcome.status.value, again == outcome)


if __name__ == "__main__":
    mode, scenario, home, effects, started = sys.argv[1:6]
    asyncio.run(main(mode, scenario, Path(home), Path(effects), Path(started)))
