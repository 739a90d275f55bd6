"""Order-to-cash test helpers: the sandbox world, connectors from the sandbox estate file, canonical
web orders, POS till runs, faults, and bounded waits on the order-status projection."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import aiohttp

from retailhub.bootstrap import Connectors
from retailhub.bus.port import RetryPolicy
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.flows.order_to_cash import (
    CrossSystemStatus,
    StockSettings,
    held_for_order,
    order_status,
    subscribe_order_to_cash,
)
from retailhub.sandbox.seed import Estate, EstateCustomer

ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
SANDBOX_PORTS = {
    "shopify": 8701,
    "odoo": 8702,
    "hubspot": 8703,
    "openloyalty": 8704,
    "poslog": 8705,
}
FAST_RETRY = RetryPolicy(
    max_attempts=3,
    initial_backoff=timedelta(milliseconds=50),
    max_backoff=timedelta(milliseconds=200),
)
WAIT_S = 20.0


@dataclass
class World:
    """The running sandbox: its estate, URLs and connectors."""

    estate: Estate
    urls: dict[str, str]
    connectors: Connectors

    @property
    def trading_day(self) -> datetime:
        """A moment inside the winter campaign, so eligible SKUs earn the bonus."""
        start = self.estate.campaign.valid_from.astimezone(UTC)
        return datetime(start.year, start.month, start.day, 12, tzinfo=UTC) + timedelta(days=2)


def sandbox_estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators; loyalty's breaker resets fast
    so a test's outage ends when the fault is cleared."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        port = SANDBOX_PORTS.get(system, 8705)
        text = re.sub(rf"http://127\.0\.0\.1:{port}\b", url, text)
    return text.replace("breaker_reset_s = 5.0", "breaker_reset_s = 0.2")


async def start_flow(
    bus: SqliteBus, world: World, *, stock: StockSettings | None = None
) -> list[str]:
    """Subscribe order-to-cash to the bus against the sandbox's connectors."""
    connectors = world.connectors
    assert connectors.loyalty is not None
    assert connectors.crm is not None
    return await subscribe_order_to_cash(
        bus,
        erp=connectors.erps["odoo"],
        loyalty=connectors.loyalty,
        crm=connectors.crm,
        stock=stock,
        retry=FAST_RETRY,
        concurrency=8,
    )


async def status_of(bus: SqliteBus, order_id: str) -> CrossSystemStatus:
    """The order's cross-system status, bus holds included."""
    held = await held_for_order(bus, order_id)
    async with bus.transaction() as transaction:
        return await order_status(transaction, order_id, held)


async def wait_for(
    bus: SqliteBus,
    order_ids: Sequence[str],
    until: Callable[[CrossSystemStatus], bool],
    timeout_s: float = WAIT_S,
) -> dict[str, CrossSystemStatus]:
    """Poll (bounded in time) until every order's status satisfies `until`."""
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = {order_id: await status_of(bus, order_id) for order_id in order_ids}
        if all(until(s) for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            waiting = {k: v for k, v in statuses.items() if not until(v)}
            raise AssertionError(f"orders did not reach the expected status: {waiting}")
        await asyncio.sleep(0.05)


def floor(value: Decimal) -> int:
    """Whole points, rounded down as the platform does."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def expected_points(world: World, order: Order) -> tuple[int, int]:
    """(base, bonus) under the estate's rules: 1 point per EUR of each line's net value, and
    the campaign's bonus per whole unit of an eligible SKU."""
    campaign = world.estate.campaign
    eligible = set(campaign.eligibility.skus or ())
    base = sum(floor(line.net.amount) for line in order.lines)
    bonus = sum(
        (campaign.reward.points or 0) * floor(line.quantity)
        for line in order.lines
        if line.sku in eligible
    )
    return base, bonus


def plain_customers(estate: Estate) -> list[EstateCustomer]:
    """Customers every system knows by the same email."""
    return [c for c in estate.customers if not c.conflicts]


def web_order(
    world: World,
    order_id: str,
    customer: EstateCustomer | None,
    skus: Sequence[str],
    *,
    with_card: bool = False,
) -> Order:
    """A completed web order at web prices, VAT included, paid by card."""
    estate = world.estate
    lines = []
    for n, sku in enumerate(skus, start=1):
        price = estate.price(sku, Channel.WEB).selling_price
        quantity = Decimal(n % 2 + 1)
        gross = (price * quantity).rounded()
        rate = estate.vat_rate(sku) / 100
        tax = Money(
            amount=(gross.amount * rate / (1 + rate)).quantize(Decimal("0.01")), currency="EUR"
        )
        lines.append(
            OrderLine(
                line_id=str(n),
                sku=sku,
                title=estate.product(sku).title,
                quantity=quantity,
                unit_price=price,
                extended_amount=gross,
                tax_lines=[TaxLine(name=f"VAT {estate.vat_rate(sku)}%", rate=rate, amount=tax)],
            )
        )
    total = sum_money((line.net for line in lines), "EUR")
    tax_total = sum_money((line.tax_total for line in lines), "EUR")
    buyer: dict[str, Any] = {}
    if customer is not None:
        buyer = {
            "customer_id": customer.golden.customer_id,
            "email": customer.golden.emails[0],
            "loyalty_card": customer.card_number if with_card else None,
        }
    return Order(
        order_id=order_id,
        channel=Channel.WEB,
        currency="EUR",
        prices_include_tax=True,
        placed_at=world.trading_day,
        lines=lines,
        tenders=[Tender(type=TenderType.CARD, amount=total)],
        totals=Totals(tax_total=tax_total, grand_total=total),
        **buyer,
    )


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


async def ring_up(world: World, store: str, count: int, seed: int) -> bytes:
    """Ring up baskets on the POS till simulator and fetch the POSLog journal it wrote."""
    base = world.urls["poslog"]
    body = {
        "store": store,
        "count": count,
        "seed": seed,
        "business_day": world.trading_day.date().isoformat(),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/_sandbox/tills/run", json=body) as response:
            assert response.status == 201, await response.text()
            run = await response.json()
        async with session.get(f"{base}/_sandbox/tills/files/{run['file']}") as response:
            assert response.status == 200
            return await response.read()


async def note_count(world: World, key: str) -> int:
    """How many notes the CRM holds under a key."""
    crm: Any = world.connectors.crm
    page = await crm.client.search(
        "notes",
        [[{"propertyName": "retailhub_note_key", "operator": "EQ", "value": key}]],
        ["retailhub_note_key"],
    )
    return int(page.get("total", len(page.get("results") or [])))
