"""The JSON-over-HTTP client every connector uses: aiohttp under the system's resilience policy,
with failures classified so that only safe calls are repeated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from retailhub.resilience import Resilient, RetryableFailure

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class RequestRefused(Exception):
    """The system refused the request (a 4xx other than 408/429): repeating it will not help."""

    def __init__(self, system: str, method: str, url: str, status: int, body: Any) -> None:
        self.system, self.status, self.body = system, status, body
        super().__init__(f"{system} refused {method} {url}: HTTP {status}: {_excerpt(body)}")


class SystemFailure(RetryableFailure):
    """The system failed to answer properly (5xx, 408, 429, timeout, unreachable, garbled body)."""

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status: int | None = None,
        safe_to_repeat: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.system, self.status = system, status
        super().__init__(
            f"{system}: {message}", safe_to_repeat=safe_to_repeat, retry_after=retry_after
        )


@dataclass(frozen=True)
class JsonResponse:
    """A successful answer: status, headers and the parsed JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


def _excerpt(body: Any, limit: int = 300) -> str:
    """A short rendering of an error body for messages and logs."""
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header given in seconds (HTTP dates are rare in APIs)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class JsonClient:
    """Calls one system's JSON API; one instance (and one connection pool) per system."""

    def __init__(
        self,
        system: str,
        base_url: str,
        resilient: Resilient,
        *,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.resilient = resilient
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._session = session
        self._owns_session = session is None

    def _session_or_new(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.resilient.policy.max_concurrent),
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def close(self) -> None:
        """Release the connection pool."""
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> JsonResponse:
        """Send one request under the policy. `idempotent` defaults from the method; a POST that
        carries an idempotency key the system honours should say `idempotent=True`."""
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = f"{self.base_url}{path}"
        body = None if json is None else orjson.dumps(json)
        merged = {**self._headers, **(headers or {})}
        if body is not None:
            merged["Content-Type"] = "application/json"

        async def send() -> JsonResponse:
            return await self._send(method, url, body, params, merged)

        return await self.resilient.call(send, idempotent=safe)

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
    ) -> JsonResponse:
        """One HTTP exchange, its outcome classified for the retry and breaker policies."""
        try:
            async with self._session_or_new().request(
                method, url, data=body, params=params, headers=headers
            ) as response:
                raw = await response.read()
                status, response_headers = response.status, dict(response.headers)
        except aiohttp.ClientConnectorError as error:
            raise SystemFailure(
                self.system, f"unreachable: {error}", safe_to_repeat=True
            ) from error
        except aiohttp.ClientError as error:
            raise SystemFailure(self.system, f"connection failed: {error}") from error
        parsed = self._parse(raw, status, method, url)
        if status == 429 or status == 503:
            raise SystemFailure(
                self.system,
                f"HTTP {status} on {method} {url}",
                status=status,
                safe_to_repeat=True,
                retry_after=_retry_after(response_headers.get("Retry-After")),
            )
        if status == 408 or status >= 500:
            raise SystemFailure(self.system, f"HTTP {status} on {method} {url}", status=status)
        if status >= 400:
            raise RequestRefused(self.system, method, url, status, parsed)
        return JsonResponse(status, response_headers, parsed)

    def _parse(self, raw: bytes, status: int, method: str, url: str) -> Any:
        """The JSON body; a garbled body from a 2xx is a system failure, from an error it is text."""
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            if status < 400:
                raise SystemFailure(
                    self.system, f"malformed JSON in the answer to {method} {url}", status=status
                ) from None
            return raw.decode("utf-8", "replace")
