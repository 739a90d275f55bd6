"""Shopify webhook signatures: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body.

Shopify documents the algorithm; we found no example vector published by Shopify. The vectors
here are RFC 4231's HMAC-SHA256 test case 2 (its published hex digest, base64-encoded as Shopify
sends digests), a Shopify-style vector published in SQLPage's tests (sqlpage/SQLPage,
tests/sql_test_files/data/hmac_shopify_webhook.sql), and Shopify's own sample order signed in
the test with the documented algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from retailhub.connectors.shopify.documents import shopify_documents
from retailhub.connectors.shopify.webhooks import (
    CUSTOMERS_CREATE,
    CUSTOMERS_UPDATE,
    INVENTORY_LEVELS_UPDATE,
    ORDERS_CANCELLED,
    ORDERS_CREATE,
    ORDERS_UPDATED,
    REFUNDS_CREATE,
    RESOURCE_BY_TOPIC,
    verify_shopify_webhook,
)

ORDER = (
    Path(__file__).resolve().parents[3] / "src" / "retailhub" / "samples" / "shopify" / "order.json"
)
SECRET = "hush-shopify-app-secret"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_rfc_4231_case_2_verifies() -> None:
    published_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    header = base64.b64encode(bytes.fromhex(published_hex)).decode()
    assert header == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
    assert verify_shopify_webhook(b"what do ya want for nothing?", header, "Jefe")


def test_a_published_shopify_style_vector_verifies() -> None:
    body = b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
    header = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
    assert verify_shopify_webhook(body, header, "test-webhook-secret")


def test_the_sample_order_signed_as_shopify_signs_verifies() -> None:
    body = ORDER.read_bytes()
    assert verify_shopify_webhook(body, sign(body), SECRET)


def test_a_tampered_body_is_refused() -> None:
    body = ORDER.read_bytes()
    header = sign(body)
    tampered = body.replace(b'"total_price": "409.94"', b'"total_price": "9.94"')
    assert tampered != body
    assert not verify_shopify_webhook(tampered, header, SECRET)
    assert not verify_shopify_webhook(body + b"\n", header, SECRET)


def test_a_wrong_secret_is_refused() -> None:
    body = ORDER.read_bytes()
    assert not verify_shopify_webhook(body, sign(body, "another-app"), SECRET)
    assert not verify_shopify_webhook(body, sign(body), "")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not base64 at all!",
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM",
        "ÄÖÜ",
        "AAAA",
    ],
)
def test_a_missing_or_garbled_header_is_refused(header: str | None) -> None:
    assert not verify_shopify_webhook(b"what do ya want for nothing?", header, "Jefe")


def test_the_hex_digest_is_not_accepted_in_place_of_base64() -> None:
    body = b"what do ya want for nothing?"
    hex_digest = hmac.new(b"Jefe", body, hashlib.sha256).hexdigest()
    assert not verify_shopify_webhook(body, hex_digest, "Jefe")


def test_each_subscribed_topic_names_the_resource_it_delivers() -> None:
    assert RESOURCE_BY_TOPIC == {
        ORDERS_CREATE: "order",
        ORDERS_UPDATED: "order",
        ORDERS_CANCELLED: "order",
        REFUNDS_CREATE: "refund",
        CUSTOMERS_CREATE: "customer",
        CUSTOMERS_UPDATE: "customer",
        INVENTORY_LEVELS_UPDATE: "inventory_level",
    }
    assert ORDERS_CREATE == "orders/create"
    assert INVENTORY_LEVELS_UPDATE == "inventory_levels/update"
    # A webhook delivers the bare resource, which the loader accepts as it is.
    assert shopify_documents({"id": 1}, "order") == [{"id": 1}]
