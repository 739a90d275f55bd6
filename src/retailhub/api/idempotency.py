"""Idempotency-Key on every POST under `/v1`: the same key and body get the same answer.

A client retrying a POST (a till that lost its connection mid-checkout) sends the same
`Idempotency-Key`. The first request runs and its successful answer (2xx) is stored, per client
and key, in the hub database (`api_idempotency`) for `idempotency_ttl_s`; a repeat with the same
method, path and body gets that answer again with `Idempotent-Replayed: true`, and nothing runs
twice. The same key with another body is a client bug: 422. A repeat while the first is still
running gets 409 with Retry-After. An answer that is not a success is not stored, so the client
may fix the request and retry under the same key. A key whose first request died with its
process is taken over after `STALE_AFTER_S`; handlers are idempotent by business key anyway.

Keys are scoped to the authenticated client: a request without a valid API key is passed on
untouched and its route answers 401.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retailhub.api.clients import ApiClient
from retailhub.api.guards import BodyTooLarge
from retailhub.api.problems import error_response, problem_response
from retailhub.api.services import ApiServices
from retailhub.bus.port import Transaction
from retailhub.canonical.errors import Fault
from retailhub.flows.storage import placeholders

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATH = "header.idempotency-key"
"""Where refusals of the key point (parameters are named `header.<name>` in problems)."""
STALE_AFTER_S = 60.0
TABLE = "api_idempotency"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    client_id   TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    started_at  DOUBLE PRECISION NOT NULL,
    status      INTEGER,
    headers     TEXT,
    body        TEXT,
    PRIMARY KEY (client_id, idem_key)
)
"""
_NOT_STORED = {b"date", b"server", b"content-length"}


async def create_idempotency_table(transaction: Transaction) -> None:
    """Create the table of remembered answers if it is missing (SQLite and PostgreSQL)."""
    await transaction.execute(DDL)
    await transaction.execute(
        f"CREATE INDEX IF NOT EXISTS api_idempotency_started ON {TABLE} (started_at)"
    )


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same": method, path, query string and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class IdempotencyKeys:
    """ASGI middleware enforcing and honouring Idempotency-Key on POSTs under `/v1`."""

    def __init__(
        self,
        app: ASGIApp,
        services: ApiServices,
        authenticate: Callable[[Scope], Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.services = services
        self.authenticate = authenticate
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Replay, refuse, or run and remember a POST."""
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        client: ApiClient | None = await self.authenticate(scope)
        if client is None:
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        refusal = _key_refusal(key)
        if refusal:
            await problem_response(
                400,
                detail=refusal,
                slug="idempotency-key-required",
                instance=scope["path"],
                faults=[Fault(KEY_PATH, refusal)],
            )(scope, receive, send)
            return
        assert key is not None
        try:
            body, messages = await _read_body(receive)
        except BodyTooLarge as error:
            await error_response(error, scope["path"])(scope, receive, send)
            return
        print_ = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        answer = await self._claim(client.client_id, key, print_, scope["path"])
        if answer is not None:
            await answer(scope, receive, send)
            return
        await self._run(scope, messages, send, client.client_id, key)

    async def _claim(self, client_id: str, key: str, print_: str, path: str) -> ASGIApp | None:
        """Take the key for this request (None), or the answer to give instead."""
        now = self.clock()
        async with self.services.bus.transaction() as t:
            first, second = placeholders(t, 2)
            rows = await t.fetch_all(
                f"SELECT fingerprint, started_at, status, headers, body FROM {TABLE}"
                f" WHERE client_id = {first} AND idem_key = {second}",
                (client_id, key),
            )
            if rows:
                stored_print, started_at, status, headers, body = rows[0]
                expired = now - started_at > self.services.limits.idempotency_ttl_s
                abandoned = status is None and now - started_at > STALE_AFTER_S
                if not (expired or abandoned):
                    return _answer_to_repeat(stored_print == print_, status, headers, body, path)
                await _forget(t, client_id, key)
            marks = ", ".join(placeholders(t, 4))
            taken = await t.fetch_all(
                f"INSERT INTO {TABLE} (client_id, idem_key, fingerprint, started_at)"
                f" VALUES ({marks}) ON CONFLICT (client_id, idem_key) DO NOTHING"
                " RETURNING client_id",
                (client_id, key, print_, now),
            )
        # Another process took the key between our read and write: it is running.
        return None if taken else _answer_to_repeat(True, None, None, None, path)

    async def _run(
        self, scope: Scope, messages: list[Message], send: Send, client_id: str, key: str
    ) -> None:
        """Run the request, then store a successful answer or release the key."""
        pending = list(messages)
        start: Message = {}
        chunks: list[bytes] = []

        async def replayed_receive() -> Message:
            if pending:
                return pending.pop(0)
            return {"type": "http.disconnect"}

        async def captured_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replayed_receive, captured_send)
        except BaseException:
            await self._release(client_id, key)
            raise
        status = int(start.get("status", 500))
        if 200 <= status < 300:
            await self._remember(client_id, key, start, b"".join(chunks))
        else:
            await self._release(client_id, key)

    async def _remember(self, client_id: str, key: str, start: Message, body: bytes) -> None:
        headers = [
            [k.decode("latin-1"), v.decode("latin-1")]
            for k, v in start.get("headers", ())
            if k.lower() not in _NOT_STORED
        ]
        async with self.services.bus.transaction() as t:
            marks = placeholders(t, 5)
            await t.execute(
                f"UPDATE {TABLE} SET status = {marks[0]}, headers = {marks[1]}, body = {marks[2]}"
                f" WHERE client_id = {marks[3]} AND idem_key = {marks[4]}",
                (
                    int(start["status"]),
                    orjson.dumps(headers).decode(),
                    base64.b64encode(body).decode(),
                    client_id,
                    key,
                ),
            )

    async def _release(self, client_id: str, key: str) -> None:
        async with self.services.bus.transaction() as t:
            await _forget(t, client_id, key)


async def _forget(transaction: Transaction, client_id: str, key: str) -> None:
    first, second = placeholders(transaction, 2)
    await transaction.execute(
        f"DELETE FROM {TABLE} WHERE client_id = {first} AND idem_key = {second}",
        (client_id, key),
    )


def _key_refusal(key: str | None) -> str | None:
    if key is None or not key.strip():
        return f"every POST under /v1 needs an {HEADER} header (a unique value per operation)"
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return f"the {HEADER} must be 1-{MAX_KEY_LENGTH} printable characters"
    return None


def _answer_to_repeat(
    same_request: bool, status: int | None, headers: str | None, body: str | None, path: str
) -> ASGIApp:
    if not same_request:
        return problem_response(
            422,
            detail=f"this {HEADER} was used with another request; use a new key",
            slug="idempotency-key-reused",
            title="Idempotency-Key reused",
            instance=path,
            faults=[Fault(KEY_PATH, "was used before with another method, path or body")],
        )
    if status is None:
        return problem_response(
            409,
            detail=f"the first request with this {HEADER} is still running; retry shortly",
            slug="idempotency-key-in-progress",
            instance=path,
            headers={"Retry-After": "1"},
        )
    return _StoredAnswer(status, orjson.loads(headers or "[]"), base64.b64decode(body or ""))


class _StoredAnswer:
    """The remembered answer, sent again with `Idempotent-Replayed: true`."""

    def __init__(self, status: int, headers: list[list[str]], body: bytes) -> None:
        self.status = status
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            *self.headers,
            (b"content-length", str(len(self.body)).encode()),
            (REPLAYED_HEADER.lower().encode(), b"true"),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body, and the messages that carried it (to hand to the route unchanged)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages
