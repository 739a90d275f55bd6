"""A publisher on the PostgreSQL bus for the crash tests: numbered batches until killed.

Run as `python publisher_postgres.py URL SCHEMA BATCH_SIZE MARKER RUN [STALL_AT]`, the PostgreSQL
twin of crash_publisher.py: MARKER gets the batch number after each committed batch; with
STALL_AT that batch is published inside an open transaction, MARKER says "stalled", and the
process waits to be killed before committing.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from crash_publisher import MAX_BATCHES, batch_of_orders

from retailhub.bus.postgres import PostgresBus


async def publish_until_killed(
    url: str, schema: str, size: int, marker: Path, run: str, stall_at: int | None
) -> None:
    """Publish batch after batch; each is one transaction."""
    async with PostgresBus(url, schema=schema, pool_size=4) as bus:
        for batch in range(MAX_BATCHES):
            events = batch_of_orders(f"{run}-{batch}", size)
            if batch == stall_at:
                async with bus.transaction() as transaction:
                    await bus.publish(events, transaction=transaction)
                    marker.write_text("stalled")
                    await asyncio.sleep(60)
            await bus.publish(events)
            marker.write_text(str(batch))


if __name__ == "__main__":
    url, schema, size, marker, run = sys.argv[1:6]
    stall = int(sys.argv[6]) if len(sys.argv) > 6 else None
    asyncio.run(publish_until_killed(url, schema, int(size), Path(marker), run, stall))
