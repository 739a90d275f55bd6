"""`GET /v1/orders/{order_id}`: where one order stands in every system (ERP posting, stock,
loyalty points, CRM), from the order-to-cash projection overlaid with what the bus holds back
(retrying, parked, dead-lettered)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from retailhub.api.clients import ApiClient
from retailhub.api.problems import Problem, ProblemError
from retailhub.api.security import require_scopes
from retailhub.api.services import services_of
from retailhub.flows.order_to_cash.status import held_for_order, order_status, recorded

Reader = Annotated[ApiClient, Depends(require_scopes("read", "service", "pos", "commerce"))]
OrderId = Annotated[str, Path(min_length=1, max_length=200, examples=["SHOPIFY-ORDER-820982911"])]

router = APIRouter(prefix="/v1/orders", tags=["orders"])


class SystemOutcome(BaseModel):
    """One system's outcome for the order."""

    outcome: str = Field(
        description="pending, done, skipped, failed, reversed or attention",
        examples=["done"],
    )
    reference: str | None = Field(None, description="The system's own id (ERP posting, member)")
    points: int | None = None
    detail: str | None = None
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None


class OrderStatusOut(BaseModel):
    """The cross-system status of one order."""

    order_id: str
    settled: bool = Field(description="True when no system has work left or failed")
    failed: list[str] = Field(description="Systems whose delivery of the order dead-lettered")
    systems: dict[str, SystemOutcome]


@router.get(
    "/{order_id}",
    summary="An order's status in every system",
    responses={404: {"model": Problem, "description": "No system has reported the order yet"}},
)
async def get_order_status(order_id: OrderId, request: Request, _client: Reader) -> OrderStatusOut:
    """The order's outcome per system; 404 until a system has reported it."""
    bus = services_of(request).bus
    held = await held_for_order(bus, order_id)
    async with bus.transaction() as transaction:
        known = await recorded(transaction, order_id)
        status = await order_status(transaction, order_id, held)
    if not known and not held:
        raise ProblemError(
            404,
            f"no system has reported order {order_id!r} yet; a new order shows up within seconds",
            slug="unknown-order",
        )
    return OrderStatusOut(
        order_id=status.order_id,
        settled=status.settled,
        failed=status.failed,
        systems={
            name: SystemOutcome(
                outcome=s.outcome.value,
                reference=s.reference,
                points=s.points,
                detail=s.detail,
                attempts=s.attempts,
                last_error=s.last_error,
                updated_at=s.updated_at,
            )
            for name, s in status.systems.items()
        },
    )
