"""The web shop's side of the trading day: shoppers check out on the Shopify emulator and edit
their accounts there, through its Admin API, as the storefront does. The hub hears of both only
through Shopify's signed webhooks, like any other Shopify store it is connected to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp

from retailhub.sandbox.seed import EstateCustomer

ADMIN = "/admin/api/2024-10"
TOKEN_HEADER = "X-Shopify-Access-Token"
HUB_TOPICS = ("orders/create", "orders/cancelled", "customers/update", "refunds/create")


class WebShopRefused(RuntimeError):
    """The Shopify emulator refused a storefront action; its answer says why."""


class WebShop:
    """A storefront on the Shopify emulator at `base_url`."""

    def __init__(self, base_url: str, access_token: str) -> None:
        self._base = base_url.rstrip("/") + ADMIN
        self._session = aiohttp.ClientSession(
            headers={TOKEN_HEADER: access_token},
            timeout=aiohttp.ClientTimeout(total=10),
        )
        self._variants: dict[str, int] = {}

    async def close(self) -> None:
        """Release the HTTP session."""
        await self._session.close()

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with self._session.request(method, f"{self._base}{path}", json=body) as response:
            if response.status >= 300:
                raise WebShopRefused(f"{method} {path}: {response.status} {await response.text()}")
            answer: dict[str, Any] = await response.json()
            return answer

    async def connect_hub(self, hooks_url: str) -> None:
        """Subscribe the hub's webhook endpoint to what it maps, as the hub's app install does."""
        for topic in HUB_TOPICS:
            body = {
                "webhook": {"topic": topic, "address": f"{hooks_url}/{topic}", "format": "json"}
            }
            await self._call("POST", "/webhooks.json", body)

    async def _variant(self, sku: str) -> int:
        """The variant id selling `sku`, from the catalogue read once, page by page."""
        if not self._variants:
            url: str | None = f"{self._base}/products.json?limit=250"
            while url is not None:
                async with self._session.get(url) as response:
                    if response.status >= 300:
                        raise WebShopRefused(f"GET products: {response.status}")
                    page = await response.json()
                    following = response.links.get("next")
                url = str(following["url"]) if following else None
                for product in page.get("products") or []:
                    for variant in product.get("variants") or []:
                        if variant.get("sku"):
                            self._variants[str(variant["sku"])] = int(variant["id"])
        if sku not in self._variants:
            raise WebShopRefused(f"no variant sells {sku}")
        return self._variants[sku]

    async def check_out(
        self, shopper: EstateCustomer | None, basket: Sequence[tuple[str, int]], at: datetime
    ) -> int:
        """Place a paid order for the basket; returns Shopify's order id."""
        lines = [
            {"variant_id": await self._variant(sku), "quantity": quantity}
            for sku, quantity in basket
        ]
        order: dict[str, Any] = {"processed_at": at.isoformat(), "line_items": lines}
        if shopper is not None:
            order["email"] = shopper.golden.emails[0]
        created = await self._call("POST", "/orders.json", {"order": order})
        return int(created["order"]["id"])

    async def change_phone(self, email: str, phone: str) -> bool:
        """The shopper changes the phone number on their account; False if they have none."""
        found = await self._call("GET", f"/customers/search.json?query=email:{email}")
        customers = found.get("customers") or []
        if not customers:
            return False
        customer_id = customers[0]["id"]
        await self._call("PUT", f"/customers/{customer_id}.json", {"customer": {"phone": phone}})
        return True
