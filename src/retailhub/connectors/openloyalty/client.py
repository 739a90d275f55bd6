"""The Open Loyalty REST client: store-scoped paths under `/api/{storeCode}`, the permanent
API token in `X-AUTH-TOKEN` (or a JWT as `Authorization: Bearer`), page/perPage paging over
`{"items": [...], "total": {"all", "filtered"}}` lists, everything through JsonClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from retailhub.connectors.http import JsonClient, RequestRefused
from retailhub.resilience import Resilient

SYSTEM = "openloyalty"
PER_PAGE = 50
MAX_PAGES = 2000
"""A listing longer than this many pages is a runaway, not a ledger: stop rather than loop."""


class OpenLoyaltyClient:
    """Calls one Open Loyalty instance for one store code."""

    def __init__(
        self,
        base_url: str,
        resilient: Resilient,
        *,
        api_token: str | None = None,
        jwt: str | None = None,
        store_code: str = "DEFAULT",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if bool(api_token) == bool(jwt):
            raise ValueError("give Open Loyalty either an API token or a JWT")
        headers = {"X-AUTH-TOKEN": api_token} if api_token else {"Authorization": f"Bearer {jwt}"}
        self.http = JsonClient(SYSTEM, base_url, resilient, headers=headers, session=session)
        self.prefix = f"/api/{quote(store_code, safe='')}"

    def path(self, *parts: str) -> str:
        """The store-scoped path of a resource, each id part escaped."""
        return "/".join([self.prefix, *(quote(part, safe="") for part in parts)])

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET a resource's body."""
        return (await self.http.request("GET", path, params=params)).body

    async def get_or_none(self, path: str) -> Any:
        """GET a resource's body, or None when the platform has no such resource (404)."""
        try:
            return await self.get(path)
        except RequestRefused as refusal:
            if refusal.status == 404:
                return None
            raise

    async def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        """POST a document; `idempotent` when the platform refuses a repeat of it."""
        return (await self.http.request("POST", path, json=body, idempotent=idempotent)).body

    async def put(self, path: str, body: Any) -> Any:
        """PUT a document (a full replacement, safe to repeat)."""
        return (await self.http.request("PUT", path, json=body)).body

    async def items(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list, page by page, until a short page or the filtered total."""
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            body = await self.get(path, {**(params or {}), "page": page, "perPage": PER_PAGE})
            batch = body.get("items") or []
            for item in batch:
                yield item
            seen += len(batch)
            total = (body.get("total") or {}).get("filtered")
            if len(batch) < PER_PAGE or (isinstance(total, int) and seen >= total):
                return

    async def first(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any] | None:
        """The first item of a filtered list, in one small request (the checkout lookup)."""
        body = await self.get(path, {**params, "page": 1, "perPage": 1})
        batch = body.get("items") or []
        return batch[0] if batch else None

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()


def refused_field(refusal: RequestRefused) -> str | None:
    """The path of the field Open Loyalty refused (`transaction.header.documentNumber`)."""
    body = refusal.body
    if isinstance(body, dict):
        for error in body.get("errors") or []:
            if isinstance(error, dict) and isinstance(error.get("path"), str):
                return str(error["path"])
    return None
