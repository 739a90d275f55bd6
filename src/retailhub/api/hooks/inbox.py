"""The webhook inbox: which deliveries the hub has taken, by product and delivery id.

A delivery is taken by inserting its row and publishing its hub-internal event in one bus
transaction: either both happen or neither, and a second copy finds the row and is ignored.
The bus would also drop an event id it holds, but only while retention keeps it; the inbox
row is the receiver's own record and says "duplicate" to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.flows.storage import placeholders

TABLE = "hooks_inbox"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    product     TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (product, delivery_id)
)
"""


async def create_inbox_table(transaction: Transaction) -> None:
    """Create the inbox table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(DDL)
    await transaction.execute(
        f"CREATE INDEX IF NOT EXISTS hooks_inbox_received ON {TABLE} (received_at)"
    )


async def take_deliveries(
    bus: EventBus, product: str, deliveries: Sequence[tuple[str, Sequence[CloudEvent]]]
) -> int:
    """Record deliveries and publish the events of the new ones, all in one transaction; how
    many were new (a copy of one taken before is skipped)."""
    taken = 0
    async with bus.transaction() as transaction:
        marks = ", ".join(placeholders(transaction, 3))
        now = datetime.now(UTC).isoformat()
        for delivery_id, events in deliveries:
            new = await transaction.fetch_all(
                f"INSERT INTO {TABLE} (product, delivery_id, received_at) VALUES ({marks})"
                " ON CONFLICT (product, delivery_id) DO NOTHING RETURNING delivery_id",
                (product, delivery_id, now),
            )
            if new:
                taken += 1
                if events:
                    await bus.publish(events, transaction=transaction)
    return taken
