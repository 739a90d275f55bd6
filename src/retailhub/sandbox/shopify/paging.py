"""Shopify's cursor pagination: an opaque `page_info` that remembers the filters and where the
page ended, and the `Link` header that hands it to the client."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from yarl import URL

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


class BadCursor(ValueError):
    """A `page_info` this shop did not issue."""


def encode_cursor(after: int, filters: dict[str, Any]) -> str:
    """The `page_info` of the page after id `after`, under the first request's filters."""
    raw = orjson.dumps({"after": after, "filters": filters})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(page_info: str) -> tuple[int, dict[str, Any]]:
    """Where a page starts and the filters it keeps."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(page_info + "=" * (-len(page_info) % 4)))
        return int(data["after"]), dict(data["filters"])
    except (ValueError, KeyError, TypeError) as error:
        raise BadCursor(page_info) from error


def page_limit(value: str | None) -> int:
    """The page size asked for: 50 by default, at most 250."""
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as error:
        raise BadCursor(value) from error
    return max(1, min(limit, MAX_LIMIT))


def next_link(url: URL, limit: int, cursor: str, fields: str | None) -> str:
    """The Link header pointing at the next page (only `limit`, `page_info` and `fields` ride on
    a cursor, as Shopify requires)."""
    query = {"limit": str(limit), "page_info": cursor}
    if fields:
        query["fields"] = fields
    return f'<{url.with_query(query)}>; rel="next"'
