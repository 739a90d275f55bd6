"""The state database behind `retailhub.bus.nats`: the outbox, held payloads and dedupe lookups.

JetStream holds the log; this SQLite file holds everything that must commit together with a
handler's own writes: subscriptions and cursors, handled (dedupe) marks, held events, and the
outbox a relay publishes to the stream from. It is the SQLite bus's schema (`sqlite_store`), so
the held-event and bookkeeping SQL is shared; here `bus_log` only keeps a copy of the events some
subscription holds (keyed by stream sequence), so a dead letter keeps its payload whatever the
stream's retention does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from retailhub.bus import sqlite_store as store
from retailhub.bus.codec import EncodedEvent, dumps

SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch TEXT,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_outbox_batch ON bus_outbox (batch);
CREATE INDEX IF NOT EXISTS bus_handled_by_id ON bus_handled (subscription, event_id);
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An event committed for publishing that the relay has not yet seen acknowledged."""

    id: int
    batch: str | None
    event_id: str
    source: str
    type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class KeptEvent:
    """A stream message copied into the state database because a subscription holds it."""

    position: int
    event_id: str
    source: str
    type: str
    key: str | None
    recorded_at: float
    payload: bytes


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the shared bus tables and the outbox if they are not there yet."""
    store.create_schema(connection)
    connection.executescript(SCHEMA)


def stage(
    connection: sqlite3.Connection, batch: str | None, events: Sequence[EncodedEvent]
) -> list[int]:
    """Put events in the outbox inside the open transaction; return their outbox ids."""
    ids = []
    for e in events:
        cursor = connection.execute(
            "INSERT INTO bus_outbox (batch, event_id, source, type, payload) VALUES (?, ?, ?, ?, ?)",
            (batch, e.event_id, e.source, e.type, e.payload),
        )
        assert cursor.lastrowid is not None
        ids.append(cursor.lastrowid)
    return ids


def pending(connection: sqlite3.Connection, limit: int) -> list[OutboxRow]:
    """The oldest outbox rows, in the order they were committed."""
    rows = connection.execute(
        "SELECT id, batch, event_id, source, type, payload FROM bus_outbox ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [OutboxRow(*row) for row in rows]


def relayed(connection: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Forget outbox rows the stream has acknowledged."""
    connection.execute(
        "DELETE FROM bus_outbox WHERE id IN (SELECT value FROM json_each(?))", (dumps(list(ids)),)
    )


def unfinished_batches(connection: sqlite3.Connection, batches: Iterable[str]) -> set[str]:
    """Which of these batches still have events in the outbox, so are only partly in the stream."""
    wanted = sorted(set(batches))
    if not wanted:
        return set()
    rows = connection.execute(
        "SELECT DISTINCT batch FROM bus_outbox WHERE batch IN (SELECT value FROM json_each(?))",
        (dumps(wanted),),
    )
    return {r[0] for r in rows}


def already_seen(
    connection: sqlite3.Connection, name: str, arrivals: Sequence[tuple[int, str]]
) -> set[int]:
    """Positions among `(position, event_id)` arrivals the subscription must not handle again.

    A position it already handled, skipped or holds is a redelivery; an event id it handled,
    skipped or holds at another position is the same event published again.
    """
    if not arrivals:
        return set()
    positions = dumps([p for p, _ in arrivals])
    ids = dumps(sorted({i for _, i in arrivals}))
    seen_positions: set[int] = set()
    seen_ids: dict[str, int] = {}
    # One query per column, so each is answered from its index rather than a scan.
    for table in ("bus_handled", "bus_held"):
        for column, values in (("position", positions), ("event_id", ids)):
            rows = connection.execute(
                f"SELECT position, event_id FROM {table} WHERE subscription = ? "
                f"AND {column} IN (SELECT value FROM json_each(?))",
                (name, values),
            )
            for position, event_id in rows:
                seen_positions.add(position)
                seen_ids.setdefault(event_id, position)
    return {
        position
        for position, event_id in arrivals
        if position in seen_positions or seen_ids.get(event_id, position) != position
    }


def held_keys(connection: sqlite3.Connection, name: str, keys: Iterable[str]) -> set[str]:
    """Which of these ordering keys the subscription holds an event of (so new ones must park)."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    (found,) = connection.execute(
        "SELECT json_group_array(key) FROM (SELECT DISTINCT key FROM bus_held "
        "WHERE subscription = ? AND key IN (SELECT value FROM json_each(?)))",
        (name, dumps(wanted)),
    ).fetchone()
    return set(orjson.loads(found))


def keep(connection: sqlite3.Connection, events: Iterable[KeptEvent]) -> None:
    """Copy held events into `bus_log` (once per position) so their payloads stay at hand."""
    connection.executemany(
        "INSERT OR IGNORE INTO bus_log (position, event_id, source, type, key, recorded_at, "
        "payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (e.position, e.event_id, e.source, e.type, e.key, e.recorded_at, e.payload)
            for e in events
        ],
    )


def prune(connection: sqlite3.Connection) -> None:
    """Drop kept copies no subscription holds any more."""
    connection.execute(
        "DELETE FROM bus_log WHERE NOT EXISTS "
        "(SELECT 1 FROM bus_held h WHERE h.position = bus_log.position)"
    )


def advance_cursor(connection: sqlite3.Connection, name: str, position: int) -> None:
    """Move a subscription's cursor forward (never back)."""
    connection.execute(
        "UPDATE bus_subscription SET cursor = ? WHERE name = ? AND cursor < ?",
        (position, name, position),
    )


def retention_floor(connection: sqlite3.Connection) -> tuple[int | None, set[int]]:
    """The lowest cursor of any subscription, and every position some subscription holds."""
    (floor,) = connection.execute("SELECT MIN(cursor) FROM bus_subscription").fetchone()
    held = {r[0] for r in connection.execute("SELECT DISTINCT position FROM bus_held")}
    return floor, held


def forget_handled_before(connection: sqlite3.Connection, position: int) -> None:
    """Drop dedupe marks for positions the stream no longer holds."""
    connection.execute("DELETE FROM bus_handled WHERE position < ?", (position,))
