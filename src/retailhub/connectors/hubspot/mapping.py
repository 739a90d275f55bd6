"""HubSpot contacts as canonical Customers and back; notes and tickets as the bodies the CRM v3
objects API takes. Pure functions: no I/O, faults raised as MappingError naming id and field.

Decisions:
- `customer_id` is the custom property `retailhub_customer_id` when the hub has linked the
  contact, else the provisional `HUBSPOT-CONTACT-<id>` until identity resolution links it.
- Emails are trimmed and lower-cased; phones become E.164. HubSpot keeps phones as typed, often
  national (`06 12345678`), so they are read in the contact's country; a phone or email that
  cannot be normalised is left out with a logged warning (the person still exists).
- `country` is free text in HubSpot: an ISO 3166 alpha-2 code or an English name from a short
  list is read; we always write the alpha-2 code.
- Email consent lives in the custom properties `retailhub_email_consent` (`granted` /
  `withdrawn`) and `retailhub_email_consent_at`. `hs_email_optout` = `true` (the contact
  unsubscribed from all email in HubSpot) is read as a withdrawal and wins, since an unsubscribe
  must be honoured everywhere. `hs_marketable_status` is HubSpot's billing flag for marketing
  contacts, not consent, so it is not read.
- Writes never send a property the golden record lacks, so an update never wipes CRM data.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import phonenumbers
from pydantic import ValidationError

from retailhub.canonical.base import normalise_email, phone_in_country
from retailhub.canonical.customer import (
    Address,
    AddressKind,
    ConsentChannel,
    Customer,
    MarketingConsent,
)
from retailhub.canonical.errors import faults_from_validation_error
from retailhub.connectors.hubspot.properties import SYSTEM, HubSpotObject, hubspot_moment

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "address",
    "city",
    "zip",
    "state",
    "country",
    "date_of_birth",
    "hs_email_optout",
    "loyalty_card",
    "retailhub_customer_id",
    "retailhub_email_consent",
    "retailhub_email_consent_at",
    "lastmodifieddate",
    "createdate",
)
"""The contact properties the connector reads (the `properties` of a read or a search)."""

PROVISIONAL_PREFIX = "HUBSPOT-CONTACT-"

NOTE_TO_CONTACT = 202
NOTE_TO_TICKET = 228
TICKET_TO_CONTACT = 16
"""HUBSPOT_DEFINED association type ids (note→contact, note→ticket, ticket→contact)."""

NOTE_KEY_PROPERTY = "retailhub_note_key"
CASE_KEY_PROPERTY = "retailhub_case_key"
"""Custom properties carrying the hub's idempotency key on notes and tickets."""

SUPPORT_PIPELINE = "0"
DEFAULT_CASE_STAGES: Mapping[str, str] = {"open": "1", "in_progress": "3", "closed": "4"}
"""Case status -> stage id of HubSpot's default support pipeline (1 New, 2 Waiting on contact,
3 Waiting on us, 4 Closed); a portal with its own pipeline passes its own map."""

_COUNTRY_NAMES = {
    "netherlands": "NL",
    "the netherlands": "NL",
    "nederland": "NL",
    "belgium": "BE",
    "belgië": "BE",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "luxembourg": "LU",
    "united kingdom": "GB",
    "united states": "US",
}
_CONSENT = {"granted": True, "withdrawn": False}
_CANONICAL_TO_PROPERTY = {
    "$.customer_id": "retailhub_customer_id",
    "$.given_name": "firstname",
    "$.family_name": "lastname",
    "$.loyalty_cards": "loyalty_card",
}


def contact_to_customer(contact: Mapping[str, Any]) -> Customer:
    """Map a contact from a read or a search; MappingError names the contact id and property."""
    doc = HubSpotObject("contact", contact)
    country = _country(doc)
    card = doc.text("loyalty_card")
    values: dict[str, Any] = {
        "customer_id": doc.text("retailhub_customer_id") or f"{PROVISIONAL_PREFIX}{doc.id}",
        "identities": {SYSTEM: doc.id},
        "loyalty_cards": [card] if card else [],
        "given_name": doc.text("firstname"),
        "family_name": doc.text("lastname"),
        "emails": [email] if (email := _email(doc)) else [],
        "phones": _phones(doc, country),
        "addresses": _addresses(doc, country),
        "birth_date": doc.day("date_of_birth"),
        "consents": _consents(doc),
        "updated_at": doc.moment("lastmodifieddate") or doc.stamp("updatedAt"),
    }
    try:
        return Customer(**values)
    except ValidationError as error:
        faults = faults_from_validation_error(error)
        first = faults[0].path
        name = next(
            (p for prefix, p in _CANONICAL_TO_PROPERTY.items() if first.startswith(prefix)), None
        )
        reason = "; ".join(f"canonical {f.path}: {f.reason}" for f in faults)
        raise doc.fail(f"$.properties.{name}" if name else "$", reason) from None


