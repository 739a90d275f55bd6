"""The Odoo emulator: the JSON-2 external API (`POST /json/2/<model>/<method>`) of Odoo 19 for
the models and methods the ERP connector calls.

Followed: "External JSON-2 API" (odoo/documentation, content/developer/reference/
external_api.rst, 19.0) and its controller `addons/web/controllers/json2.py` (odoo/odoo):
bearer API key (401 `werkzeug.exceptions.Unauthorized` "Invalid apikey" otherwise), optional
`X-Odoo-Database`, a JSON object of named arguments plus `ids` and `context`, 200 with the
method's JSON result, and errors as `{name, message, arguments, context, debug}` with the
exception's status: 404 for an unknown model or method, 422 for arguments that do not bind or
for ids given to a model method, 422 for UserError/ValidationError, 404 for MissingError, 500
for anything else (a ValueError from a bad domain or field included, as Odoo does).

Emulator-only control: `PUT /_sandbox/throttle {"requests": n, "retry_after_s": s}` makes the
next n calls answer 429 with Retry-After, as a rate-limited Odoo.sh or Odoo Online does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from retailhub.canonical.errors import Fault
from retailhub.sandbox.emulator import Emulator, json_response, problem_response
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.odoo import faults
from retailhub.sandbox.odoo.business import Business
from retailhub.sandbox.odoo.models import SCHEMA
from retailhub.sandbox.odoo.orm import Orm, model_of
from retailhub.sandbox.odoo.seeding import Seeder
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import Estate

SANDBOX_DATABASE = "retailhub"
SANDBOX_API_KEY = "sandbox-odoo-api-key-not-a-secret"
"""The sandbox's well-known credentials: it listens on loopback only and holds made-up data."""


@dataclass(frozen=True)
class Signature:
    """The named parameters an ORM method takes over JSON-2, and whether it runs on ids."""

    params: frozenset[str]
    required: tuple[str, ...] = ()
    on_records: bool = False


_GENERIC = {
    "search_read": Signature(frozenset({"domain", "fields", "offset", "limit", "order", "load"})),
    "search": Signature(frozenset({"domain", "offset", "limit", "order"})),
    "search_count": Signature(frozenset({"domain", "limit"})),
    "read": Signature(frozenset({"fields", "load"}), on_records=True),
    "create": Signature(frozenset({"vals_list"}), ("vals_list",)),
    "write": Signature(frozenset({"vals"}), ("vals",), on_records=True),
    "unlink": Signature(frozenset(), on_records=True),
}
_ACTION = Signature(frozenset(), on_records=True)


