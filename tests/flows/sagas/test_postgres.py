"""The same runtime and sagas on PostgreSQL, the scale-out system database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bus.postgres_fixtures import throwaway_database
from retailhub.flows.sagas import (
    Saga,
    SagaStatus,
    SagaSteps,
    WorkflowRuntime,
    WorkflowSettings,
    register_saga,
    start_saga,
)

from .conftest import QUICK, WAIT, RecordingAlerts

pytestmark = pytest.mark.services


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from throwaway_database()


async def test_a_saga_runs_once_on_postgres(postgres_url: str, alerts: RecordingAlerts) -> None:
    applied: list[str] = []

    async def apply(what: str) -> str:
        applied.append(what)
        return what

    async def undo(what: str) -> None:
        applied.append(f"undo {what}")

    async def publish(steps: SagaSteps, promotion: str) -> str:
        await steps.step("shopify", lambda: apply(f"shopify:{promotion}"), compensate=undo)
        await steps.step("pos_feed", lambda: apply(f"pos:{promotion}"), compensate=undo)
        raise RuntimeError("loyalty refused the earning rule")

    saga = Saga("pg_promotion", publish, alerts, step_retry=QUICK, compensation_retry=QUICK)
    register_saga(saga)
    settings = WorkflowSettings(postgres_url, notification_poll_interval=0.05)
    async with WorkflowRuntime(settings) as runtime:
        first = await start_saga(runtime, saga, "PROMO-1:v2", "PROMO-1")
        second = await start_saga(runtime, saga, "PROMO-1:v2", "PROMO-1")
        outcome = await asyncio.wait_for(first.get_result(), WAIT)
        assert await asyncio.wait_for(second.get_result(), WAIT) == outcome

    assert outcome.status is SagaStatus.COMPENSATED
    assert applied == ["shopify:PROMO-1", "pos:PROMO-1", "undo pos:PROMO-1", "undo shopify:PROMO-1"]
    assert [a.workflow_id for a in alerts.alerts] == ["pg_promotion:PROMO-1:v2"]
