"""A real DBOS on SQLite in a temporary home per test, and fakes for the saga's ports.

DBOS is a process-wide singleton; each test launches its own runtime on its own file and the
fixture shuts it down (DBOS.destroy) before the next test, so no state leaks between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from retailhub.flows.sagas import SagaAlert, StepRetry, WorkflowRuntime, WorkflowSettings

# Retries fast enough for tests; DBOS's own default waits a second between attempts.
QUICK = StepRetry(max_attempts=3, interval=0.01, backoff=1.0)
WAIT = 20.0


class RecordingAlerts:
    """An AlertSink that keeps what it was told."""

    def __init__(self) -> None:
        self.alerts: list[SagaAlert] = []

    async def raise_alert(self, alert: SagaAlert) -> None:
        self.alerts.append(alert)


@pytest.fixture
def alerts() -> RecordingAlerts:
    return RecordingAlerts()


@pytest.fixture
def settings(tmp_path: Path) -> WorkflowSettings:
    return WorkflowSettings.embedded(tmp_path / "home", notification_poll_interval=0.02)


@pytest.fixture
async def runtime(settings: WorkflowSettings) -> AsyncIterator[WorkflowRuntime]:
    async with WorkflowRuntime(settings) as launched:
        yield launched
