"""`bench orders` measures what it claims: every order it publishes is counted only once all
four systems hold it, with the emulators in processes of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retailhub.cli.bench_orders import bench_orders
from retailhub.demo.bench_orders import measure_orders


async def test_a_small_run_settles_every_order_and_splits_the_cpu(tmp_path: Path) -> None:
    result = await measure_orders(tmp_path, orders=12, deadline_s=120)
    assert result.settled == 12
    assert result.orders_per_s > 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.hub_cpu_s > 0
    assert result.emulators_cpu_s > 0
    figures = result.as_dict()
    assert 0 < figures["hub_cpu_share"] < 1
    assert figures["hub_cpu_share"] + figures["emulators_cpu_share"] == pytest.approx(1, abs=0.01)
    assert result.erp_moves_stock, "the ERP emulator delivers, so the hub moves no stock"
    assert set(result.calls_per_order) == {"hubspot", "odoo", "openloyalty"}
    assert {"hubspot", "odoo", "openloyalty"} <= set(result.emulator_cpu_ms_per_order)


async def test_a_paced_run_publishes_each_order_as_it_arrives(tmp_path: Path) -> None:
    result = await measure_orders(tmp_path, orders=10, rate=40, deadline_s=120)
    assert result.settled == 10
    assert result.offered_rate == 40
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.seconds >= 9 / 40, "the last order is offered a quarter second in"


def bench_app() -> typer.Typer:
    """The command registered as `cli/__init__.py` registers it under `bench`."""
    app = typer.Typer()
    app.command("orders")(bench_orders)
    app.command("other")(lambda: None)
    return app


def test_the_command_prints_the_figures_as_json() -> None:
    result = CliRunner().invoke(bench_app(), ["orders", "--orders", "6", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["settled"] == figures["orders"] == 6
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["orders_per_s"] > 0
    assert 0 < figures["hub_cpu_share"] < 1
    assert figures["hub_cpu_ms_per_order"] > 0
    assert figures["emulators_cpu_ms_per_order"] > 0


@pytest.mark.parametrize("arguments", [["--orders", "0"], ["--rate", "-1"], ["--orders", "x"]])
def test_bad_input_is_refused_with_a_message_and_exit_2(arguments: list[str]) -> None:
    result = CliRunner().invoke(bench_app(), ["orders", *arguments])
    assert result.exit_code == 2
    assert "Invalid value" in result.output
