"""The scale-out bus on PostgreSQL: competing consumers across processes, woken by LISTEN/NOTIFY.

The log, cursors, held events and dedupe marks live in the hub's database, so publishing joins
the caller's transaction (outbox) and a handler's writes commit with its handled mark. Each
subscription's log is split into partitions by ordering key; a worker lane claims partitions by
locking their cursor rows (`FOR UPDATE SKIP LOCKED`) and handles them in one transaction, so any
number of processes share a subscription without handling an event twice or reordering a key.
See docs/decisions/0003-bus-postgres.md.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import asyncpg
import structlog

from retailhub.bus import postgres_store as store
from retailhub.bus.codec import EncodedEvent, decode_event, encode_events
from retailhub.bus.delivery import (
    Delivery,
    build_chains,
    describe_failure,
    epoch,
    read_attempts,
    run_chains,
    utc,
)
from retailhub.bus.port import (
    ALL_STATES,
    DEFAULT_RETRY,
    EVERYTHING,
    BusError,
    EventBus,
    Handler,
    HandlerContext,
    HeldEvent,
    HoldState,
    LoggedEvent,
    Move,
    Outcome,
    ReplayOutOfRange,
    ReplayPlan,
    RetentionPolicy,
    RetentionReport,
    RetryPolicy,
    Selection,
    SubscriptionStatus,
    Transaction,
    UnknownSubscription,
)
from retailhub.canonical.cloudevents import CloudEvent

_log = structlog.get_logger(__name__)

_handling: ContextVar[PostgresBus | None] = ContextVar("retailhub_pg_handling", default=None)

T = TypeVar("T")

_RECENT_EVENTS = 50_000
DEFAULT_PARTITIONS = 16
_HEARTBEAT_SECONDS = 1.0
_MEMBER_TTL_SECONDS = 5.0
_OVERDUE_RECHECK_SECONDS = 0.05


class _PostgresTransaction(Transaction):
    """An open transaction on one pooled connection; events it publishes wait for its commit."""

    def __init__(self, bus: PostgresBus, connection: Any) -> None:
        self._bus = bus
        self._connection = connection
        self.published: list[tuple[list[int], list[EncodedEvent]]] = []

    @property
    def connection(self) -> Any:
        """The asyncpg connection the transaction runs on."""
        return self._connection

    async def _enter(self) -> None:
        """Make sure the transaction is ready before a statement runs in it."""

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement (`$1` parameters) inside the transaction."""
        await self._enter()
        await self._connection.execute(statement, *parameters)

    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one query inside the transaction and return its rows as tuples."""
        await self._enter()
        return [tuple(r) for r in await self._connection.fetch(statement, *parameters)]

    async def insert(self, events: list[EncodedEvent]) -> list[int]:
        """Append events to the log within this transaction."""
        await self._enter()
        positions, fresh = await store.insert_events(
            self._connection, events, time.time(), self._bus._partitions, self._bus._channel
        )
        self.published.append(_newly_logged(positions, events, fresh))
        return positions


class _HandlerTransaction(_PostgresTransaction):
    """A handler's share of its batch transaction: a savepoint, so a failure undoes only its writes.

    Handlers of one batch run concurrently but share one connection: the first statement waits
    for the batch's slot and holds it until the handler returns.
    """

    def __init__(self, batch: _Batch, connection: Any, slot: asyncio.Lock) -> None:
        super().__init__(batch.bus, connection)
        self._batch = batch
        self._slot = slot
        self._active = False

    async def _enter(self) -> None:
        if self._active:
            return
        self._batch.writing()
        await self._slot.acquire()
        try:
            await self._connection.execute("SAVEPOINT handler")
        except BaseException:
            self._slot.release()
            raise
        self._active = True

    async def end(self, *, handled: bool) -> bool:
        """Keep the handler's writes if it handled the event, else roll them back.

        Returns whether the writes were kept: a handler that swallowed a failed statement
        leaves a savepoint that cannot be released, so its writes are rolled back instead.
        """
        if not self._active:
            return handled
        self._active = False
        try:
            if handled:
                try:
                    await self._connection.execute("RELEASE SAVEPOINT handler")
                    return True
                except asyncpg.PostgresError:
                    pass
            await self._connection.execute("ROLLBACK TO SAVEPOINT handler")
            await self._connection.execute("RELEASE SAVEPOINT handler")
            return False
        finally:
            self._slot.release()


@dataclass(frozen=True, slots=True)
class _WaitingBatch:
    """A batch waiting for its turn to publish, and where its positions go."""

    events: list[EncodedEvent]
    done: asyncio.Future[list[int]]


@dataclass(slots=True)
class _Subscription:
    """A subscription this process runs: its filter, handler, policy and worker lanes."""

    name: str
    types: tuple[str, ...]
    like: list[str] | None
    handler: Handler
    retry: RetryPolicy
    concurrency: int
    lanes: int
    share: int = 1
    members: int = 1
    wakes: list[asyncio.Event] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False

    def wake(self) -> None:
        """Wake every lane: there may be new work."""
        for event in self.wakes:
            event.set()


class PostgresBus(EventBus):
    """The scale-out bus: durable in PostgreSQL, shared by any number of worker processes.

    `schema` keeps the bus tables (and the handlers' SQL, via `search_path`) in one schema.
    Each subscription runs `lanes` worker lanes here; the processes running it split its
    `partitions` evenly, found from a heartbeat table. Lanes wake on NOTIFY; `poll_interval`
    is only the fallback when a notification is missed. With `read_your_writes` (the default,
    as on SQLite), transactions and reads through this bus wait for its batches that have
    begun writing to commit; turn it off where API transactions must never wait on a handler.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        lanes: int = 2,
        partitions: int = DEFAULT_PARTITIONS,
        pool_size: int = 20,
        read_your_writes: bool = True,
    ) -> None:
        if lanes < 1 or partitions < 1:
            raise ValueError("lanes and partitions must be at least 1")
        self.dsn = dsn
        self.schema = schema
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lanes = lanes
        self._member = uuid.uuid4().hex
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._partitions = partitions
        self._pool_size = pool_size
        self._pool: Any = None
        self._listener: Any = None
        self._listen_task: asyncio.Task[None] | None = None
        self._channel = "retailhub_bus"
        self._subscriptions: dict[str, _Subscription] = {}
        self._recent: dict[int, CloudEvent] = {}
        self._waiting: list[_WaitingBatch] = []
        self._publish_turn = asyncio.Lock()
        self._read_your_writes = read_your_writes
        self._settling = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._opened = False

    async def _settled(self) -> None:
        """Wait (at most 5 s) for this process's settling batches to commit, unless disabled.

        Never from inside a handler: its own batch cannot commit while it waits.
        """
        if self._settling and self._read_your_writes and _handling.get() is not self:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), timeout=5.0)

    def _server_settings(self) -> dict[str, str]:
        settings = {"application_name": "retailhub-bus"}
        if self.schema is not None:
            settings["search_path"] = self.schema
        return settings

    async def open(self) -> None:
        """Create the pool, the schema, and the listening connection."""
        if self._opened:
            return
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=2,
            max_size=self._pool_size,
            server_settings=self._server_settings(),
        )
        async with self._pool.acquire() as connection:
            self._partitions = await store.create_schema(connection, self._partitions, self.schema)
            schema = await connection.fetchval("SELECT current_schema()")
        self._channel = f"retailhub_bus.{schema}"
        self._opened = True
        ready = asyncio.get_running_loop().create_future()
        self._listen_task = asyncio.create_task(self._listen(ready), name="bus-listener")
        with suppress(Exception):
            await asyncio.wait_for(asyncio.shield(ready), timeout=10.0)

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        """Keep one connection LISTENing and wake every lane on a notification; reconnect on loss."""
        pause = 0.1
        while self._opened:
            lost = asyncio.Event()
            try:
                self._listener = await asyncpg.connect(
                    self.dsn, server_settings=self._server_settings()
                )
                self._listener.add_termination_listener(partial(_set_on_loss, lost))
                await self._listener.add_listener(self._channel, self._notified)
                pause = 0.1
                if not ready.done():
                    ready.set_result(None)
                self._wake_all()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.warning("bus listener unavailable; polling until it is back", exc_info=True)
            finally:
                listener, self._listener = self._listener, None
                if listener is not None and not listener.is_closed():
                    with suppress(Exception):
                        await listener.close(timeout=1.0)
            await asyncio.sleep(pause)
            pause = min(5.0, pause * 2)

    def _notified(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._wake_all()

    def _wake_all(self) -> None:
        for subscription in self._subscriptions.values():
            subscription.wake()

    async def close(self) -> None:
        """Let lanes finish their batch (briefly), then close the listener and the pool."""
        for name in list(self._subscriptions):
            await self.unsubscribe(name)
        if not self._opened:
            return
        self._opened = False
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            await asyncio.gather(self._heartbeat_task, return_exceptions=True)
            self._heartbeat_task = None
        if self._listen_task is not None:
            self._listen_task.cancel()
            await asyncio.gather(self._listen_task, return_exceptions=True)
            self._listen_task = None
        try:
            await asyncio.wait_for(self._pool.close(), timeout=5.0)
        except TimeoutError:
            self._pool.terminate()

    def _require_open(self) -> Any:
        if not self._opened:
            raise BusError("the PostgreSQL bus is not open")
        return self._pool

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction on the hub's database; events published in it commit with it."""
        return self._caller_transaction()

    @asynccontextmanager
    async def _caller_transaction(self) -> AsyncIterator[Transaction]:
        self._refuse_inside_handler("open a transaction")
        await self._settled()
        async with self._require_open().acquire() as connection, connection.transaction():
            transaction = _PostgresTransaction(self, connection)
            yield transaction
        self._published(transaction.published)

    async def publish(
        self, events: Sequence[CloudEvent], *, transaction: Transaction | None = None
    ) -> list[int]:
        """Record a batch atomically in one transaction (the caller's, when given)."""
        encoded = encode_events(events)
        if not encoded:
            return []
        if transaction is not None:
            if not isinstance(transaction, _PostgresTransaction) or transaction._bus is not self:
                raise BusError("the transaction belongs to another bus")
            return await transaction.insert(encoded)
        self._refuse_inside_handler("publish")
        self._require_open()
        waiting = _WaitingBatch(encoded, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        async with self._publish_turn:
            if not waiting.done.done():
                await self._commit_waiting()
        return await waiting.done

    async def _commit_waiting(self) -> None:
        """Group commit: record every batch waiting to publish in one transaction.

        Publishers in this process queue behind one another for the counter row anyway; one
        commit for all of them saves a WAL flush per batch. Each batch stays one atomic,
        ordered insert; if the shared transaction fails, each batch is retried on its own so
        one batch's failure is reported to its publisher only.
        """
        batches, self._waiting = self._waiting, []
        try:
            await self._record_in_turn(batches)
        except BaseException:
            # Cancelled mid-way: the next publisher's turn records what is left (a batch that
            # did commit is found again by its event ids and keeps its positions).
            self._waiting[:0] = [w for w in batches if not w.done.done()]
            raise

    async def _record_in_turn(self, batches: list[_WaitingBatch]) -> None:
        """Record the batches together, or one by one if together fails; settle each future."""
        try:
            recorded = await self._insert_batches(batches)
        except Exception:
            recorded = None
        for index, waiting in enumerate(batches):
            if recorded is not None:
                positions = recorded[index]
            else:
                try:
                    (positions,) = await self._insert_batches([waiting])
                except Exception as error:
                    waiting.done.set_exception(error)
                    continue
            waiting.done.set_result(positions)

    async def _insert_batches(self, batches: Sequence[_WaitingBatch]) -> list[list[int]]:
        """Insert batches in order in one transaction; remember and wake once committed."""
        recorded = []
        logged = []
        async with self._require_open().acquire() as connection, connection.transaction():
            for waiting in batches:
                positions, fresh = await store.insert_events(
                    connection, waiting.events, time.time(), self._partitions, self._channel
                )
                recorded.append(positions)
                logged.append(_newly_logged(positions, waiting.events, fresh))
        self._published(logged)
        return recorded

    def _refuse_inside_handler(self, action: str) -> None:
        """A second transaction from inside a handler could wait on its own batch's locks."""
        if _handling.get() is self:
            raise BusError(
                f"cannot {action} from inside a handler: pass transaction=ctx.transaction so "
                "the events commit together with the handler's effect"
            )

    def _published(self, batches: Iterable[tuple[list[int], list[EncodedEvent]]]) -> None:
        """Remember committed events for this process's lanes and wake them."""
        for positions, encoded in batches:
            for position, item in zip(positions, encoded, strict=True):
                self._recent[position] = item.event
        self._trim_recent()
        self._wake_all()

    def _trim_recent(self) -> None:
        """Keep the newest events in memory, a bounded number."""
        recent = self._recent
        if len(recent) > 2 * _RECENT_EVENTS:
            newest = max(recent)
            self._recent = {p: e for p, e in recent.items() if p > newest - _RECENT_EVENTS}

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
        """Create the durable subscription if new and start its worker lanes in this process."""
        if not name:
            raise BusError("a subscription needs a name")
        if name in self._subscriptions:
            raise BusError(f"subscription {name!r} already runs in this process")
        like = store.like_patterns(types)
        async with self._require_open().acquire() as connection:
            await store.ensure_subscription(
                connection, name, types, from_position, time.time(), self._partitions
            )
        concurrency = max(1, concurrency)
        lanes = min(self.lanes, concurrency)
        subscription = _Subscription(
            name, tuple(types), like, handler, retry, math.ceil(concurrency / lanes), lanes
        )
        self._subscriptions[name] = subscription
        try:
            await self._beat()
        except BaseException:
            del self._subscriptions[name]
            raise
        if self._heartbeat_task is None:
            self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="bus-heartbeat")
        for lane in range(lanes):
            wake = asyncio.Event()
            subscription.wakes.append(wake)
            subscription.tasks.append(
                asyncio.create_task(
                    _Lane(self, subscription, wake).run(), name=f"bus-lane-{name}-{lane}"
                )
            )

    async def _beat(self) -> None:
        """Refresh this process's membership and each running subscription's share."""
        running = dict(self._subscriptions)
        if not running:
            return
        async with self._require_open().acquire() as connection:
            members = await store.beat(
                connection, self._member, sorted(running), _MEMBER_TTL_SECONDS
            )
        for name, subscription in running.items():
            subscription.members = max(1, members.get(name, 1))
            mine = math.ceil(self._partitions / subscription.members)
            subscription.share = max(1, math.ceil(mine / subscription.lanes))

    def members_seen(self, subscription: str) -> int:
        """How many processes (this one included) ran `subscription` at the last heartbeat."""
        running = self._subscriptions.get(subscription)
        if running is None:
            raise BusError(f"subscription {subscription!r} does not run in this process")
        return running.members

    async def _heartbeat(self) -> None:
        """Beat every second while subscriptions run; a failed beat keeps the last shares."""
        while self._opened:
            await asyncio.sleep(_HEARTBEAT_SECONDS)
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.warning("bus heartbeat failed", exc_info=True)

    async def unsubscribe(self, name: str) -> None:
        """Stop this process's lanes for the subscription after their current batch."""
        subscription = self._subscriptions.pop(name, None)
        if subscription is None:
            return
        with suppress(Exception):
            await self._with_connection(partial(store.leave, member=self._member, names=[name]))
        subscription.stopping = True
        subscription.wake()
        if not subscription.tasks:
            return
        _done, stuck = await asyncio.wait(subscription.tasks, timeout=5.0)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*subscription.tasks, return_exceptions=True)

    async def _with_connection(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work(connection)` on a pooled connection outside any transaction."""
        async with self._require_open().acquire() as connection:
            return await work(connection)

    async def _in_transaction(self, work: Callable[[Any], Awaitable[T]], *, notify: bool) -> T:
        """Run `work(connection)` as one transaction; with `notify`, wake every bus at commit."""
        async with self._require_open().acquire() as connection, connection.transaction():
            result = await work(connection)
            if notify:
                await connection.execute("SELECT pg_notify($1, '')", self._channel)
        if notify:
            self._wake_all()
        return result

    async def status(self, subscription: str) -> SubscriptionStatus:
        """Where the subscription stands (its slowest partition); raises UnknownSubscription."""
        await self._settled()
        rows = await self._with_connection(partial(store.status_rows, name=subscription))
        if not rows:
            raise UnknownSubscription(subscription)
        return _status(rows[0])

    async def subscriptions(self) -> list[SubscriptionStatus]:
        """Every durable subscription, by name."""
        await self._settled()
        rows = await self._with_connection(partial(store.status_rows, name=None))
        return [_status(row) for row in rows]

    async def tail(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        key: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        """Read the log after a position, optionally only some types or one ordering key."""
        like = store.like_patterns(types)

        async def read(connection: Any) -> list[Any]:
            return await connection.fetch(  # type: ignore[no-any-return]
                "SELECT position, recorded_at, payload FROM bus_log WHERE position > $1 "
                "AND ($2::text[] IS NULL OR type LIKE ANY($2)) AND ($3::text IS NULL OR key = $3) "
                "ORDER BY position LIMIT $4",
                after,
                like,
                key,
                limit,
            )

        rows = await self._with_connection(read)
        return [LoggedEvent(p, _aware(at), self._event(p, payload)) for p, at, payload in rows]

    def _event(self, position: int, payload: bytes) -> CloudEvent:
        """The event at a position: from memory if this process published or read it, else parsed.

        Parsed events are remembered too, so the other subscriptions here parse each once.
        """
        event = self._recent.get(position)
        if event is None:
            event = self._recent[position] = decode_event(payload)
            self._trim_recent()
        return event

    async def held(
        self, selection: Selection = EVERYTHING, *, states: Iterable[HoldState] = ALL_STATES
    ) -> list[HeldEvent]:
        """Events held back from their subscriptions, oldest first."""
        await self._settled()
        wanted = tuple(states)

        async def read(connection: Any) -> list[store.HeldRow]:
            await _check_selection(connection, selection)
            return await store.select_held(connection, selection, wanted)

        return [self._held_event(row) for row in await self._with_connection(read)]

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
        change: Callable[[Any, Sequence[store.HeldRow], float], Awaitable[None]],
    ) -> Move:
        """Select dead letters and, unless dry-running, apply `change` to them atomically.

        A real move first locks the partitions of the subscriptions holding matching dead
        letters, waiting for batches in flight there, so no lane acts on a stale view of the
        held rows; other subscriptions' batches do not hold it up.
        """

        async def work(connection: Any) -> tuple[list[store.HeldRow], int]:
            await _check_selection(connection, selection)
            rows = await store.select_held(connection, selection, (HoldState.DEAD,))
            if not dry_run:
                # Only the subscriptions holding matching dead letters wait for their batches;
                # a dead letter that appears meanwhile elsewhere is left for the next move.
                names = sorted({r.subscription for r in rows})
                await store.lock_subscriptions(connection, names)
                rows = [
                    r
                    for r in await store.select_held(connection, selection, (HoldState.DEAD,))
                    if r.subscription in names
                ]
            behind = await store.count_parked_behind(connection, rows)
            if not dry_run:
                await change(connection, rows, time.time())
            return rows, behind

        if dry_run:
            rows, behind = await self._with_connection(work)
        else:
            rows, behind = await self._in_transaction(work, notify=True)
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
        filter_patterns = store.like_patterns(types)
        await self._settled()

        async def work(connection: Any) -> list[int]:
            patterns = await store.subscription_types(connection, subscription)
            if patterns is None:
                raise UnknownSubscription(subscription)
            if not dry_run:
                await store.lock_log(connection)
                await store.lock_subscriptions(connection, [subscription])
            oldest, newest = await store.log_bounds(connection)
            requested: int | datetime = from_position if from_position is not None else since  # type: ignore[assignment]
            if oldest is None or newest is None:
                raise ReplayOutOfRange(requested, 0, 0)
            if from_position is not None:
                if not oldest <= from_position <= newest:
                    raise ReplayOutOfRange(from_position, oldest, newest)
                start = from_position
            else:
                assert since is not None
                first = await store.first_position_since(connection, epoch(since))
                if first is None:
                    raise ReplayOutOfRange(since, oldest, newest)
                start = first
            filters = [store.like_patterns(patterns), filter_patterns]
            positions = await store.replay_positions(connection, subscription, start, filters, key)
            if not dry_run:
                await store.enqueue_replay(connection, subscription, positions, time.time())
            return positions

        if dry_run:
            positions = await self._with_connection(work)
        else:
            positions = await self._in_transaction(work, notify=True)
        return ReplayPlan(dry_run, subscription, tuple(positions))

    async def apply_retention(
        self, policy: RetentionPolicy, *, now: datetime | None = None
    ) -> RetentionReport:
        """Delete events older or beyond the size limit, never one still to be handled or held."""
        moment = time.time() if now is None else epoch(now)
        cutoff = None if policy.max_age is None else moment - policy.max_age.total_seconds()

        async def work(connection: Any) -> tuple[int, int | None]:
            await store.lock_log(connection)
            return await store.apply_retention(connection, cutoff, policy.max_bytes)

        deleted, oldest = await self._in_transaction(work, notify=False)
        return RetentionReport(deleted, oldest)


def _newly_logged(
    positions: list[int], events: list[EncodedEvent], fresh: set[int]
) -> tuple[list[int], list[EncodedEvent]]:
    """The events a publish actually appended, to remember: never a duplicate's new content."""
    kept: dict[int, EncodedEvent] = {}
    for position, event in zip(positions, events, strict=True):
        if position in fresh and position not in kept:
            kept[position] = event
    return list(kept), list(kept.values())


def _set_on_loss(lost: asyncio.Event, _connection: Any) -> None:
    """Termination callback of the listening connection."""
    lost.set()


def _aware(timestamp: float) -> datetime:
    """A stored epoch timestamp as an aware UTC datetime."""
    moment = utc(timestamp)
    assert moment is not None
    return moment


async def _check_selection(connection: Any, selection: Selection) -> None:
    """Refuse a selection naming a subscription the database does not know."""
    name = selection.subscription
    if name is not None and await store.subscription_types(connection, name) is None:
        raise UnknownSubscription(name)


def _status(row: store.StatusRow) -> SubscriptionStatus:
    return SubscriptionStatus(
        name=row.name,
        types=tuple(row.types),
        cursor=row.cursor,
        head=row.head,
        retrying=row.retrying,
        dead=row.dead,
        parked=row.parked,
    )


class _Lane:
    """One worker lane of a subscription: claim partitions, handle their batch, commit, repeat."""

    def __init__(self, bus: PostgresBus, subscription: _Subscription, wake: asyncio.Event) -> None:
        self.bus = bus
        self.subscription = subscription
        self.wake = wake
        self.next_due: float | None = None

    async def run(self) -> None:
        """Loop until stopped; a failing cycle is logged and retried after a short pause."""
        pause = 0.0
        while not self.subscription.stopping:
            try:
                worked = await self._cycle()
                pause = 0.0
            except Exception:
                if self.subscription.stopping:
                    return
                _log.exception("bus lane cycle failed", subscription=self.subscription.name)
                pause = min(5.0, max(0.05, pause * 2))
                await asyncio.sleep(pause)
                continue
            if not worked:
                await self._idle()

    async def _idle(self) -> None:
        """Sleep until notified, the fallback poll, or the next retry falling due.

        A retry already due that this lane could not claim sits in a partition another lane
        holds: look again shortly rather than spin until that batch ends.
        """
        timeout = self.bus.poll_interval
        if self.next_due is not None:
            wait = self.next_due - time.time()
            timeout = min(timeout, wait if wait > 0 else _OVERDUE_RECHECK_SECONDS)
        with suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)

    async def _cycle(self) -> bool:
        """Claim partitions and handle one batch of them; return whether there was work."""
        self.wake.clear()
        bus = self.bus
        batch = _Batch(bus)
        try:
            async with bus._require_open().acquire() as connection:
                transaction = connection.transaction()
                await transaction.start()
                try:
                    worked = await self._handle_batch(connection, batch)
                except BaseException:
                    await transaction.rollback()
                    raise
                if not worked:
                    await transaction.rollback()
                    return False
                await transaction.commit()
        finally:
            batch.settled()
        bus._published(batch.published)
        for delivery in batch.deliveries:
            for callback in delivery.callbacks:
                callback()
        return True

    async def _handle_batch(self, connection: Any, batch: _Batch) -> bool:
        """Inside the open transaction: claim, read, run the handlers, write the bookkeeping."""
        subscription = self.subscription
        bus = self.bus
        now = time.time()
        cursors = await store.claim_partitions(
            connection, subscription.name, subscription.share, now
        )
        if not cursors:
            self.next_due = None
            return False
        snapshot = await store.read_batch(
            connection,
            subscription.name,
            cursors,
            subscription.like,
            now,
            bus.batch_size,
            bus._recent,
        )
        self.next_due = snapshot.next_due
        if snapshot.empty:
            return False
        chains = build_chains(
            snapshot.new,
            snapshot.heads,
            snapshot.parked,
            snapshot.held_keys,
            snapshot.complete_keys,
        )
        slot = asyncio.Lock()
        batch.expect(chains)
        await run_chains(
            chains, partial(self._attempt, connection, slot, batch), subscription.concurrency
        )
        deliveries = [*snapshot.new, *snapshot.heads]
        for behind in snapshot.parked.values():
            deliveries.extend(behind)
        await store.record_batch(
            connection,
            subscription.name,
            deliveries,
            snapshot.scanned_to,
            subscription.retry,
            time.time(),
        )
        batch.deliveries = deliveries
        return True

    async def _attempt(
        self, connection: Any, slot: asyncio.Lock, batch: _Batch, delivery: Delivery
    ) -> bool:
        """Run one delivery, then tell the batch when it ended its chain."""
        handled = await self._handle(connection, slot, batch, delivery)
        batch.attempted(delivery, handled=handled)
        return handled

    async def _handle(
        self, connection: Any, slot: asyncio.Lock, batch: _Batch, delivery: Delivery
    ) -> bool:
        """Hand one event to the handler in its own savepoint; record how it went."""
        subscription = self.subscription
        delivery.attempted_at = time.time()
        transaction = _HandlerTransaction(batch, connection, slot)
        context = HandlerContext(
            subscription.name,
            delivery.position,
            delivery.failures + 1,
            transaction,
            delivery.callbacks,
        )
        token = _handling.set(self.bus)
        try:
            event = delivery.event or self.bus._event(delivery.position, delivery.payload)
            await subscription.handler(event, context)
        except Exception as error:
            await transaction.end(handled=False)
            delivery.outcome = Outcome.FAILED
            delivery.error, delivery.stack = describe_failure(error)
            delivery.callbacks.clear()
            return False
        finally:
            _handling.reset(token)
        if not await transaction.end(handled=True):
            delivery.outcome = Outcome.FAILED
            delivery.error = "the handler's transaction failed: a statement error was swallowed"
            delivery.stack = None
            delivery.callbacks.clear()
            return False
        batch.published.extend(transaction.published)
        delivery.outcome = Outcome.HANDLED
        return True


class _Batch:
    """One lane's batch in flight: its follow-up publishes, its deliveries, and whether it settles.

    A batch is settling from a handler's first write, or from the end of its last chain, until
    its transaction ends. Transactions and reads opened through the same bus wait for settling
    batches (as SQLite's single writer makes them), so whoever saw a handler run in this process
    then sees its handled mark and its writes.
    """

    def __init__(self, bus: PostgresBus) -> None:
        self.bus = bus
        self.published: list[tuple[list[int], list[EncodedEvent]]] = []
        self.deliveries: list[Delivery] = []
        self._chain_of: dict[int, int] = {}
        self._running: set[int] = set()
        self._settling = False

    def expect(self, chains: Sequence[list[Delivery]]) -> None:
        """Note the chains about to run; with none, the batch is settling already."""
        self._chain_of = {id(d): id(chain[-1]) for chain in chains for d in chain}
        self._running = set(self._chain_of.values())
        if not self._running:
            self._begin_settling()

    def attempted(self, delivery: Delivery, *, handled: bool) -> None:
        """A delivery ended: its chain ends with it if it failed or was the chain's last."""
        end = self._chain_of.get(id(delivery))
        if end is None or end not in self._running or (handled and id(delivery) != end):
            return
        self._running.discard(end)
        if not self._running:
            self._begin_settling()

    def writing(self) -> None:
        """A handler opened its share of the batch transaction."""
        self._begin_settling()

    def _begin_settling(self) -> None:
        if not self._settling:
            self._settling = True
            self.bus._settling += 1
            self.bus._quiet.clear()

    def settled(self) -> None:
        """The batch's transaction ended, committed or not."""
        if self._settling:
            self._settling = False
            self.bus._settling -= 1
            if self.bus._settling == 0:
                self.bus._quiet.set()
