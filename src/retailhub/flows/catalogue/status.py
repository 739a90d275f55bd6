"""Where catalogue sync stands: the poller's streams, what each target applied and refused,
the bulk load's checkpoint and the subscriptions' lag, for `retailhub catalogue status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retailhub.bus.port import EventBus, SubscriptionStatus
from retailhub.flows.catalogue.load import LoadProgress, load_progress
from retailhub.flows.catalogue.storage import create_catalogue_tables
from retailhub.flows.catalogue.wiring import PREFIX


@dataclass(frozen=True)
class StreamStatus:
    """One stream of the poller: where its next read starts, when it last read, what it
    published in all, and its last error (None once a read succeeded)."""

    stream: str
    position: str | None
    polled_at: str | None
    published: int
    last_error: str | None


@dataclass(frozen=True)
class CatalogueStatus:
    """Catalogue sync at a glance."""

    streams: list[StreamStatus]
    applied: dict[str, int]
    refused: dict[str, int]
    load: LoadProgress | None
    subscriptions: list[SubscriptionStatus]

    def as_json(self) -> dict[str, Any]:
        """The status as JSON-compatible data (`catalogue status --json`)."""
        load = self.load
        return {
            "streams": [vars(stream) for stream in self.streams],
            "applied": self.applied,
            "refused": self.refused,
            "load": None
            if load is None
            else {
                "state": load.state.value,
                "batch_size": load.batch_size,
                "batches": load.batches,
                "items": load.items,
                "started_at": load.started_at.isoformat(),
                "updated_at": load.updated_at.isoformat(),
                "last_error": load.last_error,
            },
            "subscriptions": [
                {
                    "name": s.name,
                    "lag": s.lag,
                    "retrying": s.retrying,
                    "dead": s.dead,
                    "parked": s.parked,
                }
                for s in self.subscriptions
            ],
        }


async def catalogue_status(bus: EventBus) -> CatalogueStatus:
    """Read the catalogue's tables and the bus's view of its subscriptions."""
    async with bus.transaction() as transaction:
        await create_catalogue_tables(transaction)
        streams = await transaction.fetch_all(
            "SELECT stream, position, polled_at, published, last_error FROM catalogue_cursor "
            "ORDER BY stream"
        )
        applied = await transaction.fetch_all(
            "SELECT target, COUNT(*) FROM catalogue_applied GROUP BY target ORDER BY target"
        )
        refused = await transaction.fetch_all(
            "SELECT target, COUNT(*) FROM catalogue_refusals GROUP BY target ORDER BY target"
        )
        load = await load_progress(transaction)
    subscriptions = [s for s in await bus.subscriptions() if s.name.startswith(PREFIX)]
    return CatalogueStatus(
        [StreamStatus(str(s), p, t, int(n), e) for s, p, t, n, e in streams],
        {str(target): int(count) for target, count in applied},
        {str(target): int(count) for target, count in refused},
        load,
        subscriptions,
    )
