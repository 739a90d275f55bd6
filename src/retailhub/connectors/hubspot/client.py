"""HubSpot's CRM v3 objects API as the connector calls it: a private app's bearer token, search
with filterGroups and `paging.next.after`, create, read and update; every call through JsonClient
under the system's resilience policy, refusals raised in HubSpot's own terms.

Followed: HubSpot's developer documentation at developers.hubspot.com: the CRM v3 objects
reference and contacts guide (records, create with associations, read, update), the error
responses page, and the CRM search guide (filters ANDed within a group, groups ORed; at most 200
per page; a search reaches 10,000 results). The tests check the shapes against retailhub's own
transcription of those pages (tests/connectors/hubspot/hubspot_crm_v3_schemas.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from retailhub.connectors.http import JsonClient, RequestRefused
from retailhub.resilience import ResiliencePolicy, Resilient

OBJECTS = "/crm/v3/objects"
PROPERTIES = "/crm/v3/properties"
SEARCH_PAGE_SIZE = 100
SEARCH_WINDOW = 10_000
"""HubSpot's search returns at most this many results for one query, however it is paged."""

Filter = Mapping[str, Any]


class HubSpotRefused(RequestRefused):
    """HubSpot refused a call: its category (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`, `CONFLICT`,
    ...), message and correlation id, which HubSpot support asks for."""

    def __init__(self, refused: RequestRefused, method: str, path: str) -> None:
        body = refused.body if isinstance(refused.body, Mapping) else {}
        self.category: str | None = body.get("category")
        self.hubspot_message: str = str(body.get("message") or refused.body)
        self.correlation_id: str | None = body.get("correlationId")
        super().__init__(refused.system, method, path, refused.status, refused.body)
        self.args = (
            f"hubspot refused {method} {path}: HTTP {refused.status} "
            f"{self.category or 'error'}: {self.hubspot_message}"
            + (f" (correlationId {self.correlation_id})" if self.correlation_id else ""),
        )


class HubSpotClient:
    """Calls one HubSpot portal's CRM objects API with a private app access token."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        policy: ResiliencePolicy,
        *,
        system: str = "hubspot",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.http = JsonClient(
            system,
            base_url,
            Resilient(system, policy),
            headers={"Authorization": f"Bearer {access_token}"},
            session=session,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.http.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        try:
            response = await self.http.request(
                method, path, json=json, params=params, idempotent=idempotent
            )
        except RequestRefused as refused:
            raise HubSpotRefused(refused, method, path) from None
        return response.body

    async def read(
        self, object_type: str, object_id: str, properties: Sequence[str]
    ) -> dict[str, Any] | None:
        """`GET /crm/v3/objects/{type}/{id}?properties=...`; None when HubSpot has no such object."""
        try:
            body: dict[str, Any] = await self._call(
                "GET",
                f"{OBJECTS}/{object_type}/{object_id}",
                params={"properties": ",".join(properties)},
            )
        except HubSpotRefused as refused:
            if refused.status == 404:
                return None
            raise
        return body

    async def create(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /crm/v3/objects/{type}` (properties and associations); not repeated on an
        ambiguous failure, since HubSpot takes no idempotency key: callers look up first."""
        created: dict[str, Any] = await self._call(
            "POST", f"{OBJECTS}/{object_type}", json=body, idempotent=False
        )
        return created

    async def batch_create(
        self, object_type: str, inputs: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/create` (at most 100 inputs): the created objects,
        in no promised order. All or nothing: one input HubSpot refuses refuses the batch. Not
        repeated on an ambiguous failure, as `create`."""
        answer: dict[str, Any] = await self._call(
            "POST",
            f"{OBJECTS}/{object_type}/batch/create",
            json={"inputs": [dict(item) for item in inputs]},
            idempotent=False,
        )
        results = answer.get("results")
        return results if isinstance(results, list) else []

    async def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        id_property: str | None = None,
    ) -> list[dict[str, Any]]:
        """`POST /crm/v3/objects/{type}/batch/read` (at most 100 ids, by `id_property` such as
        `email` when given): the objects found; ids HubSpot lacks are left out (its 207 answer
        lists them as errors). A read, so safe to repeat."""
        request: dict[str, Any] = {
            "inputs": [{"id": one} for one in ids],
            "properties": list(properties),
        }
        if id_property is not None:
            request["idProperty"] = id_property
        answer: dict[str, Any] = await self._call(
            "POST", f"{OBJECTS}/{object_type}/batch/read", json=request, idempotent=True
        )
        results = answer.get("results")
        return results if isinstance(results, list) else []

    async def update(
        self, object_type: str, object_id: str, properties: Mapping[str, str]
    ) -> dict[str, Any]:
        """`PATCH /crm/v3/objects/{type}/{id}`: setting the same values twice is harmless."""
        updated: dict[str, Any] = await self._call(
            "PATCH",
            f"{OBJECTS}/{object_type}/{object_id}",
            json={"properties": dict(properties)},
            idempotent=True,
        )
        return updated

    async def search(
        self,
        object_type: str,
        filter_groups: Sequence[Sequence[Filter]],
        properties: Sequence[str],
        *,
        sorts: Sequence[Mapping[str, str]] = (),
        after: str | None = None,
        limit: int = SEARCH_PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page of `POST /crm/v3/objects/{type}/search`; a search changes nothing, so it is
        safe to repeat."""
        request: dict[str, Any] = {
            "filterGroups": [{"filters": [dict(f) for f in group]} for group in filter_groups],
            "properties": list(properties),
            "sorts": [dict(s) for s in sorts],
            "limit": limit,
        }
        if after is not None:
            request["after"] = after
        page: dict[str, Any] = await self._call(
            "POST", f"{OBJECTS}/{object_type}/search", json=request, idempotent=True
        )
        return page

    async def define(self, path: str, definition: Mapping[str, Any]) -> bool:
        """Create a property or property group under `/crm/v3/properties`; False when one of
        that name exists already (409), so installing twice is harmless."""
        try:
            await self._call("POST", f"{PROPERTIES}/{path}", json=definition, idempotent=False)
        except HubSpotRefused as refused:
            if refused.status == 409:
                return False
            raise
        return True

    async def find_one(
        self, object_type: str, property_name: str, value: str, properties: Sequence[str]
    ) -> dict[str, Any] | None:
        """The first object whose `property_name` equals `value`, if any."""
        page = await self.search(
            object_type,
            [[{"propertyName": property_name, "operator": "EQ", "value": value}]],
            properties,
            limit=1,
        )
        results = page.get("results") or []
        return results[0] if results else None
