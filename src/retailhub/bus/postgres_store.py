"""The PostgreSQL storage behind `retailhub.bus.postgres`: schema and SQL over one asyncpg connection.

Positions come from one counter row (`bus_head`) updated inside the publishing transaction: its
row lock orders publishers, so positions become visible in increasing order and a consumer never
moves its cursor past an event that commits later. The log is split into a fixed number of
partitions by ordering key; each subscription keeps one cursor row per partition, and a worker
owns a partition while it holds that row's lock (see docs/decisions/0003-bus-postgres.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from retailhub.bus.codec import EncodedEvent, dumps
from retailhub.bus.delivery import Delivery, settle_failure
from retailhub.bus.port import HoldState, Outcome, RetryPolicy, Selection, type_matcher
from retailhub.canonical.cloudevents import CloudEvent

Connection = Any  # asyncpg.Connection: asyncpg ships no type information

SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL,
    partitions integer NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_lock (name text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS bus_log (
    position bigint PRIMARY KEY,
    event_id text NOT NULL,
    source text NOT NULL,
    type text NOT NULL,
    key text,
    partition integer NOT NULL,
    recorded_at double precision NOT NULL,
    payload bytea NOT NULL,
    UNIQUE (event_id, source)
);
CREATE INDEX IF NOT EXISTS bus_log_partition ON bus_log (partition, position);
CREATE INDEX IF NOT EXISTS bus_log_key ON bus_log (key, position);
CREATE INDEX IF NOT EXISTS bus_log_recorded ON bus_log (recorded_at);
CREATE TABLE IF NOT EXISTS bus_subscription (
    name text PRIMARY KEY,
    types text NOT NULL,
    created_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_cursor (
    subscription text NOT NULL,
    partition integer NOT NULL,
    cursor bigint NOT NULL,
    PRIMARY KEY (subscription, partition)
);
CREATE TABLE IF NOT EXISTS bus_member (
    subscription text NOT NULL,
    member text NOT NULL,
    seen_at double precision NOT NULL,
    PRIMARY KEY (subscription, member)
);
CREATE TABLE IF NOT EXISTS bus_handled (
    subscription text NOT NULL,
    position bigint NOT NULL,
    event_id text NOT NULL,
    outcome text NOT NULL,
    handled_at double precision NOT NULL,
    PRIMARY KEY (subscription, position)
);
CREATE TABLE IF NOT EXISTS bus_held (
    subscription text NOT NULL,
    position bigint NOT NULL,
    event_id text NOT NULL,
    key text,
    partition integer NOT NULL,
    state text NOT NULL,
    failures integer NOT NULL DEFAULT 0,
    next_attempt_at double precision,
    error text,
    stack text,
    history text,
    PRIMARY KEY (subscription, position)
);
CREATE INDEX IF NOT EXISTS bus_held_by_key ON bus_held (subscription, key, position);
CREATE INDEX IF NOT EXISTS bus_held_due ON bus_held (subscription, partition, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS bus_held_by_position ON bus_held (position);
"""

# Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalogue: opening buses take
# this transaction-level advisory lock (an arbitrary constant) while they create the schema.
_SCHEMA_LOCK = 0x72_68_62_75_73

_HELD_COLUMNS = (
    "h.subscription, h.position, h.event_id, h.state, l.payload, h.key, h.history, "
    "h.next_attempt_at, h.error, h.stack"
)
_DELIVERY_COLUMNS = "h.position, h.event_id, h.key, l.payload, h.state, h.failures, h.history"


@dataclass(frozen=True, slots=True)
class HeldRow:
    """A held event as stored, with its payload from the log."""

    subscription: str
    position: int
    event_id: str
    state: str
    payload: bytes
    key: str | None
    history: str | None
    next_attempt_at: float | None
    error: str | None
    stack: str | None


