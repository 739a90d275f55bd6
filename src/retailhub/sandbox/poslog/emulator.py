"""The POS estate's head-office store server, emulated: the item, price and promotion feed the
hub writes (`/pos/v1/...`, as `connectors/poslog/feed_client.py` describes it), and the till
simulator that rings up POSLog 6.0 journals on demand (`/_sandbox/tills/...`, never faulted),
applying the promotions head office published to the feed.

State (SQLite): the item file and the store prices, seeded from the estate; promotion versions;
the answers to idempotency keys; and the tills' receipt numbers, recent sales and journals.

Feed (bearer API key; errors `{"error": {"code", "message", "details": [{"field", "reason"}]}}`):
    POST /pos/v1/item-maintenance            {"MaintenanceID", "Items": [...]}, Idempotency-Key
    POST /pos/v1/price-changes               {"BatchID", "PriceChanges": [...]}, Idempotency-Key
    PUT  /pos/v1/promotions/{id}/versions/{n}  201 new, 200 same again, 409 changed
    GET  /pos/v1/promotions/{id}[/versions/{n}]  latest (or one) version; 404
    DELETE /pos/v1/promotions/{id}           withdraw every version: 204; 404 when none
    GET  /pos/v1/items[/{item_id}]           paged by page_size and NextPageToken
    GET  /pos/v1/prices?item_id=&store=      paged likewise
Tills (sandbox control, never faulted):
    POST /_sandbox/tills/run                 {"store", "count", "business_day"?, "seed"?,
                                              "hub_url"?, "drop_folder"?} -> 201 run summary
    GET|PUT /_sandbox/tills/config           default {"hub_url", "drop_folder"}
    GET  /_sandbox/tills/files[/{name}]      the journals written, as POSLog XML
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from retailhub.canonical.base import Channel
from retailhub.canonical.order import Order
from retailhub.canonical.promotion import Promotion
from retailhub.connectors.poslog.feed_mapping import (
    price_to_record,
    product_to_item,
    record_to_promotion,
)
from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.poslog.tills import (
    TillRun,
    TillSimulator,
    TillState,
    journal_name,
    push_to_hub,
    write_to_drop_folder,
)
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import CET, Estate, build_estate

API = "/pos/v1"
TILLS = "/_sandbox/tills"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS item (item_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS price (
    item_id TEXT NOT NULL, scope TEXT NOT NULL, effective TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (item_id, scope, effective));
CREATE TABLE IF NOT EXISTS promotion (
    promotion_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (promotion_id, version));
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, request TEXT NOT NULL, answer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS till_sequence (
    store TEXT NOT NULL, workstation TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (store, workstation));
CREATE TABLE IF NOT EXISTS till_sale (
    order_id TEXT PRIMARY KEY, store TEXT NOT NULL, position INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS till_file (
    name TEXT PRIMARY KEY, store TEXT NOT NULL, created_at TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS till_setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class FeedRefusal(Exception):
    """A request the store server refuses, with its status, code and faulty fields."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]]):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@register
