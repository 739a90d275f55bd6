"""The Shopify Admin REST emulator (system `shopify`): the subset of API version 2024-10 the
connector uses, with Shopify's auth header, error bodies, cursor paging, leaky-bucket rate limit
and signed webhooks, over the estate's catalogue, stock and shop customers.

Emulated: orders (list with `status`/`updated_at_min`, get, create, cancel), transactions,
refunds (list, create), customers (search, get, create, update), products (list with `fields`,
get, create, update), variants (get, update), locations, inventory levels (list, set, adjust),
price rules (list, get, create), discount codes (list, create, lookup), webhooks (list,
subscribe). Not emulated: fulfilments, draft orders, metafields, GraphQL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from retailhub.canonical.base import Channel
from retailhub.connectors.shopify.customers import customer_from_canonical
from retailhub.connectors.shopify.products import product_from_canonical
from retailhub.connectors.shopify.webhooks import RESOURCE_BY_TOPIC
from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import orders, shapes
from retailhub.sandbox.shopify.delivery import WebhookSender, deliverable
from retailhub.sandbox.shopify.paging import (
    BadCursor,
    decode_cursor,
    encode_cursor,
    next_link,
    page_limit,
)
from retailhub.sandbox.shopify.state import SCHEMA, Body, ShopState, VariantRow

API_VERSION = "2024-10"
DEFAULT_ACCESS_TOKEN = "shpat_retailhub_sandbox"
"""The sandbox shop's Admin API token: a sandbox value, never a real shop's."""
DEFAULT_WEBHOOK_SECRET = "retailhub-sandbox-webhook-secret"
"""What the sandbox signs webhooks with: a sandbox value, never a real app's secret."""
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
TOPICS = frozenset(RESOURCE_BY_TOPIC) | {"products/create", "products/update"}

_PREFIX = r"/admin/api/{version:\d{4}-\d{2}|unstable}"
_ID = r"{id:\d+}"
_LOCATION_BASE, _PRODUCT_BASE, _VARIANT_BASE = 70_000_000_001, 7_000_000_001, 40_000_000_001
_ITEM_BASE = 50_000_000_001
_STATUS_FILTERS = {"open": ("open",), "closed": ("closed",), "cancelled": ("cancelled",), "any": ()}

_ROW = "_row"
"""Where a listed row keeps its paging position when that is not its id (inventory levels)."""

Route = Callable[[web.Request], Awaitable[web.Response]]


def errors(body: Any, status: int) -> web.Response:
    """An error in Shopify's shape: `{"errors": ...}`."""
    return json_response({"errors": body}, status=status)


def not_found() -> web.Response:
    """Shopify's 404."""
    return errors("Not Found", 404)


