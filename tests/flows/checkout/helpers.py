"""Checkout test helpers: the sandbox world (Open Loyalty only), members handed out one per test,
baskets and sales at store prices, a clock the test moves, and faults on the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, Tender, TenderType, Totals
from retailhub.connectors.ports import BasketLine, LoyaltyPort
from retailhub.flows.checkout import PassReport
from retailhub.sandbox.seed import Estate, EstateCustomer

STORE = "AMS01"
BOUNDED_WAIT_S = 10.0


def estate_text(url: str) -> str:
    """An estate of one system, the Open Loyalty emulator; its breaker resets fast so a test's
    outage ends soon after the fault is cleared."""
    return f"""
name = "checkout-test"

[systems.openloyalty]
product = "openloyalty"
base_url = "{url}"
secrets = {{ api_token = "RETAILHUB_OPENLOYALTY_API_TOKEN" }}
options = {{ store_code = "DEFAULT" }}
resilience = {{ timeout_s = 2.0, max_attempts = 1, breaker_threshold = 3, breaker_reset_s = 0.2 }}
"""


@dataclass
class World:
    """The running emulator, its estate and the loyalty port on it."""

    estate: Estate
    url: str
    loyalty: LoyaltyPort
    _members: Iterator[EstateCustomer] = field(init=False)

    def __post_init__(self) -> None:
        rich = [c for c in self.estate.customers if c.points_balance >= 1500 and not c.conflicts]
        self._members = iter(rich)

    def member(self) -> EstateCustomer:
        """A member no other test has used, with at least 1,500 points."""
        return next(self._members)

    def campaign_sku(self) -> str:
        """A SKU of the winter campaign (bonus points per unit)."""
        return sorted(self.estate.campaign.eligibility.skus or ())[0]

    def plain_sku(self) -> str:
        """A SKU outside the campaign."""
        eligible = set(self.estate.campaign.eligibility.skus or ())
        return next(p.sku for p in self.estate.products if p.sku not in eligible)


class Clock:
    """The desk's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time on."""
        self.now += delta


def basket(world: World, skus: Sequence[str], quantity: int = 2) -> list[BasketLine]:
    """A basket of `quantity` units of each SKU at store prices."""
    return [
        BasketLine(sku, Decimal(quantity), world.estate.price(sku, Channel.STORE).selling_price)
        for sku in skus
    ]


def store_sale(order_id: str, card: str, lines: Sequence[BasketLine]) -> Order:
    """The completed store sale of a basket, paid by card, as the till would report it now."""
    order_lines = [
        OrderLine(
            line_id=str(n),
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            extended_amount=Money(amount=line.unit_price.amount * line.quantity, currency="EUR"),
        )
        for n, line in enumerate(lines, start=1)
    ]
    total = sum_money((line.net for line in order_lines), "EUR")
    return Order(
        order_id=order_id,
        channel=Channel.STORE,
        location=STORE,
        loyalty_card=card,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime.now(UTC),
        lines=order_lines,
        tenders=[Tender(type=TenderType.CARD, amount=total)],
        totals=Totals(tax_total=Money(amount=Decimal(0), currency="EUR"), grand_total=total),
    )


async def set_faults(url: str, faults: dict[str, Any] | None) -> None:
    """Inject faults on the emulator (None clears them)."""
    async with aiohttp.ClientSession() as session:
        if faults is None:
            async with session.delete(f"{url}/_sandbox/faults") as response:
                assert response.status < 300
        else:
            async with session.put(f"{url}/_sandbox/faults", json=faults) as response:
                assert response.status < 300, await response.text()


async def balance_at_platform(world: World, member_id: str) -> int:
    """The member's spendable points as the platform holds them now."""
    account = await world.loyalty.find_member(member_id=member_id)
    assert account is not None
    return account.points_balance


async def until_posted(post: Any) -> PassReport:
    """Run settlement passes until one finds the platform up (its breaker closes shortly after
    the fault is cleared); bounded."""
    deadline = asyncio.get_running_loop().time() + BOUNDED_WAIT_S
    while True:
        report: PassReport = await post()
        if not report.platform_down:
            return report
        assert asyncio.get_running_loop().time() < deadline, "the platform never came back"
        await asyncio.sleep(0.1)


async def until_platform_answers(world: World) -> None:
    """Wait (bounded) until the loyalty port answers again: its breaker closes shortly after a
    fault is cleared, and the next test must start with the platform up."""
    deadline = asyncio.get_running_loop().time() + BOUNDED_WAIT_S
    member_id = world.estate.customers[0].account.member_id
    while True:
        try:
            await world.loyalty.find_member(member_id=member_id)
            return
        except Exception:
            assert asyncio.get_running_loop().time() < deadline, "the platform never came back"
            await asyncio.sleep(0.05)


async def fails_then_answers(world: World) -> tuple[dict[str, Any], int]:
    """Faults under which, after `burn` requests, the next request fails (HTTP 500) and the one
    after it is answered. The emulator re-seeds its error dice whenever faults are set, so the
    same settings give the same sequence: found here by trying, then used by the test."""
    member_id = world.estate.customers[0].account.member_id
    url = f"{world.url}/api/DEFAULT/member/{member_id}"
    headers = {"X-AUTH-TOKEN": "sandbox-openloyalty-token"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for rate in (0.3, 0.4, 0.5, 0.6, 0.7):
            await set_faults(world.url, {"down": False, "error_rate": rate})
            statuses = []
            for _ in range(8):
                async with session.get(url) as response:
                    statuses.append(response.status)
            for burn in range(7):
                if statuses[burn] == 500 and statuses[burn + 1] == 200:
                    return {"error_rate": rate}, burn
    raise AssertionError("no error rate fails one request and answers the next")


async def burn_requests(world: World, count: int) -> None:
    """Spend `count` of the emulator's error dice on harmless reads."""
    member_id = world.estate.customers[0].account.member_id
    url = f"{world.url}/api/DEFAULT/member/{member_id}"
    headers = {"X-AUTH-TOKEN": "sandbox-openloyalty-token"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(count):
            async with session.get(url) as response:
                await response.read()
