"""One policy object per connected system: timeout per attempt, retries with backoff for calls
that are safe to repeat, a circuit breaker (purgatory) and a bulkhead on concurrent calls."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import Context, OpenedState
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from tenacity.wait import wait_base

T = TypeVar("T")


class SystemUnavailable(Exception):
    """The system cannot be called now: its breaker is open or its bulkhead is full. Callers
    fall back (cached answer, degraded mode) or let the bus retry later."""

    def __init__(self, system: str, reason: str) -> None:
        self.system, self.reason = system, reason
        super().__init__(f"{system} is unavailable: {reason}")


class RetryableFailure(Exception):
    """A failure that says whether repeating the call is safe and how long to wait first.

    `safe_to_repeat` is true when the system cannot have acted (429, connection refused), so even
    a non-idempotent call may be repeated; `retry_after` honours the system's Retry-After.
    `counts_against_system` is false for failures that say nothing of the system's health.
    """

    def __init__(
        self,
        message: str,
        *,
        safe_to_repeat: bool = False,
        retry_after: float | None = None,
        counts_against_system: bool = True,
    ) -> None:
        super().__init__(message)
        self.safe_to_repeat = safe_to_repeat
        self.retry_after = retry_after
        self.counts_against_system = counts_against_system


class BreakerState(StrEnum):
    """A circuit breaker's state as operators see it on /readyz."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


_PURGATORY_STATES = {
    "closed": BreakerState.CLOSED,
    "opened": BreakerState.OPEN,
    "half-opened": BreakerState.HALF_OPEN,
}


@dataclass(frozen=True)
class ResiliencePolicy:
    """How calls to one system are protected; every figure is configurable per system."""

    timeout_s: float = 5.0
    max_attempts: int = 3
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    max_concurrent: int = 32

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_attempts < 1 or self.max_concurrent < 1:
            raise ValueError("timeout, attempts and concurrency must be positive")
        if self.breaker_threshold < 1 or self.breaker_reset_s <= 0:
            raise ValueError("breaker threshold and reset time must be positive")


class _WaitHonouringRetryAfter(wait_base):
    """Exponential backoff with jitter, unless the system said how long to wait. `failed_before`
    counts the attempts that failed before tenacity took over, so the backoff grows as if it
    had run them."""

    def __init__(self, policy: ResiliencePolicy, failed_before: int = 0) -> None:
        self._fallback = wait_exponential_jitter(
            multiplier=policy.initial_backoff_s * 2**failed_before,
            max=policy.max_backoff_s,
            jitter=policy.initial_backoff_s,
        )

    def __call__(self, retry_state: object) -> float:
        outcome = getattr(retry_state, "outcome", None)
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableFailure) and error.retry_after is not None:
            return error.retry_after
        return float(self._fallback(retry_state))  # type: ignore[arg-type]


def _first_backoff(policy: ResiliencePolicy, error: BaseException) -> float:
    """The wait after a first failed attempt: the system's Retry-After, else the initial backoff
    with jitter (as tenacity's first wait would be)."""
    if isinstance(error, RetryableFailure) and error.retry_after is not None:
        return error.retry_after
    jittered = policy.initial_backoff_s + random.uniform(0, policy.initial_backoff_s)
    return min(jittered, policy.max_backoff_s)


def _says_system_is_unhealthy(error: BaseException) -> bool:
    """Timeouts and retryable failures trip the breaker; a refused request (4xx) does not."""
    if isinstance(error, RetryableFailure):
        return error.counts_against_system
    return isinstance(error, TimeoutError)


class Resilient:
    """Runs calls to one system under its policy; shared by every connector call to it."""

    def __init__(
        self,
        system: str,
        policy: ResiliencePolicy,
        breakers: AsyncCircuitBreakerFactory | None = None,
    ) -> None:
        self.system = system
        self.policy = policy
        self._breakers = breakers or AsyncCircuitBreakerFactory()
        self._bulkhead = asyncio.Semaphore(policy.max_concurrent)
        self._state = BreakerState.CLOSED
        self._circuit: Context | None = None

    @property
    def breaker_state(self) -> BreakerState:
        """The breaker's state as of the last call."""
        return self._state

    def circuit_state(self) -> str:
        """The breaker's state now, for health reports: `closed`, `open`, or `half_open` when
        the next call will be let through as a trial (an open breaker whose reset time has
        passed is half-open, though purgatory moves it there only on that next call)."""
        breaker = self._circuit
        if breaker is None or breaker.state == "closed":
            return "closed"
        opened_at = breaker.opened_at
        if breaker.state == "opened" and (
            opened_at is None or time.time() <= opened_at + breaker.ttl
        ):
            return "open"
        return "half_open"

    async def call(self, operation: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run `operation` with timeout, breaker and bulkhead; retry it only when `idempotent`
        or when the failure proves the system did not act. The first attempt runs without
        tenacity (nearly every call succeeds at once); a retryable failure hands the remaining
        attempts to it."""

        def should_retry(error: BaseException) -> bool:
            if not isinstance(error, RetryableFailure | TimeoutError):
                return False
            return idempotent or (isinstance(error, RetryableFailure) and error.safe_to_repeat)

        try:
            return await self._attempt(operation)
        except Exception as error:
            if self.policy.max_attempts < 2 or not should_retry(error):
                raise
            await asyncio.sleep(_first_backoff(self.policy, error))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_attempts - 1),
            wait=_WaitHonouringRetryAfter(self.policy, failed_before=1),
            retry=retry_if_exception(should_retry),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(operation)
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _attempt(self, operation: Callable[[], Awaitable[T]]) -> T:
        """One attempt: refuse at once when the bulkhead is full or the breaker is open."""
        if self._bulkhead.locked():
            raise SystemUnavailable(self.system, "too many calls in flight (bulkhead full)")
        async with self._bulkhead:
            breaker = await self._breakers.get_breaker(
                self.system,
                threshold=self.policy.breaker_threshold,
                ttl=self.policy.breaker_reset_s,
                exclude=[(Exception, lambda e: not _says_system_is_unhealthy(e))],
            )
            self._circuit = breaker.context
            try:
                async with breaker:
                    async with asyncio.timeout(self.policy.timeout_s):
                        return await operation()
            except OpenedState:
                raise SystemUnavailable(self.system, "circuit breaker open") from None
            finally:
                self._state = _PURGATORY_STATES.get(breaker.context.state, BreakerState.OPEN)
