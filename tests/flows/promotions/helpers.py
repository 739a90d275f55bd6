"""Promotion test helpers: the sandbox world, promotions to author, bounded waits on the flow."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from retailhub.bootstrap import Connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderLine, Tender, TenderType, Totals
from retailhub.canonical.promotion import (
    Eligibility,
    PricingControls,
    Promotion,
    PromotionStatus,
    Reward,
)
from retailhub.connectors.ports import CommercePort, ErpPort, LoyaltyPort, PosPort
from retailhub.flows.promotions import SUBSCRIPTION, PromotionChannels, PromotionView
from retailhub.flows.promotions import promotion_status as status_query
from retailhub.resilience import SystemUnavailable
from retailhub.sandbox.seed import Estate

ESTATE_FILE = Path(__file__).resolve().parents[3] / "src/retailhub/estates/sandbox.toml"
SANDBOX_PORTS = {"shopify": 8701, "odoo": 8702, "hubspot": 8703, "openloyalty": 8704, "pos": 8705}
WAIT_S = 30.0
T = TypeVar("T")


def sandbox_estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the started emulators, breakers that reset fast."""
    text = ESTATE_FILE.read_text()
    for system, port in SANDBOX_PORTS.items():
        url = urls.get("poslog" if system == "pos" else system)
        if url is not None:
            text = re.sub(rf"http://127\.0\.0\.1:{port}\b", url, text)
    return re.sub(r"breaker_reset_s = [0-9.]+", "breaker_reset_s = 0.2", text)


@dataclass
class World:
    """The running sandbox: its estate, URLs, connectors and the SKUs tests may use."""

    estate: Estate
    urls: dict[str, str]
    connectors: Connectors
    estate_file: Path

    @property
    def erp(self) -> ErpPort:
        return self.connectors.erps["odoo"]

    @property
    def commerce(self) -> CommercePort:
        assert self.connectors.commerce is not None
        return self.connectors.commerce

    @property
    def pos(self) -> PosPort:
        assert self.connectors.pos is not None
        return self.connectors.pos

    @property
    def loyalty(self) -> LoyaltyPort:
        assert self.connectors.loyalty is not None
        return self.connectors.loyalty

    @property
    def channels(self) -> PromotionChannels:
        return PromotionChannels(commerce=self.commerce, pos=self.pos, loyalty=self.loyalty)

    def skus(self, start: int, count: int) -> list[str]:
        """Packaged SKUs outside the winter campaign, so no other promotion touches them."""
        campaign = set(self.estate.campaign.eligibility.skus)
        plain = [
            p.sku
            for p in self.estate.products
            if p.sku not in campaign and p.unit_of_measure.value == "each"
        ]
        return plain[start : start + count]


def promotion(
    promotion_id: str,
    skus: list[str],
    reward: dict[str, Any],
    *,
    version: int = 1,
    channels: tuple[Channel, ...] = (Channel.WEB, Channel.STORE),
    days: tuple[int, int] = (-1, 30),
    stackable: bool = False,
    status: PromotionStatus = PromotionStatus.DRAFT,
    minimum_margin: str | None = None,
    name: str | None = None,
    hierarchy: list[list[str]] | None = None,
) -> Promotion:
    """A promotion version as a marketer authors it in the CRM."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Promotion(
        promotion_id=promotion_id,
        version=version,
        name=name or f"Test {promotion_id}",
        description=f"{promotion_id} for the tests",
        source="hubspot",
        channels=list(channels),
        eligibility=Eligibility(skus=skus, hierarchy_nodes=hierarchy or []),
        reward=Reward.model_validate(reward),
        valid_from=today + timedelta(days=days[0]),
        valid_to=today + timedelta(days=days[1]),
        stackable=stackable,
        pricing_controls=PricingControls(
            minimum_margin_percent=None if minimum_margin is None else Decimal(minimum_margin)
        ),
        status=status,
    )


async def author(bus: SqliteBus, authored: Promotion) -> int:
    """Publish the authored version on the bus; its position."""
    event = to_event(
        authored, "retail.promotion.authored.v1", "/crm/hubspot", id=f"authored:{authored.key}"
    )
    return await bus.publish_one(event)


async def handled(bus: SqliteBus, position: int, timeout_s: float = WAIT_S) -> None:
    """Wait (bounded) until the subscription handled the event: its saga has then ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = await bus.status(SUBSCRIPTION)
        if state.cursor >= position and not state.retrying and not state.dead:
            return
        assert not state.dead, f"the authored event was dead-lettered: {state}"
        assert time.monotonic() < deadline, f"the saga did not end: {state}"
        await asyncio.sleep(0.05)


async def publish_and_wait(bus: SqliteBus, authored: Promotion) -> PromotionView:
    """Author a version, wait for its saga, and return the promotion's status."""
    await handled(bus, await author(bus, authored))
    view = await status_of(bus, authored.promotion_id)
    assert view is not None
    return view


async def status_of(bus: SqliteBus, promotion_id: str) -> PromotionView | None:
    """The promotion's status from the projection."""
    async with bus.transaction() as transaction:
        return await status_query(transaction, promotion_id)


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


def web_sale(world: World, order_id: str, sku: str, quantity: int) -> Order:
    """A completed web order of one SKU at its web price, by a member paying by card, now."""
    estate = world.estate
    buyer = next(c for c in estate.customers if not c.conflicts)
    price = estate.price(sku, Channel.WEB).selling_price
    gross = (price * Decimal(quantity)).rounded()
    return Order(
        order_id=order_id,
        channel=Channel.WEB,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime.now(UTC),
        loyalty_card=buyer.card_number,
        email=buyer.golden.emails[0],
        lines=[OrderLine(line_id="1", sku=sku, quantity=Decimal(quantity), unit_price=price)],
        tenders=[Tender(type=TenderType.CARD, amount=gross)],
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=gross),
    )


async def edit_earning_rule(world: World, rule_id: str, **changes: Any) -> None:
    """Change an earning rule in Open Loyalty directly, as someone in its back office would."""
    client: Any = world.loyalty
    path = client.client.path("earningRule", rule_id)
    rule = await client.client.get(path)
    body = {key: value for key, value in rule.items() if key != "earningRuleId"}
    await client.client.put(path, {"earningRule": {**body, **changes}})


async def shopify_rule_titles(world: World, promotion_id: str) -> list[str]:
    """The titles of the Shopify price rules publishing any version of a promotion."""
    commerce: Any = world.commerce
    titles = [str(rule.get("title")) async for rule in commerce.client.price_rules()]
    return sorted(title for title in titles if f"[{promotion_id} v" in title)


async def once_closed(call: Callable[[], Awaitable[T]], timeout_s: float = WAIT_S) -> T:
    """Call a system whose breaker a fault opened: retried (bounded) until the breaker lets the
    call through again."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await call()
        except SystemUnavailable:
            assert time.monotonic() < deadline, "the breaker stayed open"
            await asyncio.sleep(0.05)
