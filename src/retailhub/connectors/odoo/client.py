"""Odoo's JSON-2 external API as plain calls: one POST per ORM method, bearer API key, offset
paging, and Odoo's error objects turned into readable refusals.

Followed: "External JSON-2 API", Odoo 19.0 (odoo/documentation,
content/developer/reference/external_api.rst) and the controller behind it
(odoo/odoo, addons/web/controllers/json2.py):
- `POST /json/2/<model>/<method>` with a JSON object of the method's named arguments, plus
  `ids` for record methods and `context`; the answer is the method's JSON result (a
  recordset comes back as its list of ids).
- `Authorization: bearer <API key>`; `X-Odoo-Database` when the server hosts several
  databases; a `User-Agent` naming the software.
- Errors are `{name, message, arguments, context, debug}` with a 4xx/5xx status: 401 for a bad
  key, 404 for an unknown model or method, 422 for a UserError/ValidationError or arguments
  that do not bind, 500 otherwise.
- Every call is its own transaction; there is no idempotency key, so the connector looks a
  document up by the key it stores on it before creating it. Only reads (`search_read`,
  `read`) and absolute writes (`write`) are marked idempotent, so the policy never repeats a
  `create` or an action on its own. `create` takes a list of value dicts and answers their ids
  (`@api.model_create_multi`), in one transaction.
Paging is `search_read` with `limit`, `offset` and a total `order` (ending in `id`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import JsonClient, RequestRefused
from retailhub.resilience import Resilient

SYSTEM = "odoo"
DEFAULT_PAGE_SIZE = 200
USER_AGENT = "retailhub-odoo-connector"

Record = dict[str, Any]
Domain = list[Any]


class OdooRefused(RequestRefused):
    """Odoo refused a call (4xx): which model and method, the exception Odoo raised, and its
    message, e.g. `odoo.exceptions.ValidationError` or `werkzeug.exceptions.Unauthorized`."""

    def __init__(self, model: str, method: str, refusal: RequestRefused) -> None:
        body = refusal.body if isinstance(refusal.body, Mapping) else {}
        self.model, self.method = model, method
        self.exception = str(body.get("name") or "unknown")
        self.message = str(body.get("message") or refusal.body)
        self.system, self.status, self.body = refusal.system, refusal.status, refusal.body
        Exception.__init__(
            self,
            f"odoo refused {model}.{method} (HTTP {refusal.status}): {self.exception}:"
            f" {self.message}",
        )

    @property
    def unauthorized(self) -> bool:
        """True when the API key was refused: fix the credentials, do not retry."""
        return self.status == 401


class OdooClient:
    """Calls one Odoo database's JSON-2 API under the system's resilience policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        resilient: Resilient,
        *,
        database: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        headers = {"Authorization": f"bearer {api_key}", "User-Agent": USER_AGENT}
        if database:
            headers["X-Odoo-Database"] = database
        self._http = JsonClient(SYSTEM, base_url, resilient, headers=headers, session=session)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._http.close()

    async def call(
        self,
        model: str,
        method: str,
        *,
        ids: Sequence[int] = (),
        context: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        **arguments: Any,
    ) -> Any:
        """Run `model.method` with named `arguments` on `ids`; its JSON result."""
        body: dict[str, Any] = dict(arguments)
        if ids:
            body["ids"] = list(ids)
        if context:
            body["context"] = dict(context)
        try:
            response = await self._http.request(
                "POST", f"/json/2/{model}/{method}", json=body, idempotent=idempotent
            )
        except RequestRefused as refusal:
            raise OdooRefused(model, method, refusal) from refusal
        return response.body

    async def search_read(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        order: str = "id",
        limit: int | None = None,
        offset: int = 0,
        context: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        """One page of records matching `domain`, with `fields` (and `id`)."""
        arguments: dict[str, Any] = {"domain": domain, "fields": list(fields), "order": order}
        if limit is not None:
            arguments["limit"] = limit
        if offset:
            arguments["offset"] = offset
        result = await self.call(
            model, "search_read", context=context, idempotent=True, **arguments
        )
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise MappingError(model, None, "$", "search_read did not answer a list of records")
        return result

    async def search_read_all(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        order: str = "id",
        page_size: int = DEFAULT_PAGE_SIZE,
        context: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[list[Record]]:
        """Every matching record, a page at a time; a short page is the last one."""
        offset = 0
        while True:
            page = await self.search_read(
                model, domain, fields, order=order, limit=page_size, offset=offset, context=context
            )
            if page:
                yield page
            if len(page) < page_size:
                return
            offset += page_size

    async def create(
        self, model: str, values: Mapping[str, Any], *, context: Mapping[str, Any] | None = None
    ) -> int:
        """Create one record; its id."""
        [created] = await self.create_many(model, [values], context=context)
        return created

    async def create_many(
        self,
        model: str,
        values_list: Sequence[Mapping[str, Any]],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Create records in one call and one transaction (`@api.model_create_multi`: all of
        them or, when Odoo refuses one, none); their ids in the order of `values_list`."""
        result = await self.call(
            model, "create", vals_list=[dict(values) for values in values_list], context=context
        )
        if (
            not isinstance(result, list)
            or len(result) != len(values_list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in result)
        ):
            raise MappingError(
                model, None, "$", f"create of {len(values_list)} answered {result!r}, not ids"
            )
        return result

    async def read(
        self,
        model: str,
        ids: Sequence[int],
        fields: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        """The records `ids` with `fields` (and `id`), in the order of `ids`; Odoo answers
        MissingError (404) when one does not exist."""
        result = await self.call(
            model, "read", ids=ids, fields=list(fields), context=context, idempotent=True
        )
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise MappingError(model, None, "$", "read did not answer a list of records")
        return result

    async def read_back(self, model: str, record_id: int, fields: Sequence[str]) -> Record:
        """The record just written, read back with `fields` (Odoo computes names and totals);
        a MappingError when it is gone."""
        found = await self.search_read(model, [("id", "=", record_id)], fields, limit=1)
        if not found:
            raise MappingError(model, str(record_id), "$", "the record just written is gone")
        return found[0]

    async def write(
        self,
        model: str,
        ids: Sequence[int],
        values: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Set field values on records (absolute, so safe to repeat)."""
        await self.call(
            model, "write", ids=ids, vals=dict(values), context=context, idempotent=True
        )

    async def act(
        self,
        model: str,
        method: str,
        ids: Sequence[int],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a record action (`action_confirm`, `action_post`, `button_cancel`, ...)."""
        return await self.call(model, method, ids=ids, context=context)
