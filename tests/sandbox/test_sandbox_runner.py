"""The sandbox runner: port maps, the emulator registry, and several emulators served from one
process with their state under one folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailhub.sandbox import runner
from retailhub.sandbox.runner import (
    SANDBOX_PORTS,
    Sandbox,
    SandboxUnreachable,
    parse_ports,
    register,
    sandbox_status,
    set_faults,
)
from retailhub.sandbox.seed import Estate

from .echo import EchoEmulator, ports_of


class PingEmulator(EchoEmulator):
    """A second product, so the runner has more than one system to start."""

    system = "ping"


def test_default_ports_are_the_documented_ones() -> None:
    assert (
        parse_ports(None)
        == SANDBOX_PORTS
        == {
            "shopify": 8701,
            "odoo": 8702,
            "hubspot": 8703,
            "openloyalty": 8704,
            "poslog": 8705,
        }
    )


def test_a_port_base_moves_the_whole_sandbox() -> None:
    assert parse_ports("9701") == {
        "shopify": 9701,
        "odoo": 9702,
        "hubspot": 9703,
        "openloyalty": 9704,
        "poslog": 9705,
    }


def test_ports_can_be_named_per_system() -> None:
    assert parse_ports(" echo=9800, ping=0 ") == {"echo": 9800, "ping": 0}


@pytest.mark.parametrize("text", ["shopify", "shopify=abc", "=8701", "70000", "echo=99999"])
def test_unreadable_ports_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"system=port|outside"):
        parse_ports(text)


def test_product_emulators_register_by_system_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "EMULATORS", {})
    assert register(PingEmulator) is PingEmulator
    assert {"ping": PingEmulator} == runner.EMULATORS


def test_loading_skips_products_not_written_yet() -> None:
    assert set(runner.load_emulators()) <= set(SANDBOX_PORTS)


def test_every_emulator_needs_a_port(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no port given for ping"):
        Sandbox({"echo": EchoEmulator, "ping": PingEmulator}, {"echo": 0}, tmp_path)


async def test_sandbox_seeds_starts_and_stops_its_emulators(
    tmp_path: Path, estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []

    def build(seed: int) -> Estate:
        built.append(seed)
        return estate

    monkeypatch.setattr(runner, "build_estate", build)
    sandbox = Sandbox(
        {"echo": EchoEmulator, "ping": PingEmulator}, {"echo": 0, "ping": 0}, tmp_path
    )
    urls = await sandbox.start()
    assert set(urls) == {"echo", "ping"}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == ["echo.sqlite3", "ping.sqlite3"]
    ports = ports_of(*sandbox.emulators.values())
    answers = await sandbox_status(ports)
    assert {s: a["system"] for s, a in answers.items() if a} == {"echo": "echo", "ping": "ping"}
    await sandbox.stop()
    assert await sandbox_status(ports) == {"echo": None, "ping": None}

    again = Sandbox({"echo": EchoEmulator}, {"echo": 0}, tmp_path)
    await again.start()
    await again.stop()
    assert built == [42], "a state already seeded with the seed is not seeded again"


async def test_a_taken_port_fails_the_start_and_leaves_nothing_running(
    tmp_path: Path, echo: EchoEmulator, estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "build_estate", lambda seed: estate)
    sandbox = Sandbox(
        {"ping": PingEmulator, "echo": EchoEmulator},
        {"ping": 0, **ports_of(echo)},
        tmp_path / "other",
    )
    with pytest.raises(OSError, match="address"):
        await sandbox.start()
    assert sandbox.emulators["ping"].url is None


async def test_faults_cannot_be_set_on_an_unknown_or_silent_system(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown system 'shopfy'"):
        await set_faults("shopfy", {"down": True}, {"shopify": 8701})
    silent = EchoEmulator(tmp_path)
    await silent.start()
    ports = ports_of(silent)
    await silent.stop()
    with pytest.raises(SandboxUnreachable):
        await set_faults("echo", {"down": True}, ports, timeout_s=1.0)