def _now() -> datetime:
    return datetime.now(UTC)


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
class ShopifyEmulator(Emulator):
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

    @property
    def shop(self) -> ShopState:
        """The shop's state."""
        return ShopState(self.db)

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
            ("GET", f"price_rules/{_ID}/discount_codes", self.list_discount_codes),
            ("POST", f"price_rules/{_ID}/discount_codes", self.create_discount_code),
            ("GET", "discount_codes/lookup", self.lookup_discount_code),
            ("GET", "webhooks", self.list_webhooks),
            ("POST", "webhooks", self.create_webhook),
        ]
        for method, resource, route in routes:
            app.router.add_route(method, f"{_PREFIX}/{resource}.json", route)

    # Seeding.

    def seed(self, estate: Estate) -> None:
        """Locations (the web shop's first), one product per estate product at its web price,
        stock per location in whole units, and each estate customer's shop view."""
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
    def _seed_product(estate: Estate, product: Any, index: int, at: str) -> tuple[Body, VariantRow]:
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
    def _seed_customer(view: Any, at: str) -> tuple[Body, str | None]:
        fields = customer_from_canonical(view)
        stamp = shapes.timestamp(view.updated_at) if view.updated_at else at
        customer = shapes.customer_resource(fields, stamp)
        customer["created_at"] = stamp
        addresses = [
            shapes.address_resource(a, customer["id"] + i, customer, default=i == 0)
            for i, a in enumerate(fields.get("addresses", []))
        ]
        email = customer.get("email")
        return shapes.with_addresses(customer, addresses), email.lower() if email else None

    # Helpers.

    async def _root(self, request: web.Request, root: str) -> Body | web.Response:
        """The object under `root` in the request body, or Shopify's 400 for a missing one."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get(root), dict):
            return errors({root: "Required parameter missing or invalid"}, 400)
        found: Body = body[root]
        return found

    def _emit(self, topic: str, resource: Body) -> None:
        """Send `resource` to the addresses subscribed to `topic`."""
        addresses = [
            hook["address"] for hook in self.shop.page("webhook", 0, 1000) if hook["topic"] == topic
        ]
        if addresses:
            self.webhooks.send(topic, addresses, resource)

    def _paged(
        self,
        request: web.Request,
        key: str,
        fetch: Callable[[int, int, dict[str, Any]], list[Body]],
        filters: dict[str, Any],
        cursor_of: Callable[[Body], int] = lambda body: int(body["id"]),
    ) -> web.Response:
        """A list page with Shopify's Link header; `page_info` carries the first call's filters."""
        query = request.query
        try:
            limit = page_limit(query.get("limit"))
            after = 0
            if "page_info" in query:
                if set(query) - {"page_info", "limit", "fields"}:
                    return errors({"page_info": ["cannot be combined with filters"]}, 400)
                after, filters = decode_cursor(query["page_info"])
        except BadCursor:
            return errors({"page_info": ["is invalid"]}, 400)
        rows = fetch(after, limit + 1, filters)
        more = len(rows) > limit
        page = [{k: v for k, v in row.items() if k != _ROW} for row in rows[:limit]]
        fields = query.get("fields")
        if fields:
            wanted = {f.strip() for f in fields.split(",")}
            page = [{k: v for k, v in row.items() if k in wanted} for row in page]
        headers = {}
        if more:
            cursor = encode_cursor(cursor_of(rows[limit - 1]), filters)
            headers["Link"] = next_link(request.url, limit, cursor, fields)
        return json_response({key: page}, headers=headers)

    # Orders.

    async def list_orders(self, request: web.Request) -> web.Response:
        """`GET /orders.json`: open orders unless `status` says otherwise, by id."""
        status = request.query.get("status", "open")
        if status not in _STATUS_FILTERS:
            return errors({"status": ["is not included in the list"]}, 400)
        since = request.query.get("updated_at_min")
        filters: dict[str, Any] = {"statuses": list(_STATUS_FILTERS[status])}
        if since is not None:
            try:
                filters["updated_us_min"] = shapes.micros(datetime.fromisoformat(since))
            except ValueError:
                return errors({"updated_at_min": ["is invalid"]}, 400)
        return self._paged(
            request,
            "orders",
            lambda after, limit, f: self.shop.page(
                "order",
                after,
                limit,
                statuses=f["statuses"],
                updated_us_min=f.get("updated_us_min"),
            ),
            filters,
        )

    async def get_order(self, request: web.Request) -> web.Response:
        """`GET /orders/{id}.json`."""
        order = self.shop.get("order", int(request.match_info["id"]))
        return not_found() if order is None else json_response({"order": order})

    async def create_order(self, request: web.Request) -> web.Response:
        """`POST /orders.json`: an order for variants, linked to a customer by id or email."""
        fields = await self._root(request, "order")
        if isinstance(fields, web.Response):
            return fields
        shop = self.shop
        asked = fields.get("line_items") or []
        if not asked:
            return errors({"line_items": ["must have at least one line item"]}, 422)
        with self.db:
            order_id = shop.next_id()
            items = []
            for request_line in asked:
                variant = shop.variant(int(request_line.get("variant_id") or 0))
                quantity = request_line.get("quantity")
                if variant is None or not isinstance(quantity, int) or quantity < 1:
                    self.db.rollback()
                    return errors({"line_items": ["variant or quantity is invalid"]}, 422)
                product = shop.get("product", variant.product_id) or {}
                sold = next(v for v in product["variants"] if v["id"] == variant.id)
                items.append(
                    orders.SoldItem(
                        sold, product, quantity, Decimal(variant.tax_rate), shop.next_id()
                    )
                )
            customer = self._order_customer(fields)
            number = 1001 + len(shop.page("order", 0, 1_000_000))
            at = _now()
            stamp = shapes.timestamp(at)
            order = orders.order_resource(fields, order_id, number, items, customer, stamp)
            transactions = fields.get("transactions")
            if transactions is None and order["financial_status"] == "paid":
                transactions = [
                    {"kind": "sale", "status": "success", "amount": order["total_price"]}
                ]
            for transaction in transactions or []:
                made = orders.transaction_resource(
                    {"amount": order["total_price"], **transaction}, shop.next_id(), order_id, stamp
                )
                shop.put("transaction", made, parent_id=order_id)
            shop.put("order", order, status="open", updated_us=shapes.micros(at))
            if customer is not None:
                self._count_order(customer, order)
        self._emit("orders/create", order)
        return json_response({"order": order}, status=201)

    def _order_customer(self, fields: Mapping[str, Any]) -> Body | None:
        wanted = fields.get("customer") or {}
        if isinstance(wanted, Mapping) and wanted.get("id"):
            return self.shop.get("customer", int(wanted["id"]))
        email = fields.get("email") or (
            wanted.get("email") if isinstance(wanted, Mapping) else None
        )
        return self.shop.find("customer", str(email).lower()) if email else None

    def _count_order(self, customer: Body, order: Body) -> None:
        spent = Decimal(customer.get("total_spent") or "0") + Decimal(order["total_price"])
        updated = {
            **customer,
            "orders_count": int(customer.get("orders_count") or 0) + 1,
            "total_spent": shapes.money(spent),
            "last_order_id": order["id"],
            "last_order_name": order["name"],
        }
        self.shop.put("customer", updated, lookup=_email_key(updated))

    async def cancel_order(self, request: web.Request) -> web.Response:
        """`POST /orders/{id}/cancel.json`."""
        order = self.shop.get("order", int(request.match_info["id"]))
        if order is None:
            return not_found()
        if order["cancelled_at"] is not None:
            return errors({"base": ["Order has already been cancelled"]}, 422)
        at = _now()
        stamp = shapes.timestamp(at)
        order = {**order, "cancelled_at": stamp, "cancel_reason": "customer", "closed_at": stamp}
        order["updated_at"] = stamp
        with self.db:
            self.shop.put("order", order, status="cancelled", updated_us=shapes.micros(at))
        self._emit("orders/cancelled", order)
        self._emit("orders/updated", order)
        return json_response({"order": order})

    async def list_transactions(self, request: web.Request) -> web.Response:
        """`GET /orders/{id}/transactions.json`."""
        order_id = int(request.match_info["id"])
        if self.shop.get("order", order_id) is None:
            return not_found()
        return json_response({"transactions": self.shop.children("transaction", order_id)})

    async def list_refunds(self, request: web.Request) -> web.Response:
        """`GET /orders/{id}/refunds.json`."""
        order_id = int(request.match_info["id"])
        if self.shop.get("order", order_id) is None:
            return not_found()
        return json_response({"refunds": self.shop.children("refund", order_id)})

    async def create_refund(self, request: web.Request) -> web.Response:
        """`POST /orders/{id}/refunds.json`: lines checked against what is left to refund,
        money refunded against a parent transaction, restocked lines back on the shelf."""
        order_id = int(request.match_info["id"])
        shop = self.shop
        order = shop.get("order", order_id)
        if order is None:
            return not_found()
        fields = await self._root(request, "refund")
        if isinstance(fields, web.Response):
            return fields
        refunded: dict[int, int] = {}
        for earlier in shop.children("refund", order_id):
            for line in earlier["refund_line_items"]:
                refunded[line["line_item_id"]] = (
                    refunded.get(line["line_item_id"], 0) + line["quantity"]
                )
        at = _now()
        stamp = shapes.timestamp(at)
        with self.db:
            refund_id = shop.next_id()
            try:
                lines = orders.refund_lines(
                    order, fields.get("refund_line_items") or [], refunded, refund_id + 1
                )
                transactions = self._refund_transactions(fields, order, stamp)
            except orders.Refused as refusal:
                self.db.rollback()
                return errors(refusal.errors, 422)
            for _ in lines:
                shop.next_id()
            refund = orders.refund_resource(fields, refund_id, order_id, lines, transactions, stamp)
            shop.put("refund", refund, parent_id=order_id)
            order = self._refunded_order(order, refund, stamp)
            shop.put("order", order, status="open", updated_us=shapes.micros(at))
            restocked = self._restock(lines, stamp)
        self._emit("refunds/create", refund)
        self._emit("orders/updated", order)
        for level in restocked:
            self._emit("inventory_levels/update", level)
        return json_response({"refund": refund}, status=201)

    def _refund_transactions(self, fields: Body, order: Body, stamp: str) -> list[Body]:
        paid = {t["id"]: t for t in self.shop.children("transaction", order["id"])}
        made = []
        for asked in fields.get("transactions") or []:
            parent = paid.get(asked.get("parent_id"))
            if parent is None or parent["kind"] not in {"sale", "capture"}:
                raise orders.Refused(
                    {"transactions.parent_id": ["must be a successful sale or capture"]}
                )
            try:
                amount = Decimal(str(asked.get("amount")))
            except InvalidOperation:
                raise orders.Refused({"transactions.amount": ["is not a number"]}) from None
            if not 0 < amount <= Decimal(parent["amount"]):
                raise orders.Refused({"transactions.amount": ["must not exceed the amount paid"]})
            transaction = orders.transaction_resource(
                {**asked, "kind": "refund", "status": "success", "gateway": parent["gateway"]},
                self.shop.next_id(),
                order["id"],
                stamp,
            )
            self.shop.put("transaction", transaction, parent_id=order["id"])
            made.append(transaction)
        return made

    def _refunded_order(self, order: Body, refund: Body, stamp: str) -> Body:
        back = sum(
            (Decimal(t["amount"]) for r in [*order["refunds"], refund] for t in r["transactions"]),
            Decimal(0),
        )
        status = order["financial_status"]
        if back > 0:
            status = "refunded" if back >= Decimal(order["total_price"]) else "partially_refunded"
        return {
            **order,
            "refunds": [*order["refunds"], refund],
            "financial_status": status,
            "updated_at": stamp,
        }

    def _restock(self, lines: list[Body], stamp: str) -> list[Body]:
        restocked = []
        for line in lines:
            variant = self.shop.variant(int(line["line_item"]["variant_id"]))
            location = line.get("location_id")
            if line["restock_type"] == "no_restock" or variant is None or location is None:
                continue
            level = self.shop.level(variant.inventory_item_id, int(location))
            available = (level["available"] if level else 0) + int(line["quantity"])
            self.shop.set_levels([(variant.inventory_item_id, int(location), available, stamp)])
            restocked.append(
                shapes.inventory_level_resource(
                    self.shop.level(variant.inventory_item_id, int(location)) or {}
                )
            )
        return restocked

    # Customers.

    async def search_customers(self, request: web.Request) -> web.Response:
        """`GET /customers/search.json?query=email:...`: an exact email, or text in the email."""
        query = request.query.get("query", "").strip()
        limit = page_limit(request.query.get("limit"))
        if query.lower().startswith("email:"):
            email = query[len("email:") :].strip().strip('"').lower()
            found = [c for c in [self.shop.find("customer", email)] if c is not None]
        else:
            pattern = f"%{query.lower()}%" if query else None
            found = self.shop.page("customer", 0, limit, lookup_like=pattern)
        return json_response({"customers": found[:limit]})

    async def get_customer(self, request: web.Request) -> web.Response:
        """`GET /customers/{id}.json`."""
        customer = self.shop.get("customer", int(request.match_info["id"]))
        return not_found() if customer is None else json_response({"customer": customer})

    async def create_customer(self, request: web.Request) -> web.Response:
        """`POST /customers.json`; a taken email is refused with 422 as Shopify does."""
        fields = await self._root(request, "customer")
        if isinstance(fields, web.Response):
            return fields
        refusal = self._check_customer(fields, None)
        if refusal is not None:
            return refusal
        with self.db:
            at = shapes.timestamp(_now())
            customer = shapes.customer_resource({**fields, "id": self.shop.next_id()}, at)
            customer = self._with_addresses(customer, fields.get("addresses") or [])
            self.shop.put("customer", customer, lookup=_email_key(customer))
        self._emit("customers/create", customer)
        return json_response({"customer": customer}, status=201)

    async def update_customer(self, request: web.Request) -> web.Response:
        """`PUT /customers/{id}.json`: fields sent replace Shopify's; addresses with an id are
        updated, those without are added."""
        customer_id = int(request.match_info["id"])
        existing = self.shop.get("customer", customer_id)
        if existing is None:
            return not_found()
        fields = await self._root(request, "customer")
        if isinstance(fields, web.Response):
            return fields
        refusal = self._check_customer(fields, customer_id)
        if refusal is not None:
            return refusal
        with self.db:
            customer = shapes.customer_resource(fields, shapes.timestamp(_now()), existing)
            if "addresses" in fields:
                customer = self._with_addresses(customer, fields["addresses"] or [])
            self.shop.put("customer", customer, lookup=_email_key(customer))
        self._emit("customers/update", customer)
        return json_response({"customer": customer})

    def _check_customer(self, fields: Body, customer_id: int | None) -> web.Response | None:
        email = fields.get("email")
        if email is None:
            return None
        if not isinstance(email, str) or "@" not in email:
            return errors({"email": ["is invalid"]}, 422)
        holder = self.shop.find("customer", email.lower())
        if holder is not None and holder["id"] != customer_id:
            return errors({"email": ["has already been taken"]}, 422)
        return None

    def _with_addresses(self, customer: Body, asked: list[Body]) -> Body:
        held = {a["id"]: a for a in customer.get("addresses") or []}
        for address in asked:
            known = held.get(address.get("id"))
            merged = {**(known or {}), **address}
            address_id = known["id"] if known else self.shop.next_id()
            held[address_id] = shapes.address_resource(
                merged, address_id, customer, default=bool(merged.get("default"))
            )
        addresses = sorted(held.values(), key=lambda a: not a.get("default"))
        if addresses and not any(a.get("default") for a in addresses):
            addresses[0] = {**addresses[0], "default": True}
        return shapes.with_addresses(customer, addresses)

    # Products and variants.

    async def list_products(self, request: web.Request) -> web.Response:
        """`GET /products.json`, with `fields` to thin the answer."""
        return self._paged(
            request, "products", lambda after, limit, f: self.shop.page("product", after, limit), {}
        )

    async def get_product(self, request: web.Request) -> web.Response:
        """`GET /products/{id}.json`."""
        product = self.shop.get("product", int(request.match_info["id"]))
        return not_found() if product is None else json_response({"product": product})

    async def create_product(self, request: web.Request) -> web.Response:
        """`POST /products.json`: the product and its variants, each stocked at 0 at the
        shop's first location (the web shop's warehouse)."""
        fields = await self._root(request, "product")
        if isinstance(fields, web.Response):
            return fields
        if not str(fields.get("title") or "").strip():
            return errors({"title": ["can't be blank"]}, 422)
        with self.db:
            product = self._write_product({**fields, "id": self.shop.next_id()}, None)
        self._emit("products/create", product)
        return json_response({"product": product}, status=201)

    async def update_product(self, request: web.Request) -> web.Response:
        """`PUT /products/{id}.json`: variants sent with an id are updated, without one created,
        and variants left out are deleted, as in Shopify."""
        existing = self.shop.get("product", int(request.match_info["id"]))
        if existing is None:
            return not_found()
        fields = await self._root(request, "product")
        if isinstance(fields, web.Response):
            return fields
        own = {v["id"] for v in existing["variants"]}
        strangers = [
            v.get("id") for v in fields.get("variants") or [] if v.get("id") not in own | {None}
        ]
        if strangers:
            return errors(
                {"variants": [f"variant {strangers[0]} is not a variant of this product"]}, 422
            )
        with self.db:
            product = self._write_product(fields, existing)
        self._emit("products/update", product)
        return json_response({"product": product})

    def _write_product(self, fields: Body, existing: Body | None) -> Body:
        shop = self.shop
        at = shapes.timestamp(_now())
        product_id = int(existing["id"] if existing else fields["id"])
        held = {v["id"]: v for v in (existing or {}).get("variants", [])}
        asked = fields.get("variants")
        if asked is None:
            asked = list(held.values()) if held else [{}]
        variants, rows = [], []
        for position, wanted in enumerate(asked, start=1):
            known = held.get(wanted.get("id"))
            ids = {} if known else {"id": shop.next_id(), "inventory_item_id": shop.next_id()}
            variant = shapes.variant_resource({**wanted, **ids}, product_id, position, at, known)
            variants.append(variant)
            indexed = shop.variant(variant["id"])
            rows.append(
                VariantRow(
                    variant["id"],
                    product_id,
                    variant["inventory_item_id"],
                    variant["sku"],
                    indexed.tax_rate if indexed else "0.21",
                )
            )
            if known is None:
                first = shop.page("location", 0, 1)
                if first:
                    shop.set_levels([(variant["inventory_item_id"], first[0]["id"], 0, at)])
        shop.forget_variants(set(held) - {v["id"] for v in variants})
        shop.put_variants(rows)
        product = shapes.product_resource({**fields, "id": product_id}, variants, at, existing)
        shop.put("product", product)
        return product

    async def get_variant(self, request: web.Request) -> web.Response:
        """`GET /variants/{id}.json`."""
        found = self._variant(int(request.match_info["id"]))
        return not_found() if found is None else json_response({"variant": found[1]})

    async def update_variant(self, request: web.Request) -> web.Response:
        """`PUT /variants/{id}.json`: price, compare-at price, SKU, barcode."""
        found = self._variant(int(request.match_info["id"]))
        if found is None:
            return not_found()
        fields = await self._root(request, "variant")
        if isinstance(fields, web.Response):
            return fields
        for name in ("price", "compare_at_price"):
            value = fields.get(name)
            if value is None and name == "compare_at_price":
                continue
            if name in fields and not _is_amount(value):
                return errors({name: ["must be a number greater than or equal to 0"]}, 422)
        product, variant = found
        at = shapes.timestamp(_now())
        updated = shapes.variant_resource(fields, product["id"], variant["position"], at, variant)
        with self.db:
            variants = [updated if v["id"] == variant["id"] else v for v in product["variants"]]
            self.shop.put("product", {**product, "variants": variants, "updated_at": at})
            row = self.shop.variant(variant["id"])
            if row is not None:
                self.shop.put_variants(
                    [
                        VariantRow(
                            row.id,
                            row.product_id,
                            row.inventory_item_id,
                            updated["sku"],
                            row.tax_rate,
                        )
                    ]
                )
        return json_response({"variant": updated})

    def _variant(self, variant_id: int) -> tuple[Body, Body] | None:
        row = self.shop.variant(variant_id)
        product = self.shop.get("product", row.product_id) if row else None
        if product is None:
            return None
        variant = next((v for v in product["variants"] if v["id"] == variant_id), None)
        return None if variant is None else (product, variant)

    # Locations and inventory.

    async def list_locations(self, request: web.Request) -> web.Response:
        """`GET /locations.json`."""
        return json_response({"locations": self.shop.page("location", 0, 250)})

    async def list_inventory_levels(self, request: web.Request) -> web.Response:
        """`GET /inventory_levels.json?inventory_item_ids=&location_ids=` (one is required)."""
        filters: dict[str, Any] = {}
        for name in ("inventory_item_ids", "location_ids"):
            raw = request.query.get(name)
            if raw:
                try:
                    filters[name] = [int(v) for v in raw.split(",") if v.strip()]
                except ValueError:
                    return errors({name: ["is invalid"]}, 422)
        if not filters and "page_info" not in request.query:
            return errors({"base": ["inventory_item_ids or location_ids must be given"]}, 422)
        return self._paged(
            request,
            "inventory_levels",
            lambda after, limit, f: [
                {**shapes.inventory_level_resource(row), _ROW: row["rowid"]}
                for row in self.shop.levels(
                    f.get("inventory_item_ids", []), f.get("location_ids", []), after, limit
                )
            ],
            filters,
            cursor_of=lambda body: int(body[_ROW]),
        )

    async def set_inventory_level(self, request: web.Request) -> web.Response:
        """`POST /inventory_levels/set.json`: available stock at a location, absolute."""
        return await self._write_level(request, "available", absolute=True)

    async def adjust_inventory_level(self, request: web.Request) -> web.Response:
        """`POST /inventory_levels/adjust.json`: available stock moved by a delta."""
        return await self._write_level(request, "available_adjustment", absolute=False)

    async def _write_level(
        self, request: web.Request, field: str, *, absolute: bool
    ) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return errors({field: "Required parameter missing or invalid"}, 400)
        numbers: dict[str, int] = {}
        for name in ("inventory_item_id", "location_id", field):
            given = body.get(name)
            if not isinstance(given, int) or isinstance(given, bool):
                return errors({name: ["must be an integer"]}, 422)
            numbers[name] = given
        item, location, value = (numbers[k] for k in ("inventory_item_id", "location_id", field))
        if not self.shop.has_inventory_item(item) or self.shop.get("location", location) is None:
            return not_found()
        level = self.shop.level(item, location)
        if level is None and not absolute:
            return errors({"base": ["Inventory item is not stocked at the location"]}, 422)
        available = value if absolute else int(level["available"] if level else 0) + value
        at = shapes.timestamp(_now())
        with self.db:
            self.shop.set_levels([(item, location, available, at)])
        written = shapes.inventory_level_resource(self.shop.level(item, location) or {})
        self._emit("inventory_levels/update", written)
        return json_response({"inventory_level": written})

    # Price rules and discount codes.

    async def list_price_rules(self, request: web.Request) -> web.Response:
        """`GET /price_rules.json`."""
        return self._paged(
            request,
            "price_rules",
            lambda after, limit, f: self.shop.page("price_rule", after, limit),
            {},
        )

    async def get_price_rule(self, request: web.Request) -> web.Response:
        """`GET /price_rules/{id}.json`."""
        rule = self.shop.get("price_rule", int(request.match_info["id"]))
        return not_found() if rule is None else json_response({"price_rule": rule})

    async def create_price_rule(self, request: web.Request) -> web.Response:
        """`POST /price_rules.json`, with Shopify's required fields and a value that takes off."""
        fields = await self._root(request, "price_rule")
        if isinstance(fields, web.Response):
            return fields
        required = (
            "title",
            "target_type",
            "target_selection",
            "allocation_method",
            "value_type",
            "value",
            "customer_selection",
            "starts_at",
        )
        blank = {name: ["can't be blank"] for name in required if fields.get(name) in (None, "")}
        if blank:
            return errors(blank, 422)
        if not _is_amount(fields["value"], negative=True):
            return errors({"value": ["must be less than or equal to 0"]}, 422)
        with self.db:
            rule = shapes.price_rule_resource(fields, self.shop.next_id(), shapes.timestamp(_now()))
            self.shop.put("price_rule", rule, lookup=str(rule["title"]))
        return json_response({"price_rule": rule}, status=201)

    async def list_discount_codes(self, request: web.Request) -> web.Response:
        """`GET /price_rules/{id}/discount_codes.json`."""
        rule_id = int(request.match_info["id"])
        if self.shop.get("price_rule", rule_id) is None:
            return not_found()
        return json_response({"discount_codes": self.shop.children("discount_code", rule_id)})

    async def create_discount_code(self, request: web.Request) -> web.Response:
        """`POST /price_rules/{id}/discount_codes.json`; codes are unique in the shop."""
        rule_id = int(request.match_info["id"])
        if self.shop.get("price_rule", rule_id) is None:
            return not_found()
        fields = await self._root(request, "discount_code")
        if isinstance(fields, web.Response):
            return fields
        code = str(fields.get("code") or "").strip()
        if not code:
            return errors({"code": ["can't be blank"]}, 422)
        if self.shop.find("discount_code", code.upper()) is not None:
            return errors({"code": ["must be unique. Please try a different code."]}, 422)
        with self.db:
            made = shapes.discount_code_resource(
                code, self.shop.next_id(), rule_id, shapes.timestamp(_now())
            )
            self.shop.put("discount_code", made, parent_id=rule_id, lookup=code.upper())
        return json_response({"discount_code": made}, status=201)

    async def lookup_discount_code(self, request: web.Request) -> web.Response:
        """`GET /discount_codes/lookup.json?code=`: 303 to the code's own location."""
        found = self.shop.find("discount_code", request.query.get("code", "").strip().upper())
        if found is None:
            return not_found()
        version = request.match_info["version"]
        location = (
            f"/admin/api/{version}/price_rules/{found['price_rule_id']}"
            f"/discount_codes/{found['id']}.json"
        )
        return web.Response(status=303, headers={"Location": location})

    # Webhooks.

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
                str(topic), address, self.shop.next_id(), shapes.timestamp(_now()), API_VERSION
            )
            self.shop.put("webhook", hook, lookup=str(topic))
        return json_response({"webhook": hook}, status=201)


def _email_key(customer: Mapping[str, Any]) -> str | None:
    email = customer.get("email")
    return str(email).lower() if email else None


def _is_amount(value: Any, *, negative: bool = False) -> bool:
    """True for a decimal (string or number) of the right sign."""
    if isinstance(value, bool):
        return False
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return False
    return amount <= 0 if negative else amount >= 0
