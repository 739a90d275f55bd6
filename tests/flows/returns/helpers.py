"""Return-to-refund test helpers: connectors on the sandbox estate, canonical sales and returns
of estate members, a web order placed on the Shopify emulator, and bounded waits."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from retailhub.bootstrap import Connectors
from retailhub.bus.port import RetryPolicy
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.flows.returns import CallPolicy, ReturnSettings, ReturnStatusView, return_status
from retailhub.flows.returns.ledger import sold_order
from retailhub.flows.sagas import WorkflowRuntime
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
# Four attempts wait 0.25 s in all: past the 0.2 s breaker reset, so a system faulted by one
# saga is tried again (half-open) by the next instead of refused while its breaker is open.
FAST_CALLS = ReturnSettings(
    calls=CallPolicy(attempts=4, first_wait_s=0.05, max_wait_s=0.1),
    order_wait_s=5.0,
    order_poll_s=0.05,
)
WAIT_S = 30.0
STORE = "AMS01"
POS_SOURCE = f"/pos/{STORE}"
SHOP_SOURCE = "/shopify/test-shop"


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

    def bonus_skus(self) -> list[str]:
        """SKUs of the winter campaign (bonus points per unit), sold by the each."""
        eligible = set(self.estate.campaign.eligibility.skus or ())
        return [
            p.sku
            for p in self.estate.products
            if p.sku in eligible and p.gtins and p.unit_of_measure.value == "each"
        ]

    def plain_skus(self) -> list[str]:
        """SKUs outside the campaign, sold by the each."""
        eligible = set(self.estate.campaign.eligibility.skus or ())
        return [
            p.sku
            for p in self.estate.products
            if p.sku not in eligible and p.gtins and p.unit_of_measure.value == "each"
        ]

    def members(self) -> list[EstateCustomer]:
        """Customers every system knows by the same email."""
        return [c for c in self.estate.customers[:200] if not c.conflicts]


@dataclass
class Hub:
    """The bus, the workflow runtime and the flow's subscriptions of one test."""

    bus: SqliteBus
    runtime: WorkflowRuntime
    subscriptions: list[str]


def sandbox_estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators; breakers reset fast."""
    text = ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{SANDBOX_PORTS[system]}\b", url, text)
    return re.sub(r"breaker_reset_s = [0-9.]+", "breaker_reset_s = 0.2", text)


def _line(world: World, n: int, sku: str, quantity: int, channel: Channel) -> OrderLine:
    estate = world.estate
    price = estate.price(sku, channel).selling_price
    gross = (price * Decimal(quantity)).rounded()
    rate = estate.vat_rate(sku) / 100
    tax = Money(amount=(gross.amount * rate / (1 + rate)).quantize(Decimal("0.01")), currency="EUR")
    return OrderLine(
        line_id=str(n),
        sku=sku,
        quantity=Decimal(quantity),
        unit_price=price,
        extended_amount=gross,
        tax_lines=[TaxLine(name=f"VAT {estate.vat_rate(sku)}%", rate=rate, amount=tax)],
    )


def store_sale(
    world: World,
    order_id: str,
    member: EstateCustomer | None,
    items: Sequence[tuple[str, int]],
    *,
    points: int = 0,
) -> Order:
    """A completed till sale at the store, VAT included, paid by card and `points` (100 = EUR 1)."""
    lines = [_line(world, n, sku, qty, Channel.STORE) for n, (sku, qty) in enumerate(items, 1)]
    total = sum_money((line.net for line in lines), "EUR")
    tenders = []
    if points:
        by_points = Money(amount=Decimal(points) / 100, currency="EUR")
        tenders.append(Tender(type=TenderType.LOYALTY_POINTS, amount=by_points, points=points))
        total_card = total - by_points
    else:
        total_card = total
    tenders.append(Tender(type=TenderType.CARD, amount=total_card))
    return Order(
        order_id=order_id,
        channel=Channel.STORE,
        location=STORE,
        currency="EUR",
        prices_include_tax=True,
        placed_at=world.trading_day,
        lines=lines,
        tenders=tenders,
        totals=Totals(
            tax_total=sum_money((ln.tax_total for ln in lines), "EUR"), grand_total=total
        ),
        loyalty_card=member.card_number if member else None,
        email=member.golden.emails[0] if member else None,
    )


def store_return(
    world: World,
    return_id: str,
    order: Order,
    items: Sequence[tuple[str, int]],
    *,
    paid_at_till: bool = True,
    channel: Channel = Channel.STORE,
) -> Return:
    """Goods of `order` brought back to the store: (line id, quantity) each, refunded at the
    line's price; the till pays out by card unless `paid_at_till` is false."""
    sold = {line.line_id: line for line in order.lines}
    lines = [
        ReturnLine(
            line_id=str(n),
            original_line_id=line_id,
            sku=sold[line_id].sku,
            quantity=Decimal(quantity),
            refund_amount=(
                sold[line_id].net * (Decimal(quantity) / sold[line_id].quantity)
            ).rounded(),
        )
        for n, (line_id, quantity) in enumerate(items, 1)
    ]
    total = sum_money((line.refund_amount for line in lines), "EUR")
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=channel,
        initiated_location=STORE if channel is Channel.STORE else None,
        received_channel=Channel.STORE,
        received_location=STORE,
        loyalty_card=order.loyalty_card,
        currency="EUR",
        lines=lines,
        refund_tenders=[Tender(type=TenderType.CARD, amount=total)] if paid_at_till else [],
        refund_total=total,
        status=ReturnStatus.REFUNDED if paid_at_till else ReturnStatus.RECEIVED,
        created_at=world.trading_day + timedelta(hours=3),
    )


