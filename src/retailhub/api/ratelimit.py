"""Per-client rate limits: one token bucket per API client, refilled at the client's rate.

A client may burst up to one second's worth of requests and then runs at its rate; a request
that finds the bucket empty is refused with how long until a token is back (Retry-After).
Buckets live in the process: with several API processes the fleet admits that many times the
rate, which docs/api.md states. No maintained library fitting this (in-process, per key, async
free) is installed; this is the textbook algorithm in a dozen lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """Tokens refill continuously at `rate` per second up to `capacity`; a request takes one."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one will be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per client, created full on the client's first request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, client_id: str, rate_per_second: int) -> float:
        """Admit one request of `client_id` (0.0) or say how many seconds it must wait."""
        now = self._clock()
        bucket = self._buckets.get(client_id)
        if bucket is None or bucket.rate != rate_per_second:
            capacity = float(max(1, rate_per_second))
            bucket = TokenBucket(float(rate_per_second), capacity, capacity, now)
            self._buckets[client_id] = bucket
        return bucket.take(now)
