"""Outbound calls of the return saga: retried inside their step, and answered, never raised.

A step's call is retried with backoff (tenacity) while the failure may pass — a timeout, a 5xx,
an open breaker — and not at all when the system refused it (a 4xx, a document it cannot map).
Its answer is an `Attempted` value either way, so the step completes and is checkpointed with
its compensation registered even when the call failed: the compensation then undoes whatever
the failed call may have half-done (every call carries a key, so "undo what was written under
this key" is safe when nothing was), and the saga body aborts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused

T = TypeVar("T")

REFUSALS: tuple[type[Exception], ...] = (RequestRefused, MappingError, ValueError, LookupError)
"""Failures that retrying cannot change: the system said no, or the document does not fit."""


@dataclass(frozen=True)
class CallPolicy:
    """How often and how patiently a saga step retries its call before it counts as failed."""

    attempts: int = 3
    first_wait_s: float = 0.2
    max_wait_s: float = 2.0


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """A call's answer, or why it failed for good (and whether the system refused it)."""

    value: T | None = None
    error: str | None = None
    refused: bool = False

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


async def attempt(call: Callable[[], Awaitable[T]], policy: CallPolicy) -> Attempted[T]:
    """Run `call` with retries per `policy`; its value, or the last error as a one-line reason."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.first_wait_s, max=policy.max_wait_s),
        retry=retry_if_not_exception_type(REFUSALS),
        reraise=True,
    )
    try:
        async for tried in retrying:
            with tried:
                value = await call()
    except Exception as error:
        return Attempted(
            error=f"{type(error).__name__}: {error}", refused=isinstance(error, REFUSALS)
        )
    return Attempted(value)
