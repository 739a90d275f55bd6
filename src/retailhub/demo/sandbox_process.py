"""The sandbox estate in processes of its own, so the emulators do not share the hub's event
loop: one process per emulator on a free loopback port, and the sandbox estate file pointed at
them.

The parent seeds every emulator's state file from one estate before it starts them (building
the estate once, not once per process), so each process only opens its state and serves. Run
as `python -m retailhub.demo.sandbox_process SYSTEM PORT STATE_DIR SEED [PROFILE]`, a process
serves one emulator on uvloop until SIGTERM, and with PROFILE writes its cProfile there (CPU
time of its one thread) as it stops.
"""

from __future__ import annotations

import asyncio
import cProfile
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

import aiohttp
import uvloop

from retailhub.estate import SANDBOX_ESTATE, Estate, parse_estate
from retailhub.flows.order_to_cash import StockSettings
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.runner import HOST, SANDBOX_PORTS, Sandbox, load_emulators, sandbox_status
from retailhub.sandbox.seed import Estate as SeedEstate
from retailhub.sandbox.seed import build_estate

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
    deliver_on_confirm: bool = False

    @property
    def stock(self) -> StockSettings:
        """How the hub must move stock against this sandbox: not at all when the ERP emulator
        delivers confirmed sale orders itself, else per line (so stock moves exactly once)."""
        return StockSettings(erp_moves_stock=self.deliver_on_confirm)

    def cpu_seconds(self) -> float:
        """CPU time the emulator processes have used so far (user + system), from /proc."""
        return sum(self.cpu_by_system().values())

    def cpu_by_system(self) -> dict[str, float]:
        """CPU time each emulator process has used so far (user + system), from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for system, process in self.processes.items():
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            used[system] = (int(fields[11]) + int(fields[12])) / ticks
        return used


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


def seed_states(state_dir: Path, systems: tuple[str, ...], seeded_from: SeedEstate) -> None:
    """Seed each system's state file under `state_dir/<system>` from one estate (a state file
    already seeded from it is left as it is)."""
    factories = load_emulators()
    for system in systems:
        emulator = factories[system](state_dir / system)
        try:
            emulator.load(seeded_from)
        finally:
            emulator.close_state()


@asynccontextmanager
async def sandbox_processes(
    state_dir: Path,
    *,
    seed: int = 42,
    systems: tuple[str, ...] = tuple(SANDBOX_PORTS),
    seeded_from: SeedEstate | None = None,
    deliver_on_confirm: bool = False,
    profile_dir: Path | None = None,
) -> AsyncIterator[RunningSandbox]:
    """Seed the states, start one emulator process per system, wait until each answers, stop
    them all on exit. `seeded_from` is the estate of `seed` when the caller has built it;
    `deliver_on_confirm` makes the ERP emulator deliver confirmed sale orders itself (then pass
    `RunningSandbox.stock` to the hub); `profile_dir` receives one cProfile per emulator."""
    estate = seeded_from
    if estate is None:
        estate = await asyncio.to_thread(build_estate, seed)
    if estate.seed != seed:
        raise ValueError(f"the estate given was built from seed {estate.seed}, not {seed}")
    await asyncio.to_thread(seed_states, state_dir, systems, estate)
    ports = dict(zip(systems, free_ports(len(systems)), strict=True))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for system, port in ports.items():
            profile = None if profile_dir is None else profile_dir / f"{system}.prof"
            with (state_dir / f"{system}.log").open("wb") as log:
                processes[system] = _start(system, port, state_dir, seed, log, profile)
        await _wait_ready(ports, processes, state_dir)
        if deliver_on_confirm and "odoo" in ports:
            await _deliver_on_confirm(ports["odoo"])
        yield RunningSandbox(
            ports,
            estate_at(ports, loyalty_breaker_reset_s=0.5),
            processes,
            deliver_on_confirm=deliver_on_confirm and "odoo" in ports,
        )
    finally:
        await asyncio.to_thread(_stop, processes)


def _start(
    system: str, port: int, state_dir: Path, seed: int, log: BinaryIO, profile: Path | None
) -> subprocess.Popen[bytes]:
    """One process serving only `system`, its output into `log`."""
    command = [sys.executable, "-m", __name__, system, str(port), str(state_dir), str(seed)]
    if profile is not None:
        command.append(str(profile))
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def _deliver_on_confirm(port: int) -> None:
    """Switch the Odoo emulator to deliver confirmed sale orders itself."""
    url = f"http://{HOST}:{port}{CONTROL_PREFIX}delivery"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.put(url, json={"on_confirm": True}) as response,
    ):
        response.raise_for_status()


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


async def serve_one(system: str, port: int, state_dir: Path, seed: int) -> None:
    """Serve one emulator (seeding its state only if the parent has not) until SIGTERM."""
    factory = load_emulators()[system]
    sandbox = Sandbox({system: factory}, {system: port}, state_dir / system, seed)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await sandbox.start()
    try:
        await stopping.wait()
    finally:
        await sandbox.stop()


def main(arguments: list[str]) -> None:
    """The emulator process: SYSTEM PORT STATE_DIR SEED [PROFILE]."""
    system, port, state_dir, seed = arguments[:4]
    profile = cProfile.Profile(time.thread_time) if len(arguments) > 4 else None
    if profile is not None:
        profile.enable()
    try:
        uvloop.run(serve_one(system, int(port), Path(state_dir), int(seed)))
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(arguments[4])


if __name__ == "__main__":
    main(sys.argv[1:])
