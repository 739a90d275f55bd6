"""Runs the sandbox estate: the registered product emulators in one process on consecutive
loopback ports, and the client side of their control routes that the CLI uses."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.sandbox.emulator import Emulator
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.seed import build_estate

SANDBOX_PORTS: dict[str, int] = {
    "shopify": 8701,
    "odoo": 8702,
    "hubspot": 8703,
    "openloyalty": 8704,
    "poslog": 8705,
}
"""Where each product's emulator listens by default, in start order."""

DEFAULT_STATE_DIR = Path(".retailhub/sandbox")
HOST = "127.0.0.1"

EmulatorFactory = Callable[[Path], Emulator]
"""Builds an emulator whose state lives in the given folder (an Emulator subclass will do)."""

EMULATORS: dict[str, EmulatorFactory] = {}
"""The product emulators that `sandbox up` starts, by system name."""

E = TypeVar("E", bound=type[Emulator])


def register(emulator: E) -> E:
    """Class decorator by which a product emulator joins the sandbox under its `system` name."""
    EMULATORS[emulator.system] = emulator
    return emulator


def load_emulators() -> dict[str, EmulatorFactory]:
    """Import `retailhub.sandbox.<system>` for each known system so its emulator registers;
    products not written yet are skipped."""
    for system in SANDBOX_PORTS:
        name = f"retailhub.sandbox.{system}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
    return EMULATORS


def parse_ports(text: str | None) -> dict[str, int]:
    """Ports from the `--ports` option: empty for the defaults, a number to move the whole
    sandbox to consecutive ports from it, or `system=port,...` to name each one."""
    if not text or not text.strip():
        return dict(SANDBOX_PORTS)
    text = text.strip()
    if text.isdigit():
        return {system: _port(int(text) + i) for i, system in enumerate(SANDBOX_PORTS)}
    ports: dict[str, int] = {}
    for item in text.split(","):
        system, sep, port = item.strip().partition("=")
        if not sep or not system.strip() or not port.strip().isdigit():
            raise ValueError(f"{item.strip()!r} is not system=port (e.g. shopify=8701)")
        ports[system.strip()] = _port(int(port))
    return ports


def _port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0..65535")
    return port


class Sandbox:
    """A set of emulators served from one process, each on its port with state under one folder."""

    def __init__(
        self,
        factories: Mapping[str, EmulatorFactory],
        ports: Mapping[str, int],
        state_dir: Path = DEFAULT_STATE_DIR,
        seed: int = 42,
    ) -> None:
        missing = sorted(set(factories) - set(ports))
        if missing:
            raise ValueError(f"no port given for {', '.join(missing)}")
        self.emulators = {system: factory(state_dir) for system, factory in factories.items()}
        self.ports = dict(ports)
        self.seed = seed

    async def start(self) -> dict[str, str]:
        """Seed the emulators whose state is not from this seed (building the estate only then),
        start them all, and return each one's URL; nothing is left running on failure."""
        unseeded = [e for e in self.emulators.values() if e.seeded_with() != self.seed]
        if unseeded:
            estate = await asyncio.to_thread(build_estate, self.seed)
            for emulator in unseeded:
                emulator.load(estate)
        urls: dict[str, str] = {}
        try:
            for system, emulator in self.emulators.items():
                urls[system] = await emulator.start(HOST, self.ports[system])
        except BaseException:
            await self.stop()
            raise
        return urls

    async def stop(self) -> None:
        """Stop every emulator and close its state."""
        for emulator in self.emulators.values():
            await emulator.stop()


class SandboxUnreachable(Exception):
    """No emulator answers on the system's port."""


def _url(system: str, ports: Mapping[str, int], route: str) -> str:
    if system not in ports:
        raise KeyError(f"unknown system {system!r}; the sandbox has {', '.join(ports)}")
    return f"http://{HOST}:{ports[system]}{CONTROL_PREFIX}{route}"


async def sandbox_status(
    ports: Mapping[str, int], *, timeout_s: float = 2.0
) -> dict[str, dict[str, Any] | None]:
    """Each emulator's `/_sandbox/status` answer, or None when it does not answer."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(system: str) -> dict[str, Any] | None:
            try:
                async with session.get(_url(system, ports, "status")) as response:
                    response.raise_for_status()
                    body: dict[str, Any] = await response.json()
                    return body
            except (aiohttp.ClientError, TimeoutError):
                return None

        answers = await asyncio.gather(*(one(system) for system in ports))
    return dict(zip(ports, answers, strict=True))


async def set_faults(
    system: str,
    faults: Mapping[str, Any] | None,
    ports: Mapping[str, int],
    *,
    clear: bool = False,
    timeout_s: float = 2.0,
) -> dict[str, Any]:
    """Change the faults of `system`'s emulator (`clear` first resets them; no change only
    reads them) and return the faults now in force. Raises KeyError for an unknown system, InvalidDocument when the
    emulator refuses the settings and SandboxUnreachable when it does not answer."""
    url = _url(system, ports, "faults")
    calls: list[tuple[str, Mapping[str, Any] | None]] = [("DELETE", None)] if clear else []
    if faults:
        calls.append(("PUT", faults))
    if not calls:
        calls.append(("GET", None))
    answer: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            for method, body in calls:
                async with session.request(method, url, json=body) as response:
                    answer = await response.json(content_type=None)
                    if response.status == 400:
                        raise InvalidDocument(
                            [Fault(e["path"], e["reason"]) for e in answer.get("errors", [])]
                        )
                    response.raise_for_status()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise SandboxUnreachable(f"{system} does not answer on {url}: {error}") from error
    return answer
