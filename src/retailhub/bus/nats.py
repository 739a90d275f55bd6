"""The scale-out bus: NATS JetStream holds the log; a SQLite state database holds everything else.

Events live in one stream, on subjects `<prefix>.<event type>`; the stream sequence is the
position. Each subscription is a durable pull consumer filtered by subject. JetStream has no
transactions, so publishing goes through an outbox in the state database (committed with the
caller's writes) that a relay publishes from, and every consumer-side record (cursor, dedupe
marks, retries, dead letters, parking) commits in the state database with the handler's writes
before the messages are acknowledged. See docs/decisions/0004-bus-nats.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    PubAck,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from retailhub.bus import nats_state as state
from retailhub.bus import sqlite_store as store
from retailhub.bus.codec import EncodedEvent, decode_event, encode_events
from retailhub.bus.delivery import (
    Delivery,
    build_chains,
    describe_failure,
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
    MalformedEvent,
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
    ordering_key,
    type_matcher,
)
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.errors import Fault

_log = structlog.get_logger(__name__)

_handling: ContextVar[NatsBus | None] = ContextVar("retailhub_nats_handling", default=None)

BATCH_HEADER = "Retailhub-Batch"
_SUBJECT_TYPE = re.compile(r"^[^\s.*>]+(\.[^\s.*>]+)*$")
_CONSUMER_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_RELAY_CHUNK = 1000
_RELAYED_KEPT = 100_000
_RECENT_EVENTS = 50_000
_GATHER_SECONDS = 0.005
_SCAN_CHUNK = 256


def subject_filter(prefix: str, patterns: Sequence[str]) -> str:
    """The one JetStream subject filter that covers the type patterns (checked again per event).

    `*` in a bus pattern matches any text, dots included, so only a trailing `.*` (or `*` alone)
    maps to a subject wildcard; anything else, or several patterns, filters on every event.
    """
    if len(patterns) != 1 or patterns[0] == "*":
        return f"{prefix}.>"
    pattern = patterns[0]
    if "*" not in pattern and _SUBJECT_TYPE.match(pattern):
        return f"{prefix}.{pattern}"
    stem = pattern[:-2]
    if pattern.endswith(".*") and "*" not in stem and _SUBJECT_TYPE.match(stem):
        return f"{prefix}.{stem}.>"
    return f"{prefix}.>"


def consumer_name(stream: str, subscription: str) -> str:
    """A durable consumer name for a subscription: readable, and unique even after escaping."""
    safe = _CONSUMER_CHARS.sub("_", subscription)
    if safe != subscription:
        safe += "_" + hashlib.sha1(subscription.encode()).hexdigest()[:8]
    return f"{stream}_{safe}"


def message_id(event_id: str, source: str) -> str:
    """The Nats-Msg-Id of an event: its CloudEvents identity, header-safe."""
    return hashlib.blake2b(f"{source}\0{event_id}".encode(), digest_size=12).hexdigest()


def new_batch_id() -> str:
    """A batch label: short, since every consumer parses it with each message."""
    return secrets.token_hex(8)


class _StateTransaction(Transaction):
    """A write transaction on the state database; events published in it wait in the outbox."""

    def __init__(self, bus: NatsBus, batch: str) -> None:
        self._bus = bus
        self.batch = batch
        self.staged = False

    @property
    def connection(self) -> store.SqliteConnection:
        """The thread-confined connection: `await tx.connection.run(fn)` runs fn(sqlite3_conn)."""
        return self._bus._writer

    async def _enter(self) -> None:
        """Make sure the transaction is open before a statement runs in it."""

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement inside the transaction."""
        await self._enter()
        await self._bus._writer.run(lambda c: c.execute(statement, parameters))

    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one query inside the transaction and return its rows."""
        await self._enter()
        return await self._bus._writer.run(lambda c: c.execute(statement, parameters).fetchall())

    async def stage(self, events: list[EncodedEvent]) -> None:
        """Put events in the outbox within this transaction."""
        await self._enter()
        await self._bus._writer.run(partial(state.stage, batch=self.batch, events=events))
        self.staged = True


class _BatchUnit:
    """One worker batch's write transaction: begun when a handler first writes, or at commit."""

    def __init__(self, bus: NatsBus) -> None:
        self.bus = bus
        self.begun = False
        self.staged = False
        self.slot = asyncio.Lock()
        self.batch = new_batch_id()

    async def begin(self) -> None:
        """Take the process's write lock and open the transaction, once."""
        if self.begun:
            return
        await self.bus._write_lock.acquire()
        try:
            await self.bus._writer.run(lambda c: c.execute("BEGIN IMMEDIATE"))
        except BaseException:
            self.bus._write_lock.release()
            raise
        self.begun = True

    async def commit(self, bookkeeping: Callable[[Any], None]) -> None:
        """Write the batch's bookkeeping and commit it with whatever the handlers wrote.

        When no handler wrote, the transaction begins and commits in one hop to the database.
        """
        begin = not self.begun
        if begin:
            await self.bus._write_lock.acquire()
            self.begun = True

        def finish(connection: Any) -> None:
            if begin:
                connection.execute("BEGIN IMMEDIATE")
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
            await self.bus._writer.run(_rollback_if_open)
        finally:
            self.bus._write_lock.release()


