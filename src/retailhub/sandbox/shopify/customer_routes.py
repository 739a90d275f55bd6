"""Customers: search, read, create, update."""

from __future__ import annotations

from aiohttp import web

from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify import shapes
from retailhub.sandbox.shopify.api import (
    ShopApi,
    email_key,
    errors,
    not_found,
    now,
)
from retailhub.sandbox.shopify.paging import (
    page_limit,
)
from retailhub.sandbox.shopify.state import Body


class CustomerRoutes(ShopApi):
    """Customers: search, read, create, update."""

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
            at = shapes.timestamp(now())
            customer = shapes.customer_resource({**fields, "id": self.shop.next_id()}, at)
            customer = self._with_addresses(customer, fields.get("addresses") or [])
            self.shop.put("customer", customer, lookup=email_key(customer))
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
            customer = shapes.customer_resource(fields, shapes.timestamp(now()), existing)
            if "addresses" in fields:
                customer = self._with_addresses(customer, fields["addresses"] or [])
            self.shop.put("customer", customer, lookup=email_key(customer))
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
