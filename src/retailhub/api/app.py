"""The hub's HTTP API as one FastAPI app: `create_app(services)`.

Middleware, outermost first: body size (413), deprecation notices (Deprecation/Sunset, 410),
JSON-only writes (415), Idempotency-Key on POSTs under `/v1`. Then the routes: health, the
`/v1` status and returns APIs, inbound webhooks under `/hooks`, and checkout when supplied.
Every error leaves as problem+json (`problems.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.types import Scope

from retailhub import __version__
from retailhub.api import health
from retailhub.api.clients import ApiClient, create_clients_table
from retailhub.api.guards import BodySizeLimit, DeprecationNotice, JsonOnly
from retailhub.api.hooks import hubspot, poslog, shopify
from retailhub.api.hooks.inbox import create_inbox_table
from retailhub.api.idempotency import IdempotencyKeys, create_idempotency_table
from retailhub.api.problems import PROBLEM_JSON, Problem, install_problem_handlers
from retailhub.api.routes import customers, orders, promotions, returns
from retailhub.api.security import presented_key
from retailhub.api.services import ApiServices
from retailhub.flows.customers.tables import create_customer_sync_tables
from retailhub.flows.order_to_cash.status import create_order_status_table
from retailhub.flows.returns.status import create_status_tables

DESCRIPTION = """The retailhub API: order, return, customer and promotion status across the
estate's systems, returns, inbound webhooks and health. Authenticate with an API key
(`Authorization: Bearer rhk_...`); send an `Idempotency-Key` with every POST; every error is an
RFC 9457 problem document. See docs/api.md."""


async def prepare_api_storage(services: ApiServices) -> None:
    """Create the API's tables in the hub database (idempotent)."""
    async with services.bus.transaction() as transaction:
        await create_clients_table(transaction)
        await create_idempotency_table(transaction)
        await create_inbox_table(transaction)
        await create_order_status_table(transaction)
        await create_status_tables(transaction)
        await create_customer_sync_tables(transaction)


def create_app(services: ApiServices) -> FastAPI:
    """The API over `services`; its lifespan creates the API's tables."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await prepare_api_storage(services)
        yield

    app = FastAPI(
        title="retailhub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={"default": {"model": Problem, "description": "A problem document"}},
    )
    app.state.services = services
    install_problem_handlers(app)

    async def client_of(scope: Scope) -> ApiClient | None:
        key = presented_key(Request(scope))
        return await services.clients.authenticate(key) if key else None

    app.add_middleware(IdempotencyKeys, services=services, authenticate=client_of)
    app.add_middleware(JsonOnly)
    app.add_middleware(DeprecationNotice, deprecations=services.deprecations)
    app.add_middleware(BodySizeLimit, limits=services.limits)
    app.openapi = lambda: _openapi_with_governance(app)  # type: ignore[method-assign]
    app.include_router(health.router)
    app.include_router(orders.router)
    app.include_router(returns.router)
    app.include_router(customers.router)
    app.include_router(promotions.router)
    app.include_router(shopify.router)
    app.include_router(hubspot.router)
    app.include_router(poslog.router)
    if services.checkout_router is not None:
        app.include_router(services.checkout_router)
    return app


_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_GOVERNANCE_RESPONSES = {
    "401": "No API key, or one the hub did not issue or has revoked",
    "403": "The client holds none of the scopes this needs",
    "429": "Over the client's rate; retry after Retry-After seconds",
}
_WRITE_RESPONSES = {
    "400": "No Idempotency-Key",
    "409": "The first request with this Idempotency-Key is still running",
    "415": "The body is not JSON",
    "422": "The body is not valid, or the Idempotency-Key was used with another body",
}
_INVALID = "The request is not valid: each fault with its JSON path (`$.lines[0].sku`, `path.id`)"
_TOO_LARGE = "The body is over the size limit"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM}}}


def _openapi_with_governance(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus what the middleware adds (the Idempotency-Key header on POSTs
    under /v1; the problem answers of authentication, rate limits, validation and the guards),
    with every error answer declared as `application/problem+json`."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _declare_problems(path, method, operation)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    app.openapi_schema = schema
    return schema


def _declare_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    """Add the problem answers the guards and validation give, and make every error answer a
    problem document."""
    responses = operation.setdefault("responses", {})
    if operation.get("security"):
        for status, description in _GOVERNANCE_RESPONSES.items():
            responses.setdefault(status, _problem_response(description))
    if method == "post":
        responses.setdefault("413", _problem_response(_TOO_LARGE))
        if path.startswith("/v1/"):
            _require_idempotency_key(operation)
            for status, description in _WRITE_RESPONSES.items():
                responses.setdefault(status, _problem_response(description))
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("422", _problem_response(_INVALID))
    for status, response in responses.items():
        if status == "default" or status[0] in "45":
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM}}


def _require_idempotency_key(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    parameters[:] = [p for p in parameters if p.get("name", "").lower() != "idempotency-key"]
    parameters.append(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "A unique value per operation; a retry with the same key and body"
            " gets the first answer again (Idempotent-Replayed: true), another body 422.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        }
    )
