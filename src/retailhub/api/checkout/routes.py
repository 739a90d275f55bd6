"""`/v1/checkout/loyalty`: the routes tills (scope `pos`) and the web checkout (`commerce`) call.

`POST /quote` prices a basket in points; `POST /redemptions` reserves points for a sale (its
Idempotency-Key makes a retry reserve once, here as well as in the API's replay store);
`POST /redemptions/{id}/capture` on sale completion, `/release` on void or abandon;
`GET /redemptions/{id}` says where one stands. Refusals are problem+json.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path

from retailhub.api.checkout.models import MemberIn, QuoteIn, QuoteOut, RedemptionOut, ReserveIn
from retailhub.api.clients import ApiClient
from retailhub.api.problems import ProblemError, problem_responses
from retailhub.api.security import require_scopes
from retailhub.canonical.errors import Fault
from retailhub.flows.checkout import (
    CheckoutDesk,
    CheckoutError,
    IdempotencyConflict,
    LoyaltyUnavailable,
    MemberNotFound,
)

PREFIX = "/v1/checkout/loyalty"
RETRY_AFTER_S = 5
"""What a till is told to wait when the hub can neither reach the platform nor fall back."""

Seller = Annotated[ApiClient, Depends(require_scopes("pos", "commerce"))]
RedemptionId = Annotated[str, Path(min_length=1, max_length=100, examples=["rdm_92fb0ca6"])]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="The till's key for this reservation: a retry with it reserves once.",
    ),
]


@contextmanager
def refusals_as_problems(at: Mapping[type[CheckoutError], str] | None = None) -> Iterator[None]:
    """Turn the desk's refusals into problem documents with their HTTP status; `at` names the
    part of the request at fault for a kind of refusal (the member's card, the key)."""
    try:
        yield
    except CheckoutError as error:
        slug = type(error).__name__.replace("Error", "")
        headers = (
            {"Retry-After": str(RETRY_AFTER_S)} if isinstance(error, LoyaltyUnavailable) else {}
        )
        path = next((p for kind, p in (at or {}).items() if isinstance(error, kind)), None)
        raise ProblemError(
            error.status,
            str(error),
            slug=f"checkout.{_kebab(slug)}",
            title=error.title,
            headers=headers,
            faults=[Fault(path, str(error))] if path else (),
        ) from error


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def member_at(member: MemberIn) -> str:
    """The JSON path of the field naming the member: the first of card, member_id, email."""
    kind, _ = member.ref().alias
    return f"$.member.{kind}"


KEY_AT = "header.idempotency-key"
UNAVAILABLE = "The platform is unavailable and the hub has never seen this member (Retry-After)"
NOT_YOURS = "No such redemption for this client"


def checkout_router(desk: CheckoutDesk) -> APIRouter:
    """The checkout loyalty routes over `desk`."""
    router = APIRouter(prefix=PREFIX, tags=["checkout"])

    @router.post(
        "/quote",
        summary="Loyalty quote for a basket",
        responses=problem_responses(
            {404: "No loyalty member by that card, id or email", 503: UNAVAILABLE}
        ),
    )
    async def quote(body: QuoteIn, client: Seller) -> QuoteOut:
        """Balance, tier, points the basket would earn (campaign bonus included), rewards in
        reach and the most points redeemable now; `degraded` when the platform is slow or down."""
        with refusals_as_problems({MemberNotFound: member_at(body.member)}):
            answer = await desk.quote(body.member.ref(), body.basket(), body.channel, body.location)
        return QuoteOut.of(answer, body)

    @router.post(
        "/redemptions",
        status_code=201,
        summary="Reserve points for a sale",
        responses=problem_responses(
            {
                404: "No loyalty member by that card, id or email",
                409: "Not enough points, above an offline limit, or the member is not active",
                503: UNAVAILABLE,
            }
        ),
    )
    async def reserve(body: ReserveIn, client: Seller, key: IdempotencyKey = None) -> RedemptionOut:
        """Set points aside for a sale in progress, once per Idempotency-Key; approved offline
        within the policy when the platform is unavailable."""
        if not key:
            raise ProblemError(
                400,
                "send an Idempotency-Key header: a retry with the same key reserves once",
                slug="idempotency-key-missing",
                title="Idempotency-Key required",
                faults=[Fault(KEY_AT, "is required")],
            )
        with refusals_as_problems(
            {MemberNotFound: member_at(body.member), IdempotencyConflict: KEY_AT}
        ):
            redemption = await desk.reserve(
                client.client_id, key, body.member.ref(), body.points, body.sale_id
            )
        return RedemptionOut.of(redemption)

    @router.post(
        "/redemptions/{redemption_id}/capture",
        summary="Sale completed: spend",
        responses=problem_responses(
            {404: NOT_YOURS, 409: "Released or expired: nothing to capture"}
        ),
    )
    async def capture(redemption_id: RedemptionId, client: Seller) -> RedemptionOut:
        """Spend the reserved points; queued for the platform when it is unavailable."""
        with refusals_as_problems():
            return RedemptionOut.of(await desk.capture(client.client_id, redemption_id))

    @router.post(
        "/redemptions/{redemption_id}/release",
        summary="Sale voided: give back",
        responses=problem_responses(
            {404: NOT_YOURS, 409: "Captured: give points back through a return"}
        ),
    )
    async def release(redemption_id: RedemptionId, client: Seller) -> RedemptionOut:
        """Give the reserved points back; queued for the platform when it is unavailable."""
        with refusals_as_problems():
            return RedemptionOut.of(await desk.release(client.client_id, redemption_id))

    @router.get(
        "/redemptions/{redemption_id}",
        summary="Where a redemption stands",
        responses=problem_responses({404: NOT_YOURS}),
    )
    async def redemption(redemption_id: RedemptionId, client: Seller) -> RedemptionOut:
        """One of the client's redemptions."""
        with refusals_as_problems():
            return RedemptionOut.of(await desk.redemption(client.client_id, redemption_id))

    return router
