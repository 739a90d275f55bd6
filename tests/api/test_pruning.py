"""Pruning the API's records: Idempotency-Key answers past their TTL and webhook inbox rows past
retention go, oldest first, a bounded batch per table per pass; younger rows stay; the loop
`serve` runs keeps pruning until cancelled."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from retailhub.api.hooks.inbox import TABLE as INBOX
from retailhub.api.idempotency import TABLE as IDEMPOTENCY
from retailhub.api.services import ApiLimits, ApiRetention, ApiServices
from retailhub.api.upkeep import keep_api_records_pruned, prune_api_records

from .conftest import issue_key
from .helpers import delivery, shopify_sample


async def count(services: ApiServices, table: str) -> int:
    async with services.bus.transaction() as transaction:
        ((rows,),) = await transaction.fetch_all(f"SELECT COUNT(*) FROM {table}")
    return int(rows)


async def leave_records(api: httpx.AsyncClient, services: ApiServices, samples: Path) -> None:
    """Three answered POSTs (three stored answers) and three taken Shopify deliveries."""
    till = {"X-API-Key": await issue_key(services, "till", "pos")}
    for n in range(3):
        answer = await api.post(
            "/v1/probe/baskets",
            json={"store": "AMS01", "lines": [{"qty": n}]},
            headers={**till, "Idempotency-Key": f"basket-{n}"},
        )
        assert answer.status_code == 201
    order = shopify_sample(samples, "order")
    for n in range(3):
        body, headers = delivery("orders/create", {**order, "id": order["id"] + n})
        answer = await api.post("/hooks/shopify/orders/create", content=body, headers=headers)
        assert answer.status_code == 202


async def test_expired_answers_and_old_deliveries_go_in_bounded_batches(
    api: httpx.AsyncClient, services: ApiServices, samples: Path
) -> None:
    await leave_records(api, services, samples)
    pruning = dataclasses.replace(services, retention=ApiRetention(batch=2))
    now = datetime.now(UTC)

    young = await prune_api_records(pruning, now)
    within_ttl = await prune_api_records(pruning, now + timedelta(hours=23))
    assert (young.idempotency, young.inbox) == (0, 0)
    assert (within_ttl.idempotency, within_ttl.inbox) == (0, 0)
    assert (await count(services, IDEMPOTENCY), await count(services, INBOX)) == (3, 3)

    past_ttl = now + timedelta(hours=25)
    first = await prune_api_records(pruning, past_ttl)
    second = await prune_api_records(pruning, past_ttl)
    assert (first.idempotency, first.inbox, first.found_full_batch(2)) == (2, 0, True)
    assert (second.idempotency, second.found_full_batch(2)) == (1, False)
    assert (await count(services, IDEMPOTENCY), await count(services, INBOX)) == (0, 3)

    past_retention = now + timedelta(days=8)
    third = await prune_api_records(pruning, past_retention)
    fourth = await prune_api_records(pruning, past_retention)
    assert (third.inbox, fourth.inbox, fourth.idempotency) == (2, 1, 0)
    assert await count(services, INBOX) == 0


async def test_a_pruned_key_runs_afresh(api: httpx.AsyncClient, services: ApiServices) -> None:
    headers = {"X-API-Key": await issue_key(services, "till", "pos"), "Idempotency-Key": "k-1"}
    basket: dict[str, Any] = {"store": "AMS01", "lines": []}
    first = await api.post("/v1/probe/baskets", json=basket, headers=headers)
    await prune_api_records(services, datetime.now(UTC) + timedelta(days=2))
    again = await api.post("/v1/probe/baskets", json=basket, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["number"] == first.json()["number"] + 1


async def test_the_pruning_loop_keeps_pruning_until_cancelled(
    api: httpx.AsyncClient, services: ApiServices, samples: Path
) -> None:
    await leave_records(api, services, samples)
    eager = dataclasses.replace(
        services,
        limits=ApiLimits(idempotency_ttl_s=0.0),
        retention=ApiRetention(inbox_retention_s=0.0, batch=2, interval_s=0.05, catch_up_s=0.0),
    )
    loop = asyncio.create_task(keep_api_records_pruned(eager))
    try:
        deadline = time.monotonic() + 20
        while await count(services, IDEMPOTENCY) or await count(services, INBOX):
            assert not loop.done(), loop.exception()
            assert time.monotonic() < deadline, "the loop did not prune everything"
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert loop.cancelled()


def test_retention_refuses_a_batch_below_one() -> None:
    with pytest.raises(ValueError, match="batch"):
        ApiRetention(batch=0)
