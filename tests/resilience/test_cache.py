"""ReferenceCache: values expire after their lifetime, the least recently used goes first when
full, and a forgotten entry is read again."""

from __future__ import annotations

import pytest

from retailhub.resilience.cache import ReferenceCache


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_its_lifetime_and_not_after() -> None:
    clock = Clock()
    cache: ReferenceCache[str, int] = ReferenceCache(ttl_s=60, clock=clock)
    cache.put("SKU-1", 41)
    clock.now += 59.9
    assert cache.get("SKU-1") == 41
    clock.now += 0.1
    assert cache.get("SKU-1") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache: ReferenceCache[str, int] = ReferenceCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_forgotten_and_cleared_entries_are_gone_and_a_put_renews_the_lifetime() -> None:
    clock = Clock()
    cache: ReferenceCache[str, int] = ReferenceCache(ttl_s=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.forget(["a", "never-kept"])
    assert cache.get("a") is None
    clock.now += 9
    cache.put("b", 3)
    clock.now += 9
    assert cache.get("b") == 3
    cache.clear()
    assert cache.get("b") is None


@pytest.mark.parametrize(("entries", "ttl"), [(0, 1.0), (1, 0.0)])
def test_a_cache_without_room_or_lifetime_is_refused(entries: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="room"):
        ReferenceCache(max_entries=entries, ttl_s=ttl)
