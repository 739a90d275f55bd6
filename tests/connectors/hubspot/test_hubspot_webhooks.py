"""HubSpot webhook v3 signatures (HubSpot's published vector, tampered bodies, wrong secrets,
stale and future timestamps, the URI decoding rule) and contact events as change notices."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest

from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot.webhooks import (
    MAX_AGE_MS,
    ContactChangeKind,
    contact_changes,
    hubspot_signature_v3,
    signed_uri,
    verify_hubspot_webhook,
)

# The v3 vector of HubSpot's own Python SDK (HubSpot/hubspot-api-python,
# tests/spec/utils/test_signature.py), the same inputs its docs use for v1 and v2.
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
BODY = b"{'example_field':'example_value'}"
TIMESTAMP = "15000000"
SIGNATURE = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
NOW = int(TIMESTAMP) + 1_000

# The delivery example of HubSpot's webhooks guide: one property change, one creation.
DELIVERY = (
    b'[{"objectId":1246965,"propertyName":"lifecyclestage","propertyValue":"subscriber",'
    b'"changeSource":"ACADEMY","eventId":3816279340,"subscriptionId":25,"portalId":33,'
    b'"appId":1160452,"occurredAt":1462216307945,"subscriptionType":"contact.propertyChange",'
    b'"attemptNumber":0},{"objectId":1246978,"changeSource":"IMPORT","eventId":3816279480,'
    b'"subscriptionId":22,"portalId":33,"appId":1160452,"occurredAt":1462216307945,'
    b'"subscriptionType":"contact.creation","attemptNumber":0}]'
)


def independent_signature(secret: str, source: bytes) -> str:
    """The signature computed here from the documented recipe, not by the code under test."""
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def test_hubspots_published_vector_is_reproduced_and_verified() -> None:
    assert hubspot_signature_v3(SECRET, "POST", URI, BODY, TIMESTAMP) == SIGNATURE
    assert verify_hubspot_webhook(SECRET, "POST", URI, BODY, SIGNATURE, TIMESTAMP, now_ms=NOW)


def test_a_real_delivery_signed_by_the_recipe_verifies() -> None:
    stamp = "1790000001000"
    signature = independent_signature(SECRET, b"POST" + URI.encode() + DELIVERY + stamp.encode())
    assert verify_hubspot_webhook(
        SECRET, "POST", URI, DELIVERY, signature, stamp, now_ms=int(stamp) + 299_000
    )


@pytest.mark.parametrize(
    ("secret", "method", "uri", "body"),
    [
        (SECRET, "POST", URI, BODY.replace(b"example_value", b"example_valuE")),
        (SECRET, "POST", URI, BODY + b" "),
        ("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "POST", URI, BODY),
        (SECRET, "PUT", URI, BODY),
        (SECRET, "POST", "http://www.example.com/webhook_uri", BODY),
        (SECRET, "POST", URI + "/", BODY),
    ],
    ids=["tampered body", "extra byte", "wrong secret", "other method", "http", "trailing slash"],
)
def test_anything_changed_fails_verification(
    secret: str, method: str, uri: str, body: bytes
) -> None:
    assert not verify_hubspot_webhook(secret, method, uri, body, SIGNATURE, TIMESTAMP, now_ms=NOW)


def test_a_request_older_than_five_minutes_is_refused_even_when_signed() -> None:
    stamp = int(TIMESTAMP)
    assert verify_hubspot_webhook(
        SECRET, "POST", URI, BODY, SIGNATURE, TIMESTAMP, now_ms=stamp + MAX_AGE_MS
    )
    assert not verify_hubspot_webhook(
        SECRET, "POST", URI, BODY, SIGNATURE, TIMESTAMP, now_ms=stamp + MAX_AGE_MS + 1
    )


def test_a_request_stamped_far_in_the_future_is_refused() -> None:
    assert not verify_hubspot_webhook(
        SECRET, "POST", URI, BODY, SIGNATURE, TIMESTAMP, now_ms=int(TIMESTAMP) - MAX_AGE_MS - 1
    )


@pytest.mark.parametrize(
    ("secret", "signature", "timestamp"),
    [
        (SECRET, None, TIMESTAMP),
        (SECRET, SIGNATURE, None),
        (SECRET, "", TIMESTAMP),
        (SECRET, "not base64 at all!", TIMESTAMP),
        (SECRET, SIGNATURE, "15000000.0"),
        (SECRET, SIGNATURE[:-4], TIMESTAMP),
        ("", SIGNATURE, TIMESTAMP),
    ],
    ids=["no signature", "no timestamp", "blank", "garbled", "odd timestamp", "cut", "no secret"],
)
def test_missing_or_garbled_headers_are_refused(
    secret: str, signature: str | None, timestamp: str | None
) -> None:
    assert not verify_hubspot_webhook(secret, "POST", URI, BODY, signature, timestamp, now_ms=NOW)


def test_the_uri_is_signed_with_the_listed_escapes_decoded_and_no_others() -> None:
    received = "https://hub.example.nl/hubspot/webhooks%3Bv%3D3?from=a%3Ab%40c%2Cd&q=%20x%26y%3dz"
    assert signed_uri(received) == (
        "https://hub.example.nl/hubspot/webhooks;v%3D3?from=a:b@c,d&q=%20x%26y%3dz"
    )
    assert signed_uri("%3a%2f%3f%40%21%24%27%28%29%2a%2c%3b") == ":/?@!$'()*,;"
    stamp = "1790000001000"
    signed = signed_uri(received).encode()
    signature = independent_signature(SECRET, b"POST" + signed + DELIVERY + stamp.encode())
    assert verify_hubspot_webhook(
        SECRET, "POST", received, DELIVERY, signature, stamp, now_ms=int(stamp)
    )


def test_hubspots_example_delivery_becomes_two_change_notices() -> None:
    changed, created = contact_changes(DELIVERY)
    assert changed.kind is ContactChangeKind.PROPERTY_CHANGED
    assert changed.contact_id == "1246965"
    assert changed.identities == {"hubspot": "1246965"}
    assert (changed.property_name, changed.property_value) == ("lifecyclestage", "subscriber")
    assert changed.event_id == "3816279340"
    assert changed.occurred_at == datetime(2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)
    assert changed.change_source == "ACADEMY"
    assert created.kind is ContactChangeKind.CREATED
    assert created.contact_id == "1246978"
    assert created.property_name is None


def test_generic_object_events_about_contacts_count_and_other_objects_do_not() -> None:
    events = [
        {
            "eventId": 1,
            "subscriptionType": "object.propertyChange",
            "objectTypeId": "0-1",
            "objectId": 1001,
            "propertyName": "email",
            "propertyValue": "new@example.nl",
            "occurredAt": 1790000000000,
        },
        {"eventId": 2, "subscriptionType": "deal.creation", "objectId": 5, "occurredAt": 1},
        {
            "eventId": 3,
            "subscriptionType": "object.creation",
            "objectTypeId": "0-5",
            "objectId": 7,
            "occurredAt": 1,
        },
        {"eventId": 4, "subscriptionType": "contact.deletion", "objectId": 1002, "occurredAt": 1},
    ]
    changes = contact_changes(orjson.dumps(events))
    assert [(c.kind, c.contact_id) for c in changes] == [
        (ContactChangeKind.PROPERTY_CHANGED, "1001"),
        (ContactChangeKind.DELETED, "1002"),
    ]


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        (b'{"eventId": 1}', r"webhook delivery \(without id\): \$: expected a JSON array"),
        (b"[5]", r"webhook event \(without id\): \$\[0\]: expected a JSON object"),
        (
            b'[{"eventId": 9, "subscriptionType": "contact.creation", "occurredAt": 1}]',
            r"webhook event 9: \$\[0\]\.objectId: expected a whole number",
        ),
        (
            b'[{"eventId": 9, "objectId": 3, "occurredAt": 1}]',
            r"webhook event 9: \$\[0\]\.subscriptionType: is missing",
        ),
    ],
)
def test_a_malformed_delivery_names_the_event_and_field(delivery: bytes, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        contact_changes(delivery)