async def create_schema(connection: Connection, partitions: int, schema: str | None) -> int:
    """Create the bus tables (in `schema`, made if missing); return the database's partitions."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        if schema is not None:
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        await connection.execute(SCHEMA)
        await connection.execute(
            "INSERT INTO bus_head (only_row, position, partitions) VALUES (true, 0, $1) "
            "ON CONFLICT DO NOTHING",
            partitions,
        )
        await connection.execute("INSERT INTO bus_lock VALUES ('log') ON CONFLICT DO NOTHING")
        await _prefer_lz4(connection)
        # One-row tables never analysed are planned as ~2,000 rows: costs that wake the JIT
        # compiler (10+ ms) on every batch read.
        await connection.execute("ANALYZE bus_head, bus_lock")
        return int(await connection.fetchval("SELECT partitions FROM bus_head"))


def quote_identifier(name: str) -> str:
    """A name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def _prefer_lz4(connection: Connection) -> None:
    """Compress payloads with lz4 where the server has it: half the insert time of pglz here."""
    try:
        async with connection.transaction():
            await connection.execute("ALTER TABLE bus_log ALTER COLUMN payload SET COMPRESSION lz4")
    except asyncpg.PostgresError:
        pass  # PostgreSQL before 14, or built without lz4: pglz it is


def partition_of(key: str | None, event_id: str, partitions: int) -> int:
    """The partition an event lives in: by its ordering key, else spread by its id."""
    return zlib.crc32((key if key is not None else event_id).encode()) % partitions


def like_patterns(patterns: Sequence[str]) -> list[str] | None:
    """Type patterns as LIKE patterns (`*` is `%`, `_` is literal), or None for everything."""
    type_matcher(patterns)  # refuses characters that could mean anything else
    if not patterns or "*" in patterns:
        return None
    return [p.replace("_", "\\_").replace("*", "%") for p in patterns]


async def insert_events(
    connection: Connection,
    events: Sequence[EncodedEvent],
    recorded_at: float,
    partitions: int,
    channel: str,
) -> tuple[list[int], set[int]]:
    """Append events in the open transaction; return their positions and the ones newly logged.

    One statement takes the counter row's lock (held until the transaction ends, so publishers
    commit in position order) only once the whole batch has reached the server, and notifies
    listeners at commit. An event whose (id, source) is already logged keeps its original
    position (and its original content).
    """
    inserted = await connection.fetch(
        "WITH head AS (UPDATE bus_head SET position = position + $1 "
        "  RETURNING position - $1 AS base, pg_notify($2, '') AS notified) "
        "INSERT INTO bus_log (position, event_id, source, type, key, partition, recorded_at, "
        "payload) SELECT head.base + u.n, u.event_id, u.source, u.type, u.key, u.partition, $3, "
        "u.payload FROM head, unnest($4::text[], $5::text[], $6::text[], $7::text[], "
        "$8::integer[], $9::bytea[]) WITH ORDINALITY "
        "AS u(event_id, source, type, key, partition, payload, n) "
        "ORDER BY u.n ON CONFLICT (event_id, source) DO NOTHING RETURNING position",
        len(events),
        channel,
        recorded_at,
        [e.event_id for e in events],
        [e.source for e in events],
        [e.type for e in events],
        [e.key for e in events],
        [partition_of(e.key, e.event_id, partitions) for e in events],
        [e.payload for e in events],
    )
    fresh = {int(r[0]) for r in inserted}
    if len(fresh) == len(events):
        return sorted(fresh), fresh
    known = {
        (r[0], r[1]): int(r[2])
        for r in await connection.fetch(
            "SELECT l.event_id, l.source, l.position FROM bus_log l "
            "JOIN unnest($1::text[], $2::text[]) AS u(event_id, source) "
            "ON l.event_id = u.event_id AND l.source = u.source",
            [e.event_id for e in events],
            [e.source for e in events],
        )
    }
    return [known[(e.event_id, e.source)] for e in events], fresh


async def log_head(connection: Connection) -> int:
    """The highest position ever assigned and committed (0 for a new log)."""
    return int(await connection.fetchval("SELECT position FROM bus_head"))


async def ensure_subscription(
    connection: Connection,
    name: str,
    types: Sequence[str],
    from_position: int | None,
    now: float,
    partitions: int,
) -> None:
    """Create the durable subscription (at the log head unless told where), or update its types."""
    async with connection.transaction():
        start = await log_head(connection) if from_position is None else from_position
        await connection.execute(
            "INSERT INTO bus_subscription (name, types, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET types = excluded.types",
            name,
            dumps(list(types)),
            now,
        )
        await connection.execute(
            "INSERT INTO bus_cursor (subscription, partition, cursor) "
            "SELECT $1, p, $2 FROM generate_series(0, $3 - 1) AS p ON CONFLICT DO NOTHING",
            name,
            start,
            partitions,
        )


