"""Orders, their transactions and refunds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify import orders, shapes
from retailhub.sandbox.shopify.api import (
    ShopApi,
    email_key,
    errors,
    not_found,
    now,
)
from retailhub.sandbox.shopify.state import Body

_STATUS_FILTERS = {"open": ("open",), "closed": ("closed",), "cancelled": ("cancelled",), "any": ()}
"""Which stored order statuses each `status` filter of `GET /orders.json` lists."""


class OrderRoutes(ShopApi):
    """Orders, their transactions and refunds."""

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
            number = 1001 + shop.count("order")
            at = now()
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
            shop.put(
                "order", order, status=orders.order_status(order), updated_us=shapes.micros(at)
            )
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
        self.shop.put("customer", updated, lookup=email_key(updated))

    async def cancel_order(self, request: web.Request) -> web.Response:
        """`POST /orders/{id}/cancel.json`."""
        order = self.shop.get("order", int(request.match_info["id"]))
        if order is None:
            return not_found()
        if order["cancelled_at"] is not None:
            return errors({"base": ["Order has already been cancelled"]}, 422)
        at = now()
        stamp = shapes.timestamp(at)
        order = {**order, "cancelled_at": stamp, "cancel_reason": "customer", "closed_at": stamp}
        order["updated_at"] = stamp
        with self.db:
            self.shop.put(
                "order", order, status=orders.order_status(order), updated_us=shapes.micros(at)
            )
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
        at = now()
        stamp = shapes.timestamp(at)
        with self.db:
            refund_id = shop.next_id()
            asked = fields.get("refund_line_items") or []
            line_ids = [shop.next_id() for _ in asked]
            try:
                lines = orders.refund_lines(order, asked, refunded, line_ids)
                transactions = self._refund_transactions(fields, order, stamp)
            except orders.Refused as refusal:
                self.db.rollback()
                return errors(refusal.errors, 422)
            refund = orders.refund_resource(fields, refund_id, order_id, lines, transactions, stamp)
            shop.put("refund", refund, parent_id=order_id)
            order = self._refunded_order(order, refund, stamp)
            shop.put(
                "order", order, status=orders.order_status(order), updated_us=shapes.micros(at)
            )
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
