"""The Shopify Admin REST emulator (system `shopify`): the subset of API version 2024-10 the
connector uses, with Shopify's auth header, error bodies, cursor paging, leaky-bucket rate limit
and signed webhooks, over the estate's catalogue, stock and shop customers.

Emulated: orders (list with `status`/`updated_at_min`, get, create, cancel), transactions,
refunds (list, create), customers (search, get, create, update), products (list with `fields`,
get, create, update), variants (get, update), locations, inventory levels (list, set, adjust),
price rules (list, get, create), discount codes (list, get, create, lookup), webhooks (list,
subscribe). Not emulated: fulfilments, draft orders, metafields, GraphQL.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.typedefs import Handler

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer
from retailhub.canonical.product import Product
from retailhub.connectors.shopify.customers import customer_from_canonical
from retailhub.connectors.shopify.products import product_from_canonical
from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import shapes
from retailhub.sandbox.shopify.api import API_VERSION, Route, errors
from retailhub.sandbox.shopify.catalogue_routes import CatalogueRoutes
from retailhub.sandbox.shopify.customer_routes import CustomerRoutes
from retailhub.sandbox.shopify.delivery import WebhookSender
from retailhub.sandbox.shopify.discount_routes import DiscountRoutes
from retailhub.sandbox.shopify.order_routes import OrderRoutes
from retailhub.sandbox.shopify.state import SCHEMA, Body, VariantRow
from retailhub.sandbox.shopify.webhook_routes import WebhookRoutes

DEFAULT_ACCESS_TOKEN = "shpat_retailhub_sandbox"
"""The sandbox shop's Admin API token: a sandbox value, never a real shop's."""
DEFAULT_WEBHOOK_SECRET = "retailhub-sandbox-webhook-secret"
"""What the sandbox signs webhooks with: a sandbox value, never a real app's secret."""
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"

_PREFIX = r"/admin/api/{version:\d{4}-\d{2}|unstable}"
_ID = r"{id:\d+}"
_CODE_ID = r"{code_id:\d+}"
_LOCATION_BASE, _PRODUCT_BASE, _VARIANT_BASE = 70_000_000_001, 7_000_000_001, 40_000_000_001
_ITEM_BASE = 50_000_000_001


class LeakyBucket:
    """Shopify's REST limit: a bucket of `size` calls that leaks `rate` calls a second."""

    def __init__(self, size: int, rate: float) -> None:
        self.size, self.rate = size, rate
        self.level = 0.0
        self.throttled = 0
        self._at = time.monotonic()

    def take(self) -> float | None:
        """Count one call; None when it fits, else the seconds to wait before retrying."""
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self._at) * self.rate)
        self._at = now
        if self.level + 1 > self.size:
            self.throttled += 1
            return (self.level + 1 - self.size) / self.rate
        self.level += 1
        return None


