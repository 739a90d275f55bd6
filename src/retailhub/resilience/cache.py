"""A bounded, expiring cache of reference data a system rarely changes (a product's id by SKU, a
partner's or contact's id by customer), so a connector or flow does not look it up again on
every document.

Only what was found is kept (a miss is asked again next time), entries expire after `ttl_s`
so a change made in the system is seen within that time, the least recently used entry goes
first when `max_entries` is reached, and a caller that finds an entry wrong (the system
refused a write naming it) forgets it, so the next attempt reads it afresh.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ReferenceCache(Generic[K, V]):
    """Values by key for at most `ttl_s` seconds, at most `max_entries` of them."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("a reference cache needs room for an entry and a positive lifetime")
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value kept for `key`, or None when it was never kept, has expired or was
        forgotten."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep `value` for `key` for the cache's lifetime, evicting the least recently used
        entry when full."""
        self._entries[key] = (self._clock() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, keys: Iterable[K]) -> None:
        """Drop the entries of `keys` (those that are kept), so they are read again."""
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
