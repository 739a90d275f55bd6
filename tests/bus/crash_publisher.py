"""A publisher for the crash tests: publishes numbered batches of order events until killed.

Run as `python crash_publisher.py DB BATCH_SIZE MARKER RUN [STALL_AT]`. It writes the batch number
to MARKER after each committed batch; batches are labelled "RUN-number". With STALL_AT it publishes that batch inside an open transaction, signals
MARKER with "stalled", and waits to be killed before committing.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent, new_event

MAX_BATCHES = 10_000


def batch_of_orders(label: str, size: int) -> list[CloudEvent]:
    """`size` order events, each tagged with its batch number."""
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


async def publish_until_killed(
    database: Path, size: int, marker: Path, run: str, stall_at: int | None
) -> None:
    """Publish batch after batch; each is one transaction."""
    async with SqliteBus(database) as bus:
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
    stall = int(sys.argv[5]) if len(sys.argv) > 5 else None
    database, size, marker, run = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        Path(sys.argv[3]),
        sys.argv[4],
    )
    asyncio.run(publish_until_killed(database, size, marker, run, stall))