async def subscription_types(connection: Connection, name: str) -> list[str] | None:
    """A subscription's type patterns, or None when there is no such subscription."""
    types = await connection.fetchval("SELECT types FROM bus_subscription WHERE name = $1", name)
    return None if types is None else list(orjson.loads(types))


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A subscription's stored standing: its slowest partition's cursor, the head, held counts."""

    name: str
    types: list[str]
    cursor: int
    head: int
    retrying: int
    dead: int
    parked: int


async def status_rows(connection: Connection, name: str | None) -> list[StatusRow]:
    """Every subscription's standing (or just `name`'s), by name."""
    rows = await connection.fetch(
        "SELECT s.name, s.types, "
        "(SELECT coalesce(min(c.cursor), 0) FROM bus_cursor c WHERE c.subscription = s.name), "
        "(SELECT position FROM bus_head), "
        "(SELECT count(*) FILTER (WHERE h.state = 'retrying') FROM bus_held h "
        " WHERE h.subscription = s.name), "
        "(SELECT count(*) FILTER (WHERE h.state = 'dead') FROM bus_held h "
        " WHERE h.subscription = s.name), "
        "(SELECT count(*) FILTER (WHERE h.state = 'parked') FROM bus_held h "
        " WHERE h.subscription = s.name) "
        "FROM bus_subscription s WHERE $1::text IS NULL OR s.name = $1 ORDER BY s.name",
        name,
    )
    return [
        StatusRow(r[0], list(orjson.loads(r[1])), int(r[2]), int(r[3]), r[4], r[5], r[6])
        for r in rows
    ]


_NOW = "extract(epoch FROM clock_timestamp())"


async def beat(
    connection: Connection, member: str, names: Sequence[str], ttl: float
) -> dict[str, int]:
    """Say this process runs `names`; return how many live processes run each of them.

    Uses the database's clock, so hosts with skewed clocks still agree who is alive.
    """
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO bus_member (subscription, member, seen_at) "
            f"SELECT name, $2, {_NOW} FROM unnest($1::text[]) AS name "
            "ON CONFLICT (subscription, member) DO UPDATE SET seen_at = excluded.seen_at",
            list(names),
            member,
        )
        await connection.execute(
            f"DELETE FROM bus_member WHERE seen_at < {_NOW} - 3600 AND member <> $1", member
        )
        rows = await connection.fetch(
            "SELECT subscription, count(*) FROM bus_member "
            f"WHERE subscription = ANY($1::text[]) AND seen_at > {_NOW} - $2 GROUP BY subscription",
            list(names),
            ttl,
        )
    return {r[0]: int(r[1]) for r in rows}


async def leave(connection: Connection, member: str, names: Sequence[str]) -> None:
    """This process no longer runs `names`: the others may take its share at once."""
    await connection.execute(
        "DELETE FROM bus_member WHERE member = $1 AND subscription = ANY($2::text[])",
        member,
        list(names),
    )


async def claim_partitions(
    connection: Connection, name: str, limit: int, now: float
) -> dict[int, int]:
    """Lock up to `limit` of the subscription's partitions no other worker holds; return cursors.

    Partitions with retries due come first, then the furthest behind, so idle workers never sit
    on the partitions that have work while others wait.
    """
    rows = await connection.fetch(
        "SELECT c.partition, c.cursor FROM bus_cursor c WHERE c.subscription = $1 "
        "ORDER BY EXISTS (SELECT 1 FROM bus_held h WHERE h.subscription = c.subscription "
        "AND h.partition = c.partition AND h.state = 'retrying' AND h.next_attempt_at <= $2) "
        "DESC, c.cursor, random() LIMIT $3 FOR UPDATE SKIP LOCKED",
        name,
        now,
        limit,
    )
    return {int(r[0]): int(r[1]) for r in rows}


async def lock_subscriptions(connection: Connection, names: Sequence[str]) -> None:
    """Wait for and lock every partition of the subscriptions, always in one order."""
    await connection.execute(
        "SELECT 1 FROM bus_cursor WHERE subscription = ANY($1::text[]) "
        "ORDER BY subscription, partition FOR UPDATE",
        list(names),
    )


@dataclass(slots=True)
class BatchSnapshot:
    """What one worker cycle found in its partitions: new events and held events now due."""

    cursors: dict[int, int]
    scanned_to: dict[int, int]
    new: list[Delivery]
    heads: list[Delivery]
    parked: dict[str, list[Delivery]]
    complete_keys: set[str]
    held_keys: set[str]
    next_due: float | None

    @property
    def empty(self) -> bool:
        """Nothing to handle and no cursor to move."""
        return (
            not self.new
            and not self.heads
            and all(self.scanned_to[p] == c for p, c in self.cursors.items())
        )


async def read_batch(
    connection: Connection,
    name: str,
    cursors: dict[int, int],
    types: list[str] | None,
    now: float,
    limit: int,
    recent: Mapping[int, CloudEvent],
) -> BatchSnapshot:
    """Read the next batch of the claimed partitions: new events past their cursors, due heads.

    Events this process published come from `recent`; only the others' payloads are read.
    """
    parts = sorted(cursors)
    rows = await connection.fetch(
        "SELECT h.position, l.position, l.event_id, l.key "
        "FROM (SELECT (SELECT position FROM bus_head) AS position) AS h LEFT JOIN LATERAL ("
        "  SELECT e.* FROM unnest($1::integer[], $2::bigint[]) AS c(partition, cursor) "
        "  CROSS JOIN LATERAL (SELECT position, event_id, key FROM bus_log"
        "    WHERE partition = c.partition AND position > c.cursor AND position <= h.position"
        "    AND ($3::text[] IS NULL OR type LIKE ANY($3)) ORDER BY position LIMIT $4) AS e"
        ") AS l ON true ORDER BY l.position LIMIT $4",
        parts,
        [cursors[p] for p in parts],
        types,
        limit,
    )
    head = int(rows[0][0])
    found = [r for r in rows if r[1] is not None]
    boundary = int(found[-1][1]) if len(found) == limit else head
    scanned_to = {p: max(c, boundary) for p, c in cursors.items()}
    new = [Delivery(int(r[1]), r[2], r[3], b"", event=recent.get(int(r[1]))) for r in found]
    missing = [d.position for d in new if d.event is None]
    if missing:
        payloads = dict(
            await connection.fetch(
                "SELECT position, payload FROM bus_log WHERE position = ANY($1::bigint[])",
                missing,
            )
        )
        for delivery in new:
            if delivery.event is None:
                delivery.payload = payloads[delivery.position]
    held_count, next_due = await connection.fetchrow(
        "SELECT count(*), min(next_attempt_at) FILTER (WHERE state = 'retrying') "
        "FROM bus_held WHERE subscription = $1",
        name,
    )
    if not held_count:
        return BatchSnapshot(dict(cursors), scanned_to, new, [], {}, set(), set(), None)
    heads = [
        _held_delivery(r)
        for r in await connection.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM bus_held h JOIN bus_log l ON l.position = h.position "
            "WHERE h.subscription = $1 AND h.partition = ANY($2::integer[]) "
            "AND h.state = 'retrying' AND h.next_attempt_at <= $3 ORDER BY h.position LIMIT $4",
            name,
            parts,
            now,
            limit,
        )
    ]
    head_keys = sorted({d.key for d in heads if d.key is not None})
    parked: dict[str, list[Delivery]] = {key: [] for key in head_keys}
    if head_keys:
        for r in await connection.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM (SELECT *, row_number() OVER "
            "(PARTITION BY key ORDER BY position) AS rank FROM bus_held "
            "WHERE subscription = $1 AND key = ANY($2::text[]) AND state = 'parked') AS h "
            "JOIN bus_log l ON l.position = h.position WHERE h.rank <= $3 ORDER BY h.position",
            name,
            head_keys,
            limit,
        ):
            delivery = _held_delivery(r)
            parked[str(delivery.key)].append(delivery)
    complete_keys = {key for key, behind in parked.items() if len(behind) < limit}
    new_keys = sorted({d.key for d in new if d.key is not None})
    held_keys: set[str] = set()
    if new_keys:
        held_keys = {
            r[0]
            for r in await connection.fetch(
                "SELECT DISTINCT key FROM bus_held WHERE subscription = $1 "
                "AND key = ANY($2::text[])",
                name,
                new_keys,
            )
        }
    return BatchSnapshot(
        dict(cursors), scanned_to, new, heads, parked, complete_keys, held_keys, next_due
    )


def _held_delivery(row: Any) -> Delivery:
    """A held row as a delivery that keeps its failure count and attempt history."""
    position, event_id, key, payload, state, failures, history = row
    return Delivery(
        int(position),
        event_id,
        key,
        payload,
        held=HoldState(state),
        failures=failures,
        history=history,
    )


async def record_batch(
    connection: Connection,
    name: str,
    deliveries: Iterable[Delivery],
    scanned_to: dict[int, int],
    policy: RetryPolicy,
    now: float,
) -> None:
    """Write a batch's outcome in the open transaction: marks, held rows, cursors, new heads."""
    handled: list[Delivery] = []
    released: list[int] = []
    parked: list[int] = []
    failed: list[Delivery] = []
    touched: set[str] = set()
    for d in deliveries:
        if d.outcome is Outcome.HANDLED:
            handled.append(d)
            if d.held is not None:
                released.append(d.position)
        elif d.outcome is Outcome.FAILED:
            failed.append(d)
        elif d.held is None:
            parked.append(d.position)
        if d.key is not None and (d.held is not None or d.outcome is not Outcome.HANDLED):
            touched.add(d.key)
    if handled:
        await connection.execute(
            "INSERT INTO bus_handled (subscription, position, event_id, outcome, handled_at) "
            "SELECT $1, u.position, u.event_id, 'handled', u.at "
            "FROM unnest($2::bigint[], $3::text[], $4::float8[]) AS u(position, event_id, at) "
            "ON CONFLICT (subscription, position) DO UPDATE SET outcome = excluded.outcome, "
            "handled_at = excluded.handled_at",
            name,
            [d.position for d in handled],
            [d.event_id for d in handled],
            [d.attempted_at for d in handled],
        )
    if released:
        await connection.execute(
            "DELETE FROM bus_held WHERE subscription = $1 AND position = ANY($2::bigint[])",
            name,
            released,
        )
    if failed:
        await _hold_failures(connection, name, failed, policy)
    if parked:
        await connection.execute(
            "INSERT INTO bus_held (subscription, position, event_id, key, partition, state) "
            "SELECT $1, position, event_id, key, partition, 'parked' FROM bus_log "
            "WHERE position = ANY($2::bigint[]) ON CONFLICT DO NOTHING",
            name,
            parked,
        )
    parts = sorted(scanned_to)
    await connection.execute(
        "UPDATE bus_cursor c SET cursor = u.cursor "
        "FROM unnest($2::integer[], $3::bigint[]) AS u(partition, cursor) "
        "WHERE c.subscription = $1 AND c.partition = u.partition AND c.cursor < u.cursor",
        name,
        parts,
        [scanned_to[p] for p in parts],
    )
    if touched:
        await promote_orphans(connection, name, touched, now=now)


