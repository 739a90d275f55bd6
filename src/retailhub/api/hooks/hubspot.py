"""`POST /hooks/hubspot`: HubSpot webhook deliveries (signature v3).

Checked in this order: a secret is configured (else 404), the body is JSON (415),
`X-HubSpot-Request-Timestamp` is within the replay window (401), the `X-HubSpot-Signature-v3`
of method, URL, body and timestamp (constant time, 401), and the delivery is a JSON array of
events (422 naming the event and field). Each contact notice is taken by its `eventId`; events
about other objects are counted out. 202 when any notice was new, 200 when all were copies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import JSONResponse

from retailhub.api.guards import JSON_CONTENT, is_json
from retailhub.api.hooks.events import hubspot_notice_event
from retailhub.api.hooks.freshness import parse_epoch_ms, require_fresh
from retailhub.api.hooks.inbox import take_deliveries
from retailhub.api.hooks.receipts import HOOK_RESPONSES, DeliveryReceipt, receipt
from retailhub.api.problems import ProblemError
from retailhub.api.services import services_of
from retailhub.canonical.errors import Fault
from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot.webhooks import contact_changes, verify_hubspot_webhook

PRODUCT = "hubspot"

router = APIRouter(prefix="/hooks", tags=["webhooks"])


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL HubSpot called: the hub's public address (behind a proxy) plus path and query,
    else the URL the request arrived at."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url.rstrip('/')}{request.url.path}{query}"


@router.post(
    "/hubspot",
    status_code=202,
    summary="A HubSpot webhook delivery",
    response_model=DeliveryReceipt,
    responses=HOOK_RESPONSES,
)
async def hubspot_webhook(
    request: Request,
    x_hubspot_signature_v3: Annotated[str | None, Header()] = None,
    x_hubspot_request_timestamp: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Verify a delivery and take its contact notices onto the bus."""
    services = services_of(request)
    secret = services.hooks.hubspot_secret
    if not secret:
        raise ProblemError(404, "no HubSpot app secret is configured on this hub")
    if not is_json(request.headers.get("content-type")):
        raise ProblemError(415, "HubSpot delivers JSON", faults=[JSON_CONTENT])
    raw = await request.body()
    require_fresh(
        parse_epoch_ms(x_hubspot_request_timestamp),
        services.hooks.replay_window_s,
        "X-HubSpot-Request-Timestamp",
    )
    url = signed_url(request, services.hooks.public_url)
    if not verify_hubspot_webhook(
        secret, request.method, url, raw, x_hubspot_signature_v3, x_hubspot_request_timestamp
    ):
        raise ProblemError(
            401,
            "X-HubSpot-Signature-v3 is missing or does not sign this request",
            slug="bad-signature",
            title="Bad signature",
            faults=[Fault("header.x-hubspot-signature-v3", "does not sign this request")],
        )
    try:
        changes = contact_changes(raw)
    except MappingError as error:
        raise ProblemError(422, str(error), faults=[Fault(error.path, error.reason)]) from None
    except ValueError as error:
        raise ProblemError(422, "the body is not JSON", faults=[Fault("$", str(error))]) from None
    traceparent = request.headers.get("traceparent")
    notices = [(c.event_id, [hubspot_notice_event(c, traceparent)]) for c in changes]
    taken = await take_deliveries(services.bus, PRODUCT, notices)
    return receipt(taken, len(notices) - taken)
