"""Customer: the golden record a hub keeps of one person across CRM, loyalty, web shop and POS."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from retailhub.canonical.base import CanonicalModel, CountryCode, DocumentId, Email, Phone
from retailhub.canonical.identifiers import ExternalIds, SystemName


class AddressKind(StrEnum):
    """What an address is used for."""

    HOME = "home"
    BILLING = "billing"
    SHIPPING = "shipping"


class Address(CanonicalModel):
    """A postal address; the web shop ships to it and the ERP invoices to it."""

    kind: AddressKind = AddressKind.HOME
    lines: list[str] = Field(min_length=1, max_length=4)
    city: str = Field(min_length=1)
    region: str | None = None
    postal_code: str | None = None
    country: CountryCode


class ConsentChannel(StrEnum):
    """A channel a customer can be marketed to on."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    PUSH = "push"


class MarketingConsent(CanonicalModel):
    """Consent (or its withdrawal) to marketing on one channel; GDPR needs when and where it came from."""

    channel: ConsentChannel
    granted: bool
    at: AwareDatetime
    source: SystemName


class LoyaltyMemberRef(CanonicalModel):
    """Which loyalty member this customer is, so checkout and CRM can find points and tier."""

    member_id: str = Field(min_length=1)
    tier: str | None = None


class Customer(CanonicalModel):
    """One person as the hub sees them: golden id, identities in each system, contact data, consents."""

    kind: Literal["customer"] = "customer"
    customer_id: DocumentId
    identities: ExternalIds = Field(default_factory=dict)
    loyalty_cards: list[str] = Field(default_factory=list)
    given_name: str | None = None
    family_name: str | None = None
    emails: list[Email] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    birth_date: date | None = None
    consents: list[MarketingConsent] = Field(default_factory=list)
    loyalty: LoyaltyMemberRef | None = None
    updated_at: AwareDatetime | None = None

    @property
    def primary_email(self) -> str | None:
        """The first email, which systems that hold only one address receive."""
        return self.emails[0] if self.emails else None

    def consent(self, channel: ConsentChannel) -> bool:
        """Whether the latest consent decision for `channel` is a grant (no decision: no consent)."""
        latest = max(
            (c for c in self.consents if c.channel == channel), key=lambda c: c.at, default=None
        )
        return bool(latest and latest.granted)