async def _hold_failures(
    connection: Connection, name: str, failed: Sequence[Delivery], policy: RetryPolicy
) -> None:
    """Hold failed events for retry, or as dead letters once their attempts are spent."""
    settled = [settle_failure(d, policy) for d in failed]
    await connection.execute(
        "INSERT INTO bus_held (subscription, position, event_id, key, partition, state, "
        "failures, next_attempt_at, error, stack, history) "
        "SELECT $1, l.position, l.event_id, l.key, l.partition, u.state, u.failures, u.due, "
        "u.error, u.stack, u.history FROM unnest($2::bigint[], $3::text[], $4::integer[], "
        "$5::float8[], $6::text[], $7::text[], $8::text[]) "
        "AS u(position, state, failures, due, error, stack, history) "
        "JOIN bus_log l ON l.position = u.position "
        "ON CONFLICT (subscription, position) DO UPDATE SET state = excluded.state, "
        "failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, "
        "error = excluded.error, stack = excluded.stack, history = excluded.history",
        name,
        [d.position for d in failed],
        [s.state.value for s in settled],
        [s.failures for s in settled],
        [s.next_attempt_at for s in settled],
        [d.error for d in failed],
        [d.stack for d in failed],
        [s.history for s in settled],
    )


async def promote_orphans(
    connection: Connection, name: str, keys: Iterable[str], *, now: float
) -> None:
    """Make the oldest parked event of each key with no head the key's new head, due `now`.

    Keeps the invariant that every parked event waits behind a retrying or dead head, whatever
    order a worker, an operator and a replay changed the held rows in.
    """
    await connection.execute(
        "UPDATE bus_held SET state = 'retrying', failures = 0, next_attempt_at = $3 "
        "WHERE subscription = $1 AND position IN ("
        "  SELECT min(p.position) FROM bus_held p WHERE p.subscription = $1 "
        "  AND p.state = 'parked' AND p.key = ANY($2::text[]) AND NOT EXISTS ("
        "    SELECT 1 FROM bus_held h WHERE h.subscription = p.subscription AND h.key = p.key"
        "    AND h.state <> 'parked') GROUP BY p.key)",
        name,
        sorted(keys),
        now,
    )


