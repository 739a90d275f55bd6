"""Concurrent single calls gathered into the batch calls a product offers (HubSpot's batch
create, a search over many keys), so many documents cost one round trip.

No call waits for a batch to fill: the first call goes out at once, alone; calls that arrive
while a batch is in flight wait for it and go together in the next one, up to `max_batch`. So a
quiet system sees single calls and a busy one sees batches as large as its concurrency. Each
caller gets its own result or its own exception; a batch that fails as a whole fails each of its
callers with that failure (their own retries then apply).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")

BatchCall = Callable[[Sequence[Q]], Awaitable[Sequence[R | Exception]]]
"""Runs one batch: an answer per request, in order — the result, or the exception that request
alone failed with."""


class Coalescer(Generic[Q, R]):
    """Gathers the requests that arrive while a batch is in flight into the next batch."""

    def __init__(self, run: BatchCall[Q, R], *, max_batch: int = 100) -> None:
        if max_batch < 1:
            raise ValueError("a batch holds at least one request")
        self._run, self.max_batch = run, max_batch
        self._waiting: list[tuple[Q, asyncio.Future[R]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, request: Q) -> R:
        """Send `request` with the next batch and return its own answer."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send())
        return await answer

    async def _send(self) -> None:
        """Send batches until nobody waits."""
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            live = [(request, answer) for request, answer in batch if not answer.done()]
            if not live:
                continue
            try:
                answers = await self._run([request for request, _ in live])
                if len(answers) != len(live):
                    raise RuntimeError(f"a batch of {len(live)} got {len(answers)} answers")
            except asyncio.CancelledError:
                for _, answer in live + self._waiting:
                    answer.cancel()
                self._waiting.clear()
                raise
            except Exception as failure:
                for _, answer in live:
                    if not answer.done():
                        answer.set_exception(failure)
                continue
            for (_, answer), outcome in zip(live, answers, strict=True):
                if answer.done():
                    continue
                if isinstance(outcome, Exception):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)
