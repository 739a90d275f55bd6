"""The bus contract on the embedded SQLite backend."""

from __future__ import annotations

import asyncio
import sqlite3
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


async def test_a_writer_cancelled_while_another_process_holds_the_file_leaves_the_bus_writable(
    tmp_path: Path,
) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite", poll_interval=0.005)
    await bus.open()
    other = sqlite3.connect(bus.path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # an operator's command holding the file's write lock

        async def write() -> None:
            async with bus.transaction() as transaction:
                await transaction.execute("CREATE TABLE effect (note TEXT)")

        waiting = asyncio.create_task(write())
        await asyncio.sleep(0.2)  # its BEGIN now waits on the writer's thread for the lock
        waiting.cancel()
        await asyncio.sleep(0.1)
        other.execute("COMMIT")  # the waiting BEGIN can now succeed, with nobody to end it
        with pytest.raises(asyncio.CancelledError):
            await waiting

        async with bus.transaction() as transaction:
            await transaction.execute("CREATE TABLE effect (note TEXT)")
            await transaction.execute("INSERT INTO effect VALUES ('written')")
        async with bus.transaction() as transaction:
            assert await transaction.fetch_all("SELECT note FROM effect") == [("written",)]
    finally:
        other.close()
        await bus.close()
    check = sqlite3.connect(tmp_path / "bus.sqlite")
    try:
        assert check.execute("SELECT note FROM effect").fetchall() == [("written",)]
    finally:
        check.close()
