"""The till's guard around the loyalty platform: a latency budget on every checkout call and a
breaker of checkout's own that counts budget overruns, so while the platform is slow or down
each till gets its degraded answer at once instead of waiting out the budget every time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from retailhub.resilience import RetryableFailure, SystemUnavailable

T = TypeVar("T")

CIRCUIT = "checkout.loyalty"

UNAVAILABLE: tuple[type[BaseException], ...] = (
    SystemUnavailable,
    RetryableFailure,
    TimeoutError,
    OSError,
)
"""Failures that say the platform could not answer (as opposed to refusing the request)."""


def is_unavailability(error: BaseException) -> bool:
    """True for a failure that says nothing was decided: too slow, unreachable, breaker open."""
    return isinstance(error, UNAVAILABLE)


class TillGuard:
    """Runs one checkout request's platform calls within the latency budget behind a breaker."""

    def __init__(self, budget_s: float, breaker_threshold: int, breaker_reset_s: float) -> None:
        self.budget_s = budget_s
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_reset_s
        )

    def deadline(self) -> float:
        """When a request starting now must have its answer, on the event loop's clock."""
        return asyncio.get_running_loop().time() + self.budget_s

    async def run(self, operation: Callable[[], Awaitable[T]], deadline: float) -> T:
        """`operation` before `deadline` (one request's calls share it); SystemUnavailable at
        once while the breaker is open, TimeoutError when the budget runs out. A refusal does
        not count against the platform."""
        breaker = await self._breakers.get_breaker(
            CIRCUIT, exclude=[(Exception, lambda error: not is_unavailability(error))]
        )
        try:
            async with breaker:
                async with asyncio.timeout_at(deadline):
                    return await operation()
        except OpenedState:
            raise SystemUnavailable("loyalty", "checkout's breaker is open") from None
