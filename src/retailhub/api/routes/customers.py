"""`GET /v1/customers/{customer_id}`: the golden customer record with its lineage (which system
and event each field came from) and the conflicts held back for a person, from customer sync.
With `?system=shopify` the id is that system's own id for the customer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from retailhub.api.clients import ApiClient
from retailhub.api.problems import Problem, ProblemError
from retailhub.api.security import require_scopes
from retailhub.api.services import services_of
from retailhub.canonical.customer import Customer
from retailhub.flows.customers.queries import golden_record, golden_record_by_system_id

Reader = Annotated[ApiClient, Depends(require_scopes("read", "service"))]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]

router = APIRouter(prefix="/v1/customers", tags=["customers"])


class FieldSource(BaseModel):
    """Where a field's value came from: the system, its event and when."""

    system: str
    event_id: str
    at: str


class GoldenRecordOut(BaseModel):
    """The golden customer, its lineage per field, and its open conflicts."""

    customer: Customer
    lineage: dict[str, list[FieldSource]] = Field(
        description="Per field, the sources of its surviving value"
    )
    conflicts: list[dict[str, Any]] = Field(
        description="Fields whose values disagree and wait for a person"
    )


@router.get(
    "/{customer_id}",
    summary="A golden customer record with lineage",
    responses={404: {"model": Problem, "description": "The hub knows no such customer"}},
)
async def get_customer(
    customer_id: CustomerId,
    request: Request,
    _client: Reader,
    system: Annotated[
        str | None, Query(description="Read the id as this system's own id", max_length=50)
    ] = None,
) -> GoldenRecordOut:
    """The golden record by golden id, or by a system's id with `system`."""
    services = services_of(request)
    async with services.bus.transaction() as transaction:
        if system:
            view = await golden_record_by_system_id(
                transaction, system, customer_id, services.survivorship
            )
        else:
            view = await golden_record(transaction, customer_id, services.survivorship)
    if view is None:
        where = f" in {system}" if system else ""
        raise ProblemError(
            404, f"the hub knows no customer {customer_id!r}{where}", slug="unknown-customer"
        )
    return GoldenRecordOut.model_validate(view.as_json())
