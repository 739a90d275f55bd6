"""`bench orders` measures what it claims: every order it publishes is counted only once all
four systems hold it, with the emulators in processes of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

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
