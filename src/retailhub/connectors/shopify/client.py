"""The Shopify Admin REST API as plain calls: auth, versioned paths, cursor paging, 404 as None.

Followed: Shopify's Admin REST API reference, version 2024-10 (shopify.dev/docs/api/admin-rest/
2024-10: Order, Refund, Transaction, Customer, Product, ProductVariant, InventoryLevel,
Location, PriceRule, DiscountCode, Webhook), and its guides on authentication (the
`X-Shopify-Access-Token` header of a custom app), cursor pagination (a `Link` header whose
`rel="next"` URL carries `page_info`; a request with `page_info` may add only `limit` and
`fields`) and rate limits (HTTP 429 with `Retry-After`, `X-Shopify-Shop-Api-Call-Limit`).
Resource shapes are those of the shopify_python_api fixtures in `retailhub.samples.shopify`.

Every call goes through `JsonClient`, so timeouts, breaker, bulkhead and 429 backoff are the
system's policy. Shopify REST takes no idempotency key: the connector makes writes safe to
repeat by looking up before it writes; here only absolute writes (PUT, inventory `set`) are
marked idempotent, so the policy never repeats a create on its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from retailhub.connectors.http import JsonClient, RequestRefused
from retailhub.resilience import Resilient

SYSTEM = "shopify"
API_VERSION = "2024-10"
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
MAX_PAGE_SIZE = 250
"""The largest `limit` Shopify accepts on a list endpoint."""
MAX_IDS_PER_FILTER = 50
"""The most ids `GET /inventory_levels.json` takes in `inventory_item_ids` or `location_ids`."""

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

Resource = dict[str, Any]


def next_page_info(link_header: str | None) -> str | None:
    """The `page_info` cursor of the `rel="next"` URL in a Link header; None on the last page."""
    if not link_header:
        return None
    match = _NEXT_LINK.search(link_header)
    if match is None:
        return None
    values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
    return values[0] if values else None


def refusal_reasons(error: RequestRefused) -> list[str]:
    """Shopify's reasons for a refusal as readable lines: `{"errors": {"email": ["has already
    been taken"]}}` gives `email: has already been taken`; `{"errors": "Not Found"}` gives
    `Not Found`."""
    body = error.body
    errors = body.get("errors", body) if isinstance(body, dict) else body
    if isinstance(errors, dict):
        return [
            f"{field}: {message}"
            for field, messages in errors.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]
    if isinstance(errors, list):
        return [str(message) for message in errors]
    return [str(errors)]


class ShopifyClient:
    """One shop's Admin REST API, authenticated with a custom app's Admin API access token."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        resilient: Resilient,
        *,
        api_version: str = API_VERSION,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.api_version = api_version
        self.http = JsonClient(
            SYSTEM,
            base_url,
            resilient,
            headers={ACCESS_TOKEN_HEADER: access_token},
            session=session,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    def path(self, resource: str) -> str:
        """The versioned path of a resource: `orders` -> `/admin/api/2024-10/orders.json`."""
        return f"/admin/api/{self.api_version}/{resource}.json"

    async def _get(self, resource: str, params: Mapping[str, str | int] | None = None) -> Any:
        return (await self.http.request("GET", self.path(resource), params=params)).body

    async def _get_or_none(self, resource: str, key: str) -> Resource | None:
        """One resource, or None when Shopify answers 404."""
        try:
            body = await self._get(resource)
        except RequestRefused as error:
            if error.status == 404:
                return None
            raise
        found: Resource = body[key]
        return found

    async def _write(
        self, method: str, resource: str, key: str, body: Resource, *, idempotent: bool = False
    ) -> Resource:
        answer = await self.http.request(
            method, self.path(resource), json={key: body}, idempotent=idempotent
        )
        written: Resource = answer.body[key]
        return written

    async def pages(
        self, resource: str, key: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[list[Resource]]:
        """Every page of a list endpoint, following the Link header's `page_info` cursor; the
        filters go on the first request only, as Shopify requires."""
        query: dict[str, str | int] = {"limit": MAX_PAGE_SIZE, **params}
        while True:
            answer = await self.http.request("GET", self.path(resource), params=query)
            yield list(answer.body[key])
            cursor = next_page_info(answer.headers.get("Link"))
            if cursor is None:
                return
            query = {"limit": query["limit"], "page_info": cursor}
            if "fields" in params:
                query["fields"] = params["fields"]

    async def each(
        self, resource: str, key: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[Resource]:
        """Every resource of a list endpoint, page by page."""
        async for page in self.pages(resource, key, params):
            for item in page:
                yield item

    # Orders, transactions and refunds.

    def orders(self, updated_at_min: str, *, limit: int = MAX_PAGE_SIZE) -> AsyncIterator[Resource]:
        """Orders of any status updated at or after `updated_at_min` (ISO 8601)."""
        return self.each(
            "orders", "orders", {"status": "any", "updated_at_min": updated_at_min, "limit": limit}
        )

    async def order(self, order_id: int) -> Resource | None:
        """One order, or None when the shop has no such order."""
        return await self._get_or_none(f"orders/{order_id}", "order")

    async def transactions(self, order_id: int) -> list[Resource]:
        """An order's payment transactions (sales, authorisations, captures, refunds)."""
        body = await self._get(f"orders/{order_id}/transactions")
        return list(body["transactions"])

    async def refunds(self, order_id: int) -> list[Resource]:
        """The refunds of an order, oldest first."""
        body = await self._get(f"orders/{order_id}/refunds")
        return list(body["refunds"])

    async def create_refund(self, order_id: int, refund: Resource) -> Resource:
        """Create a refund (not repeated by the policy: look it up first)."""
        return await self._write("POST", f"orders/{order_id}/refunds", "refund", refund)

    # Customers.

    async def search_customers(self, query: str, *, limit: int = 10) -> list[Resource]:
        """Customers matching a Shopify search query (`email:ann@example.com`)."""
        body = await self._get("customers/search", {"query": query, "limit": limit})
        return list(body["customers"])

    async def customer(self, customer_id: int) -> Resource | None:
        """One customer, or None."""
        return await self._get_or_none(f"customers/{customer_id}", "customer")

    async def create_customer(self, customer: Resource) -> Resource:
        """Create a customer (Shopify refuses a taken email with 422)."""
        return await self._write("POST", "customers", "customer", customer)

    async def update_customer(self, customer_id: int, customer: Resource) -> Resource:
        """Update a customer; the fields sent replace Shopify's."""
        return await self._write(
            "PUT", f"customers/{customer_id}", "customer", customer, idempotent=True
        )

    # Products and variants.

    def products(self, *, fields: Sequence[str] = ()) -> AsyncIterator[Resource]:
        """Every product, optionally with only some `fields`."""
        params: dict[str, str | int] = {"fields": ",".join(fields)} if fields else {}
        return self.each("products", "products", params)

    async def create_product(self, product: Resource) -> Resource:
        """Create a product with its variants."""
        return await self._write("POST", "products", "product", product)

    async def update_product(self, product_id: int, product: Resource) -> Resource:
        """Update a product; its variants become exactly those sent (with ids: updated)."""
        return await self._write(
            "PUT", f"products/{product_id}", "product", product, idempotent=True
        )

    async def update_variant(self, variant_id: int, variant: Resource) -> Resource:
        """Update one variant (its price, compare-at price)."""
        return await self._write(
            "PUT", f"variants/{variant_id}", "variant", variant, idempotent=True
        )

    # Locations and inventory.

    async def locations(self) -> list[Resource]:
        """The shop's locations (stores, warehouses, the web shop's fulfilment location)."""
        return list((await self._get("locations"))["locations"])

    async def set_inventory_level(
        self, location_id: int, inventory_item_id: int, available: int
    ) -> Resource:
        """Set available stock of an item at a location (absolute, so safe to repeat)."""
        body = {
            "location_id": location_id,
            "inventory_item_id": inventory_item_id,
            "available": available,
        }
        answer = await self.http.request(
            "POST", self.path("inventory_levels/set"), json=body, idempotent=True
        )
        level: Resource = answer.body["inventory_level"]
        return level

    async def adjust_inventory_level(
        self, location_id: int, inventory_item_id: int, adjustment: int
    ) -> Resource:
        """Move available stock by `adjustment` (relative: never repeated by the policy)."""
        body = {
            "location_id": location_id,
            "inventory_item_id": inventory_item_id,
            "available_adjustment": adjustment,
        }
        answer = await self.http.request("POST", self.path("inventory_levels/adjust"), json=body)
        level: Resource = answer.body["inventory_level"]
        return level

    def inventory_levels(
        self, inventory_item_ids: Sequence[int] = (), location_ids: Sequence[int] = ()
    ) -> AsyncIterator[Resource]:
        """Levels of some items and/or at some locations (Shopify needs at least one filter, and
        takes at most MAX_IDS_PER_FILTER ids in each)."""
        params: dict[str, str | int] = {}
        if inventory_item_ids:
            params["inventory_item_ids"] = ",".join(map(str, inventory_item_ids))
        if location_ids:
            params["location_ids"] = ",".join(map(str, location_ids))
        return self.each("inventory_levels", "inventory_levels", params)

    # Price rules and discount codes.

    def price_rules(self) -> AsyncIterator[Resource]:
        """Every price rule of the shop."""
        return self.each("price_rules", "price_rules", {})

    async def price_rule(self, price_rule_id: int) -> Resource | None:
        """One price rule, or None."""
        return await self._get_or_none(f"price_rules/{price_rule_id}", "price_rule")

    async def create_price_rule(self, price_rule: Resource) -> Resource:
        """Create a price rule."""
        return await self._write("POST", "price_rules", "price_rule", price_rule)

    async def delete_price_rule(self, price_rule_id: int) -> bool:
        """Delete a price rule and its discount codes; False when Shopify had no such rule."""
        try:
            await self.http.request("DELETE", self.path(f"price_rules/{price_rule_id}"))
        except RequestRefused as error:
            if error.status == 404:
                return False
            raise
        return True

    async def discount_codes(self, price_rule_id: int) -> list[Resource]:
        """The discount codes of a price rule."""
        body = await self._get(f"price_rules/{price_rule_id}/discount_codes")
        return list(body["discount_codes"])

    async def create_discount_code(self, price_rule_id: int, code: str) -> Resource:
        """Give a price rule a code customers can enter (codes are unique per shop)."""
        return await self._write(
            "POST", f"price_rules/{price_rule_id}/discount_codes", "discount_code", {"code": code}
        )

    # Webhook subscriptions.

    async def webhooks(self) -> list[Resource]:
        """The shop's webhook subscriptions."""
        return list((await self._get("webhooks"))["webhooks"])

    async def subscribe(self, topic: str, address: str) -> Resource:
        """Subscribe `address` to a topic, once: an existing subscription is returned as is."""
        for webhook in await self.webhooks():
            if webhook.get("topic") == topic and webhook.get("address") == address:
                return webhook
        body = {"topic": topic, "address": address, "format": "json"}
        return await self._write("POST", "webhooks", "webhook", body)
