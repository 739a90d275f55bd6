"""The hub-internal events that carry an accepted delivery from its receiver to its worker.

`retailhub.hooks.shopify_delivery.v1`: one Shopify delivery (`topic`, `shop`, `payload` as
received), id `shopify:<X-Shopify-Webhook-Id>`, keyed by the resource so that the deliveries
of one order are mapped in order. `retailhub.hooks.hubspot_contact_changed.v1`: one contact
notice of a HubSpot delivery, id `hubspot:<eventId>`, keyed by the contact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.connectors.hubspot.webhooks import ContactChange

SHOPIFY_DELIVERY = "retailhub.hooks.shopify_delivery.v1"
HUBSPOT_CONTACT_CHANGED = "retailhub.hooks.hubspot_contact_changed.v1"
HOOK_EVENTS = (SHOPIFY_DELIVERY, HUBSPOT_CONTACT_CHANGED)


class ShopifyDelivery(BaseModel):
    """What a Shopify webhook delivered: the topic, the shop and the resource as sent."""

    topic: str
    shop: str | None = None
    payload: Any


class HubSpotContactNotice(BaseModel):
    """A HubSpot contact notice as the worker needs it."""

    event_id: str
    contact_id: str
    kind: str
    occurred_at: datetime
    property_name: str | None = None


def shopify_delivery_event(
    webhook_id: str, delivery: ShopifyDelivery, traceparent: str | None = None
) -> CloudEvent:
    """The internal event of one Shopify delivery."""
    resource = delivery.topic.split("/")[0]
    payload = delivery.payload
    ident = (
        payload.get("order_id" if resource == "refunds" else "id")
        if isinstance(payload, dict)
        else None
    )
    key = f"shopify:{'orders' if resource == 'refunds' else resource}:{ident}"
    return new_event(
        SHOPIFY_DELIVERY,
        f"/hooks/shopify/{delivery.shop or 'unknown'}",
        delivery,
        subject=key,
        partitionkey=key,
        traceparent=traceparent,
        id=f"shopify:{webhook_id}",
    )


def hubspot_notice_event(change: ContactChange, traceparent: str | None = None) -> CloudEvent:
    """The internal event of one HubSpot contact notice."""
    notice = HubSpotContactNotice(
        event_id=change.event_id,
        contact_id=change.contact_id,
        kind=change.kind.value,
        occurred_at=change.occurred_at,
        property_name=change.property_name,
    )
    key = f"hubspot:contact:{change.contact_id}"
    return new_event(
        HUBSPOT_CONTACT_CHANGED,
        "/hooks/hubspot",
        notice,
        subject=key,
        partitionkey=key,
        traceparent=traceparent,
        id=f"hubspot:{change.event_id}",
        time=change.occurred_at,
    )
