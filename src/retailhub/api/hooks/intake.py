"""The webhook workers: accepted deliveries become canonical events, after the product has
had its 202.

`hooks.shopify` maps each Shopify delivery with the connector's pure mapping functions and
publishes, in the handler's transaction (so exactly once with the handled mark):
`orders/create|updated|cancelled` -> `retail.order.created|updated|cancelled.v1` from
`/shopify/orders`; `refunds/create` -> `retail.return.refunded.v1` when money was paid back,
else `retail.return.received.v1`, from `/shopify/returns`; `customers/create|update` ->
`retail.customer.created|updated.v1` from `/shopify/customers` (what customer sync takes in).

`hooks.hubspot` re-reads each noticed contact from the CRM (`CrmPort.get_contact`) rather than
trusting the notice's single property value, and publishes `retail.customer.created|updated.v1`
from `/hubspot/customers`. A deleted contact has no canonical event: it is raised as an alert
(`hooks.hubspot.contact_deleted`) for an operator, since erasure across systems is a decision.

Event ids derive from the delivery id, so a redelivered or replayed delivery is one event. A
delivery that cannot be mapped fails its handler: retried, then dead-lettered with the fault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from retailhub.api.hooks.events import (
    HUBSPOT_CONTACT_CHANGED,
    SHOPIFY_DELIVERY,
    HubSpotContactNotice,
    ShopifyDelivery,
)
from retailhub.bus.port import DEFAULT_RETRY, EventBus, HandlerContext, RetryPolicy
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.returns import ReturnStatus
from retailhub.connectors.hubspot.webhooks import ContactChangeKind
from retailhub.connectors.ports import CrmPort
from retailhub.connectors.shopify.mapping import (
    customer_to_canonical,
    order_to_canonical,
    refund_to_canonical,
)
from retailhub.connectors.shopify.webhooks import (
    CUSTOMERS_CREATE,
    ORDERS_CANCELLED,
    ORDERS_CREATE,
    ORDERS_UPDATED,
    REFUNDS_CREATE,
)
from retailhub.flows.alerts import Alert, create_alerts_table, record_alert

SHOPIFY_SUBSCRIPTION = "hooks.shopify"
HUBSPOT_SUBSCRIPTION = "hooks.hubspot"
ORDER_TYPES = {
    ORDERS_CREATE: "retail.order.created.v1",
    ORDERS_UPDATED: "retail.order.updated.v1",
    ORDERS_CANCELLED: "retail.order.cancelled.v1",
}
LocationCodes = Callable[[], Awaitable[Mapping[int, str]]]


def shopify_events(
    delivery: ShopifyDelivery, delivery_id: str, locations: Mapping[int, str] | None
) -> list[CloudEvent]:
    """The canonical events one Shopify delivery becomes (MappingError when it cannot)."""
    payload: Any = delivery.payload
    if delivery.topic in ORDER_TYPES:
        order = order_to_canonical(payload, location_code_by_id=locations)
        return [_event(order, ORDER_TYPES[delivery.topic], "/shopify/orders", delivery_id)]
    if delivery.topic == REFUNDS_CREATE:
        returned = refund_to_canonical(payload, location_code_by_id=locations)
        refunded = returned.status is ReturnStatus.REFUNDED
        kind = "retail.return.refunded.v1" if refunded else "retail.return.received.v1"
        return [_event(returned, kind, "/shopify/returns", delivery_id)]
    customer = customer_to_canonical(payload)
    created = delivery.topic == CUSTOMERS_CREATE
    kind = "retail.customer.created.v1" if created else "retail.customer.updated.v1"
    return [_event(customer, kind, "/shopify/customers", delivery_id)]


def _event(document: Any, type_: str, source: str, delivery_id: str) -> CloudEvent:
    return to_event(document, type_, source, id=f"{delivery_id}/{type_}")


async def subscribe_webhook_intake(
    bus: EventBus,
    *,
    crm: CrmPort | None,
    location_codes: LocationCodes | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[str]:
    """Run the webhook workers on `bus`; returns the subscription names. `location_codes`
    (the Shopify connector's) names stores of POS orders by estate code."""

    async def map_shopify(event: CloudEvent, context: HandlerContext) -> None:
        delivery = ShopifyDelivery.model_validate(event.data)
        locations = await location_codes() if location_codes else None
        events = shopify_events(delivery, event.id, locations)
        await bus.publish(events, transaction=context.transaction)

    async def reread_hubspot(event: CloudEvent, context: HandlerContext) -> None:
        notice = HubSpotContactNotice.model_validate(event.data)
        if notice.kind in {ContactChangeKind.DELETED, ContactChangeKind.PRIVACY_DELETED}:
            await record_alert(
                context.transaction,
                Alert(
                    kind="hooks.hubspot.contact_deleted",
                    key=notice.contact_id,
                    summary=f"HubSpot contact {notice.contact_id} was deleted ({notice.kind})",
                    detail="decide whether the customer is erased in the other systems",
                    needs_operator=True,
                ),
            )
            return
        if crm is None:
            raise RuntimeError("a HubSpot notice arrived but the hub has no CRM connected")
        contact = await crm.get_contact(notice.contact_id)
        if contact is None:
            return
        created = notice.kind == ContactChangeKind.CREATED
        kind = "retail.customer.created.v1" if created else "retail.customer.updated.v1"
        await bus.publish(
            [_event(contact, kind, "/hubspot/customers", event.id)],
            transaction=context.transaction,
        )

    async with bus.transaction() as transaction:
        await create_alerts_table(transaction)
    await bus.subscribe(SHOPIFY_SUBSCRIPTION, [SHOPIFY_DELIVERY], map_shopify, retry=retry)
    await bus.subscribe(
        HUBSPOT_SUBSCRIPTION, [HUBSPOT_CONTACT_CHANGED], reread_hubspot, retry=retry
    )
    return [SHOPIFY_SUBSCRIPTION, HUBSPOT_SUBSCRIPTION]