@register
class OdooEmulator(Emulator):
    """Odoo's JSON-2 API over the estate's item master, prices, stock and sales documents."""

    system = "odoo"
    schema = SCHEMA

    def __init__(
        self,
        state_dir: Path,
        *,
        api_key: str = SANDBOX_API_KEY,
        database: str = SANDBOX_DATABASE,
        clock: Callable[[], datetime] | None = None,
        deliver_on_confirm: bool = False,
    ) -> None:
        super().__init__(state_dir)
        self.api_key, self.database = api_key, database
        self.deliver_on_confirm = deliver_on_confirm
        self.clock = clock or (lambda: datetime.now(UTC))
        self._throttled, self._retry_after_s = 0, 0.0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/json/2/{model}/{method}", self.call)
        app.router.add_put(f"{CONTROL_PREFIX}throttle", self._throttle)
        app.router.add_put(f"{CONTROL_PREFIX}delivery", self._delivery)

    def seed(self, estate: Estate) -> None:
        Seeder(self._orm(), estate).run()

    def error_body(self, request: web.Request) -> Any:
        return faults.OdooFault(500, "builtins.RuntimeError", "internal server error").body()

    def _orm(self) -> Orm:
        return Orm(self.db, self.clock)

    async def call(self, request: web.Request) -> web.Response:
        """One JSON-2 call: authenticate, parse, bind and run in one transaction."""
        try:
            if self._throttled:
                self._throttled -= 1
                fault = faults.too_many_requests()
                return json_response(
                    fault.body(),
                    status=fault.status,
                    headers={"Retry-After": f"{self._retry_after_s:g}"},
                )
            if request.method != "POST":
                raise faults.not_found("Did you mean POST /json/2/<model>/<method>?")
            self._authenticate(request)
            body = await _json_object(request)
            with self.db:
                result = self._dispatch(
                    request.match_info["model"], request.match_info["method"], body
                )
        except faults.OdooFault as fault:
            return json_response(fault.body(), status=fault.status)
        except Exception as error:  # Odoo answers any other exception as a 500 error object
            crash = faults.OdooFault(500, f"builtins.{type(error).__name__}", str(error))
            return json_response(crash.body(), status=crash.status)
        return json_response(result)

    def _authenticate(self, request: web.Request) -> None:
        database = request.headers.get("X-Odoo-Database")
        if database is not None and database != self.database:
            raise faults.not_found(f"database {database!r} not found")
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise faults.unauthorized()

    def _dispatch(self, model_name: str, method: str, body: dict[str, Any]) -> Any:
        model = model_of(model_name)
        if method.startswith("_"):
            raise faults.not_found(
                f"Private methods (such as '{model_name}.{method}') cannot be called remotely."
            )
        signature = _GENERIC.get(method) or (_ACTION if method in model.actions else None)
        if signature is None:
            raise faults.not_found(f"The method '{model_name}.{method}' does not exist")
        ids = body.pop("ids", [])
        context = body.pop("context", {})
        if not isinstance(ids, list) or not isinstance(context, Mapping):
            raise faults.unprocessable("ids must be a list and context an object")
        if ids and not signature.on_records:
            raise faults.unprocessable(f"cannot call {model_name}.{method} with ids")
        for name in body:
            if name not in signature.params:
                raise faults.unprocessable(f"got an unexpected keyword argument {name!r}")
        for name in signature.required:
            if name not in body:
                raise faults.unprocessable(f"missing a required argument: {name!r}")
        return self._run(model_name, method, ids, context, body)

    def _run(
        self,
        model_name: str,
        method: str,
        ids: list[int],
        context: Mapping[str, Any],
        args: dict[str, Any],
    ) -> Any:
        orm = self._orm()
        model = model_of(model_name)
        business = Business(orm, deliver_on_confirm=self.deliver_on_confirm)
        if method in ("search_read", "search", "search_count"):
            found = orm.search(
                model,
                args.get("domain"),
                context,
                order=args.get("order"),
                limit=args.get("limit") or None,
                offset=args.get("offset") or 0,
            )
            if method == "search_count":
                return len(found)
            if method == "search":
                return found
            return orm.read(model, found, args.get("fields"))
        if method == "read":
            return orm.read(model, ids, args.get("fields"))
        if method == "create":
            vals_list = args["vals_list"]
            many = vals_list if isinstance(vals_list, list) else [vals_list]
            return [business.create(model_name, vals, context) for vals in many]
        if method == "write":
            business.write(model_name, ids, args["vals"], context)
            return True
        if method == "unlink":
            business.unlink(model_name, ids, context)
            return True
        return business.act(model_name, method, ids, context)

    async def _throttle(self, request: web.Request) -> web.Response:
        settings = orjson.loads(await request.read() or b"{}")
        self._throttled = int(settings.get("requests", 0))
        self._retry_after_s = float(settings.get("retry_after_s", 0))
        return json_response({"requests": self._throttled, "retry_after_s": self._retry_after_s})

    async def _delivery(self, request: web.Request) -> web.Response:
        """`PUT /_sandbox/delivery {"on_confirm": bool}`: whether confirming a sale order
        delivers its stocked goods at once (see `business`)."""
        try:
            settings = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            settings = None
        if not isinstance(settings, dict) or not isinstance(settings.get("on_confirm"), bool):
            return problem_response(
                "Invalid delivery settings", [Fault("$.on_confirm", "must be true or false")]
            )
        self.deliver_on_confirm = settings["on_confirm"]
        return json_response({"on_confirm": self.deliver_on_confirm})


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as JSON-2's dispatcher reads it: empty, or a JSON object."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise faults.bad_request(f"could not parse the body as json: {error}") from None
    if not isinstance(body, dict):
        raise faults.bad_request("could not parse the body, expecting a json object")
    return body