async def select_held(
    connection: Connection, selection: Selection, states: Iterable[HoldState]
) -> list[HeldRow]:
    """Held rows (with their payloads) matching a selection, oldest first."""
    type_patterns = None if selection.type is None else like_patterns([selection.type])
    rows = await connection.fetch(
        f"SELECT {_HELD_COLUMNS} FROM bus_held h JOIN bus_log l ON l.position = h.position "
        "WHERE h.state = ANY($1::text[]) AND ($2::text IS NULL OR h.subscription = $2) "
        "AND ($3::bigint IS NULL OR h.position = $3) AND ($4::text IS NULL OR h.key = $4) "
        "AND ($5::text[] IS NULL OR l.type LIKE ANY($5)) ORDER BY h.position, h.subscription",
        [s.value for s in states],
        selection.subscription,
        selection.position,
        selection.key,
        type_patterns,
    )
    return [HeldRow(*r) for r in rows]


async def count_parked_behind(connection: Connection, rows: Sequence[HeldRow]) -> int:
    """How many parked events wait behind the keys of the given held rows."""
    pairs = sorted({(r.subscription, r.key) for r in rows if r.key is not None})
    if not pairs:
        return 0
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM bus_held h JOIN unnest($1::text[], $2::text[]) "
            "AS u(subscription, key) ON h.subscription = u.subscription AND h.key = u.key "
            "WHERE h.state = 'parked'",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )
    )


