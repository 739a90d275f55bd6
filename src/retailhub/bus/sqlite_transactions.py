"""Transactions of the SQLite bus: the caller's (outbox), a worker batch's, and a handler's share.

All run on the bus's one writer connection; `BatchUnit` is begun lazily so handlers that do
not write never hold SQLite's write lock, and each handler writes inside its own savepoint.
BEGIN (which may wait for another process's lock) and COMMIT (which may checkpoint the WAL)
run on the connection's thread; the statements between them run on the event loop's thread,
since the open transaction already holds SQLite's write lock (decision 0002).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

from retailhub.bus import sqlite_store as store
from retailhub.bus.codec import EncodedEvent
from retailhub.bus.port import Transaction

if TYPE_CHECKING:
    from retailhub.bus.sqlite import SqliteBus

# The bus whose handler is running in this task, so a handler that would publish outside its
# own batch transaction (and wait on itself) is refused with advice instead.
handling: ContextVar[SqliteBus | None] = ContextVar("retailhub_bus_handling", default=None)


class SqliteTransaction(Transaction):
    """A write transaction on the bus's writer connection; events it publishes wait for commit."""

    def __init__(self, bus: SqliteBus) -> None:
        self._bus = bus
        self.published: list[tuple[list[int], list[EncodedEvent]]] = []

    @property
    def connection(self) -> store.SqliteConnection:
        """The thread-confined connection: `await tx.connection.run(fn)` runs fn(sqlite3_conn)."""
        return self._bus._writer

    async def _enter(self) -> None:
        """Make sure the transaction is open before a statement runs in it."""

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement inside the transaction."""
        await self._enter()
        self._bus._writer.run_here(lambda c: c.execute(statement, parameters))

    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one query inside the transaction and return its rows."""
        await self._enter()
        return self._bus._writer.run_here(lambda c: c.execute(statement, parameters).fetchall())

    async def insert(self, events: list[EncodedEvent]) -> list[int]:
        """Append events to the log within this transaction."""
        await self._enter()
        positions, all_new = self._bus._writer.run_here(
            partial(store.append_events, events=events, recorded_at=time.time())
        )
        if all_new:
            self.published.append((positions, events))
        return positions


class BatchUnit:
    """One worker batch's write transaction: begun when a handler first writes, or at commit."""

    def __init__(self, bus: SqliteBus) -> None:
        self.bus = bus
        self.begun = False
        self.slot = asyncio.Lock()
        self.published: list[tuple[list[int], list[EncodedEvent]]] = []
        self.after_commit: list[Callable[[], None]] = []

    async def begin(self) -> None:
        """Take the process's write lock and open the transaction, once."""
        if self.begun:
            return
        await self.bus._write_lock.acquire()
        try:
            await begin_immediate(self.bus._writer)
        except BaseException:
            self.bus._write_lock.release()
            raise
        self.begun = True

    async def commit(self, bookkeeping: Callable[[Any], None]) -> None:
        """Write the batch's bookkeeping and commit it with whatever the handlers wrote.

        When no handler wrote, the whole transaction is one trip to the writer thread.
        """
        if not self.begun:
            async with self.bus._write_lock:
                await self.bus._writer.run(store.in_transaction(bookkeeping, write=True))
            return

        def finish(connection: Any) -> None:
            bookkeeping(connection)
            connection.execute("COMMIT")

        try:
            await self.bus._writer.run(finish)
        except BaseException:
            await self.abort()
            raise
        self.begun = False
        self.bus._write_lock.release()

    async def abort(self) -> None:
        """Roll back the batch (handlers' writes included) and free the write lock."""
        if not self.begun:
            return
        self.begun = False
        try:
            await self.bus._writer.run(rollback_if_open)
        finally:
            self.bus._write_lock.release()


def insert_groups(
    connection: Any, groups: list[list[EncodedEvent]]
) -> list[tuple[list[int], bool]]:
    """Append each group of events in turn inside the open transaction."""
    recorded_at = time.time()
    return [store.append_events(connection, group, recorded_at) for group in groups]


async def begin_immediate(writer: store.SqliteConnection) -> None:
    """Begin a write transaction on the writer's thread. If the caller is cancelled (or BEGIN
    fails) while it waits there — on another process's lock, up to the busy timeout — the BEGIN
    may still complete with no owner: a rollback queued behind it on the same thread undoes
    it before the caller gives up the write lock, so the next writer starts clean."""
    try:
        await writer.run(_begin)
    except BaseException:
        await asyncio.shield(writer.run(rollback_if_open))
        raise


def _begin(connection: Any) -> None:
    """Take SQLite's write lock now rather than at the first write."""
    connection.execute("BEGIN IMMEDIATE")


def rollback_if_open(connection: Any) -> None:
    """Roll back unless a cancelled commit already finished on the connection's thread."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")


class HandlerTransaction(SqliteTransaction):
    """A handler's share of its batch transaction: a savepoint, so a failure undoes only its writes.

    Handlers of one batch run in parallel but take turns on the database: the first statement
    waits for the batch's slot and holds it until the handler returns.
    """

    def __init__(self, unit: BatchUnit) -> None:
        super().__init__(unit.bus)
        self._unit = unit
        self.active = False

    async def _enter(self) -> None:
        if self.active:
            return
        await self._unit.slot.acquire()
        try:
            await self._unit.begin()
            self._bus._writer.run_here(_savepoint)
        except BaseException:
            self._unit.slot.release()
            raise
        self.active = True

    async def end(self, *, handled: bool) -> None:
        """Keep the handler's writes if it handled the event, else roll them back."""
        if not self.active:
            return
        self.active = False
        try:
            self._bus._writer.run_here(_release if handled else _roll_back_savepoint)
            if handled:
                self._unit.published.extend(self.published)
        finally:
            self._unit.slot.release()


def _savepoint(connection: Any) -> None:
    """Start a handler's share of the batch transaction."""
    connection.execute("SAVEPOINT handler")


def _release(connection: Any) -> None:
    """Keep a handler's writes inside the batch transaction."""
    connection.execute("RELEASE handler")


def _roll_back_savepoint(connection: Any) -> None:
    """Undo a failed handler's writes, leaving the rest of the batch intact."""
    connection.execute("ROLLBACK TO handler")
    connection.execute("RELEASE handler")
