"""Cheap checks before a request reaches its route: body size, media type, deprecated paths.

- Size: a body over the limit (by Content-Length, or counted as it streams in) is refused with
  413 before it is buffered; POSLog uploads have a larger limit than JSON calls.
- Media type: a POST under `/v1` must be JSON (`application/json` or `*/*+json`), else 415; an
  empty POST (a till's capture or release) needs no media type.
- Deprecation (RFC 9745) and Sunset (RFC 8594): answers under a deprecated prefix carry both
  headers and a `successor-version` link; after the sunset date the prefix answers 410.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from email.utils import format_datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retailhub.api.problems import ProblemError, error_response, problem_response
from retailhub.api.services import ApiLimits, Deprecation
from retailhub.canonical.errors import Fault

UPLOAD_PATHS = ("/hooks/poslog",)


class BodyTooLarge(ProblemError):
    """A request body over the limit; answered 413 wherever it is noticed."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the body is over the limit of {limit} bytes",
            faults=[Fault("$", f"the body is over {limit} bytes")],
        )


def body_limit(path: str, limits: ApiLimits) -> int:
    """The largest body accepted on `path`."""
    return limits.max_upload_bytes if path.startswith(UPLOAD_PATHS) else limits.max_body_bytes


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class BodySizeLimit:
    """Refuse bodies over the path's limit with 413 problem+json."""

    def __init__(self, app: ASGIApp, limits: ApiLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], self.limits)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(BodyTooLarge(limit), scope["path"])(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


JSON_TYPES = ("application/json",)
JSON_CONTENT = Fault("header.content-type", "must be application/json")
"""The fault of a write whose body is not JSON."""


def is_json(content_type: str | None) -> bool:
    """True for `application/json` and `type/something+json`, parameters aside."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media in JSON_TYPES or media.endswith("+json")


def declares_no_body(scope: Scope) -> bool:
    """True when the request says it has no body: `Content-Length: 0`, or neither a length nor
    a chunked transfer (RFC 9112: then there is no body)."""
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() == "0"
    return _header(scope, b"transfer-encoding") is None


class JsonOnly:
    """Refuse writes under `/v1` whose body is not JSON with 415. An empty POST passes whatever
    it declares: tills capture and release that way, and some HTTP stacks label an empty POST as
    a form (Java's HttpURLConnection). A route that takes no body runs; one that needs a body
    refuses it as invalid (422, `$`: field required)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the media type of API writes."""
        if (
            scope["type"] == "http"
            and scope["method"] in {"POST", "PUT", "PATCH"}
            and scope["path"].startswith("/v1/")
            and not is_json(_header(scope, b"content-type"))
            and not declares_no_body(scope)
        ):
            await problem_response(
                415,
                detail="send the body as application/json",
                instance=scope["path"],
                faults=[JSON_CONTENT],
                headers={"Accept-Post": "application/json"},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


def http_date(day: date) -> str:
    """A date as an HTTP-date at midnight UTC (`Sun, 01 Mar 2026 00:00:00 GMT`)."""
    return format_datetime(datetime.combine(day, time(), UTC), usegmt=True)


def deprecation_headers(deprecation: Deprecation) -> list[tuple[bytes, bytes]]:
    """The Deprecation, Sunset and Link headers announcing a deprecated prefix."""
    since = int(datetime.combine(deprecation.deprecated_on, time(), UTC).timestamp())
    headers = [
        (b"deprecation", f"@{since}".encode()),
        (b"sunset", http_date(deprecation.sunset_on).encode()),
    ]
    if deprecation.successor:
        headers.append((b"link", f'<{deprecation.successor}>; rel="successor-version"'.encode()))
    return headers


class DeprecationNotice:
    """Announce deprecated prefixes on every answer under them; 410 once past their sunset."""

    def __init__(
        self,
        app: ASGIApp,
        deprecations: Sequence[Deprecation],
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.app = app
        self.deprecations = tuple(deprecations)
        self.today = today

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers, or answer 410 Gone after the sunset."""
        found = None
        if scope["type"] == "http":
            found = next((d for d in self.deprecations if scope["path"].startswith(d.prefix)), None)
        if found is None:
            await self.app(scope, receive, send)
            return
        headers = deprecation_headers(found)
        if self.today() >= found.sunset_on:
            successor = f"; use {found.successor}" if found.successor else ""
            await problem_response(
                410,
                detail=f"{found.prefix} was retired on {found.sunset_on.isoformat()}{successor}",
                slug="sunset",
                instance=scope["path"],
                headers={k.decode(): v.decode() for k, v in headers},
            )(scope, receive, send)
            return

        async def announced(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(message)

        await self.app(scope, receive, announced)