async def retry_held(connection: Connection, rows: Sequence[HeldRow], now: float) -> None:
    """Put dead letters back in line, due now, with a fresh attempt budget."""
    await connection.execute(
        "UPDATE bus_held h SET state = 'retrying', failures = 0, next_attempt_at = $3 "
        "FROM unnest($1::text[], $2::bigint[]) AS u(subscription, position) "
        "WHERE h.subscription = u.subscription AND h.position = u.position AND h.state = 'dead'",
        [r.subscription for r in rows],
        [r.position for r in rows],
        now,
    )


async def skip_held(connection: Connection, rows: Sequence[HeldRow], now: float) -> None:
    """Record dead letters as skipped, drop them, and promote what they parked."""
    subscriptions = [r.subscription for r in rows]
    positions = [r.position for r in rows]
    await connection.execute(
        "INSERT INTO bus_handled (subscription, position, event_id, outcome, handled_at) "
        "SELECT u.subscription, u.position, u.event_id, $4, $5 "
        "FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(subscription, position, event_id) "
        "ON CONFLICT (subscription, position) DO UPDATE SET outcome = excluded.outcome, "
        "handled_at = excluded.handled_at",
        subscriptions,
        positions,
        [r.event_id for r in rows],
        Outcome.SKIPPED.value,
        now,
    )
    await connection.execute(
        "DELETE FROM bus_held h USING unnest($1::text[], $2::bigint[]) AS u(subscription, position) "
        "WHERE h.subscription = u.subscription AND h.position = u.position",
        subscriptions,
        positions,
    )
    by_subscription: dict[str, set[str]] = {}
    for r in rows:
        if r.key is not None:
            by_subscription.setdefault(r.subscription, set()).add(r.key)
    for name, keys in by_subscription.items():
        await promote_orphans(connection, name, keys, now=now)


