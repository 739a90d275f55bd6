"""Inbound HubSpot webhooks: the v3 request signature, and contact events as change notices.

Signature v3 (developers.hubspot.com, "Validating requests"; HubSpot's SDKs agree byte for byte):
`X-HubSpot-Signature-v3` is the base64 HMAC-SHA256, keyed with the app's client secret, of the
UTF-8 string `method + URI + body + timestamp`, where the timestamp is the
`X-HubSpot-Request-Timestamp` header (epoch milliseconds) as sent. The URI is the full URL HubSpot
called (scheme, host, path, query), with the percent-escapes of `: / ? @ ! $ ' ( ) * , ;`
decoded and every other escape left as it is. Requests older than 5 minutes are refused; we
also refuse ones more than 5 minutes ahead, so a captured request cannot be replayed later.

Deliveries are a JSON array of up to 100 events, e.g. `{"eventId", "subscriptionId",
"portalId", "appId", "occurredAt" (ms), "subscriptionType": "contact.propertyChange",
"attemptNumber", "objectId", "propertyName", "propertyValue", "changeSource"}`. HubSpot may
deliver an event twice or out of order, so a notice carries the event id and time to dedupe by.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot.properties import SYSTEM

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000

_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)
CONTACT_OBJECT_TYPE = "0-1"
"""The object type id of contacts in the generic `object.*` subscription types."""


def signed_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the twelve listed escapes decoded, the rest untouched."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(0).upper()], uri)


def hubspot_signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The signature HubSpot sends for this request (base64 of the HMAC-SHA256)."""
    source = method.upper().encode() + signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot_webhook(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now_ms: int | None = None,
) -> bool:
    """True only for a fresh request signed with `secret`: verify the raw body bytes as received,
    before any JSON parsing. A missing header, a garbled one or an empty secret is refused, and
    the digests are compared in constant time."""
    if not secret or not signature or not timestamp or not timestamp.isdigit():
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(timestamp)) > MAX_AGE_MS:
        return False
    try:
        claimed = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = base64.b64decode(hubspot_signature_v3(secret, method, uri, body, timestamp))
    return hmac.compare_digest(expected, claimed)


class ContactChangeKind(StrEnum):
    """What happened to a contact in HubSpot."""

    CREATED = "created"
    PROPERTY_CHANGED = "property_changed"
    DELETED = "deleted"
    PRIVACY_DELETED = "privacy_deleted"
    MERGED = "merged"


_KINDS = {
    "creation": ContactChangeKind.CREATED,
    "propertyChange": ContactChangeKind.PROPERTY_CHANGED,
    "deletion": ContactChangeKind.DELETED,
    "privacyDeletion": ContactChangeKind.PRIVACY_DELETED,
    "merge": ContactChangeKind.MERGED,
}


@dataclass(frozen=True)
class ContactChange:
    """A HubSpot contact changed: the hub re-reads the contact (or forgets it, on deletion) rather
    than trusting the event's single property value, which may be stale when events reorder."""

    event_id: str
    contact_id: str
    kind: ContactChangeKind
    occurred_at: datetime
    property_name: str | None = None
    property_value: str | None = None
    change_source: str | None = None
    attempt: int = 0

    @property
    def identities(self) -> dict[str, str]:
        """The contact's identity as canonical Customers record it."""
        return {SYSTEM: self.contact_id}


def contact_changes(body: bytes | list[Any]) -> list[ContactChange]:
    """The contact events of a delivery as change notices; events about other objects are left
    out. MappingError names the event and field of the first malformed event."""
    events = orjson.loads(body) if isinstance(body, bytes) else body
    if not isinstance(events, list):
        raise MappingError("webhook delivery", None, "$", "expected a JSON array of events")
    changes = []
    for i, event in enumerate(events):
        change = _contact_change(i, event)
        if change is not None:
            changes.append(change)
    return changes


def _contact_change(index: int, event: Any) -> ContactChange | None:
    path = f"$[{index}]"
    if not isinstance(event, dict):
        raise MappingError("webhook event", None, path, "expected a JSON object")
    event_id = _whole(event, "eventId", path, None)
    subscription = event.get("subscriptionType")
    if not isinstance(subscription, str) or "." not in subscription:
        raise MappingError(
            "webhook event", str(event_id), f"{path}.subscriptionType", "is missing or malformed"
        )
    subject, _, action = subscription.partition(".")
    is_contact = subject == "contact" or (
        subject == "object" and event.get("objectTypeId") == CONTACT_OBJECT_TYPE
    )
    kind = _KINDS.get(action)
    if not is_contact or kind is None:
        return None
    occurred = _whole(event, "occurredAt", path, str(event_id))
    value = event.get("propertyValue")
    name = event.get("propertyName")
    source = event.get("changeSource")
    return ContactChange(
        event_id=str(event_id),
        contact_id=str(_whole(event, "objectId", path, str(event_id))),
        kind=kind,
        occurred_at=datetime.fromtimestamp(occurred / 1000, UTC),
        property_name=name if isinstance(name, str) else None,
        property_value=None if value is None else str(value),
        change_source=source if isinstance(source, str) else None,
        attempt=attempt if isinstance(attempt := event.get("attemptNumber"), int) else 0,
    )


def _whole(event: dict[str, Any], field: str, path: str, event_id: str | None) -> int:
    value = event.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(
            "webhook event",
            event_id,
            f"{path}.{field}",
            f"expected a whole number, found {value!r}",
        )
    return value
