"""Unit tests of the bus's pure parts, its settings and the benchmark command."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from retailhub.bootstrap import build_bus
from retailhub.bus.port import BusError, RetryPolicy, type_matcher
from retailhub.bus.sqlite import SqliteBus
from retailhub.cli import bench
from retailhub.config import ConfigError, load_settings


def test_backoff_grows_by_the_multiplier_up_to_the_cap() -> None:
    policy = RetryPolicy(
        initial_backoff=timedelta(seconds=1),
        max_backoff=timedelta(seconds=10),
        multiplier=3.0,
        jitter=0.0,
    )
    waits = [policy.backoff(n).total_seconds() for n in range(1, 6)]
    assert waits == [1.0, 3.0, 9.0, 10.0, 10.0]


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(initial_backoff=timedelta(seconds=2), jitter=0.25)
    rng = random.Random(3)
    waits = {policy.backoff(1, rng).total_seconds() for _ in range(200)}
    assert min(waits) >= 1.5
    assert max(waits) <= 2.5
    assert len(waits) > 100


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)


def test_type_patterns() -> None:
    orders = type_matcher(["retail.order.*", "retail.return.created.v1"])
    assert orders("retail.order.created.v1")
    assert orders("retail.return.created.v1")
    assert not orders("retail.return.refunded.v1")
    assert not orders("retail.orders.created.v1")
    assert type_matcher(["*"])("anything.at.all")
    with pytest.raises(BusError):
        type_matcher(["retail.order.?"])


def test_settings_default_to_embedded_sqlite_under_home(tmp_path: Path) -> None:
    settings = load_settings({"RETAILHUB_HOME": str(tmp_path)})
    assert settings.bus == "sqlite"
    assert settings.sqlite_path == tmp_path / "retailhub.sqlite"
    bus = build_bus(settings)
    assert isinstance(bus, SqliteBus)
    assert bus.path == tmp_path / "retailhub.sqlite"
    assert load_settings({}).home == Path(".retailhub")


def test_sqlite_url_overrides_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    assert load_settings({"RETAILHUB_DATABASE_URL": url}).sqlite_path == tmp_path / "hub.db"


def test_unknown_or_unconfigured_backends_get_clear_errors() -> None:
    with pytest.raises(ConfigError, match="RETAILHUB_BUS='kafka'"):
        load_settings({"RETAILHUB_BUS": "kafka"})
    settings = load_settings({"RETAILHUB_BUS": "postgres"})
    with pytest.raises(ConfigError, match="needs RETAILHUB_DATABASE_URL"):
        build_bus(settings)
    with pytest.raises(ConfigError, match="needs RETAILHUB_NATS_URL"):
        build_bus(load_settings({"RETAILHUB_BUS": "nats"}))


def test_bench_throughput_prints_one_json_object() -> None:
    app = typer.Typer()
    app.add_typer(bench.app, name="bench")
    result = CliRunner().invoke(app, ["bench", "throughput", "--events", "300", "--json"])
    assert result.exit_code == 0, result.output
    figures = orjson.loads(result.stdout)
    assert figures["backend"] == "sqlite"
    assert figures["events"] == 300
    assert 1500 <= figures["event_bytes"] <= 3000
    for name in ("published_per_s", "delivered_per_s", "p50_ms", "p99_ms"):
        assert figures[name] > 0


def test_configured_backends_are_built_unopened(tmp_path: Path) -> None:
    from retailhub.bus.nats import NatsBus
    from retailhub.bus.postgres import PostgresBus

    postgres = build_bus(
        load_settings(
            {"RETAILHUB_BUS": "postgres", "RETAILHUB_DATABASE_URL": "postgresql://u@127.0.0.1/db"}
        )
    )
    assert isinstance(postgres, PostgresBus)
    nats = build_bus(
        load_settings(
            {
                "RETAILHUB_BUS": "nats",
                "RETAILHUB_NATS_URL": "nats://127.0.0.1:4222",
                "RETAILHUB_HOME": str(tmp_path),
            }
        )
    )
    assert isinstance(nats, NatsBus)
