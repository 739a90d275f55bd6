"""The promotion projection on both SQL dialects: a version's life as the saga writes it, read
back by the status and summary queries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from retailhub.bus.port import EventBus
from retailhub.bus.postgres import PostgresBus
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.promotion import PromotionStatus
from retailhub.flows.promotions.drift import compare
from retailhub.flows.promotions.store import (
    ChannelState,
    VersionState,
    create_promotion_tables,
    live_promotions,
    promotion_accuracy_summary,
    promotion_status,
    record_channel,
    record_check,
    record_version,
    set_channels_state,
    set_version_state,
)
from services import require_postgres

from .helpers import promotion


@pytest.fixture(params=["sqlite", "postgres"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventBus]:
    """A bus on SQLite, or on PostgreSQL in a schema of its own dropped afterwards."""
    if request.param == "sqlite":
        async with SqliteBus(tmp_path / "hub.sqlite") as opened:
            yield opened
        return
    url = require_postgres()
    schema = f"promo_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresBus(url, schema=schema, pool_size=2) as opened:
            yield opened
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def test_a_version_published_then_superseded_reads_back_whole(bus: EventBus) -> None:
    first = promotion("STORE-1", ["A", "B"], {"type": "percent_off", "percent": "10"})
    second = promotion(
        "STORE-1", ["A"], {"type": "percent_off", "percent": "12"}, version=2
    ).model_copy(update={"status": PromotionStatus.ACTIVE})
    drifted = second.model_copy(update={"name": "Renamed"})
    async with bus.transaction() as t:
        await create_promotion_tables(t)
        for version in (first, second):
            await record_version(
                t,
                version,
                state=VersionState.PUBLISHING,
                skus=version.eligibility.skus,
                targets=("commerce", "pos"),
                reasons=(),
                workflow_id=f"promotion_publishing:{version.key}",
            )
            for target in ("commerce", "pos"):
                await record_channel(
                    t,
                    "STORE-1",
                    version.version,
                    target,
                    system=target,
                    state=ChannelState.PUBLISHED,
                    external_id=f"{target}-{version.version}",
                )
        assert {(p.promotion_id, p.version) for p in await live_promotions(t)} == {
            ("STORE-1", 1),
            ("STORE-1", 2),
        }
        await set_version_state(t, "STORE-1", 1, VersionState.SUPERSEDED)
        await set_channels_state(t, "STORE-1", 1, ChannelState.SUPERSEDED, "superseded by v2")
        checks = [compare("commerce", second, drifted), compare("pos", second, second)]
        await record_check(t, "STORE-1", 2, checks, Decimal("96.5"), datetime.now(UTC))
        await set_version_state(t, "STORE-1", 2, VersionState.PUBLISHED)
        await record_channel(
            t, "STORE-1", 2, "pos", system="pos", state=ChannelState.PUBLISHED, detail="again"
        )

    async with bus.transaction() as t:
        view = await promotion_status(t, "STORE-1")
        summary = await promotion_accuracy_summary(t)
        unknown = await promotion_status(t, "NOPE")

    assert unknown is None
    assert view is not None
    assert view.live == view.latest
    assert [(v, s.value) for v, s in view.versions] == [(2, "published"), (1, "superseded")]
    latest = view.latest
    assert (latest.accuracy, latest.skus, latest.targets) == (
        Decimal("96.5"),
        ("A",),
        ("commerce", "pos"),
    )
    assert [(c.target, c.state, c.external_id) for c in latest.channels] == [
        ("commerce", "published", "commerce-2"),
        ("pos", "published", "pos-2"),
    ]
    assert [(d.target, d.field, d.expected, d.found) for d in latest.drift] == [
        ("commerce", "name", "Test STORE-1", "Renamed")
    ]
    assert view.as_json()["latest"]["channels"][0]["accuracy"] < 100
    assert summary.states == {"published": 1, "superseded": 1}
    (entry,) = summary.promotions
    assert (entry.promotion_id, entry.version, entry.mismatched) == ("STORE-1", 2, 1)
    assert summary.matched == summary.compared - 1


async def test_a_rejected_version_keeps_its_reasons_and_is_not_live(bus: EventBus) -> None:
    refused = promotion("NO-1", ["A"], {"type": "percent_off", "percent": "90"})
    async with bus.transaction() as t:
        await create_promotion_tables(t)
        await record_version(
            t,
            refused,
            state=VersionState.REJECTED,
            skus=["A"],
            targets=("commerce",),
            reasons=["SKU A: below the floor", "SKU A: margin"],
            workflow_id="w",
        )
        assert await live_promotions(t) == []
        view = await promotion_status(t, "NO-1")
    assert view is not None
    assert view.live is None
    assert view.latest.reasons == ("SKU A: below the floor", "SKU A: margin")
