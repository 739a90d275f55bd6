"""The events order-to-cash listens to and the one it publishes.

`retail.order.created.v1`, `retail.order.updated.v1` and `retail.order.cancelled.v1` come from
the channels (POSLog intake, Shopify webhooks), keyed by order id. An update is handled as the
order arriving again: a pending order that is now completed is posted, moved and accrued then;
a change to an order already completed writes nothing new (every write is keyed by the order),
and reconciliation reports the amount mismatch. When the loyalty platform accrues points for an order,
the loyalty subscription publishes `POINTS_ACCRUED` in its own handler transaction (an outbox:
it exists if and only if the accrual was recorded), keyed by the same order id, so the CRM
subscription can note the points on the customer's timeline without waiting on the loyalty
platform itself; when a cancellation takes them back it publishes `POINTS_REVERSED` the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.canonical.order import Order

ORDER_CREATED = "retail.order.created.v1"
ORDER_CANCELLED = "retail.order.cancelled.v1"
ORDER_UPDATED = "retail.order.updated.v1"
ORDER_EVENTS = (ORDER_CREATED, ORDER_UPDATED, ORDER_CANCELLED)
POINTS_ACCRUED = "retailhub.o2c.points_accrued.v1"
"""Hub-internal: outside the `retail.` catalogue until the catalogue adopts it."""
POINTS_REVERSED = "retailhub.o2c.points_reversed.v1"
POINTS_EVENTS = (POINTS_ACCRUED, POINTS_REVERSED)
POINTS_SOURCE = "/hub/order-to-cash/loyalty"


@dataclass(frozen=True)
class PointsMoved:
    """Points the loyalty platform credited (or took back) for an order, and the order."""

    order: Order
    member_id: str
    points: int


class _RecentOrders:
    """Orders validated lately, by event: the four subscriptions receive the same event, and
    validating an order with its invariants costs about a millisecond."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._orders: OrderedDict[tuple[str, str], Order] = OrderedDict()

    def order_of(self, event: CloudEvent) -> Order:
        """The event's order, validated the first time this process sees the event."""
        key = (event.source, event.id)
        order = self._orders.get(key)
        if order is None:
            order = Order.model_validate(event.data)
            self._orders[key] = order
            if len(self._orders) > self._capacity:
                self._orders.popitem(last=False)
        return order


_RECENT = _RecentOrders(capacity=4096)


def order_of(event: CloudEvent) -> Order:
    """The order an order event carries, validated once per event where it enters the flow
    (an event's source and id name one immutable document, CloudEvents 1.0)."""
    return _RECENT.order_of(event)


def is_cancellation(event: CloudEvent) -> bool:
    """True for a cancellation event."""
    return event.type == ORDER_CANCELLED


def points_event(
    event_type: str, accrued: PointsMoved, *, traceparent: str | None = None
) -> CloudEvent:
    """The event announcing an accrual or its reversal; its id derives from the order and the
    type, so it is recorded once however often the order is handled."""
    order_id = accrued.order.order_id
    data: dict[str, Any] = {
        "order": accrued.order.model_dump(mode="json"),
        "member_id": accrued.member_id,
        "points": accrued.points,
    }
    return new_event(
        event_type,
        POINTS_SOURCE,
        data,
        id=f"{order_id}/{event_type}",
        subject=order_id,
        partitionkey=order_id,
        traceparent=traceparent,
    )


@dataclass(frozen=True)
class PointsNotice:
    """What the CRM note of a points event needs: the order's id and buyer, and the points."""

    order_id: str
    email: str | None
    customer_ids: dict[str, str]
    member_id: str
    points: int


def points_notice_of(event: CloudEvent) -> PointsNotice:
    """The points a `POINTS_ACCRUED` or `POINTS_REVERSED` event carries, with the order's id and
    buyer read from its order as `points_event` wrote it (an order validated as it entered the
    flow, so it is not validated again: that costs about a millisecond)."""
    data = event.data
    order = data.get("order") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(order, dict):
        raise ValueError(f"{event.type} {event.id} carries no order")
    order_id, email, ids = order.get("order_id"), order.get("email"), order.get("customer_ids")
    if not isinstance(order_id, str) or not isinstance(email, str | None):
        raise ValueError(f"{event.type} {event.id}: the order's id or email is malformed")
    if not isinstance(ids, dict) or not all(isinstance(v, str) for v in ids.values()):
        raise ValueError(f"{event.type} {event.id}: the order's customer ids are malformed")
    return PointsNotice(order_id, email, ids, str(data["member_id"]), int(data["points"]))
