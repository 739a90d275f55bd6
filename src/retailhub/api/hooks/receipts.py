"""What a webhook receiver answers: 202 for a delivery taken, 200 for a copy already taken."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from starlette.responses import JSONResponse

from retailhub.api.problems import Problem

HOOK_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "A copy of a delivery already taken; ignored"},
    401: {"model": Problem, "description": "Bad signature, or outside the replay window"},
    404: {"model": Problem, "description": "No secret is configured for this product"},
    415: {"model": Problem, "description": "The body is not JSON"},
    422: {"model": Problem, "description": "The delivery is not what the product sends"},
}


class DeliveryReceipt(BaseModel):
    """The answer to a delivery: `accepted` when anything in it was new, else `duplicate`;
    how many items (a Shopify delivery is one, a HubSpot delivery one per notice) were new and
    how many were copies of ones already taken."""

    status: Literal["accepted", "duplicate"]
    accepted: int
    duplicates: int


def receipt(accepted: int, duplicates: int) -> JSONResponse:
    """202 when anything was new (or there was nothing to take), 200 when all were copies."""
    new = accepted > 0 or duplicates == 0
    body = DeliveryReceipt(
        status="accepted" if new else "duplicate", accepted=accepted, duplicates=duplicates
    )
    return JSONResponse(body.model_dump(), status_code=202 if new else 200)
