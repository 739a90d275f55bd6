"""The workflow runtime: settings, one start per id, recovery at launch, a pinned version."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from dbos import DBOS

from retailhub.canonical.cloudevents import new_event
from retailhub.config import Settings
from retailhub.flows.sagas import (
    WorkflowRuntime,
    WorkflowRuntimeError,
    WorkflowSettings,
    event_workflow_id,
    workflow_id,
)
from retailhub.flows.sagas.runtime import WORKFLOW_VERSION

from .conftest import WAIT

RUNS: list[str] = []
GATE: dict[str, asyncio.Event] = {}


async def record_run(label: str) -> str:
    RUNS.append(label)
    return label


@DBOS.workflow(name="tests.sagas.count_runs")
async def count_runs(label: str) -> str:
    """One step that counts how often the workflow's body really ran."""
    return await DBOS.run_step_async({"name": "record"}, record_run, label)


async def wait_for_gate(label: str) -> str:
    gate = GATE.get(label)
    if gate is not None:
        await gate.wait()
    RUNS.append(label)
    return label


@DBOS.workflow(name="tests.sagas.held_at_gate")
async def held_at_gate(label: str) -> str:
    """A step that waits for the test to open its gate (or for shutdown to cancel it)."""
    await DBOS.run_step_async({"name": "before"}, record_run, f"{label}:before")
    return await DBOS.run_step_async({"name": "gate"}, wait_for_gate, label)


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    RUNS.clear()
    GATE.clear()


def test_embedded_settings_put_the_file_under_home(tmp_path: Path) -> None:
    settings = WorkflowSettings.from_settings(
        Settings(home=tmp_path, bus="sqlite", database_url=None, nats_url=None), environ={}
    )
    assert settings.sqlite_path == tmp_path / "workflows.sqlite"
    assert settings.application_version == WORKFLOW_VERSION
    assert settings.executor_id == "local"


def test_postgres_and_environment_overrides(tmp_path: Path) -> None:
    url = "postgresql://hub@db/retailhub"
    settings = WorkflowSettings.from_settings(
        Settings(home=tmp_path, bus="postgres", database_url=url, nats_url=None),
        environ={"RETAILHUB_WORKFLOW_VERSION": "v7", "RETAILHUB_EXECUTOR_ID": "worker-2"},
    )
    assert (settings.system_database_url, settings.sqlite_path) == (url, None)
    assert (settings.application_version, settings.executor_id) == ("v7", "worker-2")


def test_workflow_ids_come_from_the_event() -> None:
    event = new_event("retail.return.requested.v1", "/pos/store-12", {}, id="e-1")
    assert event_workflow_id("return_to_refund", event) == "return_to_refund:/pos/store-12:e-1"
    assert workflow_id("promotion_publishing", "PROMO-9:v3") == "promotion_publishing:PROMO-9:v3"
    with pytest.raises(ValueError, match="workflow id"):
        workflow_id("bad:name", "k")
    with pytest.raises(ValueError, match="workflow id"):
        workflow_id("name", " ")


async def test_the_same_id_started_twice_runs_once(runtime: WorkflowRuntime) -> None:
    first = await runtime.start_once("count:e-1", count_runs, "first")
    second = await runtime.start_once("count:e-1", count_runs, "second")

    assert await asyncio.wait_for(first.get_result(), WAIT) == "first"
    assert await asyncio.wait_for(second.get_result(), WAIT) == "first"
    third = await runtime.start_once("count:e-1", count_runs, "third")
    assert await asyncio.wait_for(third.get_result(), WAIT) == "first"
    assert RUNS == ["first"]
    status = await runtime.status("count:e-1")
    assert status is not None
    assert (status.status, status.app_version) == ("SUCCESS", WORKFLOW_VERSION)
    assert await runtime.status("count:never") is None


async def test_one_runtime_per_process(
    runtime: WorkflowRuntime, settings: WorkflowSettings
) -> None:
    with pytest.raises(WorkflowRuntimeError, match="already launched"):
        await WorkflowRuntime(settings).launch()


async def test_a_closed_runtime_starts_nothing(settings: WorkflowSettings) -> None:
    runtime = WorkflowRuntime(settings)
    with pytest.raises(WorkflowRuntimeError, match="not launched"):
        await runtime.start_once("count:e-2", count_runs, "x")
    async with runtime:
        assert runtime.launched
    assert not runtime.launched
    with pytest.raises(WorkflowRuntimeError, match="not launched"):
        await runtime.start_once("count:e-2", count_runs, "x")
    await runtime.shutdown()


async def test_a_workflow_cut_off_by_shutdown_resumes_at_the_next_launch(
    settings: WorkflowSettings,
) -> None:
    GATE["held"] = asyncio.Event()
    async with WorkflowRuntime(settings) as runtime:
        await runtime.start_once("held:e-3", held_at_gate, "held")
        for _ in range(int(WAIT / 0.01)):
            if RUNS:
                break
            await asyncio.sleep(0.01)
        assert RUNS == ["held:before"]
        await runtime.shutdown(grace=0.05)

    GATE.clear()
    async with WorkflowRuntime(settings) as runtime:
        assert await runtime.result("held:e-3", timeout=WAIT) == "held"
    assert RUNS == ["held:before", "held"]
    assert await asyncio.to_thread(lambda: "the loop still runs threads") == (
        "the loop still runs threads"
    )


async def test_another_version_does_not_recover_and_says_so(settings: WorkflowSettings) -> None:
    GATE["old"] = asyncio.Event()
    async with WorkflowRuntime(settings) as runtime:
        await runtime.start_once("held:e-4", held_at_gate, "old")
        for _ in range(int(WAIT / 0.01)):
            if RUNS:
                break
            await asyncio.sleep(0.01)
        await runtime.shutdown(grace=0.05)

    GATE.clear()
    upgraded = WorkflowSettings(
        settings.system_database_url,
        application_version="retailhub-workflows-2",
        notification_poll_interval=settings.notification_poll_interval,
    )
    async with WorkflowRuntime(upgraded) as runtime:
        stranded = await runtime.stranded_workflows()
        assert [(s.workflow_id, s.app_version) for s in stranded] == [
            ("held:e-4", WORKFLOW_VERSION)
        ]
        status = await runtime.status("held:e-4")
        assert status is not None
        assert status.status == "PENDING"
    assert RUNS == ["old:before"]
