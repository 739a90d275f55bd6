"""Every error the API answers is an RFC 9457 problem document (`application/problem+json`).

`ProblemError` is what route code and dependencies raise; `install_problem_handlers` turns it,
FastAPI's validation errors, Starlette's HTTP errors (404, 405 ...) and anything unexpected
(500) into one shape: `type`, `title`, `status`, `detail`, `instance`, and for bad input
`errors`, one `{path, reason}` per fault with the JSON path of the field at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from retailhub.canonical.errors import Fault, InvalidDocument, InvariantViolation, json_path

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:retailhub:problem:"
"""Our problem types are URNs under this prefix; plain HTTP errors use `about:blank`."""

log = logging.getLogger(__name__)


class FaultOut(BaseModel):
    """One fault of a refused request: where (a JSON path like `$.lines[0].sku`) and why."""

    path: str
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error of the API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code of this answer.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The path of the request.")
    errors: list[FaultOut] | None = Field(
        default=None, description="Each fault of the request, with its JSON path."
    )


class ProblemError(Exception):
    """Raise to answer with a problem document; `slug` names our own problem type."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        faults: Sequence[Fault] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.faults = list(faults)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_responses(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's problem answers for its OpenAPI `responses`, by status and what it means."""
    return {status: {"model": Problem, "description": text} for status, text in described.items()}


def problem_type(slug: str | None) -> str:
    """The problem type URI for one of our slugs, `about:blank` without one."""
    return f"{PROBLEM_BASE}{slug}" if slug else "about:blank"


def problem_body(
    status: int,
    *,
    detail: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    faults: Iterable[Fault] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object of a problem document, omitting members that say nothing."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or _phrase(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    errors = [{"path": f.path, "reason": f.reason} for f in faults]
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return body


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    faults: Iterable[Fault] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """A complete `application/problem+json` answer (for middleware, which cannot raise)."""
    body = problem_body(
        status,
        detail=detail,
        slug=slug,
        title=title,
        instance=instance,
        faults=faults,
        extra=extra,
    )
    return Response(orjson.dumps(body), status, dict(headers or {}), media_type=PROBLEM_JSON)


def error_response(error: ProblemError, instance: str | None = None) -> Response:
    """The answer to a raised `ProblemError` (for middleware, which answers it directly)."""
    return problem_response(
        error.status,
        detail=error.detail,
        slug=error.slug,
        title=error.title,
        instance=instance,
        faults=error.faults,
        headers=error.headers,
        extra=error.extra,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def request_faults(error: RequestValidationError) -> list[Fault]:
    """FastAPI's validation errors as faults: the body's fields as JSON paths (`$.lines[0]`),
    query, path and header parameters as `query.limit`, `path.order_id`, `header.x-name`."""
    faults: list[Fault] = []
    for item in error.errors():
        where, *rest = item.get("loc", ()) or ("body",)
        reason = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
        cause = (item.get("ctx") or {}).get("error")
        if where == "body" and isinstance(cause, InvariantViolation):
            faults.extend(Fault(json_path([*rest, *loc]), why) for loc, why in cause.faults)
        elif where == "body":
            faults.append(Fault(json_path(p for p in rest if isinstance(p, int | str)), reason))
        else:
            faults.append(Fault(".".join(str(p) for p in (where, *rest)), reason))
    return faults


async def _on_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return error_response(error, request.url.path)


async def _on_validation(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    faults = request_faults(error)
    return problem_response(
        422,
        detail=f"the request has {len(faults)} fault(s)",
        slug="invalid-request",
        title="The request is not valid",
        instance=request.url.path,
        faults=faults,
    )


async def _on_invalid_document(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidDocument)
    return problem_response(
        422,
        detail=f"the document has {len(error.faults)} fault(s)",
        slug="invalid-document",
        title="The document breaks the canonical model",
        instance=request.url.path,
        faults=error.faults,
    )


async def _on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    said = error.detail if isinstance(error.detail, str) else None
    detail = None if said == _phrase(error.status_code) else said
    return problem_response(
        error.status_code,
        detail=detail,
        instance=request.url.path,
        headers=error.headers,
    )


async def _on_unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        500,
        detail="the hub failed to answer; the error is in its log",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json, whatever raised it."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InvalidDocument, _on_invalid_document)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
