"""Shared base for canonical models and the small value types every document uses."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from retailhub.canonical.errors import Location, Problems
from retailhub.canonical.money import Money


class CanonicalModel(BaseModel):
    """Immutable, strict about unknown fields: what crosses a boundary is exactly what we define."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)


class Channel(StrEnum):
    """Where a sale or a return happens: in a store, on the web shop, on a marketplace, in the app."""

    STORE = "store"
    WEB = "web"
    MARKETPLACE = "marketplace"
    APP = "app"


NonEmptyStr = Annotated[str, Field(min_length=1)]
_DOCUMENT_ID = re.compile(r"^[^\s\x00-\x1f]+$")


def _document_id(value: str) -> str:
    if not _DOCUMENT_ID.match(value):
        raise ValueError(f"{value!r} is not a business key: it must not contain spaces")
    return value


DocumentId = Annotated[
    str,
    AfterValidator(_document_id),
    Field(min_length=1, max_length=128, json_schema_extra={"pattern": _DOCUMENT_ID.pattern}),
]
"""A business key (order id, return id, promotion id): no whitespace, so it can key partitions."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: Any) -> str:
    """Trim and lower-case an address so that one person matches across systems."""
    if not isinstance(value, str):
        raise ValueError("an email address must be a string")
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValueError(f"{value!r} is not an email address")
    local, domain = email.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} has a domain that is not valid") from None
    return f"{local}@{domain}"


def normalise_phone(value: Any) -> str:
    """Parse an international number and write it in E.164 (`+4930123456`)."""
    if not isinstance(value, str):
        raise ValueError("a phone number must be a string")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{value!r} is not an international phone number (it needs a + and country code)"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_in_country(raw: str, country: str | None) -> str:
    """E.164 from an international number, or from a national one read as dialled in `country`
    (ISO 3166 alpha-2), as systems that store numbers as people type them need."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number (country {country or 'unknown'})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Email = Annotated[str, BeforeValidator(normalise_email)]
"""An email address, trimmed and lower-cased."""

Phone = Annotated[str, BeforeValidator(normalise_phone), Field(pattern=r"^\+[1-9]\d{6,14}$")]
"""A phone number in E.164."""

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


def check_currency(
    money: Money | None, currency: str, location: Location, problems: Problems
) -> None:
    """Record a fault when an amount is not in the document's currency."""
    if money is not None and money.currency != currency:
        problems.add(location, f"amount is in {money.currency} but the document is in {currency}")
