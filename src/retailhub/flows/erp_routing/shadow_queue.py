"""Copies to the shadow ERP run in the background, so the shadow never slows the primary.

The primary call finishes first; its copy is then put on a bounded in-memory queue (one of
`lanes`, chosen by the document key so the copies of one document, e.g. a credit note and its
void, reach the shadow in order) and the caller returns at once. A worker per lane runs each
copy under `timeout_s` and records the outcome. When a lane is full the copy is not sent and a
`skipped` finding is recorded instead: shadow mode is a comparison, not a system of record, so
it sheds load rather than hold up the primary. Copies still queued when the process dies are
lost; the postings themselves are found again by reconciliation.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from retailhub.flows.erp_routing.shadow import (
    FieldDifference,
    ShadowOperation,
    ShadowOutcome,
    ShadowRecord,
    ShadowRecorder,
)

_log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ShadowCopy:
    """One ERP call to repeat on the shadow; `run` makes it and returns the differences."""

    key: str
    operation: ShadowOperation
    primary_system: str
    shadow_system: str
    run: Callable[[], Awaitable[tuple[FieldDifference, ...]]]


class ShadowQueue:
    """Bounded lanes of copies to the shadow, each served by one worker task."""

    def __init__(
        self,
        recorder: ShadowRecorder,
        *,
        lanes: int = 4,
        capacity: int = 1000,
        timeout_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if lanes < 1 or capacity < 1 or timeout_s <= 0:
            raise ValueError("a shadow queue needs at least one lane, room and a timeout")
        self.recorder = recorder
        self.timeout_s = timeout_s
        self._lane_count = lanes
        self._capacity = capacity
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lanes: list[asyncio.Queue[ShadowCopy]] = []
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False

    async def submit(self, copy: ShadowCopy) -> None:
        """Queue a copy without waiting for it; a full or closed queue records it as skipped."""
        if self._closed:
            await self._record(copy, ShadowOutcome.SKIPPED, error="shadow mode is closed")
            return
        self._start()
        lane = self._lanes[zlib.crc32(copy.key.encode()) % self._lane_count]
        try:
            lane.put_nowait(copy)
        except asyncio.QueueFull:
            await self._record(
                copy, ShadowOutcome.SKIPPED, error=f"shadow queue full ({self._capacity} waiting)"
            )

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued copy is done, at most `timeout_s`; True when all are."""
        if not self._lanes:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._lanes)), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let queued copies finish for at most `timeout_s`, then stop the workers."""
        self._closed = True
        await self.drain(timeout_s)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()

    def _start(self) -> None:
        """Create the lanes and their workers on first use, in the running event loop."""
        if self._workers:
            return
        self._lanes = [asyncio.Queue(self._capacity) for _ in range(self._lane_count)]
        self._workers = [
            asyncio.create_task(self._serve(lane), name=f"erp-shadow-{index}")
            for index, lane in enumerate(self._lanes)
        ]

    async def _serve(self, lane: asyncio.Queue[ShadowCopy]) -> None:
        while True:
            copy = await lane.get()
            try:
                await self._send(copy)
            finally:
                lane.task_done()

    async def _send(self, copy: ShadowCopy) -> None:
        """Run one copy and record what happened; nothing here reaches the primary's caller."""
        try:
            differences = await asyncio.wait_for(copy.run(), self.timeout_s)
        except TimeoutError:
            await self._record(
                copy, ShadowOutcome.FAILED, error=f"no answer within {self.timeout_s} s"
            )
        except Exception as error:  # a shadow failure is a finding
            await self._record(copy, ShadowOutcome.FAILED, error=f"{type(error).__name__}: {error}")
        else:
            outcome = ShadowOutcome.DIFFERED if differences else ShadowOutcome.MATCHED
            await self._record(copy, outcome, differences=differences)

    async def _record(
        self,
        copy: ShadowCopy,
        outcome: ShadowOutcome,
        *,
        differences: tuple[FieldDifference, ...] = (),
        error: str | None = None,
    ) -> None:
        entry = ShadowRecord(
            key=copy.key,
            operation=copy.operation,
            primary_system=copy.primary_system,
            shadow_system=copy.shadow_system,
            outcome=outcome,
            recorded_at=self._clock(),
            differences=differences,
            error=error,
        )
        try:
            await self.recorder.record(entry)
        except Exception:  # a broken recorder must not stop shadowing
            _log.exception("shadow finding not recorded", key=copy.key, outcome=outcome.value)
