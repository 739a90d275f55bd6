"""Shopify customers as canonical Customers, and back as the body of a customer create/update.

Decisions:
- `customer_id` is `SHOPIFY-CUSTOMER-<id>`, a provisional key until identity resolution links
  the golden record; the Shopify id is kept in `identities`.
- Contact data that cannot be normalised (an email that is not one, a phone number that is not
  valid even read as a national number of the default address's country, an address without
  city or country) is left out with a logged warning rather than failing the customer: the
  person still exists, and the CRM is where contact data gets fixed.
- Consent: `email_marketing_consent` / `sms_marketing_consent` states `subscribed` -> granted,
  `unsubscribed` -> withdrawn; `not_subscribed`, `pending` (double opt-in not confirmed),
  `invalid` and `redacted` record no decision. The legacy `accepts_marketing: true` is an
  email grant; `false` cannot tell "never asked" from "withdrew", so it records nothing.
- Addresses are home addresses, the default address first; Shopify keeps two address lines,
  so canonical lines past the second are joined into `address2`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from retailhub.canonical.base import normalise_email, phone_in_country
from retailhub.canonical.customer import (
    Address,
    AddressKind,
    ConsentChannel,
    Customer,
    MarketingConsent,
)
from retailhub.connectors.shopify import ids
from retailhub.connectors.shopify.payload import SYSTEM, Reader, shopify_id

_CONSENT_FIELDS = {
    ConsentChannel.EMAIL: "email_marketing_consent",
    ConsentChannel.SMS: "sms_marketing_consent",
}
_DECISIONS = {"subscribed": True, "unsubscribed": False}


def customer_to_canonical(customer: Mapping[str, Any]) -> Customer:
    """Map a Shopify customer; MappingError names the customer id and the field at fault."""
    doc = Reader.of("customer", customer)
    default = doc.child("default_address") if doc.has("default_address") else None
    region = default.text("country_code") if default else None
    email = _email(doc)
    phone = _phone(doc, "phone", region) or (_phone(default, "phone", region) if default else None)
    return doc.build(
        Customer,
        {"$.given_name": "first_name", "$.family_name": "last_name"},
        customer_id=ids.customer_id(doc.integer("id")),
        identities={SYSTEM: doc.resource_id},
        given_name=doc.text("first_name"),
        family_name=doc.text("last_name"),
        emails=[email] if email else [],
        phones=[phone] if phone else [],
        addresses=_addresses(doc, default),
        consents=_consents(doc),
        updated_at=doc.timestamp("updated_at") if doc.has("updated_at") else None,
    )


def customer_from_canonical(customer: Customer) -> dict[str, Any]:
    """The customer resource to send in `{"customer": ...}` to create or update it in Shopify.

    Fields the golden record lacks are left out rather than sent as null, so an update never
    wipes what Shopify holds.
    """
    body: dict[str, Any] = {
        "id": shopify_id(customer.identities, "customer", customer.customer_id),
        "first_name": customer.given_name,
        "last_name": customer.family_name,
        "email": customer.primary_email,
        "phone": customer.phones[0] if customer.phones else None,
        "addresses": [_address_body(a, default=i == 0) for i, a in enumerate(customer.addresses)],
    }
    for channel, field in _CONSENT_FIELDS.items():
        latest = max(
            (c for c in customer.consents if c.channel is channel), key=lambda c: c.at, default=None
        )
        if latest is not None:
            body[field] = {
                "state": "subscribed" if latest.granted else "unsubscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": latest.at.isoformat(),
            }
    return {name: value for name, value in body.items() if value is not None}


def _email(doc: Reader) -> str | None:
    raw = doc.text("email")
    if raw is None:
        return None
    try:
        return normalise_email(raw)
    except ValueError as error:
        doc.warn("email", str(error))
        return None


def _phone(doc: Reader, field: str, region: str | None) -> str | None:
    """E.164 from an international number, or a national one read in the address's country."""
    raw = doc.text(field)
    if raw is None:
        return None
    try:
        return phone_in_country(raw, region)
    except ValueError as error:
        doc.warn(field, str(error))
        return None


def _addresses(doc: Reader, default: Reader | None) -> list[Address]:
    listed = list(doc.children("addresses"))
    default_id = default.doc.get("id") if default else None
    ordered = [default] if default else []
    ordered += [a for a in listed if default_id is None or a.doc.get("id") != default_id]
    return [address for a in ordered if (address := _address(a)) is not None]


def _address(doc: Reader) -> Address | None:
    lines = [line for line in (doc.text("address1"), doc.text("address2")) if line]
    city, country = doc.text("city"), doc.text("country_code")
    if not lines or city is None or country is None:
        doc.warn("address1", "an address needs a street line, a city and a country code")
        return None
    return doc.build(
        Address,
        {"$.country": "country_code", "$.lines": "address1"},
        kind=AddressKind.HOME,
        lines=lines,
        city=city,
        region=doc.text("province_code") or doc.text("province"),
        postal_code=doc.text("zip"),
        country=country,
    )


def _address_body(address: Address, *, default: bool) -> dict[str, Any]:
    region_field = "province_code" if _looks_like_code(address.region) else "province"
    body = {
        "address1": address.lines[0],
        "address2": ", ".join(address.lines[1:]) or None,
        "city": address.city,
        region_field: address.region,
        "zip": address.postal_code,
        "country_code": address.country,
        "default": default,
    }
    return {name: value for name, value in body.items() if value is not None}


def _looks_like_code(region: str | None) -> bool:
    """Shopify's province codes are short upper-case ISO 3166-2 suffixes (`KY`, `BY`, `NSW`)."""
    return region is not None and len(region) <= 3 and region.isupper()


def _consents(doc: Reader) -> list[MarketingConsent]:
    consents = []
    for channel, field in _CONSENT_FIELDS.items():
        if not doc.has(field):
            continue
        consent = doc.child(field)
        granted = _DECISIONS.get(consent.text("state") or "")
        if granted is not None:
            at = _decided_at(consent, "consent_updated_at") or _decided_at(doc, "updated_at")
            consents.append(_consent(doc, channel, granted, at))
    if not doc.has(_CONSENT_FIELDS[ConsentChannel.EMAIL]) and doc.flag(
        "accepts_marketing", default=False
    ):
        at = _decided_at(doc, "accepts_marketing_updated_at") or _decided_at(doc, "updated_at")
        consents.append(_consent(doc, ConsentChannel.EMAIL, True, at))
    return consents


def _decided_at(doc: Reader, field: str) -> datetime | None:
    return doc.timestamp(field) if doc.has(field) else None


def _consent(
    doc: Reader, channel: ConsentChannel, granted: bool, at: datetime | None
) -> MarketingConsent:
    if at is None:
        raise doc.fail(
            _CONSENT_FIELDS[channel], "a consent decision needs a time (consent_updated_at)"
        )
    return MarketingConsent(channel=channel, granted=granted, at=at, source=SYSTEM)
