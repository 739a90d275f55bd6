"""Retail identifiers: GTINs with check digits, SKUs, location codes and per-system external ids."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

GTIN_LENGTHS = (8, 12, 13, 14)


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalise_gtin(code: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as GTIN-14 (left-padded with zeros).

    Leading zeros beyond GTIN-14 are tolerated because POS files write 14-digit codes padded
    further; the significant digits must still form a valid GTIN.
    """
    digits = code.strip()
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"GTIN {code!r} must contain digits only")
    if len(digits) > 14:
        if set(digits[:-14]) != {"0"}:
            raise ValueError(f"GTIN {code!r} has {len(digits)} digits; a GTIN has 8, 12, 13 or 14")
        digits = digits[-14:]
    if len(digits) not in GTIN_LENGTHS:
        raise ValueError(f"GTIN {code!r} has {len(digits)} digits; a GTIN has 8, 12, 13 or 14")
    expected = gtin_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise ValueError(f"GTIN {code!r} has check digit {digits[-1]}, expected {expected}")
    return digits.zfill(14)


def is_valid_gtin(code: str) -> bool:
    """True when `code` is a GTIN with a correct check digit."""
    try:
        normalise_gtin(code)
    except ValueError:
        return False
    return True


def _gtin(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("a GTIN must be a string of digits")
    return normalise_gtin(value)


Gtin = Annotated[
    str,
    BeforeValidator(_gtin),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{14}$",
            "description": "GTIN normalised to 14 digits; GTIN-8/12/13 accepted and zero-padded",
        },
        mode="serialization",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{8}(\d{4,6})?$", "description": "GTIN-8/12/13/14"},
        mode="validation",
    ),
]
"""A GTIN, validated by check digit and stored as GTIN-14."""

_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


def _sku(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("a SKU must be a string")
    sku = value.strip()
    if not sku:
        raise ValueError("a SKU must not be empty")
    if not _PRINTABLE.match(sku):
        raise ValueError(f"SKU {sku!r} contains control characters")
    return sku


Sku = Annotated[str, BeforeValidator(_sku), Field(min_length=1, max_length=64)]
"""A stock-keeping unit as the ERP's item master writes it (trimmed, printable, at most 64)."""

_LOCATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _location(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _LOCATION.match(value.strip()):
        raise ValueError(
            f"location code {value!r} must be letters, digits, '.', '_' or '-', starting with a"
            " letter or digit"
        )
    return value.strip()


LocationCode = Annotated[str, BeforeValidator(_location), Field(max_length=32)]
"""A store, warehouse or web-shop location code (`S001`, `WEB`, `DC-NORTH`)."""

_SYSTEM = re.compile(r"^[a-z][a-z0-9_\-]*$")


def _system_name(value: str) -> str:
    if not _SYSTEM.match(value):
        raise ValueError(f"system name {value!r} must be lower-case letters, digits, '_' or '-'")
    return value


def _external_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("an external id must be a non-empty string")
    return value.strip()


SystemName = Annotated[str, AfterValidator(_system_name), Field(max_length=32)]
"""The name of a connected system in the estate (`shopify`, `odoo`, `hubspot`, `openloyalty`)."""

ExternalId = Annotated[str, BeforeValidator(_external_id), Field(max_length=128)]

ExternalIds = dict[SystemName, ExternalId]
"""Ids a document has in each system, qualified by system: `{"shopify": "450789469"}`."""
