"""The DBOS cost measurement runs end to end (its figures belong in docs, not in assertions)."""

from __future__ import annotations

from retailhub.flows.sagas import WorkflowRuntime
from retailhub.flows.sagas.benchmark import measure


async def test_measure_reports_every_figure(runtime: WorkflowRuntime) -> None:
    cost = await measure(runtime, steps=10, starts=3, concurrent=4)

    assert (cost.steps, cost.starts, cost.system_database) == (10, 3, "sqlite (NORMAL)")
    assert min(cost.step_ms_p50, cost.start_ms_p50, cost.one_step_workflow_ms_p50) > 0
    assert cost.step_ms_p90 >= cost.step_ms_p50
    assert cost.six_step_workflows_per_s > 0
