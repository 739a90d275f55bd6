"""`retailhub promotions status|drift` on the hub's bus file and the sandbox estate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retailhub.bus.sqlite import SqliteBus
from retailhub.cli import promotions as cli

from .helpers import World, edit_earning_rule, promotion, publish_and_wait

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def promotions(world: World, home: Path, *args: str) -> Result:
    """Run the command in a thread (it runs its own event loop) on the test's hub and estate."""
    env = {"RETAILHUB_HOME": str(home), "RETAILHUB_ESTATE": str(world.estate_file)}
    return await asyncio.to_thread(CliRunner().invoke, cli.app, list(args), env=env)


async def test_status_shows_each_system_and_json_carries_the_same(
    world: World, hub: SqliteBus, tmp_path: Path
) -> None:
    await publish_and_wait(
        hub, promotion("CLI-5", world.skus(90, 2), {"type": "percent_off", "percent": "5"})
    )

    shown = await promotions(world, tmp_path, "status", "CLI-5")
    as_json = await promotions(world, tmp_path, "status", "CLI-5", "--json")

    assert shown.exit_code == 0, shown.output
    assert "CLI-5 v1 published" in shown.stdout
    assert "accuracy 100.0 %" in shown.stdout
    assert "shopify" in shown.stdout
    assert as_json.exit_code == 0, as_json.output
    status = json.loads(as_json.stdout)
    assert status["latest"]["state"] == "published"
    assert {c["target"]: c["state"] for c in status["latest"]["channels"]} == {
        "commerce": "published",
        "pos": "published",
    }
    assert status["versions"] == [{"version": 1, "state": "published"}]


async def test_drift_reads_back_now_and_names_the_field(
    world: World, hub: SqliteBus, tmp_path: Path
) -> None:
    view = await publish_and_wait(
        hub, promotion("CLI-BONUS", world.skus(95, 1), {"type": "bonus_points", "points": 25})
    )
    rule_id = {c.target: c.external_id for c in view.latest.channels}["loyalty"]
    assert rule_id is not None
    await edit_earning_rule(world, rule_id, name="Renamed in the back office")

    result = await promotions(world, tmp_path, "drift", "CLI-BONUS", "--json")

    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["live"]["drift"]
    assert row == {
        "target": "loyalty",
        "field": "name",
        "expected": "Test CLI-BONUS",
        "found": "Renamed in the back office",
    }
    await edit_earning_rule(world, rule_id, name="Test CLI-BONUS")


async def test_unknown_or_never_live_promotions_exit_1_with_the_reason(
    world: World, hub: SqliteBus, tmp_path: Path
) -> None:
    await publish_and_wait(
        hub, promotion("CLI-FREE", world.skus(97, 1), {"type": "percent_off", "percent": "100"})
    )

    unknown = await promotions(world, tmp_path, "status", "NO-SUCH-PROMO")
    never_live = await promotions(world, tmp_path, "drift", "CLI-FREE")

    assert unknown.exit_code == 1
    assert "knows no promotion 'NO-SUCH-PROMO'" in unknown.stderr
    assert never_live.exit_code == 1
    assert "no version of 'CLI-FREE' is live (latest: v1 rejected)" in never_live.stderr
