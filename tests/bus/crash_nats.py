"""Processes for the NATS crash tests, killed with SIGKILL by `test_crash_nats.py`.

`python crash_nats.py consume URL STATE STREAM PREFIX EXPECTED [STALL_AT MARKER]` runs a
fulfilment worker that writes one effect row per event through its transaction; with STALL_AT
it signals MARKER from inside the batch holding that event (effect written, not committed)
and waits to be killed. It exits 0 once EXPECTED events are handled, 3 if that takes too long.

`python crash_nats.py publish URL STATE STREAM PREFIX BATCH_SIZE MARKER RUN` publishes batches
labelled "RUN-number" until killed, writing the number of each committed batch to MARKER.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from retailhub.bus.nats import NatsBus
from retailhub.bus.port import HandlerContext
from retailhub.canonical.cloudevents import CloudEvent, new_event

LIMIT_SECONDS = 60.0
MAX_BATCHES = 10_000


def open_bus(url: str, state: Path, stream: str, prefix: str) -> NatsBus:
    """The bus both roles use: the test's stream and state file, short pulls."""
    return NatsBus(
        url, state, stream=stream, subject_prefix=prefix, fetch_wait=0.02, batch_size=100
    )


async def fulfil_orders(
    bus: NatsBus, expected: int, stall_at: int | None, marker: Path | None
) -> int:
    """Handle every order once in effect; return the exit status."""
    async with bus:
        async with bus.transaction() as transaction:
            await transaction.execute(
                "CREATE TABLE IF NOT EXISTS effect (event_id TEXT NOT NULL, n INTEGER NOT NULL)"
            )

        async def reserve_stock(event: CloudEvent, context: HandlerContext) -> None:
            await context.transaction.execute(
                "INSERT INTO effect (event_id, n) VALUES (?, ?)", (event.id, event.data["n"])
            )
            if stall_at is not None and marker is not None and event.data["n"] == stall_at:
                marker.write_text(str(context.position))
                await asyncio.sleep(LIMIT_SECONDS)
            await asyncio.sleep(0.0005)

        await bus.subscribe("fulfilment", ["retail.order.*"], reserve_stock, from_position=0)
        deadline = time.monotonic() + LIMIT_SECONDS
        while time.monotonic() < deadline:
            status = await bus.status("fulfilment")
            if status.lag == 0 and _effects(bus.state_path) >= expected:
                return 0
            await asyncio.sleep(0.05)
    return 3


def _effects(state: Path) -> int:
    """Effect rows committed so far."""
    with sqlite3.connect(state) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM effect").fetchone()[0])


def batch_of_orders(label: str, size: int) -> list[CloudEvent]:
    """`size` order events, each tagged with its batch label."""
    return [
        new_event(
            "retail.order.created.v1",
            "/channels/web",
            {"batch": label, "n": n, "lines": [{"sku": f"SKU-{n % 50}", "quantity": 1}] * 8},
            subject=f"ORD-{label}-{n}",
            partitionkey=f"ORD-{label}-{n}",
        )
        for n in range(size)
    ]


async def publish_until_killed(bus: NatsBus, size: int, marker: Path, run: str) -> None:
    """Publish batch after batch, each one atomic."""
    async with bus:
        for batch in range(MAX_BATCHES):
            await bus.publish(batch_of_orders(f"{run}-{batch}", size))
            marker.write_text(str(batch))


if __name__ == "__main__":
    role, url, state, stream, prefix, *rest = sys.argv[1:]
    bus = open_bus(url, Path(state), stream, prefix)
    if role == "consume":
        stall = int(rest[1]) if len(rest) > 1 else None
        signal_file = Path(rest[2]) if len(rest) > 2 else None
        sys.exit(asyncio.run(fulfil_orders(bus, int(rest[0]), stall, signal_file)))
    asyncio.run(publish_until_killed(bus, int(rest[0]), Path(rest[1]), rest[2]))
