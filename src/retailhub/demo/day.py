"""The trading day `retailhub demo` plays: a retailer's day from opening to closing, compressed
into a few minutes, through a running hub and the sandbox estate.

At opening marketing publishes a bonus-points campaign from the CRM. Shoppers buy in five stores
(till journals reach the hub as the POSLog intake publishes them) and on the web shop (orders
placed on the Shopify emulator reach the hub as Shopify's signed webhooks). Returns come back
to the stores, some bought online and started on the web shop first. Customers edit their
profiles on the web shop and service agents in the CRM. The loyalty platform goes down over
lunch and the ERP shortly after; the hub keeps trading and catches up. Each scene is an async
task given the stage; the tally they keep is what the live view and the summary show.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from retailhub.bootstrap import Hub
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.customer import Customer
from retailhub.canonical.order import Order
from retailhub.canonical.promotion import Eligibility, Promotion, Reward, RewardType
from retailhub.demo.returns import brought_back, requested_online
from retailhub.demo.sandbox_process import RunningSandbox
from retailhub.demo.shoppers import Shoppers
from retailhub.demo.web_shop import WebShop
from retailhub.flows.customers.events import profile_event
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.returns.requests import ReturnRefused, initiate_return
from retailhub.sandbox.runner import set_faults
from retailhub.sandbox.seed import Estate

OPENING_HOUR = 8
CLOSING_HOUR = 22
TILL_SOURCE = "/pos/tills"
CAMPAIGN_SOURCE = "/crm/hubspot"
RETURN_RECEIVED = "retail.return.received.v1"
PROMOTION_AUTHORED = "retail.promotion.authored.v1"
CAMPAIGN_ID = "WEEKEND-DOUBLE"
CAMPAIGN_BONUS = 25


@dataclass(frozen=True)
class DayClock:
    """Maps real seconds onto shop hours: opening to closing in `minutes` real minutes."""

    started: float
    minutes: float
    business_day: datetime

    def share(self) -> float:
        """How much of the trading day has gone, 0 to 1."""
        return min(1.0, (time.monotonic() - self.started) / (self.minutes * 60))

    def shop_time(self) -> datetime:
        """The moment in the shop's day that now corresponds to."""
        hours = CLOSING_HOUR - OPENING_HOUR
        opened = self.business_day.replace(hour=OPENING_HOUR, minute=0, second=0, microsecond=0)
        return opened + timedelta(hours=hours * self.share())

    async def until(self, share: float) -> None:
        """Sleep until `share` of the day has gone."""
        wait = self.started + share * self.minutes * 60 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass
class Tally:
    """What happened during the day, as the scenes report it."""

    store_orders: list[Order] = field(default_factory=list)
    web_orders: list[int] = field(default_factory=list)
    by_channel: Counter[str] = field(default_factory=Counter)
    returns: list[str] = field(default_factory=list)
    refused_returns: list[str] = field(default_factory=list)
    profile_edits: Counter[str] = field(default_factory=Counter)
    campaigns: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    outages_now: set[str] = field(default_factory=set)

    @property
    def orders(self) -> int:
        """Orders taken so far, in stores and online."""
        return sum(self.by_channel.values())


@dataclass(frozen=True)
class Stage:
    """What every scene works with."""

    hub: Hub
    sandbox: RunningSandbox
    estate: Estate
    clock: DayClock
    tally: Tally
    orders_per_minute: float
    web_shop: WebShop


Scene = Callable[[Stage], Coroutine[Any, Any, None]]
T = TypeVar("T")


def business_day_of(estate: Estate) -> datetime:
    """A day inside the estate's bonus-points campaign, so campaign SKUs earn the bonus."""
    start = estate.campaign.valid_from.astimezone(UTC)
    return datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=2)


def weekend_campaign(estate: Estate, business_day: datetime) -> Promotion:
    """The campaign marketing authors in the CRM at opening: bonus points on five items."""
    skus = [product.sku for product in estate.products[100:105]]
    return Promotion(
        promotion_id=CAMPAIGN_ID,
        version=1,
        name="Weekend double points",
        description="Bonus points on five favourites, in every store and online",
        source="hubspot",
        channels=[Channel.WEB, Channel.STORE],
        eligibility=Eligibility(skus=skus),
        reward=Reward(type=RewardType.BONUS_POINTS, points=CAMPAIGN_BONUS),
        valid_from=business_day,
        valid_to=business_day + timedelta(days=3),
    )


async def campaign_launch(stage: Stage) -> None:
    """Marketing publishes the weekend campaign from the CRM as the stores open."""
    await stage.clock.until(0.02)
    campaign = weekend_campaign(stage.estate, stage.clock.business_day)
    await stage.hub.bus.publish_one(
        to_event(campaign, PROMOTION_AUTHORED, CAMPAIGN_SOURCE, id=f"authored:{CAMPAIGN_ID}:v1")
    )
    stage.tally.campaigns.append(campaign.name)
    stage.tally.incidents.append(f"{stage.clock.shop_time():%H:%M} campaign authored in the CRM")


