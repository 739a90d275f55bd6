"""Run-time fault injection for an emulator: latency, server errors, a crashed process, a
system that slows down under load, and garbled answers, so the hub's resilience can be shown."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from retailhub.canonical.errors import Fault, InvalidDocument

CONTROL_PREFIX = "/_sandbox/"
"""Routes under this prefix control the emulator and are never faulted."""

DEFAULT_SLOW_MS = 2000
"""How long each answer is held once `slow_after` is reached and no latency is set."""

ErrorBody = Callable[[web.Request], Any]
"""Builds the JSON body of an injected HTTP 500 in the emulated product's own error shape."""


def default_error_body(request: web.Request) -> Any:
    """The error body of an emulator that does not shape its own."""
    return {"error": "injected fault"}


@dataclass(frozen=True)
class Faults:
    """What an emulator is told to get wrong; the default gets nothing wrong."""

    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False
    slow_after: int | None = None
    malformed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The settings as the control endpoint reports them."""
        return asdict(self)

    def delay_ms(self, served_since_set: int) -> int:
        """How long to hold the n-th answer served since these faults were set: with
        `slow_after` only answers after the first N are held, by the latency or 2 s."""
        if self.slow_after is None:
            return self.latency_ms
        if served_since_set > self.slow_after:
            return self.latency_ms or DEFAULT_SLOW_MS
        return 0

    def updated(self, patch: Any) -> Faults:
        """These faults with the fields in `patch` (any subset, as JSON) changed; every field at
        fault is reported at once as an InvalidDocument with its JSON path."""
        return replace(self, **parse_fault_settings(patch))


FAULT_FIELDS = tuple(f.name for f in fields(Faults))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field(name: str, value: Any) -> str | None:
    """Why `value` cannot be the setting `name`, or None when it can."""
    if name in ("down", "malformed"):
        return None if isinstance(value, bool) else "must be true or false"
    if name == "error_rate":
        if not (_is_int(value) or isinstance(value, float)) or not 0 <= value <= 1:
            return "must be a number from 0 to 1"
        return None
    if name == "slow_after" and value is None:
        return None
    if not _is_int(value) or value < 0:
        return "must be a whole number of 0 or more"
    return None


def parse_fault_settings(patch: Any) -> dict[str, Any]:
    """Validate a JSON object holding any subset of the fault fields; raise InvalidDocument
    naming each field at fault, so one answer tells the operator everything to fix."""
    if not isinstance(patch, dict):
        raise InvalidDocument([Fault("$", "fault settings must be a JSON object")])
    faults: list[Fault] = []
    for name, value in patch.items():
        if name not in FAULT_FIELDS:
            faults.append(Fault(f"$.{name}", f"not a fault setting; use {', '.join(FAULT_FIELDS)}"))
        elif (reason := _check_field(name, value)) is not None:
            faults.append(Fault(f"$.{name}", reason))
    if faults:
        raise InvalidDocument(faults)
    return {name: float(v) if name == "error_rate" else v for name, v in patch.items()}


def garble(body: bytes) -> bytes:
    """A JSON body cut off halfway, as a dropped connection or a broken proxy delivers it."""
    return body[: len(body) // 2] + b"..."


class FaultInjector:
    """Holds an emulator's current faults and applies them, as aiohttp middleware, to every
    request except the control routes. Its randomness is seeded so test runs repeat."""

    def __init__(self, error_body: ErrorBody = default_error_body, *, seed: int | str = 0) -> None:
        self.faults = Faults()
        self.requests_served = 0
        self._error_body = error_body
        self._seed = seed
        self._random = random.Random(seed)
        self._served_when_set = 0

    def set(self, faults: Faults) -> None:
        """Put `faults` in force; `slow_after` counts from now and the dice are re-seeded."""
        self.faults = faults
        self._served_when_set = self.requests_served
        self._random = random.Random(self._seed)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer `request` through `handler`, with the faults in force applied."""
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        faults = self.faults
        if faults.down:
            return _hang_up(request)
        self.requests_served += 1
        delay_ms = faults.delay_ms(self.requests_served - self._served_when_set)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if faults.error_rate and self._random.random() < faults.error_rate:
            return web.Response(
                body=orjson.dumps(self._error_body(request)),
                status=500,
                content_type="application/json",
            )
        response = await handler(request)
        if faults.malformed and isinstance(response, web.Response):
            return web.Response(
                body=garble(response.body if isinstance(response.body, bytes) else b""),
                status=200,
                content_type="application/json",
            )
        return response


def _hang_up(request: web.Request) -> web.Response:
    """Drop the connection without an answer, as a crashed process does: the client sees the
    server disconnect (aiohttp raises ServerDisconnectedError)."""
    request.protocol.force_close()
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)
