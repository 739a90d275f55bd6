"""Alerts are recorded once per kind and key, reopen when raised again, and resolve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from retailhub.bus.sqlite import SqliteBus
from retailhub.flows.alerts import Alert, BusAlertSink, open_alerts, record_alert, resolve_alert
from retailhub.flows.sagas import SagaAlert, SagaStatus


@pytest_asyncio.fixture
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """A real embedded bus in a fresh folder."""
    async with SqliteBus(tmp_path / "hub.sqlite") as opened:
        yield opened


async def test_an_alert_raised_twice_is_one_alert_raised_twice(bus: SqliteBus) -> None:
    alert = Alert("reconciliation.amount_mismatch", "S001/2026-11-27/O-1", "amounts differ")
    async with bus.transaction() as t:
        await record_alert(t, alert)
    async with bus.transaction() as t:
        await record_alert(t, alert)
        found = await open_alerts(t)
    assert [(a.alert, a.times_raised) for a in found] == [(alert, 2)]


async def test_a_resolved_alert_leaves_the_open_list_and_reopens_when_raised_again(
    bus: SqliteBus,
) -> None:
    alert = Alert("return_to_refund", "R-9", "credit note failed", needs_operator=True)
    async with bus.transaction() as t:
        await record_alert(t, alert)
        assert await resolve_alert(t, alert.kind, alert.key)
        assert not await resolve_alert(t, alert.kind, alert.key)
        assert await open_alerts(t) == []
        await record_alert(t, alert)
        assert [a.alert.key for a in await open_alerts(t, "return")] == ["R-9"]
        assert await open_alerts(t, "reconciliation") == []


async def test_saga_alerts_name_the_step_and_what_is_left(bus: SqliteBus) -> None:
    sink = BusAlertSink(bus)
    await sink.raise_alert(
        SagaAlert(
            "return_to_refund",
            "return_to_refund:R-1",
            SagaStatus.COMPENSATION_FAILED,
            "restock",
            "ERP down",
            ("loyalty_reversal",),
            ("erp_credit_note",),
        )
    )
    async with bus.transaction() as t:
        (recorded,) = await open_alerts(t)
    assert recorded.alert.kind == "return_to_refund"
    assert recorded.alert.needs_operator
    assert "restock" in recorded.alert.summary
    assert "ERP down" in recorded.alert.summary
    assert "left for an operator: erp_credit_note" in recorded.alert.detail
