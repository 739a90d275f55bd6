"""The sandbox estate in this test process, cut small, and the whole hub opened on it by the
composition root; faults switched on the emulators through their control routes."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from retailhub.bootstrap import Hub, open_hub
from retailhub.bus.port import RetryPolicy
from retailhub.config import Settings
from retailhub.connectors.ports import CommercePort, CrmPort, ErpPort, LoyaltyPort
from retailhub.estate import parse_estate
from retailhub.sandbox.runner import SANDBOX_PORTS, Sandbox, load_emulators, set_faults
from retailhub.sandbox.seed import Estate, build_estate

ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
PRODUCTS = 300
CUSTOMERS = 150
TIMEOUT_S = 1.0
"""Every system but loyalty answers within this or times out (loyalty keeps its own 0.5 s), so
an injected latency of `FAULTS["timeout"]` is a timeout without making the test wait long."""

OPERATOR_PACED_RETRY = RetryPolicy(
    max_attempts=4,
    initial_backoff=timedelta(milliseconds=50),
    max_backoff=timedelta(milliseconds=400),
)
"""The flows' retry policy here: an event failing under a fault is dead-lettered within about
a second, so it waits for the operator's retry after the fault is cleared rather than for the
hub's minutes of backoff (`bootstrap.HUB_RETRY`), which a test cannot wait for."""

FAULTS: dict[str, dict[str, Any]] = {
    "5xx": {"error_rate": 0.5},
    "timeout": {"latency_ms": 1200},
    "down": {"down": True},
}
"""The faults a plan injects: half the requests answered HTTP 500, answers later than the
connector waits, and a system that drops every connection."""


def small_estate(estate: Estate) -> Estate:
    """The estate cut to its first products (and the campaign's) and customers: seeding all
    2,400 items and 10,000 customers in five emulators would take most of the time budget."""
    kept = {p.sku for p in estate.products[:PRODUCTS]} | set(estate.campaign.eligibility.skus)
    return dataclasses.replace(
        estate,
        products=tuple(p for p in estate.products if p.sku in kept),
        prices=tuple(p for p in estate.prices if p.sku in kept),
        inventory=tuple(level for level in estate.inventory if level.sku in kept),
        customers=estate.customers[:CUSTOMERS],
    )


def estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators; breakers reset fast, so a
    cleared fault ends its outage at once, and calls time out after `TIMEOUT_S`."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{SANDBOX_PORTS[system]}\b", url, text)
    text = re.sub(r"breaker_reset_s = [0-9.]+", "breaker_reset_s = 0.2", text)
    return text.replace("timeout_s = 2.0", f"timeout_s = {TIMEOUT_S}")


class World:
    """The running sandbox and the hub on it: the estate, each emulator's URL and the hub.

    A plain class (not a dataclass) so that hypothesis prints it in a line, not the estate."""

    def __init__(self, estate: Estate, urls: dict[str, str], hub: Hub) -> None:
        self.estate, self.urls, self.hub = estate, urls, hub
        self.faulted: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"World({self.urls}, faulted={self.faulted})"

    @property
    def erp(self) -> ErpPort:
        """The ERP the flows post through."""
        return self.hub.erp

    @property
    def loyalty(self) -> LoyaltyPort:
        """The loyalty platform's connector."""
        assert self.hub.connectors.loyalty is not None
        return self.hub.connectors.loyalty

    @property
    def crm(self) -> CrmPort:
        """The CRM's connector."""
        assert self.hub.connectors.crm is not None
        return self.hub.connectors.crm

    @property
    def commerce(self) -> CommercePort:
        """The web shop's connector."""
        assert self.hub.connectors.commerce is not None
        return self.hub.connectors.commerce

    @property
    def trading_day(self) -> datetime:
        """Noon two days into the winter campaign, so its SKUs earn the bonus."""
        start = self.estate.campaign.valid_from.astimezone(UTC)
        return datetime(start.year, start.month, start.day, 12, tzinfo=UTC) + timedelta(days=2)

    async def fault(self, system: str, kind: str | None) -> None:
        """Put one of `FAULTS` in force on a system's emulator, or clear its faults (None)."""
        port = urlsplit(self.urls[system]).port
        assert port is not None
        faults = FAULTS[kind] if kind else None
        await set_faults(system, faults, {system: port}, clear=True)
        if kind:
            self.faulted[system] = kind
        else:
            self.faulted.pop(system, None)

    async def clear_faults(self) -> None:
        """Every emulator answers normally again."""
        for system in list(self.urls):
            await self.fault(system, None)


@asynccontextmanager
async def running_world(home: Path) -> AsyncIterator[World]:
    """The five emulators on free loopback ports, seeded from the small estate, and the hub
    opened by `open_hub` on them with its bus and workflows under `home` (its flows retrying
    at `OPERATOR_PACED_RETRY`)."""
    estate = small_estate(await asyncio.to_thread(build_estate, 42))
    factories = load_emulators()
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), home / "sandbox")
    for emulator in sandbox.emulators.values():
        emulator.load(estate)
    urls = await sandbox.start()
    try:
        settings = Settings(home=home / "hub", bus="sqlite", database_url=None, nats_url=None)
        settings.home.mkdir(parents=True, exist_ok=True)
        hub_estate = parse_estate(estate_text(urls), "integrity-estate.toml")
        async with open_hub(settings, estate=hub_estate, retry=OPERATOR_PACED_RETRY) as hub:
            yield World(estate, urls, hub)
    finally:
        await sandbox.stop()
