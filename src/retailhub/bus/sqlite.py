"""The embedded bus: one SQLite file in WAL mode holds the log, cursors, held events and dedupe marks.

One writer connection (its own thread, one asyncio lock) serialises every write transaction of
this process, which is what SQLite does anyway; one reader connection reads snapshots beside it.
Each subscription runs one worker: read a batch past its cursor, handle keys in parallel, and
commit the handled marks, held rows and cursor in one transaction with the handlers' writes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from retailhub.bus import sqlite_store as store
from retailhub.bus.codec import EncodedEvent, decode_event, encode_events
from retailhub.bus.delivery import (
    epoch,
    read_attempts,
    utc,
)
from retailhub.bus.port import (
    ALL_STATES,
    DEFAULT_RETRY,
    EVERYTHING,
    BusError,
    EventBus,
    Handler,
    HeldEvent,
    HoldState,
    LoggedEvent,
    Move,
    ReplayOutOfRange,
    ReplayPlan,
    RetentionPolicy,
    RetentionReport,
    RetryPolicy,
    Selection,
    SubscriptionStatus,
    Transaction,
    UnknownSubscription,
    type_matcher,
)
from retailhub.bus.sqlite_transactions import (
    SqliteTransaction,
    begin_immediate,
    handling,
    insert_groups,
    rollback_if_open,
)
from retailhub.bus.sqlite_worker import SubscriptionRun, Worker
from retailhub.canonical.cloudevents import CloudEvent

# Events published here are kept for this process's workers, which then need not parse them
# back. A few seconds of lag at full rate; more would keep many objects in the collector's
# oldest generation and lengthen its pauses.
_RECENT_EVENTS = 10_000


class SqliteBus(EventBus):
    """The embedded default bus: durable in one SQLite file, for one process running workers."""

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.1,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._writer = store.SqliteConnection(self.path, synchronous=synchronous)
        self._reader = store.SqliteConnection(self.path, synchronous=synchronous)
        self._write_lock = asyncio.Lock()
        self._subscriptions: dict[str, SubscriptionRun] = {}
        self._recent: dict[int, CloudEvent] = {}
        self._waiting_publishes: list[tuple[list[EncodedEvent], asyncio.Future[list[int]]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._opened = False

    async def open(self) -> None:
        """Open both connections and create the schema."""
        if self._opened:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.open()
        await self._writer.run(store.create_schema)
        await self._reader.open()
        self._opened = True

    async def close(self) -> None:
        """Let workers finish their batch (briefly), then close the connections."""
        for name in list(self._subscriptions):
            await self.unsubscribe(name)
        if self._committer is not None:
            await self._committer
        if self._opened:
            self._opened = False
            await self._reader.close()
            await self._writer.close()

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction on the bus's file; events published in it commit with it."""
        return self._caller_transaction()

    @asynccontextmanager
    async def _caller_transaction(self) -> AsyncIterator[Transaction]:
        self._refuse_inside_handler("open a transaction")
        async with self._write_lock:
            await begin_immediate(self._writer)
            transaction = SqliteTransaction(self)
            try:
                yield transaction
                await self._writer.run(lambda c: c.execute("COMMIT"))
            except BaseException:
                await self._writer.run(rollback_if_open)
                raise
        self._published(transaction.published)

    async def publish(
        self, events: Sequence[CloudEvent], *, transaction: Transaction | None = None
    ) -> list[int]:
        """Record a batch atomically in one transaction (the caller's, when given)."""
        encoded = encode_events(events)
        if not encoded:
            return []
        if transaction is not None:
            if not isinstance(transaction, SqliteTransaction) or transaction._bus is not self:
                raise BusError("the transaction belongs to another bus")
            return await transaction.insert(encoded)
        self._refuse_inside_handler("publish")
        recorded: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._waiting_publishes.append((encoded, recorded))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_publishes())
        return await asyncio.shield(recorded)

    async def _commit_publishes(self) -> None:
        """Group commit: write every batch waiting to be published in one transaction.

        Each batch stays atomic and in order; concurrent publishers share one commit (and one
        trip to the writer thread) instead of queueing for one each. If the shared transaction
        fails, each batch is retried alone so one publisher's failure is not another's.
        """
        while self._waiting_publishes:
            waiting, self._waiting_publishes = self._waiting_publishes, []
            try:
                positions = await self._insert_groups([encoded for encoded, _ in waiting])
            except Exception as error:
                if len(waiting) == 1:
                    waiting[0][1].set_exception(error)
                    continue
                for encoded, recorded in waiting:
                    try:
                        (alone,) = await self._insert_groups([encoded])
                    except Exception as solo_error:
                        recorded.set_exception(solo_error)
                    else:
                        recorded.set_result(alone)
                continue
            for (_, recorded), group_positions in zip(waiting, positions, strict=True):
                recorded.set_result(group_positions)

    async def _insert_groups(self, groups: list[list[EncodedEvent]]) -> list[list[int]]:
        """Append several publish batches in one write transaction, then announce them.

        Only batches that were wholly new are remembered in memory: a republished event keeps
        the log's original, which workers then read from the file.
        """
        async with self._write_lock:
            appended: list[tuple[list[int], bool]] = await self._writer.run(
                store.in_transaction(partial(insert_groups, groups=groups), write=True)
            )
        self._published(
            (positions, group)
            for (positions, all_new), group in zip(appended, groups, strict=True)
            if all_new
        )
        return [positions for positions, _ in appended]

    def _refuse_inside_handler(self, action: str) -> None:
        """A handler holding the batch transaction would wait on itself; say what to do instead."""
        if handling.get() is self:
            raise BusError(
                f"cannot {action} from inside a handler: pass transaction=ctx.transaction so "
                "the events commit together with the handler's effect"
            )

    def _published(self, batches: Iterable[tuple[list[int], list[EncodedEvent]]]) -> None:
        """Remember committed events for in-process workers and wake them."""
        recent = self._recent
        for positions, encoded in batches:
            for position, item in zip(positions, encoded, strict=True):
                recent[position] = item.event
        self._trim_recent()
        for subscription in self._subscriptions.values():
            subscription.wake.set()

    def _trim_recent(self) -> None:
        """Keep only the newest events in memory once twice as many have gathered."""
        if len(self._recent) > 2 * _RECENT_EVENTS:
            newest = max(self._recent)
            self._recent = {p: e for p, e in self._recent.items() if p > newest - _RECENT_EVENTS}

    async def subscribe(
        self,
        name: str,
        types: Sequence[str],
        handler: Handler,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        concurrency: int = 32,
        from_position: int | None = None,
    ) -> None:
        """Create the durable subscription if new and start its worker in this process."""
        if not name:
            raise BusError("a subscription needs a name")
        if name in self._subscriptions:
            raise BusError(f"subscription {name!r} already runs in this process")
        type_matcher(types)
        work = store.in_transaction(
            partial(
                store.ensure_subscription,
                name=name,
                types=types,
                from_position=from_position,
                now=time.time(),
            ),
            write=True,
        )
        async with self._write_lock:
            await self._writer.run(work)
        subscription = SubscriptionRun(
            name, tuple(types), handler, retry, max(1, concurrency), asyncio.Event()
        )
        self._subscriptions[name] = subscription
        subscription.task = asyncio.create_task(
            Worker(self, subscription).run(), name=f"bus-worker-{name}"
        )

    async def unsubscribe(self, name: str) -> None:
        """Stop this process's worker for the subscription after its current batch."""
        subscription = self._subscriptions.pop(name, None)
        if subscription is None or subscription.task is None:
            return
        subscription.stopping = True
        subscription.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(subscription.task), timeout=5.0)
        except TimeoutError:
            subscription.task.cancel()
            await asyncio.gather(subscription.task, return_exceptions=True)

    async def _read(self, work: Callable[[Any], Any]) -> Any:
        """Run a read-only unit of work on one snapshot of the file."""
        return await self._reader.run(store.in_transaction(work, write=False))

    async def _write(self, work: Callable[[Any], Any]) -> Any:
        """Run a write unit of work as one transaction, then wake this process's workers."""
        async with self._write_lock:
            result = await self._writer.run(store.in_transaction(work, write=True))
        for subscription in self._subscriptions.values():
            subscription.wake.set()
        return result

    async def status(self, subscription: str) -> SubscriptionStatus:
        """Where the subscription stands; raises UnknownSubscription."""
        return await self._read(partial(_status, name=subscription))  # type: ignore[no-any-return]

    async def subscriptions(self) -> list[SubscriptionStatus]:
        """Every durable subscription, by name."""

        def every(connection: Any) -> list[SubscriptionStatus]:
            return [_status(connection, n) for n in store.subscription_names(connection)]

        return await self._read(every)  # type: ignore[no-any-return]

    async def tail(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        key: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        """Read the log after a position, optionally only some types or one ordering key."""
        clause, params = store.glob_clause("type", types)
        where = f"position > ? AND {clause}" + (" AND key = ?" if key is not None else "")
        args = [after, *params, *([key] if key is not None else []), limit]

        def read(connection: Any) -> list[tuple[int, float, bytes]]:
            return connection.execute(  # type: ignore[no-any-return]
                f"SELECT position, recorded_at, payload FROM bus_log WHERE {where} "
                "ORDER BY position LIMIT ?",
                args,
            ).fetchall()

        rows = await self._read(read)
        return [LoggedEvent(p, _aware(at), self._event(p, payload)) for p, at, payload in rows]

    def _event(self, position: int, payload: bytes) -> CloudEvent:
        """The event at a position: from memory, else parsed once for every subscription here."""
        event = self._recent.get(position)
        if event is None:
            event = self._recent[position] = decode_event(payload)
            self._trim_recent()
        return event

    async def held(
        self, selection: Selection = EVERYTHING, *, states: Iterable[HoldState] = ALL_STATES
    ) -> list[HeldEvent]:
        """Events held back from their subscriptions, oldest first."""
        wanted = tuple(states)

        def read(connection: Any) -> list[store.HeldRow]:
            _check_selection(connection, selection)
            return store.select_held(connection, selection, wanted)

        return [self._held_event(row) for row in await self._read(read)]

    def _held_event(self, row: store.HeldRow) -> HeldEvent:
        """A stored held row as the port's record."""
        return HeldEvent(
            subscription=row.subscription,
            position=row.position,
            state=HoldState(row.state),
            event=self._event(row.position, row.payload),
            key=row.key,
            attempts=read_attempts(row.history),
            next_attempt_at=utc(row.next_attempt_at),
            error=row.error,
            stack=row.stack,
        )

    async def retry(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Put matching dead letters back in line now, with a fresh attempt budget."""
        return await self._move(selection, dry_run, store.retry_held)

    async def skip(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Record matching dead letters as skipped and release the events they park."""
        return await self._move(selection, dry_run, store.skip_held)

    async def _move(
        self,
        selection: Selection,
        dry_run: bool,
        change: Callable[[Any, Sequence[store.HeldRow], float], None],
    ) -> Move:
        """Select dead letters and, unless dry-running, apply `change` to them atomically."""

        def work(connection: Any) -> tuple[list[store.HeldRow], int]:
            _check_selection(connection, selection)
            rows = store.select_held(connection, selection, (HoldState.DEAD,))
            behind = store.count_parked_behind(connection, rows)
            if not dry_run:
                change(connection, rows, time.time())
            return rows, behind

        rows, behind = await (self._read(work) if dry_run else self._write(work))
        return Move(dry_run, tuple(self._held_event(r) for r in rows), behind)

    async def replay(
        self,
        subscription: str,
        *,
        from_position: int | None = None,
        since: datetime | None = None,
        types: Sequence[str] = (),
        key: str | None = None,
        dry_run: bool = False,
    ) -> ReplayPlan:
        """Hold matching already-seen events for the subscription again, due now, in key order."""
        if (from_position is None) == (since is None):
            raise BusError("replay needs exactly one of a start position or a start time")
        filter_clause = store.glob_clause("type", types)

        def work(connection: Any) -> list[int]:
            found = store.subscription_row(connection, subscription)
            if found is None:
                raise UnknownSubscription(subscription)
            patterns, cursor = found
            oldest, newest = store.log_bounds(connection)
            requested: int | datetime = from_position if from_position is not None else since  # type: ignore[assignment]
            if oldest is None or newest is None:
                raise ReplayOutOfRange(requested, 0, 0)
            if from_position is not None:
                if not oldest <= from_position <= newest:
                    raise ReplayOutOfRange(from_position, oldest, newest)
                start = from_position
            else:
                assert since is not None
                first = store.first_position_since(connection, epoch(since))
                if first is None:
                    raise ReplayOutOfRange(since, oldest, newest)
                start = first
            filters = [store.glob_clause("type", patterns), filter_clause]
            positions = store.replay_positions(
                connection, subscription, start, min(cursor, newest), filters, key
            )
            if not dry_run:
                store.enqueue_replay(connection, subscription, positions, time.time())
            return positions

        positions = await (self._read(work) if dry_run else self._write(work))
        return ReplayPlan(dry_run, subscription, tuple(positions))

    async def apply_retention(
        self, policy: RetentionPolicy, *, now: datetime | None = None
    ) -> RetentionReport:
        """Delete events older or beyond the size limit, never one still to be handled or held."""
        moment = time.time() if now is None else epoch(now)
        cutoff = None if policy.max_age is None else moment - policy.max_age.total_seconds()
        deleted, oldest = await self._write(
            partial(store.apply_retention, cutoff=cutoff, max_bytes=policy.max_bytes)
        )
        return RetentionReport(deleted, oldest)


def _aware(timestamp: float) -> datetime:
    """A stored epoch timestamp as an aware UTC datetime."""
    moment = utc(timestamp)
    assert moment is not None
    return moment


def _check_selection(connection: Any, selection: Selection) -> None:
    """Refuse a selection naming a subscription the file does not know."""
    name = selection.subscription
    if name is not None and store.subscription_row(connection, name) is None:
        raise UnknownSubscription(name)


def _status(connection: Any, name: str) -> SubscriptionStatus:
    """One subscription's cursor, the log head and its held counts."""
    found = store.subscription_row(connection, name)
    if found is None:
        raise UnknownSubscription(name)
    patterns, cursor = found
    counts = store.held_counts(connection, name)
    return SubscriptionStatus(
        name=name,
        types=tuple(patterns),
        cursor=cursor,
        head=store.log_head(connection),
        retrying=counts.get(HoldState.RETRYING.value, 0),
        dead=counts.get(HoldState.DEAD.value, 0),
        parked=counts.get(HoldState.PARKED.value, 0),
    )
