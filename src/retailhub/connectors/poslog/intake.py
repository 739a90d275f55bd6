"""POSLog intake: a file's bytes -> the CloudEvents the hub publishes for it, and what failed.

A sale becomes `retail.order.created.v1`, a cancelled basket `retail.order.cancelled.v1` and a
return `retail.return.received.v1`, from source `/pos/<store>`, keyed (subject and partition
key) by the document id. The event id is derived from the document id and the type, and the
event time is the till's own end time, so the same file read twice yields byte-identical
events: re-delivering it publishes nothing new, because the bus dedupes by (id, source).

A cancelled return (a return basket the cashier abandoned) has no catalogued event type and no
effect on stock or money; it is counted in `cancelled_returns`, not published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.order import Order, OrderStatus
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import Return, ReturnStatus
from retailhub.connectors.poslog.mapping import poslog_to_canonical
from retailhub.connectors.poslog.records import TransactionFailure

ORDER_CREATED = "retail.order.created.v1"
ORDER_CANCELLED = "retail.order.cancelled.v1"
RETURN_RECEIVED = "retail.return.received.v1"


@dataclass(frozen=True)
class PoslogIntake:
    """What one POSLog file gives the hub: events to publish, and the transactions that failed."""

    events: tuple[CloudEvent, ...]
    failures: tuple[TransactionFailure, ...]
    control_transactions_skipped: int
    cancelled_returns: int

    @property
    def rejected(self) -> bool:
        """True when transactions failed and none mapped: the file as a whole is unusable."""
        return bool(self.failures) and not self.events and not self.cancelled_returns


def poslog_intake(
    xml: bytes,
    *,
    store_timezone: tzinfo = UTC,
    weight_unit: UnitOfMeasure | None = None,
) -> PoslogIntake:
    """Map a POSLog file to its events; raises PoslogSyntaxError when it cannot be read at all."""
    translation = poslog_to_canonical(xml, store_timezone=store_timezone, weight_unit=weight_unit)
    events: list[CloudEvent] = []
    cancelled_returns = 0
    for document in translation.documents:
        if isinstance(document, Return) and document.status is ReturnStatus.CANCELLED:
            cancelled_returns += 1
            continue
        events.append(pos_event(document))
    return PoslogIntake(
        tuple(events),
        translation.failures,
        translation.control_transactions_skipped,
        cancelled_returns,
    )


def pos_event(document: Order | Return) -> CloudEvent:
    """The event for one POS document, with an id and time that are the same on every reading."""
    if isinstance(document, Order):
        cancelled = document.status is OrderStatus.CANCELLED
        event_type = ORDER_CANCELLED if cancelled else ORDER_CREATED
        store, key, moment = document.location, document.order_id, document.placed_at
    else:
        event_type = RETURN_RECEIVED
        store, key, moment = document.received_location, document.return_id, document.created_at
    event = to_event(document, event_type, pos_source(store or "unknown"))
    return replace(event, id=pos_event_id(key, event_type), time=moment)


def pos_event_id(document_id: str, event_type: str) -> str:
    """`<document id>/<type>`: one event per document and type, whichever file carried it."""
    return f"{document_id}/{event_type}"


def pos_source(store: str) -> str:
    """`/pos/<store>`: the CloudEvents source of everything a store's tills rang up."""
    return f"/pos/{store}"


async def publish_intake(
    bus: EventBus, events: Sequence[CloudEvent], *, transaction: Transaction | None = None
) -> list[int]:
    """Publish a file's events atomically in one bus transaction (the caller's when given)."""
    if not events:
        return []
    if transaction is not None:
        return await bus.publish(events, transaction=transaction)
    async with bus.transaction() as own:
        return await bus.publish(events, transaction=own)
