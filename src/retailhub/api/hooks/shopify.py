"""`POST /hooks/shopify/{topic}`: Shopify webhook deliveries.

Checked in this order: a secret is configured (else 404), the body is JSON (415), the
`X-Shopify-Hmac-Sha256` signature of the raw bytes (constant time, 401), the topic is one the
hub maps and agrees with `X-Shopify-Topic` (404/422), `X-Shopify-Triggered-At` is within the
replay window (401), and a `X-Shopify-Webhook-Id` is there to dedupe by (422). The delivery is
then taken (202) or recognised as a copy (200).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from starlette.responses import JSONResponse

from retailhub.api.guards import JSON_CONTENT, is_json
from retailhub.api.hooks.events import ShopifyDelivery, shopify_delivery_event
from retailhub.api.hooks.freshness import parse_iso, require_fresh
from retailhub.api.hooks.inbox import take_deliveries
from retailhub.api.hooks.receipts import HOOK_RESPONSES, DeliveryReceipt, receipt
from retailhub.api.problems import ProblemError
from retailhub.api.services import services_of
from retailhub.canonical.errors import Fault
from retailhub.connectors.shopify.webhooks import (
    CUSTOMERS_CREATE,
    CUSTOMERS_UPDATE,
    ORDERS_CANCELLED,
    ORDERS_CREATE,
    ORDERS_UPDATED,
    REFUNDS_CREATE,
    verify_shopify_webhook,
)

PRODUCT = "shopify"
MAPPED_TOPICS = frozenset(
    {ORDERS_CREATE, ORDERS_UPDATED, ORDERS_CANCELLED, REFUNDS_CREATE, CUSTOMERS_CREATE}
    | {CUSTOMERS_UPDATE}
)
"""The topics the hub maps. Not `inventory_levels/update`: the ERP is the stock master and the
hub sets Shopify's levels, so Shopify's own reports would only echo the hub."""

router = APIRouter(prefix="/hooks/shopify", tags=["webhooks"])


@router.post(
    "/{topic:path}",
    status_code=202,
    summary="A Shopify webhook delivery",
    response_model=DeliveryReceipt,
    responses=HOOK_RESPONSES,
)
async def shopify_webhook(
    topic: str,
    request: Request,
    x_shopify_hmac_sha256: Annotated[str | None, Header()] = None,
    x_shopify_topic: Annotated[str | None, Header()] = None,
    x_shopify_webhook_id: Annotated[str | None, Header()] = None,
    x_shopify_shop_domain: Annotated[str | None, Header()] = None,
    x_shopify_triggered_at: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Verify a delivery and take it onto the bus; 202 when new, 200 for a copy."""
    services = services_of(request)
    secret = services.hooks.shopify_secret
    if not secret:
        raise ProblemError(404, "no Shopify app secret is configured on this hub")
    if not is_json(request.headers.get("content-type")):
        raise ProblemError(415, "Shopify delivers JSON", faults=[JSON_CONTENT])
    raw = await request.body()
    if not verify_shopify_webhook(raw, x_shopify_hmac_sha256, secret):
        raise ProblemError(
            401,
            "X-Shopify-Hmac-Sha256 is missing or is not the signature of this body",
            slug="bad-signature",
            title="Bad signature",
            faults=[Fault("header.x-shopify-hmac-sha256", "does not sign this body")],
        )
    if topic not in MAPPED_TOPICS:
        raise ProblemError(404, f"the hub does not take the Shopify topic {topic!r}")
    if x_shopify_topic is not None and x_shopify_topic != topic:
        raise ProblemError(
            422,
            f"X-Shopify-Topic says {x_shopify_topic!r} but the delivery came to {topic!r}",
            faults=[Fault("header.x-shopify-topic", "differs from the address's topic")],
        )
    require_fresh(
        parse_iso(x_shopify_triggered_at), services.hooks.replay_window_s, "X-Shopify-Triggered-At"
    )
    if not x_shopify_webhook_id:
        raise ProblemError(
            422,
            "X-Shopify-Webhook-Id is missing: a delivery needs an id to dedupe by",
            faults=[Fault("header.x-shopify-webhook-id", "is missing")],
        )
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ProblemError(422, "the body is not JSON", faults=[Fault("$", str(error))]) from None
    event = shopify_delivery_event(
        x_shopify_webhook_id,
        ShopifyDelivery(topic=topic, shop=x_shopify_shop_domain, payload=payload),
        traceparent=request.headers.get("traceparent"),
    )
    taken = await take_deliveries(services.bus, PRODUCT, [(x_shopify_webhook_id, [event])])
    return receipt(taken, 1 - taken)