def customer_to_properties(customer: Customer) -> dict[str, str]:
    """The contact properties to create or update a contact with: strings only, absent fields
    left out so an update never clears what HubSpot holds."""
    properties: dict[str, str | None] = {
        "email": customer.primary_email,
        "firstname": customer.given_name,
        "lastname": customer.family_name,
        "phone": customer.phones[0] if customer.phones else None,
        "mobilephone": customer.phones[1] if len(customer.phones) > 1 else None,
        "date_of_birth": customer.birth_date.isoformat() if customer.birth_date else None,
        "loyalty_card": customer.loyalty_cards[0] if customer.loyalty_cards else None,
    }
    if not customer.customer_id.startswith(PROVISIONAL_PREFIX):
        properties["retailhub_customer_id"] = customer.customer_id
    if customer.addresses:
        home = next((a for a in customer.addresses if a.kind is AddressKind.HOME), None)
        address = home or customer.addresses[0]
        properties |= {
            "address": ", ".join(address.lines),
            "city": address.city,
            "zip": address.postal_code,
            "state": address.region,
            "country": address.country,
        }
    latest = max(
        (c for c in customer.consents if c.channel is ConsentChannel.EMAIL),
        key=lambda c: c.at,
        default=None,
    )
    if latest is not None:
        properties["retailhub_email_consent"] = "granted" if latest.granted else "withdrawn"
        properties["retailhub_email_consent_at"] = hubspot_moment(latest.at)
    return {name: value for name, value in properties.items() if value is not None}


def note_body(
    text: str,
    key: str,
    at: datetime,
    *,
    contact_id: str | None = None,
    ticket_id: str | None = None,
) -> dict[str, Any]:
    """The body of `POST /crm/v3/objects/notes`: the text (HTML-escaped, since HubSpot renders
    the note body as HTML), its time on the timeline, our key, and the record it belongs to."""
    associations = []
    if contact_id is not None:
        associations.append(_association(contact_id, NOTE_TO_CONTACT))
    if ticket_id is not None:
        associations.append(_association(ticket_id, NOTE_TO_TICKET))
    return {
        "properties": {
            "hs_note_body": html.escape(text).replace("\n", "<br>"),
            "hs_timestamp": hubspot_moment(at),
            NOTE_KEY_PROPERTY: key,
        },
        "associations": associations,
    }


def ticket_body(
    subject: str, text: str, key: str, stage: str, contact_id: str | None
) -> dict[str, Any]:
    """The body of `POST /crm/v3/objects/tickets`: a service case in the support pipeline."""
    return {
        "properties": {
            "subject": subject,
            "content": text,
            "hs_pipeline": SUPPORT_PIPELINE,
            "hs_pipeline_stage": stage,
            CASE_KEY_PROPERTY: key,
        },
        "associations": [] if contact_id is None else [_association(contact_id, TICKET_TO_CONTACT)],
    }


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _email(doc: HubSpotObject) -> str | None:
    raw = doc.text("email")
    if raw is None:
        return None
    try:
        return normalise_email(raw)
    except ValueError as error:
        doc.warn("email", str(error))
        return None


def _country(doc: HubSpotObject) -> str | None:
    """The contact's country as ISO alpha-2, from a code or a known name; None when unknown."""
    raw = doc.text("country")
    if raw is None:
        return None
    if len(raw) == 2 and raw.isalpha() and raw.upper() in phonenumbers.SUPPORTED_REGIONS:
        return raw.upper()
    code = _COUNTRY_NAMES.get(raw.casefold())
    if code is None:
        doc.warn("country", f"{raw!r} is neither an ISO 3166 code nor a country we know by name")
    return code


def _phones(doc: HubSpotObject, country: str | None) -> list[str]:
    phones: list[str] = []
    for name in ("phone", "mobilephone"):
        phone = _phone(doc, name, country)
        if phone is not None and phone not in phones:
            phones.append(phone)
    return phones


def _phone(doc: HubSpotObject, name: str, country: str | None) -> str | None:
    """E.164 from an international number, or a national one read in the contact's country."""
    raw = doc.text(name)
    if raw is None:
        return None
    try:
        return phone_in_country(raw, country)
    except ValueError as error:
        doc.warn(name, str(error))
        return None


def _addresses(doc: HubSpotObject, country: str | None) -> list[Address]:
    street, city = doc.text("address"), doc.text("city")
    if street is None and city is None:
        return []
    if street is None or city is None or country is None:
        doc.warn("address", "an address needs a street, a city and a known country")
        return []
    return [
        Address(
            kind=AddressKind.HOME,
            lines=[street],
            city=city,
            region=doc.text("state"),
            postal_code=doc.text("zip"),
            country=country,
        )
    ]


def _consents(doc: HubSpotObject) -> list[MarketingConsent]:
    consents = []
    decision = doc.text("retailhub_email_consent")
    if decision is not None:
        granted = _CONSENT.get(decision.lower())
        if granted is None:
            raise doc.fail(
                "$.properties.retailhub_email_consent", f"{decision!r} is not granted or withdrawn"
            )
        at = doc.moment("retailhub_email_consent_at")
        if at is None:
            raise doc.fail(
                "$.properties.retailhub_email_consent_at", "a consent decision needs its time"
            )
        consents.append(_email_consent(granted, at))
    if (doc.text("hs_email_optout") or "").lower() == "true":
        at = doc.moment("lastmodifieddate") or doc.stamp("updatedAt")
        if at is None:
            raise doc.fail("$.updatedAt", "an opt-out needs the time the contact last changed")
        if not consents or consents[0].granted:
            at = max([at, *(c.at for c in consents)])
            consents = [_email_consent(False, at)]
    return consents


def _email_consent(granted: bool, at: datetime) -> MarketingConsent:
    return MarketingConsent(channel=ConsentChannel.EMAIL, granted=granted, at=at, source=SYSTEM)
