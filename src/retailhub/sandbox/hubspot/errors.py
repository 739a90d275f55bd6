"""Errors of the emulated portal, answered in HubSpot's shape:
`{"status": "error", "message", "correlationId", "category"}`."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from retailhub.sandbox.emulator import json_response


class Refusal(Exception):
    """An API error to answer in HubSpot's shape."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.message, self.extra = status, category, message, extra


def hubspot_error(status: int, category: str, message: str, **extra: Any) -> web.Response:
    """The error answer with its HTTP status and a fresh correlation id."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return json_response(body, status=status)


def invalid_properties(*problems: tuple[str, str, str]) -> Refusal:
    """HubSpot's 400 for bad property values, (name, error, message) each: a JSON list of the
    failures inside the message, as HubSpot writes it."""
    details = [
        {"isValid": False, "message": message, "error": error, "name": name}
        for name, error, message in problems
    ]
    return Refusal(
        400, "VALIDATION_ERROR", f"Property values were not valid: {orjson.dumps(details).decode()}"
    )
