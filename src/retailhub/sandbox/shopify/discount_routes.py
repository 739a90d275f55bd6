"""Price rules and their discount codes."""

from __future__ import annotations

from aiohttp import web

from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify import shapes
from retailhub.sandbox.shopify.api import (
    ShopApi,
    errors,
    is_amount,
    not_found,
    now,
)


class DiscountRoutes(ShopApi):
    """Price rules and their discount codes."""

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
        if not is_amount(fields["value"], negative=True):
            return errors({"value": ["must be less than or equal to 0"]}, 422)
        with self.db:
            rule = shapes.price_rule_resource(fields, self.shop.next_id(), shapes.timestamp(now()))
            self.shop.put("price_rule", rule, lookup=str(rule["title"]))
        return json_response({"price_rule": rule}, status=201)

    async def delete_price_rule(self, request: web.Request) -> web.Response:
        """`DELETE /price_rules/{id}.json`: the rule and its discount codes; 204, or 404."""
        with self.db:
            gone = self.shop.remove("price_rule", int(request.match_info["id"]))
        return web.Response(status=204) if gone else not_found()

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
                code, self.shop.next_id(), rule_id, shapes.timestamp(now())
            )
            self.shop.put("discount_code", made, parent_id=rule_id, lookup=code.upper())
        return json_response({"discount_code": made}, status=201)

    async def get_discount_code(self, request: web.Request) -> web.Response:
        """`GET /price_rules/{id}/discount_codes/{code_id}.json`."""
        code = self.shop.get("discount_code", int(request.match_info["code_id"]))
        if code is None or code["price_rule_id"] != int(request.match_info["id"]):
            return not_found()
        return json_response({"discount_code": code})

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
