"""Reconciliation test helpers: the sandbox world, the estate file pointed at it, orders and
returns on a business day of the test's own, till runs, faults, and bounded waits."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from retailhub.bootstrap import Connectors
from retailhub.bus.port import RetryPolicy
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.poslog.intake import poslog_intake
from retailhub.flows.alerts import BusAlertSink
from retailhub.flows.order_to_cash import StockSettings, subscribe_order_to_cash
from retailhub.flows.order_to_cash.events import ORDER_CANCELLED, ORDER_CREATED
from retailhub.flows.reconciliation import Reconciliation, subscribe_reconciliation
from retailhub.flows.sagas import WorkflowRuntime, WorkflowSettings
from retailhub.resilience.policy import SystemUnavailable
from retailhub.sandbox.runner import SANDBOX_PORTS
from retailhub.sandbox.seed import Estate, EstateCustomer

SYSTEMS = ("odoo", "openloyalty", "hubspot", "poslog")
CUSTOMERS = 300
ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
FAST_RETRY = RetryPolicy(
    max_attempts=2,
    initial_backoff=timedelta(milliseconds=20),
    max_backoff=timedelta(milliseconds=50),
)
WAIT_S = 20.0
SOURCE = "/shopify/test-shop"
FLOWS = ("o2c.erp", "o2c.stock", "o2c.loyalty", "o2c.crm", "reconciliation.ledger")


@dataclass
class World:
    """The running sandbox: its estate, URLs, connectors and the estate file pointing at it."""

    estate: Estate
    urls: dict[str, str]
    connectors: Connectors
    estate_file: Path

    def day(self, offset: int) -> date:
        """A business day of the test's own, so postings of other tests never land on it."""
        start = self.estate.campaign.valid_from.astimezone(UTC).date()
        return start + timedelta(days=3 + offset)


def estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators; breakers reset fast, so an
    outage ends when a test clears the fault."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{SANDBOX_PORTS[system]}\b", url, text)
    return re.sub(r"breaker_reset_s = [0-9.]+", "breaker_reset_s = 0.2", text)


async def start_flows(
    bus: SqliteBus, world: World, runtime: WorkflowRuntime | None = None
) -> Reconciliation:
    """Order-to-cash (the ERP moves stock) and reconciliation on the bus (with its schedule
    when `runtime` is launched)."""
    connectors = world.connectors
    assert connectors.loyalty is not None
    assert connectors.crm is not None
    erp = connectors.erps["odoo"]
    await subscribe_order_to_cash(
        bus,
        erp=erp,
        loyalty=connectors.loyalty,
        crm=connectors.crm,
        stock=StockSettings(erp_moves_stock=True),
        retry=FAST_RETRY,
        concurrency=8,
    )
    return await reconciliation_on(bus, world, runtime)


async def reconciliation_on(
    bus: SqliteBus, world: World, runtime: WorkflowRuntime | None
) -> Reconciliation:
    """Reconciliation subscribed on the bus against the sandbox's ERP and loyalty platform."""
    connectors = world.connectors
    assert connectors.loyalty is not None
    unlaunched = WorkflowRuntime(WorkflowSettings.embedded(Path("unused")))
    return await subscribe_reconciliation(
        bus,
        runtime or unlaunched,
        erps=connectors.erps,
        loyalty=connectors.loyalty,
        alerts=BusAlertSink(bus),
        retry=FAST_RETRY,
    )


def members(estate: Estate) -> list[EstateCustomer]:
    """Customers every system knows by the same email."""
    return [c for c in estate.customers if not c.conflicts]


