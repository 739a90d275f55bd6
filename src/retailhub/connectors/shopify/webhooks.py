"""Inbound Shopify webhooks: the topics the hub subscribes to and the signature check.

Shopify signs each delivery with `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw
request body, keyed with the app's client secret. Verify the bytes as received, before any
JSON parsing, since re-serialising changes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
API_VERSION_HEADER = "X-Shopify-API-Version"

ORDERS_CREATE = "orders/create"
ORDERS_UPDATED = "orders/updated"
ORDERS_CANCELLED = "orders/cancelled"
REFUNDS_CREATE = "refunds/create"
CUSTOMERS_CREATE = "customers/create"
CUSTOMERS_UPDATE = "customers/update"
INVENTORY_LEVELS_UPDATE = "inventory_levels/update"

RESOURCE_BY_TOPIC = {
    ORDERS_CREATE: "order",
    ORDERS_UPDATED: "order",
    ORDERS_CANCELLED: "order",
    REFUNDS_CREATE: "refund",
    CUSTOMERS_CREATE: "customer",
    CUSTOMERS_UPDATE: "customer",
    INVENTORY_LEVELS_UPDATE: "inventory_level",
}
"""The Shopify resource each subscribed topic delivers, as `shopify_documents` names it."""


def sign_shopify_webhook(raw_body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends with `raw_body`: what the sandbox signs
    its deliveries with, and what `verify_shopify_webhook` recomputes."""
    return base64.b64encode(_digest(raw_body, secret)).decode()


def _digest(raw_body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()


def verify_shopify_webhook(raw_body: bytes, header_hmac: str | None, secret: str) -> bool:
    """True only when the header is the base64 HMAC-SHA256 of the raw body under `secret`.

    A missing or garbled header, or an empty secret (a misconfiguration), is never accepted;
    the digests are compared in constant time so timing reveals nothing about the right one.
    """
    if not header_hmac or not secret:
        return False
    try:
        claimed = base64.b64decode(header_hmac.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(_digest(raw_body, secret), claimed)