async def shoppers_buy(stage: Stage) -> None:
    """Orders at the tills and on the web shop, at a steady pace from opening to closing."""
    shoppers = Shoppers(stage.estate, seed=stage.estate.seed)
    interval = 60.0 / stage.orders_per_minute
    number = 0
    while stage.clock.share() < 1.0:
        number += 1
        order = shoppers.order(f"DAY-{number:05d}", stage.clock.shop_time())
        if order.location:
            await stage.hub.bus.publish_one(to_event(order, ORDER_CREATED, TILL_SOURCE))
            stage.tally.store_orders.append(order)
        else:
            shopper = shoppers.member_of(order)
            basket = [(line.sku or "", int(line.quantity)) for line in order.lines]
            web_id = await stage.web_shop.check_out(shopper, basket, order.placed_at)
            stage.tally.web_orders.append(web_id)
        stage.tally.by_channel[order.channel.value] += 1
        await asyncio.sleep(interval)


async def returns_desk(stage: Stage) -> None:
    """Goods come back to the stores: store sales, and web orders whose return was started
    online first; the platform the order was paid on refunds it."""
    dice = random.Random(stage.estate.seed)
    pace = stage.clock.minutes * 60 / 16
    await stage.clock.until(0.15)
    number = 0
    commerce = stage.hub.connectors.commerce
    returned_web: set[int] = set()
    returned_store: set[int] = set()
    while stage.clock.share() < 0.92:
        number += 1
        store = dice.choice([s.code for s in stage.estate.stores if s.channel is Channel.STORE])
        at = stage.clock.shop_time()
        online = number % 2 == 0 and stage.tally.web_orders and commerce is not None
        try:
            if online and commerce is not None:
                web_id = _take_one(dice, stage.tally.web_orders, returned_web)
                order = None
                if web_id is not None:
                    order = await commerce.get_order(f"SHOPIFY-ORDER-{web_id}")
                if order is not None:
                    goods = brought_back(order, f"RET-{number:04d}", store, at, paid_at_till=False)
                    await initiate_return(
                        stage.hub.bus, requested_online(goods, at), commerce=commerce
                    )
                    await asyncio.sleep(pace / 3)
                    await stage.hub.bus.publish_one(to_event(goods, RETURN_RECEIVED, TILL_SOURCE))
                    stage.tally.returns.append(goods.return_id)
            elif stage.tally.store_orders:
                sale = _take_one(dice, stage.tally.store_orders, returned_store)
                if sale is not None:
                    goods = brought_back(sale, f"RET-{number:04d}", store, at, paid_at_till=True)
                    await stage.hub.bus.publish_one(to_event(goods, RETURN_RECEIVED, TILL_SOURCE))
                    stage.tally.returns.append(goods.return_id)
        except ReturnRefused as refused:
            stage.tally.refused_returns.append(f"RET-{number:04d}: {refused}")
        await asyncio.sleep(pace)


def _take_one(dice: random.Random, sold: list[T], taken: set[int]) -> T | None:
    """A sale from the older half of `sold` not brought back before, or None when none is left
    (each sale comes back once: a second return of it would be refused as a duplicate)."""
    older = [n for n in range(len(sold) // 2) if n not in taken]
    if not older:
        return None
    chosen = dice.choice(older)
    taken.add(chosen)
    return sold[chosen]


async def profile_edits(stage: Stage) -> None:
    """Customers change their phone on the web shop; service agents take new numbers in the CRM."""
    dice = random.Random(stage.estate.seed + 1)
    members = [c for c in stage.estate.customers[:200] if not c.conflicts]
    pace = stage.clock.minutes * 60 / 12
    crm = stage.hub.connectors.crm
    await stage.clock.until(0.1)
    while stage.clock.share() < 0.9:
        member = dice.choice(members)
        email = member.golden.emails[0]
        if dice.random() < 0.5:
            phone = mobile_number(dice)
            if await stage.web_shop.change_phone(email, phone):
                stage.tally.profile_edits["web shop"] += 1
        elif crm is not None:
            contact = await crm.find_contact(email)
            if contact is not None:
                phone = mobile_number(dice)
                edited = Customer.model_validate({**contact.model_dump(), "phones": [phone]})
                await crm.upsert_contact(edited)
                stored = await crm.find_contact(email)
                if stored is not None:
                    await stage.hub.bus.publish_one(profile_event("hubspot", stored))
                    stage.tally.profile_edits["CRM"] += 1
        await asyncio.sleep(pace)


def mobile_number(dice: random.Random) -> str:
    """A Dutch mobile number in E.164 (06-1 to 06-5 ranges are mobile)."""
    return f"+316{dice.randint(1, 5)}{dice.randint(1_000_000, 9_999_999)}"


async def outage(stage: Stage, system: str, begins: float, ends: float, what: str) -> None:
    """Take `system` down between two shares of the day, then bring it back."""
    await stage.clock.until(begins)
    await set_faults(system, {"down": True}, stage.sandbox.ports)
    stage.tally.outages_now.add(system)
    stage.tally.incidents.append(f"{stage.clock.shop_time():%H:%M} {what} down")
    await stage.clock.until(ends)
    await set_faults(system, None, stage.sandbox.ports, clear=True)
    stage.tally.outages_now.discard(system)
    stage.tally.incidents.append(f"{stage.clock.shop_time():%H:%M} {what} back")


async def loyalty_outage(stage: Stage) -> None:
    """The loyalty platform is down over lunch."""
    await outage(stage, "openloyalty", 0.40, 0.50, "loyalty platform")


async def erp_outage(stage: Stage) -> None:
    """The ERP is down early in the afternoon."""
    await outage(stage, "odoo", 0.55, 0.63, "ERP")


SCENES: tuple[Scene, ...] = (
    campaign_launch,
    shoppers_buy,
    returns_desk,
    profile_edits,
    loyalty_outage,
    erp_outage,
)
