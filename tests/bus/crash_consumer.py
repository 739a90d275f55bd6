"""A fulfilment worker for the crash tests: writes one effect row per event via its transaction.

Run as `python crash_consumer.py DB EXPECTED [STALL_AT MARKER]`. With STALL_AT it signals MARKER
from inside the batch that holds that event (its effect written, not yet committed) and waits
to be killed. It exits 0 once EXPECTED events are handled, and 3 if that takes too long.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from retailhub.bus.port import HandlerContext
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent

LIMIT_SECONDS = 60.0


async def fulfil_orders(
    database: Path, expected: int, stall_at: int | None, marker: Path | None
) -> int:
    """Handle every order once in effect; return the exit status."""
    async with SqliteBus(database, poll_interval=0.01, batch_size=100) as bus:
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
            if status.lag == 0 and _effects(database) >= expected:
                return 0
            await asyncio.sleep(0.05)
    return 3


def _effects(database: Path) -> int:
    """Effect rows committed so far."""
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM effect").fetchone()[0])


if __name__ == "__main__":
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    stall = int(sys.argv[3]) if len(sys.argv) > 3 else None
    signal_file = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    sys.exit(asyncio.run(fulfil_orders(path, count, stall, signal_file)))
