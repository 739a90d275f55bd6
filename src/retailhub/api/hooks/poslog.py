"""`POST /hooks/poslog`: a store server uploads a till journal (POSLog 6.0 XML).

The caller is an API client with the `pos` scope (no product signature exists for POSLog); the
body is `application/xml` or `text/xml` up to the upload limit. `receive_poslog` publishes the
transactions that map in one bus transaction and answers 202 with counts and the failures by
sequence number and field; a journal with nothing usable is 422, one that is not POSLog 400.
Sending a journal again publishes nothing new: event ids derive from the receipts.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from retailhub.api.clients import ApiClient
from retailhub.api.problems import Problem, ProblemError
from retailhub.api.security import require_scopes
from retailhub.api.services import services_of
from retailhub.canonical.errors import Fault
from retailhub.connectors.poslog.receiver import receive_poslog

XML_TYPES = ("application/xml", "text/xml")
Till = Annotated[ApiClient, Depends(require_scopes("pos"))]

router = APIRouter(prefix="/hooks", tags=["webhooks"])


@router.post(
    "/poslog",
    status_code=202,
    summary="Upload a POSLog till journal",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in XML_TYPES},
        }
    },
    responses={
        202: {"description": "Published: counts, and the transactions that did not map"},
        400: {"model": Problem, "description": "Not a POSLog journal"},
        415: {"model": Problem, "description": "The body is not XML"},
        422: {"model": Problem, "description": "No transaction of the journal could be mapped"},
    },
)
async def upload_poslog(request: Request, _client: Till) -> Response:
    """Publish what a journal holds and say what happened, transaction by transaction."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in XML_TYPES:
        raise ProblemError(
            415,
            "send the journal as application/xml",
            faults=[Fault("header.content-type", "must be application/xml")],
        )
    services = services_of(request)
    answer = await receive_poslog(
        services.bus, await request.body(), store_timezone=services.hooks.store_timezone
    )
    body = dict(answer.body)
    if answer.status >= 400:
        body["instance"] = request.url.path
    return Response(orjson.dumps(body), answer.status, media_type=answer.content_type)
