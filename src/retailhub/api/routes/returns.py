"""`POST /v1/returns` starts a return online; `GET /v1/returns/{return_id}` says where a return
stands overall and in each system (guard, ERP credit note, loyalty points, stock, platform
refund, CRM case), from the return-to-refund projection."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from retailhub.api.clients import ApiClient
from retailhub.api.problems import Problem, ProblemError
from retailhub.api.security import require_scopes
from retailhub.api.services import services_of
from retailhub.canonical.returns import Return
from retailhub.flows.returns.requests import initiate_return
from retailhub.flows.returns.status import return_status

Starter = Annotated[ApiClient, Depends(require_scopes("service", "commerce"))]
Reader = Annotated[ApiClient, Depends(require_scopes("read", "service", "pos", "commerce"))]
ReturnId = Annotated[str, Path(min_length=1, max_length=200, examples=["RET-WEB-1001"])]

router = APIRouter(prefix="/v1/returns", tags=["returns"])


class ReturnAccepted(BaseModel):
    """A return accepted for processing: follow it at `status_url`."""

    return_id: str
    event_id: str
    status_url: str


class ReturnSystemOut(BaseModel):
    """One system's outcome for the return, with its reference there."""

    outcome: str = Field(description="pending, done, skipped, failed or reversed")
    reference: str | None = None
    points: int | None = None
    detail: str | None = None
    updated_at: datetime | None = None


class ReturnStatusOut(BaseModel):
    """A return across systems."""

    return_id: str
    state: str = Field(
        description="requested, received, refunded, refused, compensated or attention"
    )
    order_id: str | None = None
    request_id: str | None = None
    case_id: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    systems: dict[str, ReturnSystemOut]


@router.post(
    "",
    status_code=202,
    summary="Start a return online",
    response_model=ReturnAccepted,
    responses={
        202: {"headers": {"Location": {"schema": {"type": "string"}}}},
        422: {"model": Problem, "description": "Each fault of the return, by JSON path"},
    },
)
async def start_return(document: Return, request: Request, _client: Starter) -> JSONResponse:
    """Validate a requested return against the order and what was returned before, and put it
    on the bus; the refund follows once the goods are received."""
    services = services_of(request)
    accepted = await initiate_return(services.bus, document, commerce=services.commerce)
    url = f"{router.prefix}/{accepted.return_id}"
    body = ReturnAccepted(return_id=accepted.return_id, event_id=accepted.event_id, status_url=url)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})


@router.get(
    "/{return_id}",
    summary="A return's status in every system",
    responses={404: {"model": Problem, "description": "The hub has never heard of the return"}},
)
async def get_return_status(
    return_id: ReturnId, request: Request, _client: Reader
) -> ReturnStatusOut:
    """The return's state and each system's outcome."""
    async with services_of(request).bus.transaction() as transaction:
        view = await return_status(transaction, return_id)
    if view is None:
        raise ProblemError(404, f"the hub has no return {return_id!r}", slug="unknown-return")
    return ReturnStatusOut.model_validate(view.as_json())
