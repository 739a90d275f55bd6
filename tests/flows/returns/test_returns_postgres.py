"""The returns guard and status projection on PostgreSQL: tills racing on one receipt claim it
once (the order's row is locked), and the projection's batched writes read back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from retailhub.bus.port import EventBus
from retailhub.flows.returns import Outcome, ReturnState, return_status
from retailhub.flows.returns.claims import claim_received, create_claims_table, order_and_claims
from retailhub.flows.returns.ledger import create_ledger_table, keep_order
from retailhub.flows.returns.sql import execute_all
from retailhub.flows.returns.status import (
    SystemOutcome,
    create_status_tables,
    return_statement,
    systems_statement,
)

from .test_guard_and_requests import order, returned


@pytest_asyncio.fixture
async def bus() -> AsyncIterator[EventBus]:
    asyncpg = pytest.importorskip("asyncpg")
    from retailhub.bus.postgres import PostgresBus
    from services import require_postgres

    url = require_postgres()
    schema = f"returns_{uuid.uuid4().hex[:12]}"
    opened = PostgresBus(url, schema=schema, pool_size=6)
    try:
        async with opened:
            async with opened.transaction() as transaction:
                await create_ledger_table(transaction)
                await create_claims_table(transaction)
                await create_status_tables(transaction)
                await keep_order(transaction, order())
            yield opened
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()


async def test_tills_racing_on_one_receipt_claim_it_once(bus: EventBus) -> None:
    async def claim(n: int) -> bool:
        async with bus.transaction() as transaction:
            sold, claims = await order_and_claims(transaction, "POS-AMS01-1")
            await asyncio.sleep(0.01)  # hold the row while the others queue on it
            decision = await claim_received(transaction, sold, returned(f"R-{n}", 2), claims)
        return decision.accepted

    results = await asyncio.gather(*(claim(n) for n in range(5)))
    assert sorted(results) == [False] * 4 + [True]


async def test_the_projection_reads_back_batched_writes(bus: EventBus) -> None:
    async with bus.transaction() as transaction:
        await execute_all(
            transaction,
            [
                systems_statement(
                    transaction,
                    "R-1",
                    [
                        SystemOutcome("erp", Outcome.DONE, "CN-1", detail="credit note"),
                        SystemOutcome("loyalty", Outcome.SKIPPED, detail="no member"),
                    ],
                ),
                return_statement(transaction, "R-1", ReturnState.REFUNDED, order_id="POS-AMS01-1"),
            ],
        )
    async with bus.transaction() as transaction:
        status = await return_status(transaction, "R-1")
    assert status is not None
    assert status.state is ReturnState.REFUNDED
    assert status.systems["erp"].reference == "CN-1"
    assert status.outcome("loyalty") is Outcome.SKIPPED
    assert status.outcome("crm") is Outcome.PENDING