def _rollback_if_open(connection: Any) -> None:
    """Roll back unless a cancelled commit already finished on the connection's thread."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")


class _HandlerTransaction(_StateTransaction):
    """A handler's share of its batch transaction: a savepoint, so a failure undoes only its writes.

    Handlers of one batch run in parallel but take turns on the database: the first statement
    waits for the batch's slot and holds it until the handler returns.
    """

    def __init__(self, unit: _BatchUnit) -> None:
        super().__init__(unit.bus, unit.batch)
        self._unit = unit
        self._active = False

    async def _enter(self) -> None:
        if self._active:
            return
        await self._unit.slot.acquire()
        try:
            await self._unit.begin()
            await self._bus._writer.run(lambda c: c.execute("SAVEPOINT handler"))
        except BaseException:
            self._unit.slot.release()
            raise
        self._active = True

    async def end(self, *, handled: bool) -> None:
        """Keep the handler's writes if it handled the event, else roll them back."""
        if not self._active:
            return
        self._active = False
        try:
            await self._bus._writer.run(_release if handled else _roll_back_savepoint)
            if handled and self.staged:
                self._unit.staged = True
        finally:
            self._unit.slot.release()


def _release(connection: Any) -> None:
    """Keep a handler's writes inside the batch transaction."""
    connection.execute("RELEASE handler")


def _roll_back_savepoint(connection: Any) -> None:
    """Undo a failed handler's writes, leaving the rest of the batch intact."""
    connection.execute("ROLLBACK TO handler")
    connection.execute("RELEASE handler")


@dataclass(slots=True)
class _Subscription:
    """A subscription this process runs: its filter, handler, policy, consumer and worker."""

    name: str
    types: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy
    concurrency: int
    pull: JetStreamContext.PullSubscription
    delivered: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    stopping: bool = False


