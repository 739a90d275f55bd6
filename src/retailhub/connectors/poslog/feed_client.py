"""HTTP client of the head-office POS store server's feed API, every call through JsonClient.

Auth: `Authorization: Bearer <api key>`, as store servers issue head-office integrations.
Writes are safe to repeat, so they are sent `idempotent=True` and retried under the policy:

- item maintenance and price change batches carry an `Idempotency-Key` derived from their
  content; the store server answers a repeated key with the first answer and writes nothing;
- a promotion version is `PUT` at `/promotions/{id}/versions/{n}`: the same version again is a
  no-op, a different body under a published version is refused with 409 (versions are final);
- `DELETE /promotions/{id}` withdraws every version; a repeat finds nothing (404), which is done.

Reads page with `page_size` and the `NextPageToken` of the previous page.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from retailhub.connectors.http import JsonClient, RequestRefused
from retailhub.resilience import Resilient

API_PREFIX = "/pos/v1"
MAX_PAGES = 10_000


def content_key(kind: str, records: Any) -> str:
    """`<kind>-<sha256 of the records>`: the same batch always travels under the same key."""
    digest = hashlib.sha256(orjson.dumps(records, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{kind}-{digest[:32]}"


class PosFeedClient:
    """The store server's item, price and promotion feed endpoints."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        resilient: Resilient,
        *,
        client: JsonClient | None = None,
    ) -> None:
        self._http = client or JsonClient(
            "poslog", base_url, resilient, headers={"Authorization": f"Bearer {api_key}"}
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self._http.close()

    async def send_item_maintenance(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Add or update items in the POS item file (one batch, once per content)."""
        key = content_key("items", items)
        return await self._post_batch(
            "/item-maintenance", key, {"MaintenanceID": key, "Items": items}
        )

    async def send_price_changes(self, changes: list[dict[str, Any]]) -> dict[str, Any]:
        """Send price changes (one batch, once per content; each change once per effective time)."""
        key = content_key("prices", changes)
        return await self._post_batch(
            "/price-changes", key, {"BatchID": key, "PriceChanges": changes}
        )

    async def put_promotion_version(self, record: dict[str, Any]) -> dict[str, Any]:
        """Publish one promotion version; a repeat is a no-op, a changed repeat is refused (409)."""
        path = (
            f"{API_PREFIX}/promotions/{quote(str(record['PromotionID']), safe='')}"
            f"/versions/{int(record['Version'])}"
        )
        response = await self._http.request("PUT", path, json=record)
        return dict(response.body or {})

    async def delete_promotion(self, promotion_id: str) -> bool:
        """Take every version of a promotion off the feed; False when the feed had none (404)."""
        try:
            await self._http.request(
                "DELETE", f"{API_PREFIX}/promotions/{quote(promotion_id, safe='')}"
            )
        except RequestRefused as error:
            if error.status == 404:
                return False
            raise
        return True

    async def get_promotion(self, promotion_id: str) -> dict[str, Any] | None:
        """The latest version of a promotion on the feed, or None when the feed has none."""
        return await self._get_or_none(f"/promotions/{quote(promotion_id, safe='')}")

    async def get_item(self, item_id: str) -> dict[str, Any] | None:
        """One item file record, or None."""
        return await self._get_or_none(f"/items/{quote(item_id, safe='')}")

    async def get_prices(self, item_id: str, store: str | None = None) -> list[dict[str, Any]]:
        """Every price record of an item (optionally one store's), oldest effective time first."""
        params: dict[str, str | int] = {"item_id": item_id}
        if store is not None:
            params["store"] = store
        return [record async for record in self._pages("/prices", "PriceChanges", params)]

    async def items(self, page_size: int = 200) -> AsyncIterator[dict[str, Any]]:
        """The whole item file, page by page."""
        async for record in self._pages("/items", "Items", {"page_size": page_size}):
            yield record

    async def _post_batch(self, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.request(
            "POST",
            f"{API_PREFIX}{path}",
            json=body,
            headers={"Idempotency-Key": key},
            idempotent=True,
        )
        return dict(response.body or {})

    async def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            response = await self._http.request("GET", f"{API_PREFIX}{path}")
        except RequestRefused as error:
            if error.status == 404:
                return None
            raise
        return dict(response.body)

    async def _pages(
        self, path: str, field: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(MAX_PAGES):
            query = dict(params) if token is None else {**params, "page_token": token}
            response = await self._http.request("GET", f"{API_PREFIX}{path}", params=query)
            for record in response.body.get(field, []):
                yield record
            token = response.body.get("NextPageToken")
            if not token:
                return
        raise RuntimeError(f"{path} did not end after {MAX_PAGES} pages")