class PoslogEmulator(Emulator):
    """The head-office POS store server and the estate's tills."""

    system = "poslog"
    schema = _SCHEMA
    max_body_bytes = 16 * 1024 * 1024

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self._estate: Estate | None = None

    def load(self, estate: Estate) -> None:
        """Seed from `estate` (once per seed) and keep it for the tills."""
        super().load(estate)
        self._estate = estate

    def seed(self, estate: Estate) -> None:
        """The item file and each store's prices, as head office last sent them."""
        self.db.executemany(
            "INSERT OR REPLACE INTO item (item_id, body) VALUES (?, ?)",
            [(p.sku, orjson.dumps(product_to_item(p)).decode()) for p in estate.products],
        )
        stores = [s.code for s in estate.stores if s.channel is Channel.STORE]
        rows = []
        for price in estate.prices:
            if price.channel is not Channel.STORE:
                continue
            for store in stores:
                record = price_to_record(price.model_copy(update={"store": store}))
                rows.append(_price_row(record))
        self.db.executemany(
            "INSERT OR REPLACE INTO price (item_id, scope, effective, body) VALUES (?, ?, ?, ?)",
            rows,
        )
        self.db.execute(
            "INSERT OR REPLACE INTO sandbox_meta (key, value) VALUES ('estate_year', ?)",
            (str(estate.year),),
        )

    def error_body(self, request: web.Request) -> Any:
        """The store server's error shape."""
        return _error_body("InternalError", "the store server failed to handle the request", [])

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(f"{API}/item-maintenance", self.item_maintenance)
        app.router.add_post(f"{API}/price-changes", self.price_changes)
        app.router.add_put(
            f"{API}/promotions/{{promotion_id}}/versions/{{version}}", self.put_version
        )
        app.router.add_get(
            f"{API}/promotions/{{promotion_id}}/versions/{{version}}", self.get_version
        )
        app.router.add_get(f"{API}/promotions/{{promotion_id}}", self.get_promotion)
        app.router.add_delete(f"{API}/promotions/{{promotion_id}}", self.withdraw_promotion)
        app.router.add_get(f"{API}/items", self.list_items)
        app.router.add_get(f"{API}/items/{{item_id}}", self.get_item)
        app.router.add_get(f"{API}/prices", self.list_prices)
        app.router.add_post(f"{TILLS}/run", self.run_tills)
        app.router.add_get(f"{TILLS}/config", self.get_till_config)
        app.router.add_put(f"{TILLS}/config", self.put_till_config)
        app.router.add_get(f"{TILLS}/files", self.list_journals)
        app.router.add_get(f"{TILLS}/files/{{name}}", self.get_journal)

    # The feed ---------------------------------------------------------------------------------

    async def item_maintenance(self, request: web.Request) -> web.Response:
        """Add or update item file records; a repeated Idempotency-Key replays the first answer."""

        def apply(body: dict[str, Any]) -> dict[str, Any]:
            items = _list(body, "Items")
            for i, item in enumerate(items):
                _require_text(item, "ItemID", f"$.Items[{i}]")
                _require_text(item, "Description", f"$.Items[{i}]")
            self.db.executemany(
                "INSERT OR REPLACE INTO item (item_id, body) VALUES (?, ?)",
                [(item["ItemID"], orjson.dumps(item).decode()) for item in items],
            )
            return {"MaintenanceID": body.get("MaintenanceID"), "ItemsApplied": len(items)}

        return await self._idempotent(request, apply)

    async def price_changes(self, request: web.Request) -> web.Response:
        """Record price changes, one per item, store (or zone) and effective time."""

        def apply(body: dict[str, Any]) -> dict[str, Any]:
            changes = _list(body, "PriceChanges")
            rows = []
            for i, change in enumerate(changes):
                at = f"$.PriceChanges[{i}]"
                _require_text(change, "ItemID", at)
                _require_decimal(change, "RegularSalesUnitPrice", at)
                if change.get("PromotionalSalesUnitPrice") is not None:
                    _require_decimal(change, "PromotionalSalesUnitPrice", at)
                _require_moment(change, "EffectiveDateTime", at)
                rows.append(_price_row(change))
            self.db.executemany(
                "INSERT OR REPLACE INTO price (item_id, scope, effective, body) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            return {"BatchID": body.get("BatchID"), "PriceChangesApplied": len(rows)}

        return await self._idempotent(request, apply)

    async def put_version(self, request: web.Request) -> web.Response:
        """Publish a promotion version: the same body again is a no-op, another body is refused."""
        try:
            _authorised(request)
            promotion_id = request.match_info["promotion_id"]
            version = _version(request.match_info["version"])
            body = await _json_object(request)
            if body.get("PromotionID") != promotion_id or body.get("Version") != version:
                raise FeedRefusal(
                    400,
                    "InvalidRequest",
                    "the body names another promotion version than the URL",
                    [{"field": "$.PromotionID", "reason": "must match the URL"}],
                )
            _require_moment(body, "EffectiveDateTime", "$")
            _require_moment(body, "ExpirationDateTime", "$")
            text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
            row = self.db.execute(
                "SELECT body FROM promotion WHERE promotion_id = ? AND version = ?",
                (promotion_id, version),
            ).fetchone()
            if row is not None:
                if row["body"] != text:
                    raise FeedRefusal(
                        409,
                        "VersionConflict",
                        f"promotion {promotion_id} version {version} is already published "
                        "with other content; publish a new version",
                        [],
                    )
                return json_response(body)
            with self.db:
                self.db.execute(
                    "INSERT INTO promotion (promotion_id, version, body) VALUES (?, ?, ?)",
                    (promotion_id, version, text),
                )
            return json_response(body, status=201)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def get_version(self, request: web.Request) -> web.Response:
        """One promotion version."""
        try:
            _authorised(request)
            row = self.db.execute(
                "SELECT body FROM promotion WHERE promotion_id = ? AND version = ?",
                (request.match_info["promotion_id"], _version(request.match_info["version"])),
            ).fetchone()
            return _found(row, "promotion version")
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def get_promotion(self, request: web.Request) -> web.Response:
        """The latest version of a promotion."""
        try:
            _authorised(request)
            row = self.db.execute(
                "SELECT body FROM promotion WHERE promotion_id = ? ORDER BY version DESC LIMIT 1",
                (request.match_info["promotion_id"],),
            ).fetchone()
            return _found(row, "promotion")
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def withdraw_promotion(self, request: web.Request) -> web.Response:
        """Withdraw a promotion: every version leaves the feed and the tills stop applying it."""
        try:
            _authorised(request)
            with self.db:
                gone = self.db.execute(
                    "DELETE FROM promotion WHERE promotion_id = ?",
                    (request.match_info["promotion_id"],),
                ).rowcount
            if not gone:
                raise FeedRefusal(404, "NotFound", "no such promotion", [])
            return web.Response(status=204)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def get_item(self, request: web.Request) -> web.Response:
        """One item file record."""
        try:
            _authorised(request)
            row = self.db.execute(
                "SELECT body FROM item WHERE item_id = ?", (request.match_info["item_id"],)
            ).fetchone()
            return _found(row, "item")
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def list_items(self, request: web.Request) -> web.Response:
        """The item file, by item id, a page at a time."""
        try:
            _authorised(request)
            size, offset = _page(request)
            rows = self.db.execute(
                "SELECT body FROM item ORDER BY item_id LIMIT ? OFFSET ?", (size + 1, offset)
            ).fetchall()
            return _page_response("Items", rows, size, offset)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def list_prices(self, request: web.Request) -> web.Response:
        """The price records of one item (and optionally one store), oldest effective first."""
        try:
            _authorised(request)
            item_id = request.query.get("item_id")
            if not item_id:
                raise FeedRefusal(
                    400,
                    "InvalidRequest",
                    "item_id is required",
                    [{"field": "item_id", "reason": "is missing"}],
                )
            size, offset = _page(request)
            store = request.query.get("store")
            rows = self.db.execute(
                "SELECT body FROM price WHERE item_id = ? AND (? IS NULL OR scope = ?) "
                "ORDER BY effective, scope LIMIT ? OFFSET ?",
                (item_id, store, store, size + 1, offset),
            ).fetchall()
            return _page_response("PriceChanges", rows, size, offset)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    async def _idempotent(self, request: web.Request, apply: Any) -> web.Response:
        """Run a batch write once per Idempotency-Key; a repeat replays the first answer."""
        try:
            _authorised(request)
            key = request.headers.get("Idempotency-Key", "").strip()
            if not key:
                raise FeedRefusal(
                    400,
                    "InvalidRequest",
                    "batch writes need an Idempotency-Key header",
                    [{"field": "Idempotency-Key", "reason": "is missing"}],
                )
            body = await _json_object(request)
            text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
            row = self.db.execute(
                "SELECT request, answer FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                if row["request"] != text:
                    raise FeedRefusal(
                        422,
                        "IdempotencyKeyReused",
                        f"Idempotency-Key {key} was used for another request",
                        [],
                    )
                return json_response(orjson.loads(row["answer"]))
            with self.db:
                answer = apply(body)
                self.db.execute(
                    "INSERT INTO idempotency (key, request, answer) VALUES (?, ?, ?)",
                    (key, text, orjson.dumps(answer).decode()),
                )
            return json_response(answer, status=201)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)

    # The tills --------------------------------------------------------------------------------

    async def run_tills(self, request: web.Request) -> web.Response:
        """Ring up `count` baskets at `store`; keep the journal and deliver it where configured."""
        try:
            body = await _json_object(request)
            settings = {**self._till_settings(), **body}
            store = str(settings.get("store", "AMS01"))
            count = settings.get("count", 20)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
                raise FeedRefusal(
                    400,
                    "InvalidRequest",
                    "count must be a whole number from 1 to 10000",
                    [{"field": "$.count", "reason": "must be 1..10000"}],
                )
            day = _business_day(settings.get("business_day"))
            estate = await self._estate_for_tills()
            if store not in {s.code for s in estate.stores if s.channel is Channel.STORE}:
                raise FeedRefusal(
                    400,
                    "InvalidRequest",
                    f"unknown store {store!r}",
                    [{"field": "$.store", "reason": "is not one of the estate's stores"}],
                )
            run = self._ring_up(estate, store, count, day, settings.get("seed"))
        except FeedRefusal as refusal:
            return _refusal_response(refusal)
        name = journal_name(run, day)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO till_file (name, store, created_at, body) "
                "VALUES (?, ?, ?, ?)",
                (name, store, datetime.now(UTC).isoformat(), run.poslog),
            )
        deliveries = await _deliver(run, name, settings)
        return json_response(
            {
                "store": store,
                "business_day": day.isoformat(),
                "file": name,
                "transactions": len(run.documents),
                "sales": run.sales,
                "cancelled": run.cancelled,
                "returns": run.returns,
                "control_transactions": run.control_transactions,
                "document_ids": [_document_id(d) for d in run.documents],
                "deliveries": deliveries,
            },
            status=201,
        )

    async def get_till_config(self, request: web.Request) -> web.Response:
        """Where till journals are delivered: `hub_url` (POST) and/or `drop_folder`."""
        return json_response(self._till_settings())

    async def put_till_config(self, request: web.Request) -> web.Response:
        """Set `hub_url` and/or `drop_folder` (null removes one)."""
        try:
            body = await _json_object(request)
        except FeedRefusal as refusal:
            return _refusal_response(refusal)
        with self.db:
            for name in ("hub_url", "drop_folder"):
                if name in body and body[name] is None:
                    self.db.execute("DELETE FROM till_setting WHERE key = ?", (name,))
                elif name in body:
                    self.db.execute(
                        "INSERT OR REPLACE INTO till_setting (key, value) VALUES (?, ?)",
                        (name, str(body[name])),
                    )
        return json_response(self._till_settings())

    async def list_journals(self, request: web.Request) -> web.Response:
        """The journals the tills wrote, newest first."""
        rows = self.db.execute(
            "SELECT name, store, created_at FROM till_file ORDER BY created_at DESC LIMIT 500"
        ).fetchall()
        return json_response({"files": [dict(row) for row in rows]})

    async def get_journal(self, request: web.Request) -> web.Response:
        """One journal as POSLog XML."""
        row = self.db.execute(
            "SELECT body FROM till_file WHERE name = ?", (request.match_info["name"],)
        ).fetchone()
        if row is None:
            return _refusal_response(FeedRefusal(404, "NotFound", "no such journal", []))
        return web.Response(body=row["body"], content_type="application/xml")

    def _live_promotions(self) -> list[Promotion]:
        """The latest version of every promotion head office sent, for the tills to apply."""
        rows = self.db.execute(
            "SELECT body FROM promotion AS p WHERE version = "
            "(SELECT max(version) FROM promotion WHERE promotion_id = p.promotion_id) "
            "ORDER BY promotion_id"
        ).fetchall()
        return [record_to_promotion(orjson.loads(row["body"])) for row in rows]

    def _till_settings(self) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM till_setting").fetchall()
        return {row["key"]: row["value"] for row in rows}

    async def _estate_for_tills(self) -> Estate:
        """The estate the state was seeded from (rebuilt once after a restart)."""
        if self._estate is None:
            seed = self.seeded_with()
            if seed is None:
                raise FeedRefusal(409, "NotSeeded", "the store server holds no estate yet", [])
            row = self.db.execute(
                "SELECT value FROM sandbox_meta WHERE key = 'estate_year'"
            ).fetchone()
            year = int(row["value"]) if row else None
            self._estate = await asyncio.to_thread(build_estate, seed, year)
        return self._estate

    def _ring_up(self, estate: Estate, store: str, count: int, day: date, seed: Any) -> TillRun:
        """Run the tills from the remembered state and remember where they ended."""
        state = TillState(
            sequences={
                (row["store"], row["workstation"]): row["last"]
                for row in self.db.execute("SELECT store, workstation, last FROM till_sequence")
            },
            sales={
                store: [
                    Order.model_validate_json(row["body"])
                    for row in self.db.execute(
                        "SELECT body FROM till_sale WHERE store = ? ORDER BY position", (store,)
                    )
                ]
            },
        )
        runs = int(self._till_settings().get("runs", "0"))
        chosen = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        simulator = TillSimulator(
            estate,
            promotions=self._live_promotions(),
            seed=chosen if chosen is not None else estate.seed * 1_000_003 + runs,
            state=state,
        )
        run = simulator.run(store, count, day)
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO till_sequence (store, workstation, last) VALUES (?, ?, ?)",
                [(s, w, last) for (s, w), last in state.sequences.items()],
            )
            self.db.execute("DELETE FROM till_sale WHERE store = ?", (store,))
            self.db.executemany(
                "INSERT INTO till_sale (order_id, store, position, body) VALUES (?, ?, ?, ?)",
                [
                    (order.order_id, store, n, order.model_dump_json())
                    for n, order in enumerate(state.sales.get(store, []))
                ],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO till_setting (key, value) VALUES ('runs', ?)",
                (str(runs + 1),),
            )
        return run