def online_request(document: Return) -> Return:
    """The same goods as a return started on the web shop, not yet received."""
    return Return.model_validate(
        {
            **document.model_dump(),
            "return_id": f"{document.return_id}-RMA",
            "initiated_channel": Channel.WEB,
            "initiated_location": None,
            "received_channel": None,
            "received_location": None,
            "refund_tenders": [],
            "status": ReturnStatus.REQUESTED,
        }
    )


async def place_web_order(
    world: World, member: EstateCustomer, items: Sequence[tuple[str, int]]
) -> Order:
    """Place a paid order on the Shopify emulator over HTTP; the canonical order read back."""
    commerce: Any = world.connectors.commerce
    variants = await commerce.variants([sku for sku, _ in items])
    body = {
        "order": {
            "email": member.golden.emails[0],
            "processed_at": world.trading_day.isoformat(),
            "line_items": [
                {"variant_id": variants[sku].variant_id, "quantity": qty} for sku, qty in items
            ],
        }
    }
    token = "shpat_retailhub_sandbox"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{world.urls['shopify']}/admin/api/2024-10/orders.json",
            json=body,
            headers={"X-Shopify-Access-Token": token},
        ) as response,
    ):
        assert response.status == 201, await response.text()
        created = await response.json()
    order = await commerce.get_order(f"SHOPIFY-ORDER-{created['order']['id']}")
    assert order is not None
    return order


def order_event(order: Order, source: str = POS_SOURCE) -> Any:
    """The order's `retail.order.created.v1`, as the channel's intake publishes it."""
    return to_event(order, "retail.order.created.v1", source, id=f"{order.order_id}/created")


def received_event(document: Return, source: str = POS_SOURCE, *, id: str | None = None) -> Any:
    """The return's `retail.return.received.v1`, as the POSLog intake publishes it."""
    return to_event(
        document, "retail.return.received.v1", source, id=id or f"{document.return_id}/received"
    )


async def status_of(bus: SqliteBus, return_id: str) -> ReturnStatusView | None:
    """The return's cross-system status."""
    async with bus.transaction() as transaction:
        return await return_status(transaction, return_id)


async def wait_for(
    bus: SqliteBus,
    return_ids: Sequence[str],
    until: Callable[[ReturnStatusView], bool],
    timeout_s: float = WAIT_S,
) -> dict[str, ReturnStatusView]:
    """Poll (bounded in time) until every return's status satisfies `until`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = {r: await status_of(bus, r) for r in return_ids}
        if all(s is not None and until(s) for s in found.values()):
            return {k: v for k, v in found.items() if v is not None}
        if time.monotonic() > deadline:
            raise AssertionError(f"returns did not reach the expected status: {found}")
        await asyncio.sleep(0.05)


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


async def ledger_points(world: World, member_id: str, document_id: str) -> int:
    """Points the member's active ledger rows moved for one order or return."""
    assert world.connectors.loyalty is not None
    rows = await world.connectors.loyalty.ledger(member_id)
    return sum(r.points for r in rows if document_id in (r.order_id, r.return_id))


async def balance(world: World, member_id: str) -> int:
    """The member's spendable points, from the active ledger."""
    assert world.connectors.loyalty is not None
    return sum(r.points for r in await world.connectors.loyalty.ledger(member_id))


async def on_hand(world: World, location: str, skus: set[str]) -> dict[str, Decimal]:
    """Stock on hand per SKU at a location, as the ERP holds it."""
    levels = await world.connectors.erps["odoo"].stock_levels(location)
    return {level.sku: level.on_hand for level in levels if level.sku in skus}


def expected_points(world: World, order: Order) -> tuple[int, int]:
    """(base, bonus) under the estate's rules: 1 point per whole EUR of each line's net value,
    and the campaign's bonus per whole unit of an eligible SKU."""
    campaign = world.estate.campaign
    eligible = set(campaign.eligibility.skus or ())
    base = sum(int(line.net.amount) for line in order.lines)
    bonus = sum(
        (campaign.reward.points or 0) * int(line.quantity)
        for line in order.lines
        if line.sku in eligible
    )
    return base, bonus


async def wait_until_known(hub: Hub, order_id: str) -> None:
    """Bounded wait until the returns ledger keeps an order."""
    deadline = time.monotonic() + WAIT_S
    while True:
        async with hub.bus.transaction() as transaction:
            if await sold_order(transaction, order_id) is not None:
                return
        assert time.monotonic() < deadline, f"order {order_id} never reached the ledger"
        await asyncio.sleep(0.05)
