"""An emulator of the Open Loyalty REST API subset the hub's loyalty connector uses, under
`/api/{storeCode}/`: members (register, update, find by card or email, read with point
counters), tiers, rewards, the product catalogue, earning rules, transactions (sale and return,
earning and reversing points by the rules; a sale simulated without recording it) and points
transfers (add, spend, block, spend what a block reserved, unblock, cancel, list). Auth by `X-AUTH-TOKEN` or a bearer JWT;
errors as `{"code", "message", "errors": [{"path", "message"}]}`; lists paged by `page` and
`perPage` as `{"items": [...], "total": {"all", "filtered"}}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
from aiohttp import web

from retailhub.sandbox.emulator import Emulator, json_response
from retailhub.sandbox.openloyalty.earning import RULE_TYPES, EarningRule
from retailhub.sandbox.openloyalty.ledger import (
    ADDING,
    BLOCKED,
    SPENDING,
    Refusal,
    add_transfer,
    cancel_transfer,
    register_transaction,
    simulate_sale,
    spend_blocked,
)
from retailhub.sandbox.openloyalty.members import (
    put_product,
    register_member,
    reward,
    update_member,
)
from retailhub.sandbox.openloyalty.state import SCHEMA, new_id, next_seq, seed_estate
from retailhub.sandbox.runner import register
from retailhub.sandbox.seed import Estate

SANDBOX_TOKEN = "sandbox-openloyalty-token"
"""The permanent API token the sandbox accepts in `X-AUTH-TOKEN`."""
STORE_CODE = "DEFAULT"
MAX_PER_PAGE = 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str, path: str | None = None) -> web.Response:
    """An error in the platform's shape."""
    body: dict[str, Any] = {"code": status, "message": message}
    if path is not None:
        body["errors"] = [{"path": path, "message": message}]
    return json_response(body, status=status)


def _page(request: web.Request) -> tuple[int, int]:
    """`page` (from 1) and `perPage` (default 10, at most 100) from the query."""
    try:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("perPage", "10"))
    except ValueError:
        raise Refusal(400, "page and perPage must be whole numbers.", "page") from None
    if page < 1 or per_page < 1:
        raise Refusal(400, "page and perPage start at 1.", "page")
    return page, min(per_page, MAX_PER_PAGE)


async def _json_body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise Refusal(400, "The body is not valid JSON.") from None


def _without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """The platform's serializer leaves out fields that hold nothing."""
    return {key: value for key, value in document.items() if value is not None}


def _member(row: Any, levels: dict[str, str]) -> dict[str, Any]:
    """A member as the platform returns one, with its point counters."""
    return _without_nulls(
        {
            "memberId": row["member_id"],
            "active": bool(row["active"]),
            "firstName": row["first_name"],
            "lastName": row["last_name"],
            "email": row["email"],
            "phone": row["phone"],
            "loyaltyCardNumber": row["card"] or None,
            "levelId": row["level_id"],
            "currentLevel": {"levelId": row["level_id"], "name": levels.get(row["level_id"])},
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "activePoints": row["active_points"],
            "lockedPoints": row["locked_points"],
            "blockedPoints": row["blocked_points"],
            "earnedPoints": row["earned_points"],
            "spentPoints": row["spent_points"],
        }
    )


def _transfer(row: Any) -> dict[str, Any]:
    """A points transfer as the platform lists it."""
    return _without_nulls(
        {
            "transferId": row["transfer_id"],
            "memberId": row["member_id"],
            "type": row["type"],
            "state": row["state"],
            "value": row["value"],
            "comment": row["comment"],
            "transactionId": row["transaction_id"],
            "transactionDocumentNumber": row["document_number"],
            "earningRuleId": row["earning_rule_id"],
            "createdAt": row["created_at"],
            "cancelled": row["state"] == "canceled",
        }
    )


def _transaction(row: Any) -> dict[str, Any]:
    """A transaction as registered, with the member it matched and the points it moved."""
    body = orjson.loads(row["body"])
    return {
        "transactionId": row["transaction_id"],
        "header": body.get("header", {}),
        "items": body.get("items", []),
        "customerData": body.get("customerData", {}),
        "customerId": row["member_id"],
        "matched": row["member_id"] is not None,
        "pointsEarned": row["points_earned"],
    }


def _rule(row: Any) -> dict[str, Any]:
    return {"earningRuleId": row["rule_id"], **orjson.loads(row["body"])}


