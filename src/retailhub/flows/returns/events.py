"""The events return-to-refund listens to and the ones it publishes."""

from __future__ import annotations

from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.returns import Return, ReturnStatus

ORDER_CREATED = "retail.order.created.v1"
ORDER_UPDATED = "retail.order.updated.v1"
ORDER_CANCELLED = "retail.order.cancelled.v1"
ORDER_EVENTS = (ORDER_CREATED, ORDER_UPDATED, ORDER_CANCELLED)
RETURN_REQUESTED = "retail.return.requested.v1"
RETURN_RECEIVED = "retail.return.received.v1"
RETURN_REFUNDED = "retail.return.refunded.v1"
RETURNS_SOURCE = "/hub/returns"


def return_of(event: CloudEvent) -> Return:
    """The return a return event carries, validated once where it enters the flow."""
    return Return.model_validate(event.data)


def requested_event(document: Return, *, traceparent: str | None = None) -> CloudEvent:
    """`retail.return.requested.v1` for a return started online; one event per return id."""
    return to_event(
        document,
        RETURN_REQUESTED,
        RETURNS_SOURCE,
        traceparent=traceparent,
        id=f"{document.return_id}/{RETURN_REQUESTED}",
    )


def refunded_event(document: Return) -> CloudEvent:
    """`retail.return.refunded.v1` once a return's refund is complete; one per return id."""
    refunded = document.model_copy(update={"status": ReturnStatus.REFUNDED})
    return to_event(
        refunded, RETURN_REFUNDED, RETURNS_SOURCE, id=f"{document.return_id}/{RETURN_REFUNDED}"
    )
