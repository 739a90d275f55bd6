"""Odoo's errors as the JSON-2 endpoint serves them: the exception's qualified name, message,
arguments, context and traceback, with the HTTP status Odoo gives that exception."""

from __future__ import annotations

from typing import Any


class OdooFault(Exception):
    """An exception the emulated Odoo raises while serving a call, and the status it answers."""

    def __init__(
        self, status: int, name: str, message: str, arguments: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message
        self.arguments = arguments if arguments is not None else [message]

    def body(self) -> dict[str, Any]:
        """The error object of `odoo.http.serialize_exception`."""
        return {
            "name": self.name,
            "message": self.message,
            "arguments": self.arguments,
            "context": {},
            "debug": (
                "Traceback (most recent call last):\n  (emulated by retailhub)\n"
                f"{self.name}: {self.message}\n"
            ),
        }


def _http(status: int, exception: str, message: str) -> OdooFault:
    """A werkzeug HTTP exception: its arguments are the description and the status."""
    return OdooFault(status, f"werkzeug.exceptions.{exception}", message, [message, status])


def bad_request(message: str) -> OdooFault:
    """A body that is not a JSON object (HTTP 400)."""
    return _http(400, "BadRequest", message)


def unauthorized(message: str = "Invalid apikey") -> OdooFault:
    """A missing or unknown API key (HTTP 401)."""
    return _http(401, "Unauthorized", message)


def not_found(message: str) -> OdooFault:
    """An unknown model, method or route (HTTP 404)."""
    return _http(404, "NotFound", message)


def unprocessable(message: str) -> OdooFault:
    """Arguments that do not bind to the method (HTTP 422)."""
    return _http(422, "UnprocessableEntity", message)


def too_many_requests(message: str = "Too many requests, retry later") -> OdooFault:
    """A rate-limited call (HTTP 429)."""
    return _http(429, "TooManyRequests", message)


def user_error(message: str) -> OdooFault:
    """`odoo.exceptions.UserError`: a business rule refused the call (HTTP 422)."""
    return OdooFault(422, "odoo.exceptions.UserError", message)


def validation_error(message: str) -> OdooFault:
    """`odoo.exceptions.ValidationError`: a record breaks a constraint (HTTP 422)."""
    return OdooFault(422, "odoo.exceptions.ValidationError", message)


def missing_error(model: str, ids: list[int]) -> OdooFault:
    """`odoo.exceptions.MissingError`: records that do not exist (HTTP 404)."""
    return OdooFault(
        404,
        "odoo.exceptions.MissingError",
        "Record does not exist or has been deleted.\n"
        f"(Record: {model}({', '.join(map(str, ids))},), User: 2)",
    )


def value_error(message: str) -> OdooFault:
    """A Python ValueError from the ORM (an unknown field, a malformed domain): Odoo does not
    classify it, so it answers HTTP 500."""
    return OdooFault(500, "builtins.ValueError", message)


def missing_required(model_label: str, model: str, field_label: str, field: str) -> OdooFault:
    """The ValidationError Odoo raises when a mandatory field is not set."""
    return validation_error(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it"
        f" instead.\n\nModel: {model_label} ({model})\nField: {field_label} ({field})\n"
    )
