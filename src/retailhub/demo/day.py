"""The trading day `retailhub demo` plays: a retailer's day from opening to closing, compressed
into a few minutes, through a running hub and the sandbox estate.

Shoppers buy in five stores and on the web shop all day, the bonus-points campaign runs, the
loyalty platform goes down around lunch and the ERP shortly after; the hub keeps trading and
catches up. The day is a list of scenes, each an async task given the hub, the running
sandbox and the day's clock; the tally they keep is what the live view and the summary show.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from retailhub.bootstrap import Hub
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.order import Order
from retailhub.demo.sandbox_process import RunningSandbox
from retailhub.demo.shoppers import Shoppers
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.sandbox.runner import set_faults
from retailhub.sandbox.seed import Estate

OPENING_HOUR = 8
CLOSING_HOUR = 22
WEB_SOURCE = "/shopify/retailhub-demo"
TILL_SOURCE = "/pos/tills"


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

    orders: list[Order] = field(default_factory=list)
    by_channel: Counter[str] = field(default_factory=Counter)
    incidents: list[str] = field(default_factory=list)
    outages_now: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Stage:
    """What every scene works with."""

    hub: Hub
    sandbox: RunningSandbox
    estate: Estate
    clock: DayClock
    tally: Tally
    orders_per_minute: float


Scene = Callable[[Stage], Coroutine[Any, Any, None]]


def business_day_of(estate: Estate) -> datetime:
    """A day inside the estate's bonus-points campaign, so campaign SKUs earn the bonus."""
    start = estate.campaign.valid_from.astimezone(UTC)
    return datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=2)


async def shoppers_buy(stage: Stage) -> None:
    """Orders at the tills and on the web shop, at a steady pace from opening to closing."""
    shoppers = Shoppers(stage.estate, seed=stage.estate.seed)
    interval = 60.0 / stage.orders_per_minute
    number = 0
    while stage.clock.share() < 1.0:
        number += 1
        order = shoppers.order(f"DAY-{number:05d}", stage.clock.shop_time())
        source = TILL_SOURCE if order.location else WEB_SOURCE
        await stage.hub.bus.publish_one(to_event(order, ORDER_CREATED, source))
        stage.tally.orders.append(order)
        stage.tally.by_channel[order.channel.value] += 1
        await asyncio.sleep(interval)


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


SCENES: tuple[Scene, ...] = (shoppers_buy, loyalty_outage, erp_outage)