@register
class ShopifyEmulator(
    OrderRoutes, CustomerRoutes, CatalogueRoutes, DiscountRoutes, WebhookRoutes, Emulator
):
    """An emulated Shopify shop selling the estate's catalogue on the web."""

    system: ClassVar[str] = "shopify"
    schema: ClassVar[str] = SCHEMA

    def __init__(
        self,
        state_dir: Path,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        bucket_size: int = 400,
        leak_rate: float = 200.0,
    ) -> None:
        super().__init__(state_dir)
        self.access_token = access_token
        self.bucket = LeakyBucket(bucket_size, leak_rate)
        self.webhooks = WebhookSender(webhook_secret, API_VERSION)

    def error_body(self, request: web.Request) -> Any:
        """Shopify's body for an internal error."""
        return {"errors": "Internal Server Error"}

    def app(self) -> web.Application:
        """The base app with Shopify's auth and rate limit behind the fault injection."""
        app = super().app()
        app.middlewares.append(self._guard)
        return app

    async def stop(self) -> None:
        """Finish webhook deliveries in flight, then stop serving."""
        await self.webhooks.close()
        await super().stop()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse a missing or wrong access token (401) and calls over the bucket (429)."""
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return errors(UNAUTHORIZED, 401)
        wait = self.bucket.take()
        if wait is not None:
            return json_response(
                {"errors": THROTTLED},
                status=429,
                headers={"Retry-After": f"{max(math.ceil(wait * 100) / 100, 0.01):.2f}"},
            )
        response = await handler(request)
        response.headers[CALL_LIMIT_HEADER] = f"{int(self.bucket.level)}/{self.bucket.size}"
        return response

    def add_routes(self, app: web.Application) -> None:
        """The emulated Admin REST endpoints."""
        routes: list[tuple[str, str, Route]] = [
            ("GET", "orders", self.list_orders),
            ("POST", "orders", self.create_order),
            ("GET", f"orders/{_ID}", self.get_order),
            ("POST", f"orders/{_ID}/cancel", self.cancel_order),
            ("GET", f"orders/{_ID}/transactions", self.list_transactions),
            ("GET", f"orders/{_ID}/refunds", self.list_refunds),
            ("POST", f"orders/{_ID}/refunds", self.create_refund),
            ("GET", "customers/search", self.search_customers),
            ("POST", "customers", self.create_customer),
            ("GET", f"customers/{_ID}", self.get_customer),
            ("PUT", f"customers/{_ID}", self.update_customer),
            ("GET", "products", self.list_products),
            ("POST", "products", self.create_product),
            ("GET", f"products/{_ID}", self.get_product),
            ("PUT", f"products/{_ID}", self.update_product),
            ("GET", f"variants/{_ID}", self.get_variant),
            ("PUT", f"variants/{_ID}", self.update_variant),
            ("GET", "locations", self.list_locations),
            ("GET", "inventory_levels", self.list_inventory_levels),
            ("POST", "inventory_levels/set", self.set_inventory_level),
            ("POST", "inventory_levels/adjust", self.adjust_inventory_level),
            ("GET", "price_rules", self.list_price_rules),
            ("POST", "price_rules", self.create_price_rule),
            ("GET", f"price_rules/{_ID}", self.get_price_rule),
            ("DELETE", f"price_rules/{_ID}", self.delete_price_rule),
            ("GET", f"price_rules/{_ID}/discount_codes", self.list_discount_codes),
            ("POST", f"price_rules/{_ID}/discount_codes", self.create_discount_code),
            ("GET", f"price_rules/{_ID}/discount_codes/{_CODE_ID}", self.get_discount_code),
            ("GET", "discount_codes/lookup", self.lookup_discount_code),
            ("GET", "webhooks", self.list_webhooks),
            ("POST", "webhooks", self.create_webhook),
        ]
        for method, resource, route in routes:
            app.router.add_route(method, f"{_PREFIX}/{resource}.json", route)

    # Seeding.

    def seed(self, estate: Estate) -> None:
        """Locations (the web shop's first), one product per estate product at its web price,
        stock per location in whole units (weighed goods in whole kilograms, rounded towards
        zero), and each estate customer's shop view."""
        shop = self.shop
        at = shapes.timestamp(datetime(estate.year, 1, 1, tzinfo=UTC))
        stores = sorted(estate.stores, key=lambda s: s.channel is not Channel.WEB)
        location_ids = {store.code: _LOCATION_BASE + i for i, store in enumerate(stores)}
        shop.put_many(
            "location",
            ((shapes.location_resource(s, location_ids[s.code], at), s.code) for s in stores),
        )
        items: dict[str, int] = {}
        products, variants = [], []
        for i, product in enumerate(estate.products):
            body, row = self._seed_product(estate, product, i, at)
            products.append((body, None))
            variants.append(row)
            items[product.sku] = row.inventory_item_id
        shop.put_many("product", products)
        shop.put_variants(variants)
        shop.set_levels(
            (items[level.sku], location_ids[level.location], int(level.available or 0), at)
            for level in estate.inventory
            if level.sku in items and level.location in location_ids
        )
        shop.put_many("customer", (self._seed_customer(c.shop_view, at) for c in estate.customers))

    @staticmethod
    def _seed_product(
        estate: Estate, product: Product, index: int, at: str
    ) -> tuple[Body, VariantRow]:
        listed = product.model_copy(update={"attributes": {}})
        fields = product_from_canonical([listed])
        price = estate.price(product.sku, Channel.WEB)
        variant_fields = {
            **fields["variants"][0],
            "id": _VARIANT_BASE + index,
            "inventory_item_id": _ITEM_BASE + index,
            "price": str((price.sale_price or price.list_price).amount),
            "compare_at_price": str(price.list_price.amount) if price.sale_price else None,
        }
        product_id = _PRODUCT_BASE + index
        variant = shapes.variant_resource(variant_fields, product_id, 1, at, None)
        body = shapes.product_resource({**fields, "id": product_id}, [variant], at, None)
        rate = Decimal(product.attributes.get("vat_rate", "21")) / 100
        return body, VariantRow(
            variant["id"], product_id, variant["inventory_item_id"], product.sku, str(rate)
        )

    @staticmethod
    def _seed_customer(view: Customer, at: str) -> tuple[Body, str | None]:
        fields = customer_from_canonical(view)
        stamp = shapes.timestamp(view.updated_at) if view.updated_at else at
        customer = shapes.customer_resource(fields, stamp)
        customer["created_at"] = stamp
        addresses = [
            shapes.address_resource(a, customer["id"] * 10 + i, customer, default=i == 0)
            for i, a in enumerate(fields.get("addresses", []))
        ]
        email = customer.get("email")
        return shapes.with_addresses(customer, addresses), email.lower() if email else None
