"""The SQLite storage behind `retailhub.bus.sqlite`: schema, a thread-confined connection, and SQL.

Every function taking a `sqlite3.Connection` runs on that connection's own thread, so one
asyncio hop does a whole unit of work (a batch insert, a batch's bookkeeping, a snapshot read).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from retailhub.bus.codec import EncodedEvent, dumps
from retailhub.bus.delivery import Delivery, settle_failure
from retailhub.bus.port import HoldState, Outcome, RetryPolicy, Selection, type_matcher
from retailhub.canonical.cloudevents import CloudEvent

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    key TEXT,
    recorded_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS bus_log_event ON bus_log (event_id, source);
CREATE TABLE IF NOT EXISTS bus_subscription (
    name TEXT PRIMARY KEY,
    types TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_handled (
    subscription TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    handled_at REAL NOT NULL,
    PRIMARY KEY (subscription, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_held (
    subscription TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    key TEXT,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    error TEXT,
    stack TEXT,
    history TEXT,
    PRIMARY KEY (subscription, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bus_held_by_key ON bus_held (subscription, key, position);
CREATE INDEX IF NOT EXISTS bus_held_by_id ON bus_held (subscription, event_id);
CREATE INDEX IF NOT EXISTS bus_held_due ON bus_held (subscription, state, next_attempt_at);
"""

# NORMAL in WAL mode fsyncs at checkpoints, not at each commit: a committed batch survives a
# process crash (the WAL is in the OS page cache), and only an OS crash or power cut can lose
# the last commits. FULL would fsync every batch commit; see docs/decisions/0002.
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA mmap_size=268435456",
)

_HELD_COLUMNS = (
    "h.subscription, h.position, h.event_id, h.state, l.payload, h.key, h.history, "
    "h.next_attempt_at, h.error, h.stack"
)


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


