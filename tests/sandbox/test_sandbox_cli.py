"""`retailhub sandbox status|fault|up` against emulators started by the test on free ports, so
a sandbox the user runs on the default ports is never touched."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retailhub.cli import sandbox as cli
from retailhub.sandbox.emulator import Emulator
from retailhub.sandbox.faults import Faults
from retailhub.sandbox.seed import Estate

from .echo import EchoEmulator

WIDE = {"COLUMNS": "200"}


def sandbox(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.app, list(args), env={**WIDE, **(env or {})})


async def in_thread(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the command beside the test's event loop, which serves the emulator meanwhile."""
    return await asyncio.to_thread(sandbox, *args, env=env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_status_shows_each_emulator_up_or_down(echo: EchoEmulator) -> None:
    result = await in_thread("status", "--ports", f"echo={echo.port},gone={free_port()}")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    echo_line = next(line for line in lines if "echo" in line)
    assert "up" in echo_line
    assert "none" in echo_line
    assert "down" in next(line for line in lines if "gone" in line)


async def test_fault_sets_faults_that_status_then_shows(echo: EchoEmulator) -> None:
    env = {"RETAILHUB_SANDBOX_PORTS": f"echo={echo.port}"}
    result = await in_thread("fault", "echo", "--latency-ms", "250", "--error-rate", "0.5", env=env)
    assert result.exit_code == 0, result.output
    assert "latency 250 ms, 50% errors" in result.stdout
    assert echo.faults.faults == Faults(latency_ms=250, error_rate=0.5)

    result = await in_thread("fault", "echo", "--down", "--malformed", "--slow-after", "3", env=env)
    assert result.exit_code == 0, result.output
    assert echo.faults.faults == Faults(
        latency_ms=250, error_rate=0.5, down=True, slow_after=3, malformed=True
    )
    status = await in_thread("status", env=env)
    assert (
        "dropping connections, slow after 3 requests (250 ms), 50% errors, malformed answers"
        in status.stdout
    )

    result = await in_thread("fault", "echo", "--clear", "--up", "--well-formed", env=env)
    assert result.exit_code == 0, result.output
    assert echo.faults.faults == Faults()
    assert "faults none" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fault", "echo", "--error-rate", "1.5"], "--error-rate"),
        (["fault", "echo", "--latency-ms", "-1"], "--latency-ms"),
        (["fault", "echo", "--slow-after", "two"], "--slow-after"),
        (["fault", "shopfy", "--down"], "unknown system 'shopfy'"),
        (["status", "--ports", "echo=lots"], "system=port"),
    ],
)
def test_bad_input_is_explained_and_exits_two(args: list[str], message: str) -> None:
    result = sandbox(*args, env={"RETAILHUB_SANDBOX_PORTS": f"echo={free_port()}"})
    assert result.exit_code == 2
    assert message in result.output


def test_fault_on_an_emulator_that_is_not_running_exits_one() -> None:
    result = sandbox("fault", "echo", "--down", "--ports", f"echo={free_port()}")
    assert result.exit_code == 1
    assert "does not answer" in result.stderr


def test_status_exits_one_when_no_emulator_answers() -> None:
    result = sandbox("status", "--ports", f"echo={free_port()},ping={free_port()}")
    assert result.exit_code == 1
    assert "retailhub sandbox up" in result.stderr


def test_up_with_no_registered_emulators_exits_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "load_emulators", dict)
    result = sandbox("up", "--ports", f"echo={free_port()}")
    assert result.exit_code == 1
    assert "No product emulators" in result.stderr


def test_up_serves_until_sigterm(
    tmp_path: Path, estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Emulator] = []

    def echo_factory(state_dir: Path) -> Emulator:
        emulator = EchoEmulator(state_dir)
        emulator.load(estate)
        started.append(emulator)
        return emulator

    def stop_when_serving() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (started and started[0].url):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM if started and started[0].url else signal.SIGINT)

    monkeypatch.setattr(cli, "load_emulators", lambda: {"echo": echo_factory})
    stopper = threading.Thread(target=stop_when_serving, daemon=True)
    stopper.start()
    result = sandbox("up", "--ports", "echo=0", "--state-dir", str(tmp_path), "--seed", "42")
    stopper.join(timeout=5)
    assert result.exit_code == 0, result.output
    assert "echo" in result.stdout
    assert "http://127.0.0.1:" in result.stdout
    assert started[0].url is None, "the emulator is stopped on SIGTERM"
    assert (tmp_path / "echo.sqlite3").exists()
