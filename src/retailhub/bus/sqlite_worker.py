"""The SQLite bus's subscription worker: fetch a batch, handle keys in parallel, commit, repeat."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import structlog

from retailhub.bus import sqlite_store as store
from retailhub.bus.delivery import Delivery, build_chains, describe_failure, run_chains
from retailhub.bus.port import Handler, HandlerContext, Outcome, RetryPolicy
from retailhub.bus.sqlite_transactions import BatchUnit, HandlerTransaction, handling

if TYPE_CHECKING:
    from retailhub.bus.sqlite import SqliteBus

_log = structlog.get_logger(__name__)


@dataclass(slots=True)
class SubscriptionRun:
    """A subscription this process runs: its filter, handler, policy and worker task."""

    name: str
    types: tuple[str, ...]
    handler: Handler
    retry: RetryPolicy
    concurrency: int
    wake: asyncio.Event
    task: asyncio.Task[None] | None = None
    stopping: bool = False


class Worker:
    """Runs one subscription: fetch a batch, handle keys in parallel, commit, repeat."""

    def __init__(self, bus: SqliteBus, subscription: SubscriptionRun) -> None:
        self.bus = bus
        self.subscription = subscription
        self.type_filter = store.glob_clause("type", subscription.types)
        self.next_due: float | None = None

    async def run(self) -> None:
        """Loop until stopped; a failing cycle is logged and retried after a short pause."""
        pause = 0.0
        while not self.subscription.stopping:
            try:
                worked = await self._cycle()
                pause = 0.0
            except Exception:
                _log.exception("bus worker cycle failed", subscription=self.subscription.name)
                pause = min(5.0, max(0.05, pause * 2))
                await asyncio.sleep(pause)
                continue
            if not worked:
                await self._idle()

    async def _idle(self) -> None:
        """Sleep until woken by a publish, the poll interval, or the next retry falling due."""
        timeout = self.bus.poll_interval
        if self.next_due is not None:
            timeout = min(timeout, max(0.0, self.next_due - time.time()))
        with suppress(TimeoutError):
            await asyncio.wait_for(self.subscription.wake.wait(), timeout)

    async def _cycle(self) -> bool:
        """Handle one batch; return whether there was anything to do."""
        subscription = self.subscription
        subscription.wake.clear()
        snapshot: store.BatchSnapshot = await self.bus._read(
            partial(
                store.read_batch,
                name=subscription.name,
                type_filter=self.type_filter,
                now=time.time(),
                limit=self.bus.batch_size,
                recent=self.bus._recent,
            )
        )
        self.next_due = snapshot.next_due
        if not snapshot.new and not snapshot.heads and snapshot.scanned_to == snapshot.cursor:
            return False
        chains = build_chains(
            snapshot.new,
            snapshot.heads,
            snapshot.parked,
            snapshot.held_keys,
            snapshot.complete_keys,
        )
        unit = BatchUnit(self.bus)
        try:
            await run_chains(chains, partial(self._attempt, unit), subscription.concurrency)
            deliveries = [*snapshot.new, *snapshot.heads]
            for behind in snapshot.parked.values():
                deliveries.extend(behind)
            await unit.commit(
                partial(
                    store.record_batch,
                    name=subscription.name,
                    deliveries=deliveries,
                    scanned_to=snapshot.scanned_to,
                    policy=subscription.retry,
                    now=time.time(),
                )
            )
        except BaseException:
            await unit.abort()
            raise
        self.bus._published(unit.published)
        for callback in unit.after_commit:
            callback()
        return True

    async def _attempt(self, unit: BatchUnit, delivery: Delivery) -> bool:
        """Hand one event to the handler in its own savepoint; record how it went."""
        subscription = self.subscription
        delivery.attempted_at = time.time()
        transaction = HandlerTransaction(unit)
        context = HandlerContext(
            subscription.name,
            delivery.position,
            delivery.failures + 1,
            transaction,
            delivery.callbacks,
        )
        token = handling.set(self.bus)
        try:
            event = delivery.event or self.bus._event(delivery.position, delivery.payload)
            await subscription.handler(event, context)
        except Exception as error:
            if transaction.active:
                await transaction.end(handled=False)
            delivery.outcome = Outcome.FAILED
            delivery.error, delivery.stack = describe_failure(error)
            delivery.callbacks.clear()
            return False
        finally:
            handling.reset(token)
        if transaction.active:
            await transaction.end(handled=True)
        delivery.outcome = Outcome.HANDLED
        unit.after_commit.extend(delivery.callbacks)
        return True
