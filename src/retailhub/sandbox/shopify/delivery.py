"""Webhook delivery as Shopify does it: a POST of the resource's JSON to each subscribed address,
signed with the app's secret in `X-Shopify-Hmac-Sha256`, with topic, shop, API version and a
webhook id (the receiver's dedupe key) in headers. One attempt per delivery, bounded in time;
deliveries go to loopback addresses only, since the sandbox never reaches outside."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from yarl import URL

from retailhub.connectors.shopify.webhooks import (
    API_VERSION_HEADER,
    HMAC_HEADER,
    SHOP_DOMAIN_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    sign_shopify_webhook,
)
from retailhub.sandbox.emulator import is_loopback
from retailhub.sandbox.shopify.shapes import SHOP_DOMAIN

DELIVERY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt and how the receiver answered (None: it did not answer)."""

    webhook_id: str
    topic: str
    address: str
    status: int | None


def deliverable(address: str) -> bool:
    """True for an http(s) URL on this machine, the only place sandbox webhooks may go."""
    try:
        url = URL(address)
    except ValueError:
        return False
    return url.scheme in {"http", "https"} and url.host is not None and is_loopback(url.host)


class WebhookSender:
    """Sends signed webhooks in the background; `settle()` waits for those in flight."""

    def __init__(self, secret: str, api_version: str) -> None:
        self.secret = secret
        self.api_version = api_version
        self.deliveries: list[Delivery] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def send(self, topic: str, addresses: list[str], resource: Any) -> None:
        """Deliver `resource` on `topic` to each address, without holding up the API answer."""
        body = orjson.dumps(resource)
        for address in addresses:
            task = asyncio.get_running_loop().create_task(self._deliver(topic, address, body))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, topic: str, address: str, body: bytes) -> None:
        webhook_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            TOPIC_HEADER: topic,
            HMAC_HEADER: sign_shopify_webhook(body, self.secret),
            WEBHOOK_ID_HEADER: webhook_id,
            SHOP_DOMAIN_HEADER: SHOP_DOMAIN,
            API_VERSION_HEADER: self.api_version,
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        }
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S)
            )
        status: int | None
        try:
            async with self._session.post(address, data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.deliveries.append(Delivery(webhook_id, topic, address, status))

    async def settle(self, timeout_s: float = DELIVERY_TIMEOUT_S * 2) -> None:
        """Wait (at most `timeout_s`) for the deliveries in flight."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout_s)

    async def close(self) -> None:
        """Finish what is in flight and release the connection pool."""
        await self.settle()
        if self._session is not None:
            await self._session.close()
