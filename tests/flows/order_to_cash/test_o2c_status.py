"""The order-status projection: rows written in the handler's transaction, pending until known,
and the bus's retrying and dead-lettered events shown as pending and failed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from retailhub.bus.port import (
    Attempt,
    HandlerContext,
    HeldEvent,
    HoldState,
    RetryPolicy,
    Transaction,
)
from retailhub.bus.port import (
    Outcome as BusOutcome,
)
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.flows.order_to_cash.status import (
    Outcome,
    SystemStatus,
    create_order_status_table,
    held_for_order,
    order_status,
    record,
    subscription_name,
)

AT = datetime(2026, 11, 27, 12, tzinfo=UTC)


def order_event(order_id: str) -> CloudEvent:
    return new_event(
        "retail.order.created.v1",
        "/test",
        {"order_id": order_id},
        subject=order_id,
        partitionkey=order_id,
    )


def held(system: str, state: HoldState, attempts: int, position: int = 7) -> HeldEvent:
    return HeldEvent(
        subscription=subscription_name(system),
        position=position,
        state=state,
        event=order_event("O-1"),
        key="O-1",
        attempts=tuple(
            Attempt(AT + timedelta(seconds=n), BusOutcome.FAILED, "HTTP 503")
            for n in range(attempts)
        ),
        next_attempt_at=None if state is HoldState.DEAD else AT + timedelta(minutes=1),
        error="loyalty platform unavailable",
        stack=None,
    )


async def test_rows_commit_with_the_transaction_and_the_rest_is_pending(tmp_path: Path) -> None:
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        async with bus.transaction() as transaction:
            await create_order_status_table(transaction)
            await create_order_status_table(transaction)
            await record(transaction, "O-1", SystemStatus("erp", Outcome.SKIPPED, attempts=1))
            await record(
                transaction,
                "O-1",
                SystemStatus("erp", Outcome.DONE, reference="sale.order,7", attempts=2),
            )
            await record(
                transaction, "O-1", SystemStatus("loyalty", Outcome.DONE, points=75, attempts=1)
            )
        async with bus.transaction() as transaction:
            status = await order_status(transaction, "O-1")
    erp = status.systems["erp"]
    assert (erp.outcome, erp.reference, erp.attempts) == (Outcome.DONE, "sale.order,7", 2)
    assert status.systems["loyalty"].points == 75
    assert status.outcome("stock") is Outcome.PENDING
    assert status.outcome("crm") is Outcome.PENDING
    assert not status.settled


async def test_held_events_show_as_pending_or_failed(tmp_path: Path) -> None:
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        async with bus.transaction() as transaction:
            await create_order_status_table(transaction)
            for system in ("erp", "stock", "crm"):
                await record(transaction, "O-1", SystemStatus(system, Outcome.DONE, attempts=1))
            await record(transaction, "O-1", SystemStatus("loyalty", Outcome.DONE, attempts=1))
        holds = [held("loyalty", HoldState.DEAD, 3), held("erp", HoldState.RETRYING, 2, 9)]
        async with bus.transaction() as transaction:
            status = await order_status(transaction, "O-1", holds)
    loyalty = status.systems["loyalty"]
    assert loyalty.outcome is Outcome.FAILED
    assert loyalty.attempts == 3
    assert loyalty.last_error == "loyalty platform unavailable"
    assert status.outcome("erp") is Outcome.PENDING
    assert status.outcome("stock") is Outcome.DONE
    assert status.failed == ["loyalty"]
    assert not status.settled


async def test_a_dead_letter_of_the_bus_is_a_failed_system(tmp_path: Path) -> None:
    async def refuse(event: CloudEvent, context: HandlerContext) -> None:
        raise RuntimeError("ERP refused the order")

    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as bus:
        async with bus.transaction() as transaction:
            await create_order_status_table(transaction)
        retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(milliseconds=10))
        await bus.subscribe(subscription_name("erp"), ["retail.order.*"], refuse, retry=retry)
        await bus.subscribe("someone.else", ["retail.order.*"], refuse, retry=retry)
        await bus.publish([order_event("O-9")])
        deadline = time.monotonic() + 10
        while len(await held_for_order(bus, "O-9")) < 1 or any(
            h.state is not HoldState.DEAD for h in await held_for_order(bus, "O-9")
        ):
            assert time.monotonic() < deadline, "the event was never dead-lettered"
            await asyncio.sleep(0.02)
        holds = await held_for_order(bus, "O-9")
        async with bus.transaction() as transaction:
            status = await order_status(transaction, "O-9", holds)
    assert [h.subscription for h in holds] == ["o2c.erp"]
    assert status.failed == ["erp"]
    assert status.systems["erp"].attempts == 2
    assert "ERP refused the order" in (status.systems["erp"].last_error or "")


class PostgresLike:
    """Records statements as a PostgreSQL transaction would receive them."""

    __module__ = "retailhub.bus.postgres"

    def __init__(self) -> None:
        self.statements: list[str] = []

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        self.statements.append(statement)

    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        self.statements.append(statement)
        return []


async def test_postgresql_gets_numbered_parameters() -> None:
    fake = PostgresLike()
    await record(fake, "O-1", SystemStatus("erp", Outcome.DONE))  # type: ignore[arg-type]
    await order_status(fake, "O-1")
    assert "$9" in fake.statements[0]
    assert "?" not in fake.statements[0]
    assert "order_id = $1" in fake.statements[1]


async def test_the_projection_on_postgresql() -> None:
    asyncpg = pytest.importorskip("asyncpg")
    from retailhub.bus.postgres import PostgresBus
    from services import require_postgres

    url = require_postgres()
    schema = f"o2c_{uuid.uuid4().hex[:12]}"
    bus = PostgresBus(url, schema=schema, pool_size=2)
    try:
        async with bus:
            transaction: Transaction
            async with bus.transaction() as transaction:
                await create_order_status_table(transaction)
                await record(
                    transaction,
                    "O-1",
                    SystemStatus("erp", Outcome.DONE, reference="S1", attempts=1),
                )
                await record(
                    transaction, "O-1", SystemStatus("erp", Outcome.ATTENTION, reference="S1")
                )
            async with bus.transaction() as transaction:
                status = await order_status(transaction, "O-1")
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
    assert status.outcome("erp") is Outcome.ATTENTION
    assert status.outcome("crm") is Outcome.PENDING
