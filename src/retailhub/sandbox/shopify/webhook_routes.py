"""Webhook subscriptions."""

from __future__ import annotations

from aiohttp import web

from retailhub.connectors.shopify.webhooks import RESOURCE_BY_TOPIC
from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify import shapes
from retailhub.sandbox.shopify.api import (
    API_VERSION,
    ShopApi,
    errors,
    now,
)
from retailhub.sandbox.shopify.delivery import deliverable

TOPICS = frozenset(RESOURCE_BY_TOPIC) | {"products/create", "products/update"}
"""The topics a subscription may name."""


class WebhookRoutes(ShopApi):
    """Webhook subscriptions."""

    async def list_webhooks(self, request: web.Request) -> web.Response:
        """`GET /webhooks.json`."""
        return json_response({"webhooks": self.shop.page("webhook", 0, 250)})

    async def create_webhook(self, request: web.Request) -> web.Response:
        """`POST /webhooks.json`: a known topic, an address on this machine, once per pair."""
        fields = await self._root(request, "webhook")
        if isinstance(fields, web.Response):
            return fields
        topic, address = fields.get("topic"), str(fields.get("address") or "")
        if topic not in TOPICS:
            return errors({"topic": ["Invalid topic specified."]}, 422)
        if not deliverable(address):
            return errors({"address": ["must be an http(s) URL on this machine (sandbox)"]}, 422)
        taken = any(
            hook["topic"] == topic and hook["address"] == address
            for hook in self.shop.page("webhook", 0, 1000)
        )
        if taken:
            return errors({"address": ["for this topic has already been taken"]}, 422)
        with self.db:
            hook = shapes.webhook_resource(
                str(topic), address, self.shop.next_id(), shapes.timestamp(now()), API_VERSION
            )
            self.shop.put("webhook", hook, lookup=str(topic))
        return json_response({"webhook": hook}, status=201)
