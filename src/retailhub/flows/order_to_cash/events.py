"""The events order-to-cash listens to and the one it publishes.

`retail.order.created.v1` and `retail.order.cancelled.v1` come from the channels (POSLog intake,
Shopify webhooks), keyed by order id. When the loyalty platform accrues points for an order,
the loyalty subscription publishes `POINTS_ACCRUED` in its own handler transaction (an outbox:
it exists if and only if the accrual was recorded), keyed by the same order id, so the CRM
subscription can note the points on the customer's timeline without waiting on the loyalty
platform itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.canonical.order import Order

ORDER_CREATED = "retail.order.created.v1"
ORDER_CANCELLED = "retail.order.cancelled.v1"
ORDER_EVENTS = (ORDER_CREATED, ORDER_CANCELLED)
POINTS_ACCRUED = "retailhub.o2c.points_accrued.v1"
"""Hub-internal: outside the `retail.` catalogue until the catalogue adopts it."""
POINTS_SOURCE = "/hub/order-to-cash/loyalty"


@dataclass(frozen=True)
class PointsAccrued:
    """What the loyalty platform credited for an order, and the order it was for."""

    order: Order
    member_id: str
    points: int


def order_of(event: CloudEvent) -> Order:
    """The order an order event carries, validated once where it enters the flow."""
    return Order.model_validate(event.data)


def is_cancellation(event: CloudEvent) -> bool:
    """True for a cancellation event."""
    return event.type == ORDER_CANCELLED


def points_accrued_event(accrued: PointsAccrued, *, traceparent: str | None = None) -> CloudEvent:
    """The event announcing an accrual; its id derives from the order, so it is recorded once."""
    order_id = accrued.order.order_id
    data: dict[str, Any] = {
        "order": accrued.order.model_dump(mode="json"),
        "member_id": accrued.member_id,
        "points": accrued.points,
    }
    return new_event(
        POINTS_ACCRUED,
        POINTS_SOURCE,
        data,
        id=f"{order_id}/{POINTS_ACCRUED}",
        subject=order_id,
        partitionkey=order_id,
        traceparent=traceparent,
    )


def points_accrued_of(event: CloudEvent) -> PointsAccrued:
    """The accrual a `POINTS_ACCRUED` event carries."""
    data = event.data
    if not isinstance(data, dict):
        raise ValueError(f"{POINTS_ACCRUED} {event.id} carries no JSON object")
    return PointsAccrued(
        Order.model_validate(data["order"]), str(data["member_id"]), int(data["points"])
    )
