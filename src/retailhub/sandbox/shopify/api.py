"""What every group of emulated Shopify routes shares: the shop's state, Shopify's error
bodies, request roots, cursor paging and webhook emission."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from retailhub.sandbox.emulator import json_response
from retailhub.sandbox.shopify.delivery import WebhookSender
from retailhub.sandbox.shopify.paging import (
    BadCursor,
    decode_cursor,
    encode_cursor,
    next_link,
    page_limit,
)
from retailhub.sandbox.shopify.state import Body, ShopState

API_VERSION = "2024-10"
PAGING_ROW = "_row"
"""Where a listed row keeps its paging position when that is not its id (inventory levels)."""

Route = Callable[[web.Request], Awaitable[web.Response]]


def errors(body: Any, status: int) -> web.Response:
    """An error in Shopify's shape: `{"errors": ...}`."""
    return json_response({"errors": body}, status=status)


def not_found() -> web.Response:
    """Shopify's 404."""
    return errors("Not Found", 404)


def now() -> datetime:
    """The shop's clock, in UTC."""
    return datetime.now(UTC)


def email_key(customer: Mapping[str, Any]) -> str | None:
    """The lookup key of a customer: the email in lower case."""
    email = customer.get("email")
    return str(email).lower() if email else None


def is_amount(value: Any, *, negative: bool = False) -> bool:
    """True for a decimal (string or number) of the right sign."""
    if isinstance(value, bool):
        return False
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return False
    return amount <= 0 if negative else amount >= 0


class ShopApi:
    """The helpers every route group uses; the emulator supplies the state and the sender."""

    webhooks: WebhookSender

    if TYPE_CHECKING:

        @property
        def db(self) -> sqlite3.Connection:
            """The emulator's SQLite state."""

    @property
    def shop(self) -> ShopState:
        """The shop's state."""
        return ShopState(self.db)

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
        page = [{k: v for k, v in row.items() if k != PAGING_ROW} for row in rows[:limit]]
        fields = query.get("fields")
        if fields:
            wanted = {f.strip() for f in fields.split(",")}
            page = [{k: v for k, v in row.items() if k in wanted} for row in page]
        headers = {}
        if more:
            cursor = encode_cursor(cursor_of(rows[limit - 1]), filters)
            headers["Link"] = next_link(request.url, limit, cursor, fields)
        return json_response({key: page}, headers=headers)