class NatsBus(EventBus):
    """Events in a JetStream stream; cursors, dedupe marks, held events and outbox in SQLite."""

    def __init__(
        self,
        url: str,
        state_path: str | Path,
        *,
        stream: str = "RETAILHUB_EVENTS",
        subject_prefix: str = "retailhub.events",
        batch_size: int = 500,
        fetch_wait: float = 0.25,
        relay_interval: float = 1.0,
        ack_wait: timedelta = timedelta(seconds=60),
        duplicate_window: timedelta = timedelta(minutes=2),
        stream_max_age: timedelta | None = None,
        stream_max_bytes: int | None = None,
        synchronous: str = "NORMAL",
    ) -> None:
        self.url = url
        self.state_path = Path(state_path)
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.batch_size = batch_size
        self.fetch_wait = fetch_wait
        self.relay_interval = relay_interval
        self.ack_wait = ack_wait
        self.duplicate_window = duplicate_window
        self.stream_max_age = stream_max_age
        self.stream_max_bytes = stream_max_bytes
        self._writer = store.SqliteConnection(self.state_path, synchronous=synchronous)
        self._reader = store.SqliteConnection(self.state_path, synchronous=synchronous)
        self._write_lock = asyncio.Lock()
        self._relay_lock = asyncio.Lock()
        self._relayed: dict[int, int] = {}
        self._recent: dict[int, CloudEvent] = {}
        self._staged: dict[int, CloudEvent] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._opened = False

    # lifecycle

    async def open(self) -> None:
        """Open the state database, connect to NATS, create the stream, relay leftovers."""
        if self._opened:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.open()
        await self._writer.run(state.create_schema)
        await self._reader.open()
        self._nc = await nats.connect(self.url, name="retailhub-bus")
        self._js = self._nc.jetstream()
        await self._ensure_stream()
        self._opened = True
        await self._relay()
        self._relay_task = asyncio.create_task(self._relay_forever(), name="bus-nats-relay")

    async def _ensure_stream(self) -> None:
        """Create the event stream if it does not exist yet."""
        try:
            await self._jetstream.stream_info(self.stream)
        except NotFoundError:
            await self._jetstream.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.subject_prefix}.>"],
                    storage=StorageType.FILE,
                    duplicate_window=self.duplicate_window.total_seconds(),
                    max_age=None
                    if self.stream_max_age is None
                    else self.stream_max_age.total_seconds(),
                    max_bytes=self.stream_max_bytes,
                )
            )

    async def close(self) -> None:
        """Stop workers and the relay, then close the NATS connection and the state database."""
        for name in list(self._subscriptions):
            await self.unsubscribe(name)
        if not self._opened:
            return
        self._opened = False
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
        if self._nc is not None:
            with suppress(Exception):
                await self._nc.flush()
            await self._nc.close()
        await self._reader.close()
        await self._writer.close()

    async def delete_stream(self) -> None:
        """Stop this process's workers, then delete the stream with its consumers.

        For benchmarks and tests on a throwaway stream; the state database is left as it is.
        """
        for name in list(self._subscriptions):
            await self.unsubscribe(name)
        with suppress(NotFoundError):
            await self._jetstream.delete_stream(self.stream)

    @property
    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise BusError("the NATS bus is not open")
        return self._js

    # publishing: outbox, then relay

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction on the state database; events published in it commit with it."""
        return self._caller_transaction()

    @asynccontextmanager
    async def _caller_transaction(self) -> AsyncIterator[Transaction]:
        self._refuse_inside_handler("open a transaction")
        async with self._write_lock:
            await self._writer.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            transaction = _StateTransaction(self, new_batch_id())
            try:
                yield transaction
            except BaseException:
                await self._writer.run(_rollback_if_open)
                raise
            await self._writer.run(lambda c: c.execute("COMMIT"))
        if transaction.staged:
            await self._relay_quietly()

    async def publish(
        self, events: Sequence[CloudEvent], *, transaction: Transaction | None = None
    ) -> list[int]:
        """Commit a batch to the outbox, relay it to the stream, and return its positions.

        Inside a transaction the positions are not known until it commits and the relay runs:
        each is returned as 0.
        """
        encoded = self._encode(events)
        if not encoded:
            return []
        if transaction is not None:
            if not isinstance(transaction, _StateTransaction) or transaction._bus is not self:
                raise BusError("the transaction belongs to another bus")
            await transaction.stage(encoded)
            return [0] * len(encoded)
        self._refuse_inside_handler("publish")
        batch = new_batch_id() if len(encoded) > 1 else None
        ids: list[int] = await self._write(partial(state.stage, batch=batch, events=encoded))
        self._staged.update(zip(ids, (item.event for item in encoded), strict=True))
        try:
            await self._relay()
        finally:
            for i in ids:
                self._staged.pop(i, None)
        return [self._relayed.pop(i, 0) for i in ids]

    def _remember(self, rows: Sequence[state.OutboxRow], acks: Sequence[PubAck]) -> None:
        """Keep events this process published, so its own workers need not parse them again.

        A duplicate keeps the stream's original, which may differ from the one republished.
        """
        recent = self._recent
        for row, ack in zip(rows, acks, strict=True):
            event = self._staged.get(row.id)
            if event is not None and not ack.duplicate:
                recent[ack.seq] = event
        if len(recent) > 2 * _RECENT_EVENTS:
            newest = max(recent)
            self._recent = {p: e for p, e in recent.items() if p > newest - _RECENT_EVENTS}

    def _encode(self, events: Sequence[CloudEvent]) -> list[EncodedEvent]:
        """Encode a batch, also refusing types that cannot be a subject's tokens."""
        encoded = encode_events(events)
        faults = [
            Fault(f"$[{index}].type", "must be dot-separated words without spaces, '*' or '>'")
            for index, item in enumerate(encoded)
            if not _SUBJECT_TYPE.match(item.type)
        ]
        if faults:
            raise MalformedEvent(faults)
        return encoded

    def _refuse_inside_handler(self, action: str) -> None:
        """A handler holding the batch transaction would wait on itself; say what to do instead."""
        if _handling.get() is self:
            raise BusError(
                f"cannot {action} from inside a handler: pass transaction=ctx.transaction so "
                "the events commit together with the handler's effect"
            )

    async def _relay(self) -> None:
        """Publish every outbox row to the stream, oldest first, and forget the acknowledged ones.

        Each message carries its event's identity as Nats-Msg-Id, so publishing a row twice
        (after a crash between the ack and the delete) keeps one copy and its first position.
        """
        js = self._jetstream
        async with self._relay_lock:
            for _ in range(10_000):
                rows: list[state.OutboxRow] = await self._read(
                    partial(state.pending, limit=_RELAY_CHUNK)
                )
                if not rows:
                    return
                futures = []
                for row in rows:
                    headers = {"Nats-Msg-Id": message_id(row.event_id, row.source)}
                    if row.batch is not None:
                        headers[BATCH_HEADER] = row.batch
                    futures.append(
                        await js.publish_async(
                            f"{self.subject_prefix}.{row.type}",
                            row.payload,
                            headers=headers,
                        )
                    )
                acks = await asyncio.gather(*futures)
                for row, ack in zip(rows, acks, strict=True):
                    self._relayed[row.id] = ack.seq
                self._remember(rows, acks)
                if len(self._relayed) > _RELAYED_KEPT:
                    newest = rows[-1].id
                    self._relayed = {
                        i: p for i, p in self._relayed.items() if i > newest - _RELAYED_KEPT // 2
                    }
                await self._write(partial(state.relayed, ids=[r.id for r in rows]))

    async def _relay_quietly(self) -> None:
        """Relay now; on failure leave the rows for the background relay and log why."""
        try:
            await self._relay()
        except Exception:
            _log.exception("bus outbox relay failed; will retry", stream=self.stream)

    async def _relay_forever(self) -> None:
        """Pick up outbox rows a crashed process or a failed relay left behind."""
        while True:
            await asyncio.sleep(self.relay_interval)
            await self._relay_quietly()

    # state database

    async def _read(self, work: Callable[[Any], Any]) -> Any:
        """Run a read-only unit of work on one snapshot of the state database."""
        return await self._reader.run(store.in_transaction(work, write=False))

    async def _settled_read(self, work: Callable[[Any], Any]) -> Any:
        """Read between this process's write transactions, so never in the middle of a batch.

        What an operator reads (held events, status) then agrees with what handlers have done.
        """
        if _handling.get() is self:
            return await self._read(work)
        async with self._write_lock:
            return await self._read(work)

    async def _write(self, work: Callable[[Any], Any]) -> Any:
        """Run a write unit of work as one transaction, then wake this process's workers."""
        async with self._write_lock:
            result = await self._writer.run(store.in_transaction(work, write=True))
        for subscription in self._subscriptions.values():
            subscription.wake.set()
        return result

    # subscriptions

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
        """Create the durable subscription and its consumer if new, and start its worker here."""
        if not name:
            raise BusError("a subscription needs a name")
        if name in self._subscriptions:
            raise BusError(f"subscription {name!r} already runs in this process")
        type_matcher(types)
        start = from_position if from_position is not None else await self._head()
        await self._write(
            partial(
                store.ensure_subscription,
                name=name,
                types=types,
                from_position=start,
                now=time.time(),
            )
        )
        found = await self._read(partial(store.subscription_row, name=name))
        assert found is not None
        pull, delivered = await self._bind_consumer(name, tuple(types), cursor=found[1])
        subscription = _Subscription(
            name, tuple(types), handler, retry, max(1, concurrency), pull, delivered
        )
        self._subscriptions[name] = subscription
        subscription.task = asyncio.create_task(
            _Worker(self, subscription).run(), name=f"bus-worker-{name}"
        )

    async def _bind_consumer(
        self, name: str, types: tuple[str, ...], cursor: int, *, fresh: bool = False
    ) -> tuple[JetStreamContext.PullSubscription, int]:
        """Bind to the subscription's durable consumer, (re)creating it at the cursor if needed.

        Returns the pull subscription and the consumer's delivery count so far.

        A consumer with deliveries still unacknowledged belongs to a worker that stopped or died
        mid-batch: JetStream would redeliver those only after `ack_wait`, behind newer events, so
        it is recreated at the cursor instead, keeping each key in order. Everything up to the
        cursor is recorded in the state database, so nothing is lost. A consumer that has
        acknowledged past the cursor answers to other state (a replaced state database) and is
        recreated too.
        """
        js = self._jetstream
        durable = consumer_name(self.stream, name)
        wanted = subject_filter(self.subject_prefix, types)
        try:
            info = await js.consumer_info(self.stream, durable)
            stale = info.config.filter_subject != wanted or info.config.ack_policy != AckPolicy.ALL
            ahead = info.ack_floor is not None and info.ack_floor.stream_seq > cursor
            if fresh or stale or ahead or info.num_ack_pending:
                await js.delete_consumer(self.stream, durable)
                raise NotFoundError
            delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        except NotFoundError:
            delivered = 0
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=durable,
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=cursor + 1,
                    ack_policy=AckPolicy.ALL,
                    ack_wait=self.ack_wait.total_seconds(),
                    max_ack_pending=max(1000, 4 * self.batch_size),
                    filter_subject=wanted,
                ),
            )
        pull = await js.pull_subscribe_bind(durable=durable, stream=self.stream)
        return pull, delivered

    async def unsubscribe(self, name: str) -> None:
        """Stop this process's worker after its current batch; the durable consumer stays."""
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
        with suppress(Exception):
            await subscription.pull.unsubscribe()

    async def _head(self) -> int:
        """The highest position the stream ever assigned (0 for a new stream)."""
        info = await self._jetstream.stream_info(self.stream)
        return int(info.state.last_seq)

    async def status(self, subscription: str) -> SubscriptionStatus:
        """Where the subscription stands; raises UnknownSubscription."""
        head = await self._head()
        return await self._settled_read(partial(_status, name=subscription, head=head))  # type: ignore[no-any-return]

    async def subscriptions(self) -> list[SubscriptionStatus]:
        """Every durable subscription, by name."""
        head = await self._head()

        def every(connection: Any) -> list[SubscriptionStatus]:
            return [_status(connection, n, head) for n in store.subscription_names(connection)]

        return await self._settled_read(every)  # type: ignore[no-any-return]

    # reading the stream

    async def _scan(
        self,
        *,
        start: int | None = None,
        since: datetime | None = None,
        until: int,
        patterns: Sequence[str] = (),
        headers_only: bool = False,
    ) -> AsyncIterator[Msg]:
        """Stream messages from a position (or a time) up to `until`, through an ephemeral consumer."""
        if until < 1 or (start is not None and start > until):
            return
        js = self._jetstream
        config = ConsumerConfig(
            deliver_policy=(
                DeliverPolicy.BY_START_TIME
                if since is not None
                else DeliverPolicy.BY_START_SEQUENCE
            ),
            opt_start_seq=None if since is not None else max(1, start or 1),
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
            headers_only=headers_only or None,
            mem_storage=True,
        )
        pull = await js.pull_subscribe(
            subject_filter(self.subject_prefix, patterns), stream=self.stream, config=config
        )
        name = None
        try:
            info = await pull.consumer_info()
            name = info.name
            if not info.num_pending:
                return
            for _ in range(1 + until // _SCAN_CHUNK + 1000):
                try:
                    messages = await pull.fetch(_SCAN_CHUNK, timeout=1.0)
                except TimeoutError:
                    return
                for message in messages:
                    if message.metadata.sequence.stream > until:
                        return
                    yield message
                if messages[-1].metadata.num_pending == 0:
                    return
        finally:
            with suppress(Exception):
                await pull.unsubscribe()
            if name is not None:
                with suppress(Exception):
                    await js.delete_consumer(self.stream, name)

    def _type_of(self, message: Msg) -> str:
        """The event type a message's subject carries."""
        return message.subject[len(self.subject_prefix) + 1 :]

    async def tail(
        self,
        *,
        after: int = 0,
        types: Sequence[str] = (),
        key: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        """Read the stream after a position, optionally only some types or one ordering key.

        Stops before the first event of a batch the relay has not finished publishing.
        """
        matches = type_matcher(types)
        found: list[tuple[Msg, CloudEvent]] = []
        async for message in self._scan(start=after + 1, until=await self._head(), patterns=types):
            if not matches(self._type_of(message)):
                continue
            event = decode_event(message.data)
            if key is not None and ordering_key(event) != key:
                continue
            found.append((message, event))
            if len(found) >= limit:
                break
        batches = [b for m, _ in found if (b := (m.headers or {}).get(BATCH_HEADER))]
        unfinished = await self._read(partial(state.unfinished_batches, batches=batches))
        logged = []
        for message, event in found:
            if (message.headers or {}).get(BATCH_HEADER) in unfinished:
                break
            metadata = message.metadata
            logged.append(LoggedEvent(metadata.sequence.stream, metadata.timestamp, event))
        return logged

    # held events: dead letters and parking

    async def held(
        self, selection: Selection = EVERYTHING, *, states: Iterable[HoldState] = ALL_STATES
    ) -> list[HeldEvent]:
        """Events held back from their subscriptions, oldest first."""
        wanted = tuple(states)

        def read(connection: Any) -> list[store.HeldRow]:
            _check_selection(connection, selection)
            return store.select_held(connection, selection, wanted)

        return [_held_event(row) for row in await self._settled_read(read)]

    async def retry(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Put matching dead letters back in line now, with a fresh attempt budget."""
        return await self._move(selection, dry_run, store.retry_held)

    async def skip(self, selection: Selection, *, dry_run: bool = False) -> Move:
        """Record matching dead letters as skipped and release the events they park."""

        def skip_and_prune(connection: Any, rows: Sequence[store.HeldRow], now: float) -> None:
            store.skip_held(connection, rows, now)
            state.prune(connection)

        return await self._move(selection, dry_run, skip_and_prune)

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

        rows, behind = await (self._settled_read(work) if dry_run else self._write(work))
        return Move(dry_run, tuple(_held_event(r) for r in rows), behind)

    # replay and retention

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
        if since is not None and since.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        replay_matches = type_matcher(types)
        found = await self._settled_read(partial(store.subscription_row, name=subscription))
        if found is None:
            raise UnknownSubscription(subscription)
        patterns, cursor = found
        info = await self._jetstream.stream_info(self.stream)
        oldest, newest = int(info.state.first_seq), int(info.state.last_seq)
        requested: int | datetime = from_position if from_position is not None else since  # type: ignore[assignment]
        if not info.state.messages:
            raise ReplayOutOfRange(requested, 0, 0)
        if from_position is not None and not oldest <= from_position <= newest:
            raise ReplayOutOfRange(from_position, oldest, newest)
        subscribed = type_matcher(patterns)
        held_here: set[int] = await self._read(
            lambda c: {
                r[0]
                for r in c.execute(
                    "SELECT position FROM bus_held WHERE subscription = ?", (subscription,)
                )
            }
        )
        chosen: list[state.KeptEvent] = []
        first_seen = False
        async for message in self._scan(
            start=from_position, since=since, until=min(cursor, newest), patterns=patterns
        ):
            first_seen = True
            position = message.metadata.sequence.stream
            event_type = self._type_of(message)
            if not (subscribed(event_type) and replay_matches(event_type)):
                continue
            if position in held_here:
                continue
            event = decode_event(message.data)
            event_key = ordering_key(event)
            if key is not None and event_key != key:
                continue
            chosen.append(_kept(position, message, event))
        if since is not None and not first_seen and not await self._any_since(since, newest):
            raise ReplayOutOfRange(since, oldest, newest)
        positions = [k.position for k in chosen]
        if not dry_run and chosen:

            def enqueue(connection: Any) -> None:
                state.keep(connection, chosen)
                store.enqueue_replay(connection, subscription, positions, time.time())

            await self._write(enqueue)
        return ReplayPlan(dry_run, subscription, tuple(positions))

    async def _any_since(self, since: datetime, newest: int) -> bool:
        """Whether the stream holds any event recorded at or after `since`."""
        async for _message in self._scan(since=since, until=newest, headers_only=True):
            return True
        return False

    async def apply_retention(
        self, policy: RetentionPolicy, *, now: datetime | None = None
    ) -> RetentionReport:
        """Delete events older or beyond the size limit, never one still to be handled or held.

        JetStream's own limits cannot see cursors or dead letters, so this reads the stream's
        headers, then purges the prefix it may and deletes single messages past the first held one.
        """
        moment = time.time() if now is None else now.timestamp()
        cutoff = None if policy.max_age is None else moment - policy.max_age.total_seconds()
        floor, held = await self._read(state.retention_floor)
        head = await self._head()
        upper = head if floor is None else min(floor, head)
        sizes: list[tuple[int, float, int]] = []
        async for message in self._scan(start=1, until=head, headers_only=True):
            headers = message.headers or {}
            sizes.append(
                (
                    message.metadata.sequence.stream,
                    message.metadata.timestamp.timestamp(),
                    int(headers.get("Nats-Msg-Size", len(message.data))),
                )
            )
        size_boundary = 0
        if policy.max_bytes is not None:
            newer = 0
            for position, _at, size in reversed(sizes):
                newer += size
                if newer > policy.max_bytes:
                    size_boundary = position
                    break
        doomed = [
            position
            for position, at, _size in sizes
            if position <= upper
            and position not in held
            and ((cutoff is not None and at < cutoff) or position <= size_boundary)
        ]
        await self._delete(doomed, [p for p, _a, _s in sizes])
        info = await self._jetstream.stream_info(self.stream)
        oldest = int(info.state.first_seq) if info.state.messages else None
        await self._write(
            partial(
                state.forget_handled_before, position=oldest if oldest is not None else head + 1
            )
        )
        return RetentionReport(len(doomed), oldest)

    async def _delete(self, doomed: Sequence[int], present: Sequence[int]) -> None:
        """Purge the longest prefix of the stream that is all doomed, then delete the rest singly."""
        doomed_set = set(doomed)
        prefix = 0
        for position in present:
            if position not in doomed_set:
                break
            prefix += 1
        js = self._jetstream
        if prefix:
            await js.purge_stream(self.stream, seq=present[prefix - 1] + 1)
        for position in present[prefix:]:
            if position in doomed_set:
                await js.delete_msg(self.stream, position)


def _kept(position: int, message: Msg, event: CloudEvent) -> state.KeptEvent:
    """A stream message as the copy the state database keeps while it is held."""
    return state.KeptEvent(
        position,
        event.id,
        event.source,
        event.type,
        ordering_key(event),
        message.metadata.timestamp.timestamp(),
        message.data,
    )


def _held_event(row: store.HeldRow) -> HeldEvent:
    """A stored held row as the port's record."""
    return HeldEvent(
        subscription=row.subscription,
        position=row.position,
        state=HoldState(row.state),
        event=decode_event(row.payload),
        key=row.key,
        attempts=read_attempts(row.history),
        next_attempt_at=utc(row.next_attempt_at),
        error=row.error,
        stack=row.stack,
    )


def _check_selection(connection: Any, selection: Selection) -> None:
    """Refuse a selection naming a subscription the state database does not know."""
    name = selection.subscription
    if name is not None and store.subscription_row(connection, name) is None:
        raise UnknownSubscription(name)


def _status(connection: Any, name: str, head: int) -> SubscriptionStatus:
    """One subscription's cursor, the stream head and its held counts."""
    found = store.subscription_row(connection, name)
    if found is None:
        raise UnknownSubscription(name)
    patterns, cursor = found
    counts = store.held_counts(connection, name)
    return SubscriptionStatus(
        name=name,
        types=tuple(patterns),
        cursor=cursor,
        head=head,
        retrying=counts.get(HoldState.RETRYING.value, 0),
        dead=counts.get(HoldState.DEAD.value, 0),
        parked=counts.get(HoldState.PARKED.value, 0),
    )


@dataclass(slots=True)
class _Arrivals:
    """What one fetch brought, sorted out: to handle, to acknowledge only, and to keep for later."""

    new: list[Delivery] = field(default_factory=list)
    kept: dict[int, state.KeptEvent] = field(default_factory=dict)
    done: list[Msg] = field(default_factory=list)
    later: list[Msg] = field(default_factory=list)
    scanned_to: int = 0


class _Worker:
    """Runs one subscription: fetch, sort out, handle keys in parallel, commit, then ack."""

    def __init__(self, bus: NatsBus, subscription: _Subscription) -> None:
        self.bus = bus
        self.subscription = subscription
        self.matches = type_matcher(subscription.types)
        self.next_due: float | None = None
        self.backlog: list[Msg] = []

    async def run(self) -> None:
        """Loop until stopped; a failing cycle is logged and retried after a short pause."""
        pause = 0.0
        try:
            while not self.subscription.stopping:
                try:
                    await self._cycle()
                    pause = 0.0
                except Exception:
                    _log.exception("bus worker cycle failed", subscription=self.subscription.name)
                    pause = min(5.0, max(0.05, pause * 2))
                    await asyncio.sleep(pause)
        finally:
            backlog, self.backlog = self.backlog, []
            await _settle(backlog, ack=False)

    def _wait(self) -> float:
        """How long a fetch may wait: until the next retry falls due, at most `fetch_wait`."""
        if self.subscription.wake.is_set():
            self.subscription.wake.clear()
            return 0.001
        wait = min(self.bus.fetch_wait, _GATHER_SECONDS) if self.backlog else self.bus.fetch_wait
        if self.next_due is not None:
            wait = min(wait, self.next_due - time.time())
        return max(0.001, wait)

    async def _fetch(self) -> list[Msg]:
        """The next messages of the consumer; none if it waited in vain.

        A pull for a whole batch only returns once the batch is full or the pull expires, so
        a short pull takes what is there; when nothing is, a pull for one message waits (and
        returns with the first to arrive), and another short pull collects what came with it.
        """
        pull = self.subscription.pull
        wait = self._wait()
        quick = min(_GATHER_SECONDS, wait)
        try:
            return await pull.fetch(self.bus.batch_size, timeout=quick)
        except TimeoutError:
            if wait <= quick:
                return []
        try:
            first = await pull.fetch(1, timeout=wait - quick)
        except TimeoutError:
            return []
        if self.bus.batch_size == 1:
            return first
        try:
            return first + await pull.fetch(self.bus.batch_size - 1, timeout=_GATHER_SECONDS)
        except TimeoutError:
            return first

    async def _cycle(self) -> None:
        """Handle one batch: the fetched messages and the held events now due.

        Messages of a batch the relay is still publishing wait in `backlog`, unacknowledged,
        and are looked at again with the next fetch; anything in hand when a cycle fails is
        handed back to JetStream at once.
        """
        fetched = await self._fetch()
        if not self._in_sequence(fetched):
            await self._rewind()
            return
        messages = sorted(self.backlog + fetched, key=lambda m: m.metadata.sequence.stream)
        self.backlog = []
        try:
            await self._handle(messages)
        except BaseException:
            backlog, self.backlog = self.backlog, []
            await _settle(messages + backlog, ack=False)
            raise

    def _in_sequence(self, fetched: list[Msg]) -> bool:
        """Whether these deliveries follow the last ones without a gap.

        Acknowledgements are cumulative, so a delivery that never reached this worker (lost
        with a pull that timed out, say) would be acknowledged with the next batch unhandled.
        JetStream numbers deliveries; a gap in those numbers means one went missing.
        """
        expected = self.subscription.delivered
        for message in sorted(fetched, key=lambda m: m.metadata.sequence.consumer):
            expected += 1
            if message.metadata.sequence.consumer != expected:
                return False
        self.subscription.delivered = expected
        return True

    async def _rewind(self) -> None:
        """Start the consumer again just after the cursor: everything up to it is recorded."""
        subscription = self.subscription
        _log.warning("bus delivery went missing; rewinding to the cursor", name=subscription.name)
        self.backlog = []
        with suppress(Exception):
            await subscription.pull.unsubscribe()
        found = await self.bus._read(partial(store.subscription_row, name=subscription.name))
        cursor = found[1] if found is not None else 0
        subscription.pull, subscription.delivered = await self.bus._bind_consumer(
            subscription.name, subscription.types, cursor, fresh=True
        )

    async def _handle(self, messages: list[Msg]) -> None:
        """Sort out, handle and commit one batch, then acknowledge what it settled."""
        subscription = self.subscription
        arrivals = self._sort_out(messages)
        snapshot, unfinished, seen, held = await self.bus._read(
            partial(self._look_up, arrivals=arrivals, now=time.time())
        )
        self.next_due = snapshot.next_due
        self._hold_back(arrivals, unfinished, seen)
        if not arrivals.new and not snapshot.heads:
            await self._commit_scan(arrivals)
            if not messages:
                await self._advance_when_idle()
            return
        chains = build_chains(
            arrivals.new, snapshot.heads, snapshot.parked, held, snapshot.complete_keys
        )
        unit = _BatchUnit(self.bus)
        deliveries = [*arrivals.new, *snapshot.heads]
        for behind in snapshot.parked.values():
            deliveries.extend(behind)
        try:
            await run_chains(chains, partial(self._attempt, unit), subscription.concurrency)
            await unit.commit(partial(self._bookkeeping, arrivals=arrivals, deliveries=deliveries))
        except BaseException:
            await unit.abort()
            raise
        if any(d.outcome is Outcome.FAILED for d in deliveries):
            self.next_due = time.time()
        if unit.staged:
            await self.bus._relay_quietly()
        for delivery in deliveries:
            for callback in delivery.callbacks:
                callback()
        await _settle(arrivals.done, ack=True)
        self.backlog = arrivals.later

    def _sort_out(self, messages: list[Msg]) -> _Arrivals:
        """Split fetched messages into events to handle and messages only to acknowledge."""
        arrivals = _Arrivals()
        positions: set[int] = set()
        for message in messages:
            position = message.metadata.sequence.stream
            if position in positions:
                arrivals.done.append(message)
                continue
            positions.add(position)
            if not self.matches(self.bus._type_of(message)):
                arrivals.done.append(message)
                continue
            try:
                event = self.bus._recent.get(position) or decode_event(message.data)
            except MalformedEvent:
                _log.error("undecodable event in the stream", position=position)
                arrivals.done.append(message)
                continue
            arrivals.new.append(
                Delivery(position, event.id, ordering_key(event), message.data, event=event)
            )
            arrivals.kept[position] = _kept(position, message, event)
            arrivals.done.append(message)
        return arrivals

    def _look_up(
        self, connection: Any, arrivals: _Arrivals, now: float
    ) -> tuple[store.BatchSnapshot, set[str], set[int], set[str]]:
        """One snapshot: held events due, unfinished batches, redeliveries, keys held back."""
        name = self.subscription.name
        # No new rows come from the state database's log: this reads only the held side.
        snapshot = store.read_batch(connection, name, ("0", []), now, self.bus.batch_size, {})
        batches = [
            b for m in arrivals.done if (b := (m.headers or {}).get(BATCH_HEADER)) is not None
        ]
        unfinished = state.unfinished_batches(connection, batches)
        seen = state.already_seen(
            connection, name, [(d.position, d.event_id) for d in arrivals.new]
        )
        keys = [d.key for d in arrivals.new if d.key is not None]
        return snapshot, unfinished, seen, state.held_keys(connection, name, keys)

    def _hold_back(self, arrivals: _Arrivals, unfinished: set[str], seen: set[int]) -> None:
        """Hand back everything from the first event of an unfinished batch; drop repeats."""
        cut = None
        for message in arrivals.done:
            if (message.headers or {}).get(BATCH_HEADER) in unfinished:
                cut = message.metadata.sequence.stream
                break
        if cut is not None:
            arrivals.later = [m for m in arrivals.done if m.metadata.sequence.stream >= cut]
            arrivals.done = [m for m in arrivals.done if m.metadata.sequence.stream < cut]
        handled_ids: set[str] = set()
        fresh = []
        for delivery in arrivals.new:
            if cut is not None and delivery.position >= cut:
                continue
            if delivery.position in seen or delivery.event_id in handled_ids:
                continue
            handled_ids.add(delivery.event_id)
            fresh.append(delivery)
        arrivals.new = fresh
        arrivals.scanned_to = max((m.metadata.sequence.stream for m in arrivals.done), default=0)

    def _bookkeeping(
        self, connection: Any, arrivals: _Arrivals, deliveries: list[Delivery]
    ) -> None:
        """Inside the batch transaction: keep payloads of what is now held, record the outcome."""
        state.keep(
            connection,
            [arrivals.kept[d.position] for d in arrivals.new if d.outcome is not Outcome.HANDLED],
        )
        store.record_batch(
            connection,
            self.subscription.name,
            deliveries,
            arrivals.scanned_to,
            self.subscription.retry,
            time.time(),
        )
        if any(d.held is not None for d in deliveries):
            state.prune(connection)

    async def _commit_scan(self, arrivals: _Arrivals) -> None:
        """Record how far a batch with nothing to handle got, then acknowledge and hand back."""
        if arrivals.scanned_to:
            await self.bus._write(
                partial(
                    state.advance_cursor, name=self.subscription.name, position=arrivals.scanned_to
                )
            )
        await _settle(arrivals.done, ack=True)
        self.backlog = arrivals.later

    async def _advance_when_idle(self) -> None:
        """Move the cursor to the stream head once the consumer has nothing left to deliver.

        Reading the head before the consumer's state makes this safe: any matching event up to
        that head is then either delivered and acknowledged (so recorded) or still pending.
        """
        head = await self.bus._head()
        found = await self.bus._read(partial(store.subscription_row, name=self.subscription.name))
        if found is None or found[1] >= head:
            return
        info = await self.subscription.pull.consumer_info()
        if info.num_pending == 0 and info.num_ack_pending == 0:
            await self.bus._write(
                partial(state.advance_cursor, name=self.subscription.name, position=head)
            )

    async def _attempt(self, unit: _BatchUnit, delivery: Delivery) -> bool:
        """Hand one event to the handler in its own savepoint; record how it went."""
        subscription = self.subscription
        delivery.attempted_at = time.time()
        transaction = _HandlerTransaction(unit)
        context = HandlerContext(
            subscription.name,
            delivery.position,
            delivery.failures + 1,
            transaction,
            delivery.callbacks,
        )
        token = _handling.set(self.bus)
        try:
            event = delivery.event or decode_event(delivery.payload)
            await subscription.handler(event, context)
        except Exception as error:
            await transaction.end(handled=False)
            delivery.outcome = Outcome.FAILED
            delivery.error, delivery.stack = describe_failure(error)
            delivery.callbacks.clear()
            return False
        finally:
            _handling.reset(token)
        await transaction.end(handled=True)
        delivery.outcome = Outcome.HANDLED
        return True


async def _settle(messages: Sequence[Msg], *, ack: bool) -> None:
    """Acknowledge messages whose outcome is committed, or hand others back for redelivery.

    Consumers acknowledge cumulatively (AckPolicy.ALL): acking the newest settles the rest.
    """
    if ack and messages:
        messages = [max(messages, key=lambda m: m.metadata.sequence.stream)]
    for message in messages:
        with suppress(Exception):
            await (message.ack() if ack else message.nak())
