"""Who is calling: API keys, scopes and per-client rate limits, as one FastAPI dependency.

`require_scopes("pos", "commerce")` authenticates the caller by its key (`Authorization:
Bearer <key>` or `X-API-Key: <key>`), requires that it holds at least one of the scopes (`admin`
holds all), takes a token from its rate bucket, and returns the `ApiClient`:

    Selling = Annotated[ApiClient, Depends(require_scopes("pos", "commerce"))]

    @router.post("/v1/checkout/quote")
    async def quote(basket: Basket, client: Selling) -> Quote: ...

Refusals are problem+json: 401 (no key, or one the hub does not know or has revoked), 403
(the client lacks every listed scope), 429 with Retry-After (over its rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from retailhub.api.clients import ApiClient, Scope
from retailhub.api.problems import ProblemError
from retailhub.api.services import services_of

__all__ = ["ApiClient", "Scope", "authenticate", "presented_key", "require_scopes"]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rhk_...`")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key, as an alternative header."
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="retailhub"'}


def presented_key(request: Request) -> str | None:
    """The API key on a request, from `Authorization: Bearer` or `X-API-Key`."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request) -> ApiClient:
    """The client whose key the request carries; 401 problem when there is none or it is bad."""
    cached: ApiClient | None = getattr(request.state, "client", None)
    if cached is not None:
        return cached
    key = presented_key(request)
    if key is None:
        raise ProblemError(
            401,
            "send an API key as `Authorization: Bearer <key>` or `X-API-Key`",
            slug="unauthenticated",
            title="No API key",
            headers=CHALLENGE,
        )
    client = await services_of(request).clients.authenticate(key)
    if client is None:
        raise ProblemError(
            401,
            "the API key is not one the hub issued, or it was revoked",
            slug="unauthenticated",
            title="Unknown API key",
            headers=CHALLENGE,
        )
    request.state.client = client
    return client


def require_scopes(*scopes: str) -> Callable[..., Coroutine[Any, Any, ApiClient]]:
    """A dependency admitting clients that hold any of `scopes` (or `admin`), within their rate;
    it returns the authenticated `ApiClient`."""
    wanted = tuple(Scope(s).value for s in scopes)
    if not wanted:
        raise ValueError("require_scopes needs at least one scope")

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        _header: Annotated[str | None, Security(api_key_header)],
    ) -> ApiClient:
        client = await authenticate(request)
        if not client.allows(wanted):
            raise ProblemError(
                403,
                f"client {client.name!r} holds {', '.join(sorted(client.scopes))};"
                f" this needs one of {', '.join(wanted)}",
                slug="forbidden",
                title="Missing scope",
            )
        wait = services_of(request).rate_limiter.take(client.client_id, client.rate_per_second)
        if wait > 0:
            raise ProblemError(
                429,
                f"client {client.name!r} is over its rate of {client.rate_per_second}/s",
                slug="rate-limited",
                title="Too many requests",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return client

    dependency.__name__ = f"require_{'_or_'.join(wanted)}"
    return dependency
