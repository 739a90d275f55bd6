"""`retailhub reconcile` on its own Typer app: the table and JSON over the sandbox estate and the
hub's bus file, the exit codes, and the errors for bad input and an unreachable ERP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from retailhub.bus.port import Selection
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import to_event
from retailhub.cli.reconcile import reconcile
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.reconciliation import Reconciliation

from .helpers import World, cleared, drained, members, set_faults, web_order

pytestmark = pytest.mark.asyncio(loop_scope="module")

app = typer.Typer()
app.command()(reconcile)


@pytest.fixture
def hub_home(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a hub operator has: the hub's home (the bus fixture's folder) and the
    estate file of the running sandbox."""
    monkeypatch.setenv("RETAILHUB_HOME", str(tmp_path))
    monkeypatch.setenv("RETAILHUB_ESTATE", str(world.estate_file))
    monkeypatch.setenv("COLUMNS", "240")
    for name in ("RETAILHUB_BUS", "RETAILHUB_DATABASE_URL", "RETAILHUB_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def sku(world: World, n: int) -> str:
    """The n-th SKU of the estate's catalogue."""
    found = world.estate.products[n].sku
    assert found is not None
    return found


async def invoke(*args: str) -> Result:
    """Run the command in a thread of its own (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_a_bad_date_is_refused_with_exit_2(hub_home: Path) -> None:
    result = await invoke("--date", "2026-13-45")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr
    assert result.stdout == ""
    blank = await invoke("--date", "2026-11-30", "--store", " ")
    assert blank.exit_code == 2
    assert "--store" in blank.stderr


async def test_a_clean_day_prints_none_and_exits_0(
    hub: SqliteBus, world: World, hub_home: Path
) -> None:
    day = world.day(20)
    order = web_order(world, "REC-CLI-CLEAN-1", day, members(world.estate)[60], [sku(world, 100)])
    await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
    await drained(hub)
    result = await invoke("--date", day.isoformat())
    assert result.exit_code == 0, result.stderr
    assert "discrepancies found by reconciliation: none" in result.stdout
    assert "1 orders" in result.stdout


async def test_discrepancies_as_json_exit_1_and_a_repair_clears_them(
    hub: SqliteBus, world: World, run: Reconciliation, hub_home: Path
) -> None:
    day = world.day(21)
    odoo = world.connectors.erps["odoo"]
    order = web_order(world, "REC-CLI-DEAD-1", day, None, [sku(world, 101)])
    await set_faults(world, "odoo", {"down": True})
    try:
        await hub.publish([to_event(order, ORDER_CREATED, "/shopify/test")])
        await drained(hub, dead_allowed=True)
    finally:
        await cleared(world, "odoo")
    stray = web_order(world, "REC-CLI-STRAY-1", day, None, [sku(world, 102)])
    await odoo.post_sale_order(stray, "REC-CLI-MANUAL-1")

    result = await invoke("--date", day.isoformat(), "--store", "WEB", "--json")
    assert result.exit_code == 1, result.stderr
    report = orjson.loads(result.stdout)
    assert report["business_day"] == day.isoformat()
    assert report["store"] == "WEB"
    assert report["clean"] is False
    found = {(d["kind"], d["key"]) for d in report["discrepancies"]}
    assert found == {
        ("order_without_posting", "REC-CLI-DEAD-1"),
        ("posting_without_order", "odoo:REC-CLI-MANUAL-1"),
    }
    assert report["repairs"] == []

    repaired = await invoke("--date", day.isoformat(), "--json", "--repair")
    assert repaired.exit_code == 1
    repairs = {r["key"]: r for r in orjson.loads(repaired.stdout)["repairs"]}
    assert set(repairs) == {"REC-CLI-DEAD-1"}
    assert repairs["REC-CLI-DEAD-1"]["done"] is True
    await drained(hub)
    assert not await hub.dead_letters(Selection(subscription="o2c.erp", key=order.order_id))

    table = await invoke("--date", day.isoformat())
    assert table.exit_code == 1
    assert "posting_without_order" in table.stdout
    assert "order_without_posting" not in table.stdout
    assert "discrepancies found by reconciliation: 1" in table.stdout


async def test_an_unreachable_erp_exits_3(hub: SqliteBus, world: World, hub_home: Path) -> None:
    await set_faults(world, "odoo", {"error_rate": 1.0})
    try:
        result = await invoke("--date", world.day(22).isoformat())
    finally:
        await cleared(world, "odoo")
    assert result.exit_code == 3, result.stdout
    assert "could not be reconciled" in result.stderr
    assert "odoo" in result.stderr