class SqliteConnection:
    """One sqlite3 connection confined to its own thread; `run` does work there and awaits it."""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retailhub-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Connect and apply the pragmas the bus relies on."""
        self._connection = await self._submit(self._connect)

    def _connect(self) -> sqlite3.Connection:
        """Open the file in autocommit mode: the bus issues BEGIN and COMMIT itself."""
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            connection.execute(pragma)
        connection.execute(f"PRAGMA synchronous={self._synchronous}")
        return connection

    async def _submit(self, work: Callable[[], T]) -> T:
        """Run a callable on this connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on the connection's thread and return its result."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("the SQLite connection is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, connection)

    def run_here(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` on the calling thread: for statements inside a write
        transaction this process already holds, which wait on no lock and take microseconds
        where the hop to the connection's thread and back costs about 50 µs of CPU."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("the SQLite connection is not open")
        return work(connection)

    async def close(self) -> None:
        """Close the connection and stop its thread."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._submit(connection.close)
        self._executor.shutdown(wait=True)


def in_transaction(work: Callable[[sqlite3.Connection], T], *, write: bool) -> Callable[..., T]:
    """Wrap `work` in BEGIN (IMMEDIATE for writers) and COMMIT, rolling back on any error."""

    def transactional(connection: sqlite3.Connection) -> T:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return result

    return transactional


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the bus tables if they are not there yet."""
    connection.executescript(SCHEMA)


def glob_clause(column: str, patterns: Sequence[str]) -> tuple[str, list[Any]]:
    """A WHERE fragment matching `column` against type patterns (`*` matches any text)."""
    type_matcher(patterns)  # refuses characters GLOB would treat specially
    if not patterns or "*" in patterns:
        return "1", []
    return "(" + " OR ".join(f"{column} GLOB ?" for _ in patterns) + ")", list(patterns)


def insert_events(
    connection: sqlite3.Connection, events: Sequence[EncodedEvent], recorded_at: float
) -> list[int]:
    """Append events to the log inside the open transaction; return their positions."""
    positions, _all_new = append_events(connection, events, recorded_at)
    return positions


def append_events(
    connection: sqlite3.Connection, events: Sequence[EncodedEvent], recorded_at: float
) -> tuple[list[int], bool]:
    """Append events; return their positions and whether every one of them is new.

    An event whose (id, source) the log already holds is not appended again: its position is
    the original one, so a publisher's retry is delivered once. One statement does the whole
    batch (payloads travel as one blob sliced by `substr`) so SQLite inserts every row without
    handing the GIL back and forth per row.
    """
    columns = []
    offset = 1
    for e in events:
        columns.append((e.event_id, e.source, e.type, e.key, offset, len(e.payload)))
        offset += len(e.payload)
    inserted = connection.execute(
        "INSERT OR IGNORE INTO bus_log (event_id, source, type, key, recorded_at, payload) "
        "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?, "
        "substr(?, value ->> 4, value ->> 5) FROM json_each(?) ORDER BY json_each.key",
        (recorded_at, b"".join(e.payload for e in events), dumps(columns)),
    ).rowcount
    if inserted == len(events):
        (last,) = connection.execute("SELECT last_insert_rowid()").fetchone()
        return list(range(last - len(events) + 1, last + 1)), True
    known = {
        (event_id, source): position
        for event_id, source, position in connection.execute(
            "SELECT event_id, source, position FROM bus_log WHERE event_id IN "
            "(SELECT value FROM json_each(?))",
            (dumps([e.event_id for e in events]),),
        )
    }
    return [known[(e.event_id, e.source)] for e in events], False


def log_head(connection: sqlite3.Connection) -> int:
    """The highest position ever assigned (0 for a new log), even if retention removed it."""
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'bus_log'").fetchone()
    return int(row[0]) if row else 0


def ensure_subscription(
    connection: sqlite3.Connection,
    name: str,
    types: Sequence[str],
    from_position: int | None,
    now: float,
) -> None:
    """Create the durable subscription (at the log head unless told where), or update its types."""
    start = log_head(connection) if from_position is None else from_position
    connection.execute(
        "INSERT INTO bus_subscription (name, types, cursor, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET types = excluded.types",
        (name, dumps(list(types)), start, now),
    )


def subscription_row(connection: sqlite3.Connection, name: str) -> tuple[list[str], int] | None:
    """A subscription's type patterns and cursor, or None when there is no such subscription."""
    row = connection.execute(
        "SELECT types, cursor FROM bus_subscription WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None
    return list(orjson.loads(row[0])), int(row[1])


def subscription_names(connection: sqlite3.Connection) -> list[str]:
    """Every durable subscription name, sorted."""
    return [r[0] for r in connection.execute("SELECT name FROM bus_subscription ORDER BY name")]


def held_counts(connection: sqlite3.Connection, name: str) -> dict[str, int]:
    """How many events the subscription holds in each state."""
    rows = connection.execute(
        "SELECT state, COUNT(*) FROM bus_held WHERE subscription = ? GROUP BY state", (name,)
    )
    return dict(rows)


@dataclass(slots=True)
class BatchSnapshot:
    """What one worker cycle found: new events past the cursor and held events now due."""

    cursor: int
    scanned_to: int
    new: list[Delivery]
    heads: list[Delivery]
    parked: dict[str, list[Delivery]]
    complete_keys: set[str]
    held_keys: set[str]
    next_due: float | None


def read_batch(
    connection: sqlite3.Connection,
    name: str,
    type_filter: tuple[str, list[Any]],
    now: float,
    limit: int,
    recent: Mapping[int, CloudEvent],
) -> BatchSnapshot:
    """Read one consistent snapshot of the subscription's next batch (run inside BEGIN).

    Events this process published come from `recent`; only the others' payloads are read.
    """
    (cursor,) = connection.execute(
        "SELECT cursor FROM bus_subscription WHERE name = ?", (name,)
    ).fetchone()
    head = log_head(connection)
    clause, params = type_filter
    (listing,) = connection.execute(
        "SELECT json_group_array(json_array(position, event_id, key)) FROM ("
        f"SELECT position, event_id, key FROM bus_log WHERE position > ? AND {clause} "
        "ORDER BY position LIMIT ?)",
        (cursor, *params, limit),
    ).fetchone()
    rows: list[list[Any]] = sorted(orjson.loads(listing))
    scanned_to = rows[-1][0] if len(rows) == limit else max(cursor, head)
    new = _fresh_deliveries(connection, rows, recent)
    heads = [
        _held_delivery(row)
        for row in connection.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM bus_held h JOIN bus_log l ON l.position = h.position "
            "WHERE h.subscription = ? AND h.state = 'retrying' AND h.next_attempt_at <= ? "
            "ORDER BY h.position LIMIT ?",
            (name, now, limit),
        )
    ]
    parked: dict[str, list[Delivery]] = {}
    complete_keys: set[str] = set()
    for head_delivery in heads:
        if head_delivery.key is None:
            continue
        behind = [
            _held_delivery(row)
            for row in connection.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM bus_held h "
                "JOIN bus_log l ON l.position = h.position "
                "WHERE h.subscription = ? AND h.key = ? AND h.state = 'parked' "
                "ORDER BY h.position LIMIT ?",
                (name, head_delivery.key, limit),
            )
        ]
        parked[head_delivery.key] = behind
        if len(behind) < limit:
            complete_keys.add(head_delivery.key)
    new_keys = sorted({d.key for d in new if d.key is not None})
    held_keys: set[str] = set()
    if new_keys:
        (held,) = connection.execute(
            "SELECT json_group_array(key) FROM (SELECT DISTINCT key FROM bus_held "
            "WHERE subscription = ? AND key IN (SELECT value FROM json_each(?)))",
            (name, dumps(new_keys)),
        ).fetchone()
        held_keys = set(orjson.loads(held))
    (next_due,) = connection.execute(
        "SELECT MIN(next_attempt_at) FROM bus_held WHERE subscription = ? AND state = 'retrying'",
        (name,),
    ).fetchone()
    return BatchSnapshot(cursor, scanned_to, new, heads, parked, complete_keys, held_keys, next_due)


_DELIVERY_COLUMNS = "h.position, h.event_id, h.key, l.payload, h.state, h.failures, h.history"


def _fresh_deliveries(
    connection: sqlite3.Connection,
    rows: list[list[Any]],
    recent: Mapping[int, CloudEvent],
) -> list[Delivery]:
    """New log rows as deliveries; payloads are read only for events not in `recent`."""
    deliveries = []
    missing = []
    for position, event_id, key in rows:
        event = recent.get(position)
        deliveries.append(Delivery(position, event_id, key, b"", event=event))
        if event is None:
            missing.append(position)
    if missing:
        payloads = dict(
            connection.execute(
                "SELECT position, payload FROM bus_log "
                "WHERE position IN (SELECT value FROM json_each(?))",
                (dumps(missing),),
            ).fetchall()
        )
        for delivery in deliveries:
            if delivery.event is None:
                delivery.payload = payloads[delivery.position]
    return deliveries


def _held_delivery(row: tuple[Any, ...]) -> Delivery:
    """A held row as a delivery that keeps its failure count and attempt history."""
    position, event_id, key, payload, state, failures, history = row
    return Delivery(
        position, event_id, key, payload, held=HoldState(state), failures=failures, history=history
    )


def record_batch(
    connection: sqlite3.Connection,
    name: str,
    deliveries: Iterable[Delivery],
    scanned_to: int,
    policy: RetryPolicy,
    now: float,
) -> None:
    """Write a batch's outcome inside the open transaction: marks, held rows, cursor, heads."""
    handled: list[tuple[int, str, float]] = []
    released: list[int] = []
    parked: list[tuple[int, str, str | None]] = []
    touched: set[str] = set()
    for d in deliveries:
        if d.outcome is Outcome.HANDLED:
            handled.append((d.position, d.event_id, d.attempted_at))
            if d.held is not None:
                released.append(d.position)
        elif d.outcome is Outcome.FAILED:
            _hold_failure(connection, name, d, policy)
        elif d.held is None:
            parked.append((d.position, d.event_id, d.key))
        if d.key is not None and (d.held is not None or d.outcome is not Outcome.HANDLED):
            touched.add(d.key)
    if handled:
        connection.execute(
            "INSERT OR REPLACE INTO bus_handled (subscription, position, event_id, outcome, "
            "handled_at) SELECT ?, value ->> 0, value ->> 1, 'handled', value ->> 2 "
            "FROM json_each(?)",
            (name, dumps(handled)),
        )
    if released:
        connection.execute(
            "DELETE FROM bus_held WHERE subscription = ? "
            "AND position IN (SELECT value FROM json_each(?))",
            (name, dumps(released)),
        )
    if parked:
        connection.execute(
            "INSERT OR IGNORE INTO bus_held (subscription, position, event_id, key, state) "
            "SELECT ?, value ->> 0, value ->> 1, value ->> 2, 'parked' FROM json_each(?)",
            (name, dumps(parked)),
        )
    connection.execute(
        "UPDATE bus_subscription SET cursor = ? WHERE name = ? AND cursor < ?",
        (scanned_to, name, scanned_to),
    )
    if touched:
        promote_orphans(connection, name, touched, now=now)


def _hold_failure(
    connection: sqlite3.Connection, name: str, d: Delivery, policy: RetryPolicy
) -> None:
    """Hold a failed event for retry, or as a dead letter once its attempts are spent."""
    settled = settle_failure(d, policy)
    connection.execute(
        "INSERT INTO bus_held (subscription, position, event_id, key, state, failures, "
        "next_attempt_at, error, stack, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (subscription, position) DO UPDATE SET state = excluded.state, "
        "failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, "
        "error = excluded.error, stack = excluded.stack, history = excluded.history",
        (
            name,
            d.position,
            d.event_id,
            d.key,
            settled.state.value,
            settled.failures,
            settled.next_attempt_at,
            d.error,
            d.stack,
            settled.history,
        ),
    )


def promote_orphans(
    connection: sqlite3.Connection, name: str, keys: Iterable[str], *, now: float
) -> None:
    """Make the oldest parked event of each key with no head the key's new head, due `now`.

    Keeps the invariant that every parked event waits behind a retrying or dead head, whatever
    order a worker, an operator and a replay changed the held rows in.
    """
    connection.execute(
        "UPDATE bus_held SET state = 'retrying', failures = 0, next_attempt_at = ? "
        "WHERE subscription = ? AND position IN ("
        "  SELECT MIN(p.position) FROM bus_held p WHERE p.subscription = ? AND p.state = 'parked'"
        "  AND p.key IN (SELECT value FROM json_each(?)) AND NOT EXISTS ("
        "    SELECT 1 FROM bus_held h WHERE h.subscription = p.subscription AND h.key = p.key"
        "    AND h.state != 'parked') GROUP BY p.key)",
        (now, name, name, dumps(sorted(keys))),
    )


def select_held(
    connection: sqlite3.Connection, selection: Selection, states: Iterable[HoldState]
) -> list[HeldRow]:
    """Held rows (with their payloads) matching a selection, oldest first."""
    where = ["h.state IN (SELECT value FROM json_each(?))"]
    params: list[Any] = [dumps([s.value for s in states])]
    if selection.subscription is not None:
        where.append("h.subscription = ?")
        params.append(selection.subscription)
    if selection.position is not None:
        where.append("h.position = ?")
        params.append(selection.position)
    if selection.key is not None:
        where.append("h.key = ?")
        params.append(selection.key)
    if selection.type is not None:
        clause, type_params = glob_clause("l.type", [selection.type])
        where.append(clause)
        params.extend(type_params)
    rows = connection.execute(
        f"SELECT {_HELD_COLUMNS} FROM bus_held h JOIN bus_log l ON l.position = h.position "
        f"WHERE {' AND '.join(where)} ORDER BY h.position, h.subscription",
        params,
    ).fetchall()
    return [HeldRow(*r) for r in rows]


def count_parked_behind(connection: sqlite3.Connection, rows: Sequence[HeldRow]) -> int:
    """How many parked events wait behind the keys of the given held rows."""
    pairs = sorted({(r.subscription, r.key) for r in rows if r.key is not None})
    return sum(
        connection.execute(
            "SELECT COUNT(*) FROM bus_held WHERE subscription = ? AND key = ? AND state = 'parked'",
            pair,
        ).fetchone()[0]
        for pair in pairs
    )


def retry_held(connection: sqlite3.Connection, rows: Sequence[HeldRow], now: float) -> None:
    """Put dead letters back in line, due now, with a fresh attempt budget."""
    connection.executemany(
        "UPDATE bus_held SET state = 'retrying', failures = 0, next_attempt_at = ? "
        "WHERE subscription = ? AND position = ? AND state = 'dead'",
        [(now, r.subscription, r.position) for r in rows],
    )


def skip_held(connection: sqlite3.Connection, rows: Sequence[HeldRow], now: float) -> None:
    """Record dead letters as skipped, drop them, and promote what they parked."""
    connection.executemany(
        "INSERT OR REPLACE INTO bus_handled (subscription, position, event_id, outcome, "
        "handled_at) VALUES (?, ?, ?, ?, ?)",
        [(r.subscription, r.position, r.event_id, Outcome.SKIPPED.value, now) for r in rows],
    )
    connection.executemany(
        "DELETE FROM bus_held WHERE subscription = ? AND position = ?",
        [(r.subscription, r.position) for r in rows],
    )
    by_subscription: dict[str, set[str]] = {}
    for r in rows:
        if r.key is not None:
            by_subscription.setdefault(r.subscription, set()).add(r.key)
    for name, keys in by_subscription.items():
        promote_orphans(connection, name, keys, now=now)


def log_bounds(connection: sqlite3.Connection) -> tuple[int | None, int | None]:
    """The oldest and newest positions the log still holds."""
    oldest, newest = connection.execute(
        "SELECT MIN(position), MAX(position) FROM bus_log"
    ).fetchone()
    return oldest, newest


def first_position_since(connection: sqlite3.Connection, since: float) -> int | None:
    """The first position recorded at or after `since`."""
    (position,) = connection.execute(
        "SELECT MIN(position) FROM bus_log WHERE recorded_at >= ?", (since,)
    ).fetchone()
    return None if position is None else int(position)


def replay_positions(
    connection: sqlite3.Connection,
    name: str,
    start: int,
    upper: int,
    filters: Sequence[tuple[str, list[Any]]],
    key: str | None,
) -> list[int]:
    """Positions to replay: events in range matching the filters and not already held."""
    where = ["position BETWEEN ? AND ?"]
    params: list[Any] = [start, upper]
    for clause, clause_params in filters:
        where.append(clause)
        params.extend(clause_params)
    if key is not None:
        where.append("key = ?")
        params.append(key)
    where.append("position NOT IN (SELECT position FROM bus_held WHERE subscription = ?)")
    params.append(name)
    rows = connection.execute(
        f"SELECT position FROM bus_log WHERE {' AND '.join(where)} ORDER BY position",
        params,
    )
    return [r[0] for r in rows]


def enqueue_replay(
    connection: sqlite3.Connection, name: str, positions: Sequence[int], now: float
) -> None:
    """Hold replayed events for the subscription: parked per key behind a head due now."""
    connection.execute(
        "INSERT OR IGNORE INTO bus_held (subscription, position, event_id, key, state, failures, "
        "next_attempt_at) SELECT ?, position, event_id, key, "
        "CASE WHEN key IS NULL THEN 'retrying' ELSE 'parked' END, 0, ? FROM bus_log "
        "WHERE position IN (SELECT value FROM json_each(?))",
        (name, now, dumps(list(positions))),
    )
    keys = [
        r[0]
        for r in connection.execute(
            "SELECT DISTINCT key FROM bus_log WHERE key IS NOT NULL "
            "AND position IN (SELECT value FROM json_each(?))",
            (dumps(list(positions)),),
        )
    ]
    promote_orphans(connection, name, keys, now=now)


def apply_retention(
    connection: sqlite3.Connection, cutoff: float | None, max_bytes: int | None
) -> tuple[int, int | None]:
    """Delete old events past every cursor and not held; return (deleted, oldest position)."""
    (floor,) = connection.execute("SELECT MIN(cursor) FROM bus_subscription").fetchone()
    if floor is None:
        floor = log_head(connection)
    size_boundary = 0
    if max_bytes is not None:
        row = connection.execute(
            "SELECT position FROM (SELECT position, SUM(length(payload)) OVER "
            "(ORDER BY position DESC) AS newer_bytes FROM bus_log) WHERE newer_bytes > ? "
            "ORDER BY position DESC LIMIT 1",
            (max_bytes,),
        ).fetchone()
        size_boundary = row[0] if row else 0
    deleted = connection.execute(
        "DELETE FROM bus_log WHERE position <= ? AND (recorded_at < ? OR position <= ?) "
        "AND NOT EXISTS (SELECT 1 FROM bus_held h WHERE h.position = bus_log.position)",
        (floor, cutoff if cutoff is not None else float("-inf"), size_boundary),
    ).rowcount
    oldest, _newest = log_bounds(connection)
    below = oldest if oldest is not None else floor + 1
    connection.executemany(
        "DELETE FROM bus_handled WHERE subscription = ? AND position < ?",
        [(name, below) for name in subscription_names(connection)],
    )
    return deleted, oldest