async def _deliver(run: TillRun, name: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Write the journal into the drop folder and/or POST it to the hub, reporting each outcome."""
    outcomes: list[dict[str, Any]] = []
    folder = settings.get("drop_folder")
    if folder:
        try:
            path = await asyncio.to_thread(write_to_drop_folder, Path(folder), name, run.poslog)
            outcomes.append({"target": str(path), "ok": True})
        except OSError as error:
            outcomes.append({"target": str(folder), "ok": False, "error": str(error)})
    url = settings.get("hub_url")
    if url:
        try:
            status = await push_to_hub(str(url), run.poslog)
            outcomes.append({"target": url, "ok": 200 <= status < 300, "status": status})
        except (OSError, TimeoutError, ValueError) as error:
            outcomes.append(
                {"target": url, "ok": False, "error": str(error) or type(error).__name__}
            )
    return outcomes


def _document_id(document: Any) -> str:
    return str(document.order_id if isinstance(document, Order) else document.return_id)


def _business_day(value: Any) -> date:
    if value is None:
        return datetime.now(CET).date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FeedRefusal(
            400,
            "InvalidRequest",
            "business_day is not a date",
            [{"field": "$.business_day", "reason": "must be yyyy-mm-dd"}],
        ) from None


def _price_row(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """Price records are keyed by item, store or zone, and effective moment (in UTC)."""
    if record.get("RetailStoreID"):
        scope = str(record["RetailStoreID"])
    elif record.get("PriceZone"):
        scope = f"zone:{record['PriceZone']}"
    else:
        scope = "*"
    effective = datetime.fromisoformat(str(record["EffectiveDateTime"])).astimezone(UTC).isoformat()
    return record["ItemID"], scope, effective, orjson.dumps(record).decode()


def _authorised(request: web.Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FeedRefusal(401, "Unauthorized", "a bearer API key is required", [])


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise FeedRefusal(
            400, "InvalidRequest", "the body is not JSON", [{"field": "$", "reason": "not JSON"}]
        ) from None
    if not isinstance(body, dict):
        raise FeedRefusal(
            400,
            "InvalidRequest",
            "the body is not a JSON object",
            [{"field": "$", "reason": "not an object"}],
        )
    return body


def _list(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FeedRefusal(
            400,
            "InvalidRequest",
            f"{name} must be a list of objects",
            [{"field": f"$.{name}", "reason": "must be a list of objects"}],
        )
    return value


def _require_text(record: dict[str, Any], name: str, at: str) -> None:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise FeedRefusal(
            400,
            "InvalidRequest",
            f"{at}.{name} is required",
            [{"field": f"{at}.{name}", "reason": "must be a non-empty string"}],
        )


def _require_decimal(record: dict[str, Any], name: str, at: str) -> None:
    value = record.get(name)
    try:
        ok = isinstance(value, str) and Decimal(value).is_finite() and Decimal(value) >= 0
    except InvalidOperation:
        ok = False
    if not ok:
        raise FeedRefusal(
            400,
            "InvalidRequest",
            f"{at}.{name} is not an amount",
            [{"field": f"{at}.{name}", "reason": "must be a non-negative decimal string"}],
        )


def _require_moment(record: dict[str, Any], name: str, at: str) -> None:
    value = record.get(name)
    try:
        ok = isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        ok = False
    if not ok:
        raise FeedRefusal(
            400,
            "InvalidRequest",
            f"{at}.{name} is not a date and time with an offset",
            [{"field": f"{at}.{name}", "reason": "must be ISO 8601 with an offset"}],
        )


def _version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise FeedRefusal(
            400,
            "InvalidRequest",
            "version must be a positive whole number",
            [{"field": "version", "reason": "not a positive integer"}],
        )
    return int(text)


def _page(request: web.Request) -> tuple[int, int]:
    size_text = request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
    token = request.query.get("page_token", "0")
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE or not token.isdigit():
        raise FeedRefusal(
            400,
            "InvalidRequest",
            f"page_size must be 1..{MAX_PAGE_SIZE} and page_token one this server returned",
            [{"field": "page_size", "reason": "out of range or bad token"}],
        )
    return int(size_text), int(token)


def _page_response(field: str, rows: list[Any], size: int, offset: int) -> web.Response:
    records = [orjson.loads(row["body"]) for row in rows[:size]]
    next_token = str(offset + size) if len(rows) > size else None
    return json_response({field: records, "NextPageToken": next_token})


def _found(row: Any, what: str) -> web.Response:
    if row is None:
        raise FeedRefusal(404, "NotFound", f"no such {what}", [])
    return json_response(orjson.loads(row["body"]))


def _error_body(code: str, message: str, details: list[dict[str, str]]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _refusal_response(refusal: FeedRefusal) -> web.Response:
    return json_response(
        _error_body(refusal.code, refusal.message, refusal.details), status=refusal.status
    )
