"""Pruning what the API keeps past its use: stored Idempotency-Key answers past their TTL
(`ApiLimits.idempotency_ttl_s`) and webhook inbox rows past `ApiRetention.inbox_retention_s`.

Neither table would otherwise stop growing: every POST under `/v1` leaves a row, every webhook
delivery another. A pass deletes at most `ApiRetention.batch` of the oldest rows of each table,
each table in its own short transaction, so pruning never holds the hub database's write lock
(on SQLite, the one writer) for long. `keep_api_records_pruned` runs a pass every
`interval_s`, and again after `catch_up_s` while a pass still found a full batch, so a backlog
drains in steps. `retailhub serve` runs it beside the HTTP server.

Expired answers are never replayed anyway (the middleware takes an expired key over), and an
inbox row only dedupes deliveries inside the products' redelivery horizon (hours); the hub's
bus also drops event ids it still holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from retailhub.api.hooks.inbox import TABLE as INBOX
from retailhub.api.idempotency import TABLE as IDEMPOTENCY
from retailhub.api.services import ApiServices
from retailhub.bus.port import EventBus
from retailhub.flows.storage import placeholders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneReport:
    """Rows one pass deleted, per table."""

    idempotency: int
    inbox: int

    def found_full_batch(self, batch: int) -> bool:
        """True when a table gave a whole batch: more may be waiting."""
        return max(self.idempotency, self.inbox) >= batch


async def _prune_oldest(
    bus: EventBus, table: str, keys: str, moment: str, before: float | str, batch: int
) -> int:
    """Delete up to `batch` rows of `table` whose `moment` is before `before`, oldest first."""
    async with bus.transaction() as transaction:
        cutoff, limit = placeholders(transaction, 2)
        deleted = await transaction.fetch_all(
            f"DELETE FROM {table} WHERE ({keys}) IN (SELECT {keys} FROM {table}"
            f" WHERE {moment} < {cutoff} ORDER BY {moment} LIMIT {limit}) RETURNING 1",
            (before, batch),
        )
    return len(deleted)


async def prune_api_records(services: ApiServices, now: datetime | None = None) -> PruneReport:
    """One bounded pass: delete expired Idempotency-Key answers and old inbox rows, at most
    `services.retention.batch` of each."""
    moment = now or datetime.now(UTC)
    retention = services.retention
    expired = moment.timestamp() - services.limits.idempotency_ttl_s
    stale = (moment - timedelta(seconds=retention.inbox_retention_s)).isoformat()
    answers = await _prune_oldest(
        services.bus, IDEMPOTENCY, "client_id, idem_key", "started_at", expired, retention.batch
    )
    deliveries = await _prune_oldest(
        services.bus, INBOX, "product, delivery_id", "received_at", stale, retention.batch
    )
    return PruneReport(answers, deliveries)


async def keep_api_records_pruned(
    services: ApiServices, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> None:
    """Prune every `interval_s` (sooner while batches come back full) until cancelled; a pass
    that fails is logged and tried again next time."""
    retention = services.retention
    while True:
        full = False
        try:
            report = await prune_api_records(services, clock())
            full = report.found_full_batch(retention.batch)
            if report.idempotency or report.inbox:
                log.info(
                    "pruned %d expired Idempotency-Key answers and %d old inbox rows",
                    report.idempotency,
                    report.inbox,
                )
        except Exception:  # the hub database may be briefly unavailable; try next interval
            log.exception("pruning the API's records failed")
        await asyncio.sleep(retention.catch_up_s if full else retention.interval_s)
