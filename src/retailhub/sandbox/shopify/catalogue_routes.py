"""Products, variants, locations and inventory levels."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify import shapes
from retailhub.sandbox.shopify.api import (
    PAGING_ROW,
    ShopApi,
    errors,
    is_amount,
    not_found,
    now,
)
from retailhub.sandbox.shopify.state import Body, VariantRow

MAX_IDS_PER_FILTER = 50
"""How many ids Shopify takes in one `inventory_item_ids` or `location_ids` filter."""


class CatalogueRoutes(ShopApi):
    """Products, variants, locations and inventory levels."""

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
        at = shapes.timestamp(now())
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
            if name in fields and not is_amount(value):
                return errors({name: ["must be a number greater than or equal to 0"]}, 422)
        product, variant = found
        at = shapes.timestamp(now())
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
                if len(filters[name]) > MAX_IDS_PER_FILTER:
                    return errors({name: [f"accepts at most {MAX_IDS_PER_FILTER} ids"]}, 422)
        if not filters and "page_info" not in request.query:
            return errors({"base": ["inventory_item_ids or location_ids must be given"]}, 422)
        return self._paged(
            request,
            "inventory_levels",
            lambda after, limit, f: [
                {**shapes.inventory_level_resource(row), PAGING_ROW: row["rowid"]}
                for row in self.shop.levels(
                    f.get("inventory_item_ids", []), f.get("location_ids", []), after, limit
                )
            ],
            filters,
            cursor_of=lambda body: int(body[PAGING_ROW]),
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
        at = shapes.timestamp(now())
        with self.db:
            self.shop.set_levels([(item, location, available, at)])
        written = shapes.inventory_level_resource(self.shop.level(item, location) or {})
        self._emit("inventory_levels/update", written)
        return json_response({"inventory_level": written})
