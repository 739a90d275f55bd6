"""The bus contract on the embedded SQLite backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.contract import BusContract
from retailhub.bus.port import EventBus, Transaction
from retailhub.bus.sqlite import SqliteBus


class TestSqliteBus(BusContract):
    """Every contract test against a fresh SQLite file per test."""

    @pytest.fixture(autouse=True)
    def _workdir(self, tmp_path: Path) -> None:
        self.path = tmp_path / "bus.sqlite"

    async def make_bus(self) -> EventBus:
        return SqliteBus(self.path, poll_interval=0.005)

    async def reopen(self, bus: EventBus) -> EventBus:
        assert isinstance(bus, SqliteBus)
        return SqliteBus(bus.path, poll_interval=0.005)

    async def create_effects(self, bus: EventBus) -> None:
        async with bus.transaction() as transaction:
            await transaction.execute(
                "CREATE TABLE IF NOT EXISTS effect (event_id TEXT NOT NULL, note TEXT NOT NULL)"
            )

    async def record_effect(self, transaction: Transaction, event_id: str, note: str) -> None:
        await transaction.execute(
            "INSERT INTO effect (event_id, note) VALUES (?, ?)", (event_id, note)
        )

    async def read_effects(self, bus: EventBus) -> list[tuple[str, str]]:
        async with bus.transaction() as transaction:
            rows = await transaction.fetch_all("SELECT event_id, note FROM effect ORDER BY rowid")
        return [(str(r[0]), str(r[1])) for r in rows]