async def lock_log(connection: Connection) -> None:
    """Serialise replay and retention, which both decide which old log rows stay."""
    await connection.execute("SELECT 1 FROM bus_lock WHERE name = 'log' FOR UPDATE")


async def log_bounds(connection: Connection) -> tuple[int | None, int | None]:
    """The oldest and newest positions the log still holds."""
    oldest, newest = await connection.fetchrow("SELECT min(position), max(position) FROM bus_log")
    return oldest, newest


async def first_position_since(connection: Connection, since: float) -> int | None:
    """The first position recorded at or after `since`."""
    position = await connection.fetchval(
        "SELECT min(position) FROM bus_log WHERE recorded_at >= $1", since
    )
    return None if position is None else int(position)


async def replay_positions(
    connection: Connection,
    name: str,
    start: int,
    filters: Sequence[list[str] | None],
    key: str | None,
) -> list[int]:
    """Positions to replay: events from `start` that the subscription's partition has passed,
    matching every filter, and not already held."""
    where = ["l.position >= $1", "($2::text IS NULL OR l.key = $2)"]
    params: list[Any] = [start, key, name]
    for patterns in filters:
        if patterns is not None:
            params.append(patterns)
            where.append(f"l.type LIKE ANY(${len(params)}::text[])")
    rows = await connection.fetch(
        "SELECT l.position FROM bus_log l JOIN bus_cursor c ON c.subscription = $3 "
        f"AND c.partition = l.partition AND l.position <= c.cursor WHERE {' AND '.join(where)} "
        "AND NOT EXISTS (SELECT 1 FROM bus_held h WHERE h.subscription = $3 "
        "AND h.position = l.position) ORDER BY l.position",
        *params,
    )
    return [int(r[0]) for r in rows]


async def enqueue_replay(
    connection: Connection, name: str, positions: Sequence[int], now: float
) -> None:
    """Hold replayed events for the subscription: parked per key behind a head due now."""
    await connection.execute(
        "INSERT INTO bus_held (subscription, position, event_id, key, partition, state, failures, "
        "next_attempt_at) SELECT $1, position, event_id, key, partition, "
        "CASE WHEN key IS NULL THEN 'retrying' ELSE 'parked' END, 0, $2 FROM bus_log "
        "WHERE position = ANY($3::bigint[]) ON CONFLICT DO NOTHING",
        name,
        now,
        list(positions),
    )
    keys = [
        r[0]
        for r in await connection.fetch(
            "SELECT DISTINCT key FROM bus_log WHERE key IS NOT NULL "
            "AND position = ANY($1::bigint[])",
            list(positions),
        )
    ]
    await promote_orphans(connection, name, keys, now=now)


async def apply_retention(
    connection: Connection, cutoff: float | None, max_bytes: int | None
) -> tuple[int, int | None]:
    """Delete old events past every cursor and not held; return (deleted, oldest position)."""
    floor = await connection.fetchval("SELECT min(cursor) FROM bus_cursor")
    if floor is None:
        floor = await log_head(connection)
    size_boundary = 0
    if max_bytes is not None:
        size_boundary = await connection.fetchval(
            "SELECT coalesce(max(position), 0) FROM (SELECT position, sum(octet_length(payload)) "
            "OVER (ORDER BY position DESC) AS newer_bytes FROM bus_log) AS sized "
            "WHERE newer_bytes > $1",
            max_bytes,
        )
    status = await connection.execute(
        "DELETE FROM bus_log l WHERE l.position <= $1 AND (l.recorded_at < $2 OR l.position <= $3) "
        "AND NOT EXISTS (SELECT 1 FROM bus_held h WHERE h.position = l.position)",
        floor,
        cutoff if cutoff is not None else float("-inf"),
        size_boundary,
    )
    deleted = int(status.split()[-1])
    oldest, _newest = await log_bounds(connection)
    await connection.execute(
        "DELETE FROM bus_handled WHERE position < $1", oldest if oldest is not None else floor + 1
    )
    return deleted, oldest
