"""Helpers for tests against the Shopify emulator: a private copy of the seeded shop, and a
connector to it with a quick resilience policy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.shopify import ShopifyEmulator
from retailhub.sandbox.shopify.emulator import DEFAULT_ACCESS_TOKEN


def emulator_from(seeded: Path, folder: Path, **options: Any) -> ShopifyEmulator:
    """An emulator over a private copy of the seeded state."""
    emulator = ShopifyEmulator(folder, **options)
    shutil.copyfile(seeded, emulator.state_path)
    return emulator


FAST_POLICY = ResiliencePolicy(
    timeout_s=5.0,
    max_attempts=3,
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    breaker_threshold=5,
    breaker_reset_s=0.2,
)


def connect(
    emulator: ShopifyEmulator, policy: ResiliencePolicy = FAST_POLICY, **options: Any
) -> ShopifyConnector:
    """A connector to the running emulator, with the sandbox shop's token."""
    assert emulator.url is not None
    return ShopifyConnector(emulator.url, DEFAULT_ACCESS_TOKEN, policy, **options)


async def place_order(
    shop: ShopifyConnector, sku: str, quantity: int = 1, **fields: Any
) -> dict[str, Any]:
    """Create an order in the emulated shop as a checkout would (`POST /orders.json`)."""
    ref = await shop.variant(sku)
    body = {"line_items": [{"variant_id": ref.variant_id, "quantity": quantity}], **fields}
    answer = await shop.client.http.request(
        "POST", shop.client.path("orders"), json={"order": body}
    )
    assert answer.status == 201
    order: dict[str, Any] = answer.body["order"]
    return order


def count(emulator: ShopifyEmulator, kind: str) -> int:
    row = emulator.db.execute("SELECT COUNT(*) FROM resource WHERE kind = ?", (kind,)).fetchone()
    return int(row[0])