@register
class OpenLoyaltyEmulator(Emulator):
    """Open Loyalty: members, tiers, earning rules, transactions and points transfers."""

    system: ClassVar[str] = "openloyalty"
    schema: ClassVar[str] = SCHEMA

    def __init__(self, state_dir: Path, token: str = SANDBOX_TOKEN) -> None:
        super().__init__(state_dir)
        self.token = token
        self._rules: list[EarningRule] | None = None
        self._levels: dict[str, str] | None = None
        # The API adds no members, so the till's lookups count them once.
        self._members: int | None = None

    def seed(self, estate: Estate) -> None:
        seed_estate(self.db, estate)

    def error_body(self, request: web.Request) -> Any:
        return {"code": 500, "message": "Internal Server Error"}

    def add_routes(self, app: web.Application) -> None:
        api = "/api/{storeCode}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/member", self.list_members),
            ("POST", "/member", self.register_member),
            ("GET", "/member/{member}", self.get_member),
            ("PUT", "/member/{member}", self.update_member),
            ("GET", "/tier", self.list_tiers),
            ("GET", "/reward", self.list_rewards),
            ("GET", "/product/{sku}", self.get_product),
            ("PUT", "/product/{sku}", self.put_product),
            ("GET", "/earningRule", self.list_rules),
            ("POST", "/earningRule", self.create_rule),
            ("GET", "/earningRule/{rule}", self.get_rule),
            ("PUT", "/earningRule/{rule}", self.update_rule),
            ("GET", "/transaction", self.list_transactions),
            ("POST", "/transaction", self.create_transaction),
            ("POST", "/transaction/simulate", self.simulate_transaction),
            ("GET", "/transaction/{transaction}", self.get_transaction),
            ("GET", "/points/transfer", self.list_transfers),
            ("GET", "/points/transfer/{transfer}", self.get_transfer),
            ("POST", "/points/add", self.add_points),
            ("POST", "/points/spend", self.spend_points),
            ("POST", "/points/block", self.block_points),
            ("POST", "/points/transfer/{transfer}/cancel", self.cancel),
            ("POST", "/points/transfer/{transfer}/unblock", self.unblock),
            ("POST", "/points/transfer/{transfer}/spend", self.spend_blocked),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, self._guarded(handler))

    def _guarded(self, handler: Handler) -> Handler:
        """Check the token and the store, and answer refusals in the platform's shape."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            token = request.headers.get("X-AUTH-TOKEN")
            bearer = request.headers.get("Authorization", "")
            if token != self.token and not (bearer.startswith("Bearer ") and bearer[7:].strip()):
                return error_response(401, "JWT Token not found")
            if request.match_info["storeCode"] != STORE_CODE:
                return error_response(404, "Store not found.")
            try:
                return await handler(request)
            except Refusal as refusal:
                return error_response(refusal.status, refusal.message, refusal.path)

        return guarded

    @property
    def rules(self) -> list[EarningRule]:
        """The earning rules, parsed once and again after every change."""
        if self._rules is None:
            rows = self.db.execute("SELECT rule_id, body FROM earning_rule ORDER BY seq")
            self._rules = [
                EarningRule.from_body(r["rule_id"], orjson.loads(r["body"])) for r in rows
            ]
        return self._rules

    @property
    def levels(self) -> dict[str, str]:
        """Tier names by id."""
        if self._levels is None:
            rows = self.db.execute("SELECT level_id, name FROM level")
            self._levels = {row["level_id"]: row["name"] for row in rows}
        return self._levels

    def _listing(self, request: web.Request, sql: str, params: list[Any]) -> tuple[list[Any], int]:
        """One page of `sql`'s rows and how many match in all."""
        page, per_page = _page(request)
        total = self.db.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]
        rows = self.db.execute(
            f"{sql} LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page]
        ).fetchall()
        return rows, int(total)

    def _all_count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    async def list_members(self, request: web.Request) -> web.Response:
        where, params = [], []
        if card := request.query.get("loyaltyCardNumber"):
            where.append("card = ?")
            params.append(card)
        if email := request.query.get("email"):
            where.append("email = ?")
            params.append(email.strip().lower())
        sql = "SELECT * FROM member" + (" WHERE " + " AND ".join(where) if where else "")
        rows, filtered = self._listing(request, sql + " ORDER BY rowid", params)
        levels = self.levels
        if self._members is None:
            self._members = self._all_count("member")
        return json_response(
            {
                "items": [_member(row, levels) for row in rows],
                "total": {"all": self._members, "filtered": filtered},
            }
        )

    async def get_member(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT * FROM member WHERE member_id = ?", (request.match_info["member"],)
        ).fetchone()
        if row is None:
            raise Refusal(404, "Member not found.")
        return json_response(_member(row, self.levels))

    async def register_member(self, request: web.Request) -> web.Response:
        document = await _json_body(request)
        with self.db:
            member_id = register_member(self.db, document)
        self._members = None
        row = self.db.execute("SELECT email FROM member WHERE member_id = ?", (member_id,))
        return json_response({"customerId": member_id, "email": row.fetchone()["email"]})

    async def update_member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["member"]
        document = await _json_body(request)
        with self.db:
            update_member(self.db, member_id, document)
        return json_response({"memberId": member_id})

    async def list_rewards(self, request: web.Request) -> web.Response:
        where = " WHERE active = 1" if request.query.get("active") in ("1", "true") else ""
        rows, filtered = self._listing(
            request, f"SELECT * FROM reward{where} ORDER BY cost_in_points, reward_id", []
        )
        return json_response(
            {
                "items": [reward(row) for row in rows],
                "total": {"all": self._all_count("reward"), "filtered": filtered},
            }
        )

    async def get_product(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT body FROM product WHERE sku = ?", (request.match_info["sku"],)
        ).fetchone()
        if row is None:
            raise Refusal(404, "Product not found.")
        return json_response(orjson.loads(row["body"]))

    async def put_product(self, request: web.Request) -> web.Response:
        document = await _json_body(request)
        with self.db:
            stored = put_product(self.db, request.match_info["sku"], document)
        return json_response(stored)

    async def list_tiers(self, request: web.Request) -> web.Response:
        rows, filtered = self._listing(request, "SELECT * FROM level ORDER BY condition_value", [])
        items = [
            {
                "levelId": r["level_id"],
                "name": r["name"],
                "conditionValue": r["condition_value"],
                "active": bool(r["active"]),
            }
            for r in rows
        ]
        return json_response({"items": items, "total": {"all": filtered, "filtered": filtered}})

    async def list_rules(self, request: web.Request) -> web.Response:
        where = ""
        if request.query.get("active") in ("1", "true"):
            where = " WHERE json_extract(body, '$.active') = 1"
        rows, filtered = self._listing(
            request, f"SELECT * FROM earning_rule{where} ORDER BY seq", []
        )
        return json_response(
            {
                "items": [_rule(row) for row in rows],
                "total": {"all": self._all_count("earning_rule"), "filtered": filtered},
            }
        )

    async def get_rule(self, request: web.Request) -> web.Response:
        row = self._rule_row(request.match_info["rule"])
        return json_response(_rule(row))

    def _rule_row(self, rule_id: str) -> Any:
        row = self.db.execute("SELECT * FROM earning_rule WHERE rule_id = ?", (rule_id,)).fetchone()
        if row is None:
            raise Refusal(404, "Earning rule not found.")
        return row

    async def create_rule(self, request: web.Request) -> web.Response:
        body = _rule_body(await _json_body(request))
        rule_id = new_id()
        with self.db:
            self.db.execute(
                "INSERT INTO earning_rule (rule_id, seq, body) VALUES (?, ?, ?)",
                (rule_id, next_seq(self.db, "earning_rule"), orjson.dumps(body).decode()),
            )
        self._rules = None
        return json_response({"earningRuleId": rule_id})

    async def update_rule(self, request: web.Request) -> web.Response:
        rule_id = request.match_info["rule"]
        self._rule_row(rule_id)
        body = _rule_body(await _json_body(request))
        with self.db:
            self.db.execute(
                "UPDATE earning_rule SET body = ? WHERE rule_id = ?",
                (orjson.dumps(body).decode(), rule_id),
            )
        self._rules = None
        return json_response({"earningRuleId": rule_id})

    async def list_transactions(self, request: web.Request) -> web.Response:
        where, params = "", []
        if number := request.query.get("documentNumber"):
            where, params = " WHERE document_number = ?", [number]
        rows, filtered = self._listing(request, f"SELECT * FROM txn{where} ORDER BY seq", params)
        return json_response(
            {
                "items": [_transaction(row) for row in rows],
                "total": {"all": self._all_count("txn"), "filtered": filtered},
            }
        )

    async def create_transaction(self, request: web.Request) -> web.Response:
        document = await _json_body(request)
        with self.db:
            transaction_id = register_transaction(self.db, document, self.rules)
        return json_response({"transactionId": transaction_id})

    async def simulate_transaction(self, request: web.Request) -> web.Response:
        """The points a sale would earn now under the live rules; nothing is recorded."""
        simulation = simulate_sale(await _json_body(request), self.rules, datetime.now(UTC))
        return json_response(
            {
                "points": simulation.points,
                "earningRules": [
                    {"earningRuleId": rule_id, "type": kind, "points": points}
                    for rule_id, (kind, points) in simulation.per_rule.items()
                ],
            }
        )

    async def get_transaction(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT * FROM txn WHERE transaction_id = ?", (request.match_info["transaction"],)
        ).fetchone()
        if row is None:
            raise Refusal(404, "Transaction not found.")
        return json_response(_transaction(row))

    async def list_transfers(self, request: web.Request) -> web.Response:
        where, params = [], []
        for query, column in (("member", "member_id"), ("transactionId", "transaction_id")):
            if value := request.query.get(query):
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM transfer" + (" WHERE " + " AND ".join(where) if where else "")
        rows, filtered = self._listing(request, sql + " ORDER BY seq", params)
        return json_response(
            {
                "items": [_transfer(row) for row in rows],
                "total": {"all": self._all_count("transfer"), "filtered": filtered},
            }
        )

    async def get_transfer(self, request: web.Request) -> web.Response:
        row = self.db.execute(
            "SELECT * FROM transfer WHERE transfer_id = ?", (request.match_info["transfer"],)
        ).fetchone()
        if row is None:
            raise Refusal(404, "Transfer not found.")
        return json_response(_transfer(row))

    async def add_points(self, request: web.Request) -> web.Response:
        return await self._transfer(request, ADDING)

    async def spend_points(self, request: web.Request) -> web.Response:
        return await self._transfer(request, SPENDING)

    async def block_points(self, request: web.Request) -> web.Response:
        return await self._transfer(request, BLOCKED)

    async def _transfer(self, request: web.Request, kind: str) -> web.Response:
        document = await _json_body(request)
        transfer = document.get("transfer") if isinstance(document, dict) else None
        if not isinstance(transfer, dict):
            raise Refusal(400, "This value should not be blank.", "transfer")
        member = transfer.get("member") or transfer.get("customer")
        if not isinstance(member, str) or not member:
            raise Refusal(400, "This value should not be blank.", "transfer.member")
        points = transfer.get("points")
        if isinstance(points, bool) or not isinstance(points, int):
            raise Refusal(400, "This value should be a whole number.", "transfer.points")
        comment = transfer.get("comment")
        transfer_id = transfer.get("transferId")
        with self.db:
            created = add_transfer(
                self.db,
                member,
                kind,
                points,
                comment if isinstance(comment, str) else None,
                transfer_id=transfer_id if isinstance(transfer_id, str) and transfer_id else None,
            )
        return json_response({"transferId": created})

    async def cancel(self, request: web.Request) -> web.Response:
        with self.db:
            cancel_transfer(self.db, request.match_info["transfer"], unblock=False)
        return web.Response(status=204)

    async def spend_blocked(self, request: web.Request) -> web.Response:
        """Spend what a block reserved (checkout capture) under the transfer id sent."""
        document = await _json_body(request)
        transfer = document.get("transfer") if isinstance(document, dict) else None
        transfer = transfer if isinstance(transfer, dict) else {}
        wanted, comment = transfer.get("transferId"), transfer.get("comment")
        with self.db:
            created = spend_blocked(
                self.db,
                request.match_info["transfer"],
                wanted if isinstance(wanted, str) and wanted else None,
                comment if isinstance(comment, str) else None,
            )
        return json_response({"transferId": created})

    async def unblock(self, request: web.Request) -> web.Response:
        with self.db:
            cancel_transfer(self.db, request.match_info["transfer"], unblock=True)
        return web.Response(status=204)


def _rule_body(document: Any) -> dict[str, Any]:
    """The `earningRule` of a create or update request, checked enough to be applied."""
    rule = document.get("earningRule") if isinstance(document, dict) else None
    if not isinstance(rule, dict):
        raise Refusal(400, "This value should not be blank.", "earningRule")
    if not isinstance(rule.get("name"), str) or not rule["name"].strip():
        raise Refusal(400, "This value should not be blank.", "earningRule.name")
    if rule.get("type") not in RULE_TYPES:
        raise Refusal(
            400, f"The type should be one of {', '.join(RULE_TYPES)}.", "earningRule.type"
        )
    if not rule.get("allTimeActive") and not (rule.get("startAt") and rule.get("endAt")):
        raise Refusal(
            400, "startAt and endAt are needed unless allTimeActive.", "earningRule.startAt"
        )
    try:
        EarningRule.from_body("check", rule)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise Refusal(400, f"Invalid earning rule: {error}", "earningRule") from None
    return rule
