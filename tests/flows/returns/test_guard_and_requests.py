"""The returns guard and online requests on a real SqliteBus, without the emulators: claims
across channels, fulfilment of a request by the goods received, release, and the faults an
online return is refused with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderLine, OrderStatus, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.flows.returns import ReturnRefused, initiate_return
from retailhub.flows.returns.claims import (
    ClaimState,
    claim_received,
    claim_requested,
    claims_of,
    create_claims_table,
    order_and_claims,
    release_claim,
)
from retailhub.flows.returns.ledger import create_ledger_table, keep_order

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


def order(order_id: str = "POS-AMS01-1", quantity: int = 2) -> Order:
    price = Money(amount=Decimal("5.00"), currency="EUR")
    total = Money(amount=Decimal(5 * quantity), currency="EUR")
    return Order(
        order_id=order_id,
        channel=Channel.STORE,
        location="AMS01",
        currency="EUR",
        prices_include_tax=True,
        placed_at=AT,
        lines=[OrderLine(line_id="1", sku="SKU-1", quantity=Decimal(quantity), unit_price=price)],
        tenders=[Tender(type=TenderType.CARD, amount=total)],
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=total),
    )


def returned(
    return_id: str,
    quantity: int = 1,
    *,
    online: bool = False,
    order_id: str = "POS-AMS01-1",
) -> Return:
    refund = Money(amount=Decimal(5 * quantity), currency="EUR")
    return Return(
        return_id=return_id,
        original_order_id=order_id,
        initiated_channel=Channel.WEB if online else Channel.STORE,
        received_channel=None if online else Channel.STORE,
        received_location=None if online else "AMS01",
        currency="EUR",
        lines=[
            ReturnLine(
                line_id="1",
                original_line_id="1",
                sku="SKU-1",
                quantity=Decimal(quantity),
                refund_amount=refund,
            )
        ],
        refund_total=refund,
        status=ReturnStatus.REQUESTED if online else ReturnStatus.RECEIVED,
        created_at=AT,
    )


@pytest_asyncio.fixture
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    async with SqliteBus(tmp_path / "hub.sqlite", poll_interval=0.02) as opened:
        async with opened.transaction() as transaction:
            await create_ledger_table(transaction)
            await create_claims_table(transaction)
            await keep_order(transaction, order())
        yield opened


async def claim(bus: SqliteBus, document: Return) -> tuple[bool, str, str | None]:
    async with bus.transaction() as transaction:
        sold, claims = await order_and_claims(transaction, "POS-AMS01-1")
        decision = await claim_received(transaction, sold, document, claims)
    return decision.accepted, decision.reason, decision.request_id


async def test_two_tills_returning_the_same_receipt_at_once_claim_it_once(bus: SqliteBus) -> None:
    results = await asyncio.gather(*(claim(bus, returned(f"R-{n}", 2)) for n in range(5)))
    assert sorted(accepted for accepted, _, _ in results) == [False] * 4 + [True]
    refusals = {reason for accepted, reason, _ in results if not accepted}
    assert refusals == {
        "$.lines[0].quantity: 2 bought on line 1, 2 already returned: 2 more is too many"
    }


async def test_a_claim_is_idempotent_per_return(bus: SqliteBus) -> None:
    assert (await claim(bus, returned("R-1")))[0]
    assert (await claim(bus, returned("R-1")))[0]
    async with bus.transaction() as transaction:
        states = [c.state for c in await claims_of(transaction, "POS-AMS01-1")]
    assert states == [ClaimState.CLAIMED]


async def test_goods_received_fulfil_the_online_request_that_covers_them(bus: SqliteBus) -> None:
    requested = await initiate_return(bus, returned("RMA-1", 1, online=True))
    assert requested.return_id == "RMA-1"
    events = await bus.tail(types=["retail.return.requested.v1"])
    assert [e.event.id for e in events] == ["RMA-1/retail.return.requested.v1"]
    async with bus.transaction() as transaction:
        sold, _ = await order_and_claims(transaction, "POS-AMS01-1")
        assert sold is not None
        assert (
            await claim_requested(transaction, sold, returned("RMA-1", 1, online=True))
        ).accepted
    accepted, _, request_id = await claim(bus, returned("POS-TILL-1", 1))
    assert (accepted, request_id) == (True, "RMA-1")
    # The request's claim passed to the receipt: one more unit is still returnable.
    assert (await claim(bus, returned("POS-TILL-2", 1)))[0]
    assert not (await claim(bus, returned("POS-TILL-3", 1)))[0]


async def test_a_released_claim_gives_the_quantities_back_and_reopens_its_request(
    bus: SqliteBus,
) -> None:
    async with bus.transaction() as transaction:
        sold, _ = await order_and_claims(transaction, "POS-AMS01-1")
        assert sold is not None
        await claim_requested(transaction, sold, returned("RMA-2", 2, online=True))
    assert (await claim(bus, returned("POS-TILL-9", 2)))[2] == "RMA-2"
    async with bus.transaction() as transaction:
        await release_claim(transaction, "POS-TILL-9")
        states = {c.return_id: c.state for c in await claims_of(transaction, "POS-AMS01-1")}
    assert states == {"RMA-2": ClaimState.REQUESTED, "POS-TILL-9": ClaimState.RELEASED}
    assert (await claim(bus, returned("POS-TILL-10", 2)))[2] == "RMA-2"


@pytest.mark.parametrize(
    ("change", "faults"),
    [
        (
            {"lines": []},
            [("$.lines", "List should have at least 1 item after validation, not 0")],
        ),
        (
            {"original_order_id": None},
            [("$.original_order_id", "a return started online names its order")],
        ),
        ({"original_order_id": "WEB-404"}, [("$.original_order_id", "order WEB-404 is not known")]),
        (
            {"initiated_channel": "store"},
            [("$.initiated_channel", "returns at the till come from the POS")],
        ),
    ],
)
async def test_an_online_return_is_refused_with_each_fault_and_its_path(
    bus: SqliteBus, change: dict[str, object], faults: list[tuple[str, str]]
) -> None:
    body = returned("RMA-9", online=True).model_dump(mode="json") | change
    with pytest.raises(ReturnRefused) as refused:
        await initiate_return(bus, body)
    assert [(f.path, f.reason) for f in refused.value.faults] == faults
    assert not await bus.tail(types=["retail.return.requested.v1"])


async def test_an_online_return_of_a_cancelled_order_is_refused(bus: SqliteBus) -> None:
    async with bus.transaction() as transaction:
        await keep_order(
            transaction, order("WEB-7").model_copy(update={"status": OrderStatus.CANCELLED})
        )
    with pytest.raises(ReturnRefused) as refused:
        await initiate_return(bus, returned("RMA-7", online=True, order_id="WEB-7"))
    assert [(f.path, f.reason) for f in refused.value.faults] == [
        ("$.original_order_id", "order WEB-7 is cancelled")
    ]
