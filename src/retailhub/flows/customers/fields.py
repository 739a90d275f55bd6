"""The golden record's fields: how a canonical Customer splits into them and is rebuilt from them.

Survivorship decides field by field, so a profile is seen as a mapping from a field name to a
value. Most fields are Customer attributes; addresses are one field (the address book, kept
whole), and consent is one field per channel (`consents.email`, `consents.sms`, ...) because
each channel's latest decision wins on its own. Values are immutable (tuples, frozen models) and
compare by `comparable`, which ignores what does not make two values different to a retailer
(the `source` stamped on a consent, the time zone a moment was written in).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from retailhub.canonical.customer import (
    Address,
    ConsentChannel,
    Customer,
    LoyaltyMemberRef,
    MarketingConsent,
)

FieldValue = (
    str | date | tuple[str, ...] | tuple[Address, ...] | MarketingConsent | LoyaltyMemberRef | None
)
"""One golden field's value: a name, a date, a list of emails/phones/cards/addresses, a
consent decision or the loyalty member reference; None or an empty tuple when unknown."""

CONSENT_PREFIX = "consents."
SCALAR_FIELDS = ("given_name", "family_name", "birth_date", "loyalty")
LIST_FIELDS = ("emails", "phones", "loyalty_cards", "addresses")
CONSENT_FIELDS = tuple(f"{CONSENT_PREFIX}{channel.value}" for channel in ConsentChannel)
GOLDEN_FIELDS: tuple[str, ...] = (*SCALAR_FIELDS, *LIST_FIELDS, *CONSENT_FIELDS)
"""Every field survivorship decides, in the order reports and audit records list them."""


def consent_field(channel: ConsentChannel) -> str:
    """The golden field that holds the consent decision for `channel`."""
    return f"{CONSENT_PREFIX}{channel.value}"


def profile_fields(customer: Customer) -> dict[str, FieldValue]:
    """Split a profile into golden fields; a channel without a decision is None."""
    values: dict[str, FieldValue] = {
        "given_name": customer.given_name,
        "family_name": customer.family_name,
        "birth_date": customer.birth_date,
        "loyalty": customer.loyalty,
        "emails": tuple(customer.emails),
        "phones": tuple(customer.phones),
        "loyalty_cards": tuple(customer.loyalty_cards),
        "addresses": tuple(customer.addresses),
    }
    for channel in ConsentChannel:
        decisions = [c for c in customer.consents if c.channel is channel]
        values[consent_field(channel)] = max(decisions, key=consent_order, default=None)
    return values


def consent_order(consent: MarketingConsent) -> tuple[datetime, bool]:
    """Later decisions win; at the same moment a withdrawal wins, as GDPR would want."""
    return (consent.at, not consent.granted)


def is_empty(value: FieldValue) -> bool:
    """True when a value says nothing: None or an empty list."""
    return value is None or value == ()


def comparable(value: FieldValue | Address) -> Any:
    """A JSON-ready form of a value in which two values are equal exactly when a retailer would
    call them the same (a consent is its channel, decision and moment, not who stamped it)."""
    if isinstance(value, MarketingConsent):
        return [value.channel.value, value.granted, _utc(value.at)]
    if isinstance(value, LoyaltyMemberRef | Address):
        return value.model_dump(mode="json")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [comparable(item) for item in value]
    return value


def same_value(a: FieldValue | Address, b: FieldValue | Address) -> bool:
    """Whether two values of one field are the same to a retailer."""
    return bool(comparable(a) == comparable(b))


def digest(value: FieldValue) -> str:
    """A stable SHA-256 of a value's comparable form, for echo fingerprints and held values."""
    text = json.dumps(comparable(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def to_json(value: FieldValue | Address) -> Any:
    """A value as JSON-ready data (models dumped, dates in ISO 8601), to store or show."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    return value


def from_json(name: str, data: Any) -> FieldValue:
    """A field's value back from `to_json`'s data."""
    if data is None:
        return None
    if name == "birth_date":
        return date.fromisoformat(data)
    if name == "loyalty":
        return LoyaltyMemberRef.model_validate(data)
    if name == "addresses":
        return tuple(Address.model_validate(item) for item in data)
    if name in LIST_FIELDS:
        return tuple(str(item) for item in data)
    if name.startswith(CONSENT_PREFIX):
        return MarketingConsent.model_validate(data)
    return str(data)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def build_customer(
    customer_id: str,
    identities: Mapping[str, str],
    values: Mapping[str, FieldValue],
    updated_at: datetime | None,
) -> Customer:
    """The canonical Customer a golden record's resolved values describe."""

    def listed(field: str) -> list[Any]:
        value = values.get(field)
        return list(value) if isinstance(value, tuple) else []

    consents = [
        consent
        for field in CONSENT_FIELDS
        if isinstance(consent := values.get(field), MarketingConsent)
    ]
    loyalty = values.get("loyalty")
    birth_date = values.get("birth_date")
    return Customer(
        customer_id=customer_id,
        identities=dict(sorted(identities.items())),
        loyalty_cards=listed("loyalty_cards"),
        given_name=_text(values.get("given_name")),
        family_name=_text(values.get("family_name")),
        emails=listed("emails"),
        phones=listed("phones"),
        addresses=listed("addresses"),
        birth_date=birth_date if isinstance(birth_date, date) else None,
        consents=consents,
        loyalty=loyalty if isinstance(loyalty, LoyaltyMemberRef) else None,
        updated_at=updated_at,
    )


def _text(value: FieldValue) -> str | None:
    return value if isinstance(value, str) else None