def web_order(
    world: World,
    order_id: str,
    day: date,
    customer: EstateCustomer | None,
    skus: Sequence[str],
    *,
    quantity: int = 1,
) -> Order:
    """A completed web order placed at noon on `day`, at web prices, VAT included, by card."""
    estate = world.estate
    lines = []
    for n, sku in enumerate(skus, start=1):
        price = estate.price(sku, Channel.WEB).selling_price
        gross = (price * Decimal(quantity)).rounded()
        rate = estate.vat_rate(sku) / 100
        tax = Money(
            amount=(gross.amount * rate / (1 + rate)).quantize(Decimal("0.01")), currency="EUR"
        )
        lines.append(
            OrderLine(
                line_id=str(n),
                sku=sku,
                quantity=Decimal(quantity),
                unit_price=price,
                extended_amount=gross,
                tax_lines=[TaxLine(name="VAT", rate=rate, amount=tax)],
            )
        )
    total = sum_money((line.net for line in lines), "EUR")
    buyer: dict[str, Any] = {}
    if customer is not None:
        buyer = {
            "customer_id": customer.golden.customer_id,
            "email": customer.golden.emails[0],
            "loyalty_card": customer.card_number,
        }
    return Order(
        order_id=order_id,
        channel=Channel.WEB,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime.combine(day, clock(12), UTC),
        lines=lines,
        tenders=[Tender(type=TenderType.CARD, amount=total)],
        totals=Totals(
            tax_total=sum_money((line.tax_total for line in lines), "EUR"), grand_total=total
        ),
        **buyer,
    )


def refund_of(order: Order, return_id: str, status: ReturnStatus) -> Return:
    """A return of the order's first line, brought back to the web shop, at its full price."""
    line = order.lines[0]
    refund = line.net
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=Channel.WEB,
        received_channel=Channel.WEB,
        received_location="WEB",
        loyalty_card=order.loyalty_card,
        customer_id=order.customer_id,
        currency=order.currency,
        lines=[
            ReturnLine(
                line_id="1",
                original_line_id=line.line_id,
                sku=line.sku,
                quantity=line.quantity,
                refund_amount=refund,
            )
        ],
        refund_tenders=[Tender(type=TenderType.CARD, amount=refund)],
        refund_total=refund,
        status=status,
        created_at=order.placed_at + timedelta(hours=2),
    )


def cancelled(order: Order) -> Order:
    """The order as its cancellation carries it."""
    from retailhub.canonical.order import OrderStatus

    return order.model_copy(update={"status": OrderStatus.CANCELLED})


async def till_orders(
    world: World, store: str, day: date, count: int, seed: int
) -> list[CloudEvent]:
    """Ring up baskets on the till simulator for `day` and take the journal's sales and voided
    baskets (its returns are the returns flow's)."""
    base = world.urls["poslog"]
    body = {"store": store, "count": count, "seed": seed, "business_day": day.isoformat()}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/_sandbox/tills/run", json=body) as response:
            assert response.status == 201, await response.text()
            run = await response.json()
        async with session.get(f"{base}/_sandbox/tills/files/{run['file']}") as response:
            assert response.status == 200
            journal = await response.read()
    events = poslog_intake(journal).events
    return [e for e in events if e.type in (ORDER_CREATED, ORDER_CANCELLED)]


async def set_faults(world: World, system: str, faults: dict[str, Any] | None) -> None:
    """Inject faults on an emulator (None clears them)."""
    url = f"{world.urls[system]}/_sandbox/faults"
    async with aiohttp.ClientSession() as session:
        if faults is None:
            async with session.delete(url) as response:
                assert response.status < 300
        else:
            async with session.put(url, json=faults) as response:
                assert response.status < 300, await response.text()


async def cleared(world: World, system: str) -> None:
    """Clear an emulator's faults and wait until its connector's breaker lets calls through."""
    await set_faults(world, system, None)
    connectors = world.connectors
    loyalty = connectors.loyalty
    assert loyalty is not None

    async def answers() -> bool:
        try:
            if system == "odoo":
                await connectors.erps["odoo"].find_posting("no-such-key")
            else:
                await loyalty.find_member(member_id="no-such-member")
        except SystemUnavailable:
            return False
        return True

    await eventually(answers, f"{system} to answer again")


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = WAIT_S
) -> None:
    """Poll `check` until it holds, failing with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def drained(bus: SqliteBus, *, dead_allowed: bool = False) -> None:
    """Wait until every flow has handled everything published (dead letters when allowed)."""

    async def settled() -> bool:
        for name in FLOWS:
            state = await bus.status(name)
            if state.lag or state.retrying or state.parked or (state.dead and not dead_allowed):
                return False
        return True

    await eventually(settled, "the flows to drain")
