"""API clients: who may call the hub's HTTP API, with which scopes and at what rate.

A client is issued one key, shown once: `rhk_<client id>_<secret>`. The hub stores only a
per-key random salt and HMAC-SHA256(salt, secret). Keys carry 256 random bits, so a slow
password KDF adds nothing against guessing; what matters is that a leaked table does not reveal
usable keys and that comparison takes constant time (`hmac.compare_digest`). The client id in
the key finds the row without scanning. Clients live in the hub's database (`api_clients`),
written through a bus transaction, so SQLite and PostgreSQL hubs behave alike; a revoked client
keeps its row (who called, until when), and its name may be issued again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from retailhub.bus.port import Transaction
from retailhub.flows.storage import Reader, placeholders

KEY_PREFIX = "rhk"
DEFAULT_RATE_PER_SECOND = 50
TABLE = "api_clients"
DDL = (
    f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    client_id       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    rate_per_second INTEGER NOT NULL,
    key_salt        TEXT NOT NULL,
    key_digest      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
)
""",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_active_name"
    f" ON {TABLE} (name) WHERE revoked_at IS NULL",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


class Scope(StrEnum):
    """What a client may do: till and store servers, the web shop, customer service, operators
    (every scope), and read-only reporting."""

    POS = "pos"
    COMMERCE = "commerce"
    SERVICE = "service"
    ADMIN = "admin"
    READ = "read"


class ClientError(ValueError):
    """A client that cannot be added or revoked as asked, with a message for the operator."""


@dataclass(frozen=True)
class ApiClient:
    """A caller of the API: its id, name, scopes and request rate; revoked ones are refused."""

    client_id: str
    name: str
    scopes: frozenset[Scope]
    rate_per_second: int
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scopes: Iterable[str]) -> bool:
        """True when the client holds any of `scopes`, or `admin`, which allows everything."""
        return Scope.ADMIN in self.scopes or any(s in self.scopes for s in scopes)


@dataclass(frozen=True)
class IssuedKey:
    """A new client with its key: the only time the key is ever seen."""

    client: ApiClient
    key: str


@dataclass(frozen=True)
class StoredClient:
    """A client row with what verifies its key."""

    client: ApiClient
    salt: bytes
    digest: bytes

    def verifies(self, secret: str) -> bool:
        """True when `secret` is this client's, compared in constant time."""
        return hmac.compare_digest(key_digest(secret, self.salt), self.digest)


def parse_scopes(text: str | Iterable[str]) -> frozenset[Scope]:
    """Scopes from `pos,read` or a list; ClientError names an unknown one."""
    names = text.split(",") if isinstance(text, str) else list(text)
    scopes: set[Scope] = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ClientError(f"unknown scope {name!r}; scopes are {known}") from None
    if not scopes:
        raise ClientError("a client needs at least one scope")
    return frozenset(scopes)


def key_digest(secret: str, salt: bytes) -> bytes:
    """HMAC-SHA256 of a key's secret under its salt: what the hub stores instead of the key."""
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def split_key(key: str) -> tuple[str, str] | None:
    """(client id, secret) of a well-formed key, else None."""
    match = _KEY.fullmatch(key.strip())
    return (match.group(1), match.group(2)) if match else None


async def create_clients_table(transaction: Transaction) -> None:
    """Create the clients table if it is missing (idempotent, SQLite and PostgreSQL)."""
    for statement in DDL:
        await transaction.execute(statement)


async def add_client(
    transaction: Transaction,
    name: str,
    scopes: Iterable[Scope],
    *,
    rate_per_second: int = DEFAULT_RATE_PER_SECOND,
    now: datetime | None = None,
) -> IssuedKey:
    """Issue a client and its key; ClientError when the name is taken by an active client."""
    if not _NAME.fullmatch(name):
        raise ClientError(
            f"client name {name!r} must be 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    if rate_per_second < 1:
        raise ClientError("the rate must be at least 1 request per second")
    chosen = frozenset(scopes)
    if not chosen:
        raise ClientError("a client needs at least one scope")
    if await _active_named(transaction, name):
        raise ClientError(f"an active client is already named {name!r}; revoke it first")
    client = ApiClient(
        client_id=secrets.token_hex(8),
        name=name,
        scopes=chosen,
        rate_per_second=rate_per_second,
        created_at=now or datetime.now(UTC),
    )
    secret, salt = secrets.token_urlsafe(32), secrets.token_bytes(16)
    marks = ", ".join(placeholders(transaction, 7))
    await transaction.execute(
        f"INSERT INTO {TABLE} (client_id, name, scopes, rate_per_second, key_salt, key_digest,"
        f" created_at) VALUES ({marks})",
        (
            client.client_id,
            name,
            ",".join(sorted(chosen)),
            rate_per_second,
            salt.hex(),
            key_digest(secret, salt).hex(),
            client.created_at.isoformat(),
        ),
    )
    return IssuedKey(client, f"{KEY_PREFIX}_{client.client_id}_{secret}")


async def _active_named(reader: Reader, name: str) -> bool:
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT 1 FROM {TABLE} WHERE name = {mark} AND revoked_at IS NULL", (name,)
    )
    return bool(rows)


_COLUMNS = "client_id, name, scopes, rate_per_second, key_salt, key_digest, created_at, revoked_at"


def _stored(row: tuple[Any, ...]) -> StoredClient:
    client = ApiClient(
        client_id=row[0],
        name=row[1],
        scopes=frozenset(Scope(s) for s in row[2].split(",") if s),
        rate_per_second=int(row[3]),
        created_at=datetime.fromisoformat(row[6]),
        revoked_at=datetime.fromisoformat(row[7]) if row[7] else None,
    )
    return StoredClient(client, bytes.fromhex(row[4]), bytes.fromhex(row[5]))


async def list_clients(reader: Reader, *, include_revoked: bool = True) -> list[ApiClient]:
    """Every client, oldest first; revoked ones too unless told otherwise."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = await reader.fetch_all(f"SELECT {_COLUMNS} FROM {TABLE}{where} ORDER BY created_at")
    return [_stored(row).client for row in rows]


async def stored_client(reader: Reader, client_id: str) -> StoredClient | None:
    """The client row with id `client_id` and its key digest, revoked or not."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE client_id = {mark}", (client_id,)
    )
    return _stored(rows[0]) if rows else None


async def revoke_client(
    transaction: Transaction, name_or_id: str, *, now: datetime | None = None
) -> ApiClient:
    """Revoke the active client with this name or id; ClientError when there is none."""
    first, second = placeholders(transaction, 2)
    rows = await transaction.fetch_all(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE revoked_at IS NULL"
        f" AND (name = {first} OR client_id = {second})",
        (name_or_id, name_or_id),
    )
    if not rows:
        raise ClientError(f"no active client is named {name_or_id!r} or has that id")
    client = _stored(rows[0]).client
    at = now or datetime.now(UTC)
    when, which = placeholders(transaction, 2)
    await transaction.execute(
        f"UPDATE {TABLE} SET revoked_at = {when} WHERE client_id = {which}",
        (at.isoformat(), client.client_id),
    )
    return ApiClient(
        client.client_id,
        client.name,
        client.scopes,
        client.rate_per_second,
        client.created_at,
        at,
    )
