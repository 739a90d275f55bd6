"""Authenticating API keys against the clients table, with a short cache.

Every authenticated request would otherwise open a hub-database transaction (on SQLite, the
one write lock). The registry keeps each client's row (salt and digest, never the key) for
`cache_s` seconds, and still verifies the presented key against it on every request in
constant time. A revocation is therefore honoured at once by the process that made it and
within `cache_s` by every other process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from retailhub.api.clients import ApiClient, StoredClient, split_key, stored_client
from retailhub.bus.port import EventBus

DEFAULT_CACHE_S = 5.0


class ClientRegistry:
    """Answers "which client holds this key?" for the API's security dependency."""

    def __init__(
        self,
        bus: EventBus,
        *,
        cache_s: float = DEFAULT_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, tuple[float, StoredClient | None]] = {}

    async def authenticate(self, key: str) -> ApiClient | None:
        """The active client whose key this is, else None (malformed, unknown, wrong, revoked)."""
        parts = split_key(key)
        if parts is None:
            return None
        client_id, secret = parts
        stored = await self._stored(client_id)
        if stored is None or not stored.verifies(secret) or stored.client.revoked_at:
            return None
        return stored.client

    def forget(self, client_id: str) -> None:
        """Drop a client from the cache (after revoking it in this process)."""
        self._cache.pop(client_id, None)

    async def _stored(self, client_id: str) -> StoredClient | None:
        now = self._clock()
        cached = self._cache.get(client_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        async with self._bus.transaction() as transaction:
            stored = await stored_client(transaction, client_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[client_id] = (now, stored)
        return stored
