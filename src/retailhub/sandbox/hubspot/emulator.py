"""An emulated HubSpot portal: the CRM v3 objects API for contacts, notes and tickets (create,
batch create, read, update, search) and the properties API's create calls, with HubSpot's shapes, status
codes and error bodies, a private app bearer token, and a control route that makes coming calls
answer 429 with Retry-After.

Shapes follow HubSpot's CRM v3 objects documentation (SimplePublicObject,
CollectionResponseWithTotalSimplePublicObjectForwardPaging, Error): ids and property values are
strings, unset requested properties are null, `paging.next.after` is an offset string, and a
search reaches at most `search_window` results as HubSpot's does 10,000. `IN` filters take
`values` (text compared case-blind); `POST .../batch/create` takes up to 100 `inputs`, checks
them all before writing any, and answers 201 with `status` COMPLETE and the created `results`;
`POST .../batch/read` reads up to 100 by id or, for contacts, by `idProperty: email`, answering
200, or 207 with an OBJECT_NOT_FOUND error naming the ids it lacks.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from retailhub.canonical.customer import ConsentChannel, Customer
from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.hubspot.definitions import SCHEMA as PROPERTY_SCHEMA
from retailhub.sandbox.hubspot.definitions import STANDARD, PropertyCatalogue
from retailhub.sandbox.hubspot.errors import Refusal, hubspot_error, invalid_properties
from retailhub.sandbox.hubspot.store import (
    MODIFIED,
    SCHEMA,
    CrmObject,
    CrmStore,
    Filter,
    iso,
    matches,
    to_ms,
)
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import Estate

Handler = Callable[[web.Request], Awaitable[web.Response]]

ACCESS_TOKEN = "pat-sandbox-retailhub"
"""The private app token the emulated portal accepts (`Authorization: Bearer ...`)."""

READ_ONLY = frozenset(
    {"createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"}
)
REQUIRED = {"notes": ("hs_timestamp",), "tickets": ("subject", "hs_pipeline", "hs_pipeline_stage")}
PIPELINE_STAGES = {"0": frozenset({"1", "2", "3", "4"})}
ASSOCIATION_TYPES = {
    ("notes", "contacts"): 202,
    ("notes", "tickets"): 228,
    ("tickets", "contacts"): 16,
}
DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "notes": (),
    "tickets": ("subject", "content", "hs_pipeline", "hs_pipeline_stage"),
}
OPERATORS = frozenset(
    {"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
)
MAX_SEARCH_LIMIT = 200
MAX_BATCH_INPUTS = 100
"""HubSpot's batch endpoints take at most 100 inputs per call."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@register
class HubSpotEmulator(Emulator):
    """The `hubspot` system of the sandbox estate."""

    system = "hubspot"
    schema = SCHEMA + PROPERTY_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.search_window = 10_000
        """How many results one search reaches, however it is paged (HubSpot: 10,000)."""
        self.rate_limited_calls = 0
        self.rate_limit_spared = 0
        self.rate_limit_retry_after_s = 1.0
        self.rate_limits_served = 0

    @property
    def store(self) -> CrmStore:
        """The portal's objects."""
        return CrmStore(self.db)

    @property
    def catalogue(self) -> PropertyCatalogue:
        """The portal's property definitions."""
        return PropertyCatalogue(self.db)

    def error_body(self, request: web.Request) -> Any:
        return {
            "status": "error",
            "message": "internal error",
            "correlationId": str(uuid.uuid4()),
            "category": "INTERNAL_ERROR",
        }

    def seed(self, estate: Estate) -> None:
        """The connector's custom properties (as if it were installed), then one contact per
        estate customer from its CRM view, under its HubSpot id."""
        self.catalogue.install_connector(_now_ms())
        for n, customer in enumerate(estate.customers):
            contact = customer.crm_view
            moment = contact.updated_at
            created_ms = 0 if moment is None else int(moment.timestamp() * 1000)
            self.store.insert(
                "contacts",
                seed_properties(contact, national_phone=n % 2 == 0),
                created_ms,
                object_id=int(contact.identities["hubspot"]),
                created_ms=created_ms,
            )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put(f"{CONTROL_PREFIX}rate_limit", self._put_rate_limit)
        app.router.add_post(
            "/crm/v3/properties/{object_type}/groups", self._guarded(self.define_group)
        )
        app.router.add_post("/crm/v3/properties/{object_type}", self._guarded(self.define))
        base = "/crm/v3/objects/{object_type}"
        app.router.add_post(f"{base}/search", self._guarded(self.search))
        app.router.add_post(f"{base}/batch/create", self._guarded(self.batch_create))
        app.router.add_post(f"{base}/batch/read", self._guarded(self.batch_read))
        app.router.add_post(base, self._guarded(self.create))
        app.router.add_get(f"{base}/{{object_id}}", self._guarded(self.read))
        app.router.add_patch(f"{base}/{{object_id}}", self._guarded(self.update))

    def _guarded(self, handler: Handler) -> Handler:
        """The handler behind HubSpot's gates: rate limit, bearer token, known object type; a
        Refusal becomes an error in HubSpot's shape."""

        async def guarded(request: web.Request) -> web.Response:
            if self.rate_limit_spared > 0:
                self.rate_limit_spared -= 1
            elif self.rate_limited_calls > 0:
                self.rate_limited_calls -= 1
                self.rate_limits_served += 1
                response = hubspot_error(
                    429,
                    "RATE_LIMITS",
                    "You have reached your ten_secondly_rolling limit.",
                    errorType="RATE_LIMIT",
                    policyName="TEN_SECONDLY_ROLLING",
                )
                response.headers["Retry-After"] = f"{self.rate_limit_retry_after_s:g}"
                return response
            if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                return hubspot_error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0"
                    " authentication and you can find more details at"
                    " https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                )
            if request.match_info["object_type"] not in STANDARD:
                return hubspot_error(
                    400,
                    "VALIDATION_ERROR",
                    f"Unable to infer object type from: {request.match_info['object_type']}",
                )
            try:
                result: web.Response = await handler(request)
            except Refusal as refusal:
                return hubspot_error(
                    refusal.status, refusal.category, refusal.message, **refusal.extra
                )
            return result

        return guarded

    async def _put_rate_limit(self, request: web.Request) -> web.Response:
        """`{"requests": N, "retry_after_s": S, "after": K}`: after K more API calls, the next N
        answer 429 with `Retry-After: S`."""
        try:
            body = orjson.loads(await request.read())
            calls, wait = int(body["requests"]), float(body.get("retry_after_s", 1))
            spared = int(body.get("after", 0))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return json_response(
                {"error": 'send {"requests": N, "retry_after_s": S, "after": K}'}, status=400
            )
        self.rate_limited_calls, self.rate_limit_spared = max(0, calls), max(0, spared)
        self.rate_limit_retry_after_s = max(0.0, wait)
        return json_response({"requests": calls, "retry_after_s": wait, "after": spared})

    async def define_group(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/properties/{type}/groups`: 201 and the group, 409 when it exists."""
        body = await _json_object(request)
        with self.db:
            group = self.catalogue.define_group(request.match_info["object_type"], body)
        return json_response(group, status=201)

    async def define(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/properties/{type}`: 201 and the property, 409 when it exists."""
        body = await _json_object(request)
        with self.db:
            definition = self.catalogue.define(request.match_info["object_type"], body, _now_ms())
        return json_response(definition, status=201)

    async def read(self, request: web.Request) -> web.Response:
        """`GET /crm/v3/objects/{type}/{id}?properties=a,b`."""
        object_type = request.match_info["object_type"]
        item = self._existing(object_type, request.match_info["object_id"])
        return json_response(
            item.as_json(_wanted(request.query.getall("properties", []), object_type))
        )

    async def create(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/objects/{type}` with properties and associations: 201 and the object."""
        object_type = request.match_info["object_type"]
        body = await _json_object(request)
        properties = self._checked(object_type, body.get("properties"), creating=True)
        links = self._links(object_type, body.get("associations") or [])
        with self.db:
            item = self.store.insert(object_type, properties, _now_ms())
            for to_type, to_id, type_id in links:
                self.store.associate(object_type, item.id, to_type, to_id, type_id)
        return json_response(item.as_json(properties), status=201)

    async def batch_create(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/objects/{type}/batch/create` with `inputs` (properties and
        associations each): every input checked first, then all created in one transaction."""
        object_type = request.match_info["object_type"]
        inputs = (await _json_object(request)).get("inputs")
        if not isinstance(inputs, list) or not 0 < len(inputs) <= MAX_BATCH_INPUTS:
            raise Refusal(
                400, "VALIDATION_ERROR", f"inputs must list 1 to {MAX_BATCH_INPUTS} objects"
            )
        checked = []
        for item in inputs:
            if not isinstance(item, dict):
                raise Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: inputs are objects")
            properties = self._checked(object_type, item.get("properties"), creating=True)
            checked.append((properties, self._links(object_type, item.get("associations") or [])))
        started = _now_ms()
        results = []
        with self.db:
            for properties, links in checked:
                item = self.store.insert(object_type, properties, _now_ms())
                for to_type, to_id, type_id in links:
                    self.store.associate(object_type, item.id, to_type, to_id, type_id)
                results.append(item.as_json(properties))
        answer = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(_now_ms()),
        }
        return json_response(answer, status=201)

    async def batch_read(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/objects/{type}/batch/read` with `inputs` of `{"id"}`, `properties` and
        an optional `idProperty` (`email` for contacts)."""
        object_type = request.match_info["object_type"]
        body = await _json_object(request)
        inputs, by = body.get("inputs"), body.get("idProperty") or "hs_object_id"
        if not isinstance(inputs, list) or not 0 < len(inputs) <= MAX_BATCH_INPUTS:
            raise Refusal(
                400, "VALIDATION_ERROR", f"inputs must list 1 to {MAX_BATCH_INPUTS} objects"
            )
        if by not in ("hs_object_id", "email") or (by == "email" and object_type != "contacts"):
            raise Refusal(
                400, "VALIDATION_ERROR", f"{by} is not a unique property of {object_type}"
            )
        ids = [str((item or {}).get("id", "")) if isinstance(item, dict) else "" for item in inputs]
        wanted = _wanted(body.get("properties") or [], object_type)
        started, results, missing = _now_ms(), [], []
        for given in dict.fromkeys(ids):
            if by == "email":
                found_id = self.store.contact_id_by_email(given)
                item = None if found_id is None else self.store.get(object_type, found_id)
            else:
                item = self.store.get(object_type, int(given)) if given.isdigit() else None
            if item is None:
                missing.append(given)
            else:
                results.append(item.as_json(wanted))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(started),
            "completedAt": iso(_now_ms()),
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {object_type} objects, they may be deleted"
                    " or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
        return json_response(answer, status=207 if missing else 200)

    async def update(self, request: web.Request) -> web.Response:
        """`PATCH /crm/v3/objects/{type}/{id}`: given properties overwritten, "" clears one."""
        object_type = request.match_info["object_type"]
        current = self._existing(object_type, request.match_info["object_id"])
        body = await _json_object(request)
        properties = self._checked(object_type, body.get("properties"), current=current)
        with self.db:
            item = self.store.update(current, properties, _now_ms())
        return json_response(item.as_json(properties))

    async def search(self, request: web.Request) -> web.Response:
        """`POST /crm/v3/objects/{type}/search`: filterGroups, sorts, properties, limit, after."""
        object_type = request.match_info["object_type"]
        body = await _json_object(request)
        groups = _filter_groups(body.get("filterGroups") or [])
        limit, offset = _page(body, self.search_window)
        sorts = _sorts(body.get("sorts") or [])
        total, page = self._search_page(object_type, groups, sorts, limit, offset)
        wanted = _wanted(body.get("properties") or [], object_type)
        answer: dict[str, Any] = {
            "total": total,
            "results": [item.as_json(wanted) for item in page],
        }
        if offset + limit < total:
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return json_response(answer)

    def _search_page(
        self,
        object_type: str,
        groups: list[list[Filter]],
        sorts: list[tuple[str, bool]],
        limit: int,
        offset: int,
    ) -> tuple[int, list[CrmObject]]:
        """(total, page): in SQL for the change feed's query, else filtered and sorted here."""
        if len(sorts) == 1 and sorts[0][0] == MODIFIED[object_type]:
            paged = self.store.page_by_modified(object_type, groups, sorts[0][1], limit, offset)
            if paged is not None:
                return paged
        found = [
            item for item in self.store.candidates(object_type, groups) if matches(item, groups)
        ]
        found.sort(key=lambda item: item.id)
        for name, descending in reversed(sorts):
            found.sort(key=functools.partial(_sort_key, name=name), reverse=descending)
        return len(found), found[offset : offset + limit]

    def _existing(self, object_type: str, raw_id: str) -> CrmObject:
        item = self.store.get(object_type, int(raw_id)) if raw_id.isdigit() else None
        if item is None:
            raise Refusal(
                404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric."
            )
        return item

    def _checked(
        self,
        object_type: str,
        properties: Any,
        *,
        creating: bool = False,
        current: CrmObject | None = None,
    ) -> dict[str, str]:
        """Property values as HubSpot takes them: known names, strings (numbers and booleans
        are written as text), read-only ones ignored, emails valid and unique."""
        if not isinstance(properties, dict):
            raise Refusal(
                400, "VALIDATION_ERROR", "Invalid input JSON: properties must be an object"
            )
        accepted: dict[str, str] = {}
        problems: list[tuple[str, str, str]] = []
        writable = self.catalogue.writable(object_type)
        for name, value in properties.items():
            if name in READ_ONLY:
                continue
            if name not in writable:
                problems.append(
                    (name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
            elif isinstance(value, bool):
                accepted[name] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                accepted[name] = str(value)
            elif value is not None:
                problems.append((name, "INVALID_STRING", f"{value!r} is not a valid {name}"))
        problems += self.catalogue.problems(object_type, accepted)
        if problems:
            raise invalid_properties(*problems)
        if creating:
            missing = [n for n in REQUIRED.get(object_type, ()) if not accepted.get(n)]
            if missing:
                raise invalid_properties(
                    *((n, "REQUIRED", f"Property {n!r} is required") for n in missing)
                )
        self._check_values(object_type, accepted, current)
        return accepted

    def _check_values(
        self, object_type: str, accepted: dict[str, str], current: CrmObject | None
    ) -> None:
        own_id = None if current is None else current.id
        email = accepted.get("email")
        if object_type == "contacts" and email:
            if not _EMAIL.match(email.strip()):
                raise invalid_properties(
                    ("email", "INVALID_EMAIL", f"Email address {email} is invalid")
                )
            accepted["email"] = email.strip().lower()
            holder = self.store.contact_id_by_email(accepted["email"])
            if holder is not None and holder != own_id:
                raise Refusal(409, "CONFLICT", f"Contact already exists. Existing ID: {holder}")
        stage = accepted.get("hs_pipeline_stage")
        pipeline = accepted.get("hs_pipeline") or (
            current and current.properties.get("hs_pipeline")
        )
        if stage is not None and stage not in PIPELINE_STAGES.get(str(pipeline), frozenset()):
            raise invalid_properties(
                (
                    "hs_pipeline_stage",
                    "INVALID_OPTION",
                    f"{stage} was not one of the allowed options for pipeline {pipeline}",
                )
            )
        if "hs_timestamp" in accepted and to_ms(accepted["hs_timestamp"]) is None:
            raise invalid_properties(
                ("hs_timestamp", "INVALID_DATE", f"{accepted['hs_timestamp']} is not a date-time")
            )
        for unique in self.catalogue.unique(object_type):
            if not accepted.get(unique):
                continue
            holders = [
                item
                for item in self.store.candidates(object_type, [])
                if item.properties.get(unique) == accepted[unique] and item.id != own_id
            ]
            if holders:
                raise Refusal(
                    409,
                    "CONFLICT",
                    f"A {object_type[:-1]} with {unique} {accepted[unique]} already exists."
                    f" Existing ID: {holders[0].id}",
                )

    def _links(self, object_type: str, associations: Any) -> list[tuple[str, int, int]]:
        """Validated `associations` of a create: `[{"to": {"id"}, "types": [...]}]`."""
        if not isinstance(associations, list):
            raise Refusal(
                400, "VALIDATION_ERROR", "Invalid input JSON: associations must be a list"
            )
        links = []
        for association in associations:
            to_id = str(((association or {}).get("to") or {}).get("id", ""))
            types = (association or {}).get("types") or []
            for kind in types:
                type_id = kind.get("associationTypeId") if isinstance(kind, dict) else None
                to_type = next(
                    (
                        t
                        for (f, t), i in ASSOCIATION_TYPES.items()
                        if f == object_type and i == type_id
                    ),
                    None,
                )
                category = kind.get("associationCategory") if isinstance(kind, dict) else None
                if to_type is None or category != "HUBSPOT_DEFINED":
                    raise Refusal(
                        400,
                        "VALIDATION_ERROR",
                        f"{category}/{type_id} is not a valid association type from {object_type}",
                    )
                if not to_id.isdigit() or self.store.get(to_type, int(to_id)) is None:
                    raise Refusal(
                        400,
                        "VALIDATION_ERROR",
                        f"One or more associations are invalid: {to_type} {to_id} does not exist",
                    )
                links.append((to_type, int(to_id), ASSOCIATION_TYPES[(object_type, to_type)]))
        return links


def seed_properties(contact: Customer, *, national_phone: bool) -> dict[str, str]:
    """A contact's properties as a HubSpot portal would hold the estate's CRM view: phones as
    people type them (half national, `06 12345678`), the country spelled out for half."""
    properties: dict[str, str | None] = {
        "email": contact.primary_email,
        "firstname": contact.given_name,
        "lastname": contact.family_name,
        "retailhub_customer_id": contact.customer_id,
        "date_of_birth": contact.birth_date.isoformat() if contact.birth_date else None,
    }
    if contact.phones:
        properties["phone"] = _typed_phone(contact.phones[0], national=national_phone)
    if contact.addresses:
        address = contact.addresses[0]
        properties |= {
            "address": ", ".join(address.lines),
            "city": address.city,
            "zip": address.postal_code,
            "country": "Netherlands"
            if national_phone and address.country == "NL"
            else address.country,
        }
    consent = next((c for c in contact.consents if c.channel is ConsentChannel.EMAIL), None)
    if consent is not None:
        properties["retailhub_email_consent"] = "granted" if consent.granted else "withdrawn"
        properties["retailhub_email_consent_at"] = iso(int(consent.at.timestamp() * 1000))
    return {name: value for name, value in properties.items() if value is not None}


def _typed_phone(e164: str, *, national: bool) -> str:
    """A Dutch number as people type it at home (`06 12345678`); others stay international."""
    if national and e164.startswith("+31"):
        return f"0{e164[3]} {e164[4:]}"
    return e164


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Refusal(400, "VALIDATION_ERROR", f"Invalid input JSON on line 1: {error}") from None
    if not isinstance(body, dict):
        raise Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: expected an object")
    return body


def _wanted(requested: list[str], object_type: str) -> list[str]:
    """Requested property names (comma-separated or repeated, as HubSpot accepts both)."""
    names = [n.strip() for item in requested for n in str(item).split(",") if n.strip()]
    return names or list(DEFAULT_PROPERTIES[object_type])


def _filter_groups(raw: Any) -> list[list[Filter]]:
    if not isinstance(raw, list) or len(raw) > 5:
        raise Refusal(400, "VALIDATION_ERROR", "filterGroups must be a list of at most 5 groups")
    groups = []
    for group in raw:
        filters = (group or {}).get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > 6:
            raise Refusal(400, "VALIDATION_ERROR", "each filterGroup needs at most 6 filters")
        parsed = []
        for item in filters:
            operator = item.get("operator") if isinstance(item, dict) else None
            name = item.get("propertyName") if isinstance(item, dict) else None
            if operator not in OPERATORS or not isinstance(name, str):
                raise Refusal(
                    400, "VALIDATION_ERROR", f"Invalid filter: {orjson.dumps(item).decode()}"
                )
            if operator == "IN":
                values = item.get("values")
                if not isinstance(values, list) or not values:
                    raise Refusal(400, "VALIDATION_ERROR", f"IN on {name} needs a list of values")
                parsed.append(Filter(name, operator, values=tuple(str(v) for v in values)))
                continue
            value = item.get("value")
            parsed.append(Filter(name, operator, None if value is None else str(value)))
        groups.append(parsed)
    return groups


def _page(body: Mapping[str, Any], window: int) -> tuple[int, int]:
    """(limit, offset) of a search; HubSpot refuses pages past its result window."""
    limit, after = body.get("limit", 10), body.get("after", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_SEARCH_LIMIT:
        raise Refusal(400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    offset = int(after) if isinstance(after, int | str) and str(after).isdigit() else None
    if offset is None:
        raise Refusal(400, "VALIDATION_ERROR", f"after {after!r} is not a paging cursor")
    if offset + limit > window:
        raise Refusal(
            400,
            "VALIDATION_ERROR",
            f"Search results are limited to {window}: after + limit must not exceed it",
        )
    return limit, offset


def _sorts(raw: Any) -> list[tuple[str, bool]]:
    """`sorts` as (property, descending): objects with direction, or `"-name"` strings."""
    if not isinstance(raw, list):
        raise Refusal(400, "VALIDATION_ERROR", "sorts must be a list")
    sorts = []
    for item in raw:
        if isinstance(item, str):
            sorts.append((item.lstrip("-"), item.startswith("-")))
        elif isinstance(item, dict) and isinstance(item.get("propertyName"), str):
            sorts.append((item["propertyName"], item.get("direction") == "DESCENDING"))
        else:
            raise Refusal(400, "VALIDATION_ERROR", f"Invalid sort: {item!r}")
    return sorts


def _sort_key(item: CrmObject, *, name: str) -> tuple[int, int | str, int]:
    """Dates sort as instants, text case-blind; unset values last; ties by id."""
    value = item.properties.get(name)
    if value is None:
        return (1, "", item.id)
    moment = to_ms(value) if name.endswith("date") or name == "hs_timestamp" else None
    return (0, moment if moment is not None else value.lower(), item.id)
