"""The sandbox estate in processes of its own, so the emulators do not share the hub's event
loop: one `retailhub sandbox up` process per emulator on free loopback ports, and the sandbox
estate file pointed at them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from retailhub.estate import SANDBOX_ESTATE, Estate, parse_estate
from retailhub.sandbox.runner import SANDBOX_PORTS, sandbox_status

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


class SandboxFailedToStart(RuntimeError):
    """An emulator process exited or did not answer in time; its output says why."""


@dataclass(frozen=True)
class RunningSandbox:
    """Emulator processes, their ports and the sandbox estate pointed at them."""

    ports: dict[str, int]
    estate: Estate
    processes: dict[str, subprocess.Popen[bytes]]

    def cpu_seconds(self) -> float:
        """CPU time the emulator processes have used so far (user + system), from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes.values():
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total


def free_ports(count: int) -> list[int]:
    """`count` loopback ports nothing listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for one in sockets:
            one.bind(("127.0.0.1", 0))
        return [one.getsockname()[1] for one in sockets]
    finally:
        for one in sockets:
            one.close()


def estate_at(ports: dict[str, int], *, loyalty_breaker_reset_s: float | None = None) -> Estate:
    """The shipped sandbox estate with each system's base URL on the given port."""
    text = (resources.files("retailhub") / "estates" / SANDBOX_ESTATE).read_text()
    for system, default in SANDBOX_PORTS.items():
        if system in ports:
            text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[system]}")
    if loyalty_breaker_reset_s is not None:
        text = text.replace("breaker_reset_s = 5.0", f"breaker_reset_s = {loyalty_breaker_reset_s}")
    return parse_estate(text, "the sandbox estate")


@asynccontextmanager
async def sandbox_processes(
    state_dir: Path, *, seed: int = 42, systems: tuple[str, ...] = tuple(SANDBOX_PORTS)
) -> AsyncIterator[RunningSandbox]:
    """Start one emulator process per system, wait until each answers, stop them all on exit."""
    ports = dict(zip(systems, free_ports(len(systems)), strict=True))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        for system, port in ports.items():
            with (state_dir / f"{system}.log").open("wb") as log:
                processes[system] = _start(system, port, state_dir, seed, log)
        await _wait_ready(ports, processes, state_dir)
        yield RunningSandbox(ports, estate_at(ports, loyalty_breaker_reset_s=0.5), processes)
    finally:
        await asyncio.to_thread(_stop, processes)


def _start(
    system: str, port: int, state_dir: Path, seed: int, log: BinaryIO
) -> subprocess.Popen[bytes]:
    """One `retailhub sandbox up` process serving only `system`, its output into `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retailhub.cli",
            "sandbox",
            "up",
            "--state-dir",
            str(state_dir / system),
            "--seed",
            str(seed),
            "--ports",
            f"{system}={port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_ready(
    ports: dict[str, int], processes: dict[str, subprocess.Popen[bytes]], state_dir: Path
) -> None:
    """Poll each emulator's status until all answer; fail naming one that exited or stalled."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        for system, process in processes.items():
            if process.poll() is not None:
                log = (state_dir / f"{system}.log").read_text(errors="replace")[-2000:]
                raise SandboxFailedToStart(f"the {system} emulator exited: {log}")
        answers = await sandbox_status(ports, timeout_s=1.0)
        if all(answer is not None for answer in answers.values()):
            return
        if time.monotonic() > deadline:
            silent = sorted(system for system, answer in answers.items() if answer is None)
            raise SandboxFailedToStart(f"no answer in {READY_TIMEOUT_S:.0f} s from {silent}")
        await asyncio.sleep(0.25)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every emulator process, then SIGKILL what has not exited in time."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
