"""`GET /v1/promotions/{promotion_id}`: a promotion's latest and live versions, each with every
channel's state and external id, the fields a channel holds differently (drift) and the
accuracy of what was read back, from promotion publishing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from retailhub.api.clients import ApiClient
from retailhub.api.problems import Problem, ProblemError
from retailhub.api.security import require_scopes
from retailhub.api.services import services_of
from retailhub.flows.promotions.store import promotion_status

Reader = Annotated[ApiClient, Depends(require_scopes("read", "commerce", "pos"))]
PromotionId = Annotated[str, Path(min_length=1, max_length=200, examples=["PROMO-3FOR2"])]

router = APIRouter(prefix="/v1/promotions", tags=["promotions"])


class ChannelOut(BaseModel):
    """One system's copy of a promotion version."""

    target: str
    system: str
    state: str = Field(description="published, failed, withdrawn or superseded")
    external_id: str | None = None
    detail: str | None = None
    compared: int | None = None
    matched: int | None = None
    accuracy: float | None = Field(None, description="Matching fields, in percent")


class DriftOut(BaseModel):
    """A field a channel holds differently from what the hub sent."""

    target: str
    field: str
    expected: str | None = None
    found: str | None = None


class VersionOut(BaseModel):
    """One version of the promotion across channels."""

    version: int
    state: str
    name: str
    targets: list[str]
    reasons: list[str]
    accuracy: float | None = None
    checked_at: datetime | None = None
    updated_at: datetime
    workflow_id: str
    channels: list[ChannelOut]
    drift: list[DriftOut]


class VersionStateOut(BaseModel):
    """A version and where it stands."""

    version: int
    state: str


class PromotionStatusOut(BaseModel):
    """A promotion: the latest authored version and the one live in channels."""

    promotion_id: str
    latest: VersionOut
    live: VersionOut | None
    versions: list[VersionStateOut]


@router.get(
    "/{promotion_id}",
    summary="A promotion's status and drift per channel",
    responses={404: {"model": Problem, "description": "The hub knows no such promotion"}},
)
async def get_promotion(
    promotion_id: PromotionId, request: Request, _client: Reader
) -> PromotionStatusOut:
    """Per-channel state, drift and accuracy of the promotion's latest and live versions."""
    async with services_of(request).bus.transaction() as transaction:
        view = await promotion_status(transaction, promotion_id)
    if view is None:
        raise ProblemError(
            404, f"the hub has no promotion {promotion_id!r}", slug="unknown-promotion"
        )
    return PromotionStatusOut.model_validate(view.as_json())
