"""Plays a plan against the running hub, as the estate's channels and people would, and keeps
what was sent for the invariants.

Channels publish what they sold and received on the bus; people edit profiles and place web
orders in the products themselves. A person cannot act in a system that is down or hangs: that
action waits until the faults are cleared (as the person tries again later); a system that
answers HTTP 500 now and then is simply tried again.

Goods may come back before their sale has reached the loyalty platform (order-to-cash still
retrying through an outage): return-to-refund registers the sale first, so the reversal
matches the accrual (`test_a_return_booked_before_its_sale_reached_loyalty_reverses_its_points`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from retailhub.canonical.customer import Customer
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.flows.customers import profile_event
from retailhub.flows.returns import ReturnRefused, initiate_return
from retailhub.sandbox.seed import Estate, EstateCustomer

from .documents import (
    STORES,
    authored_event,
    each_skus,
    edit_profile,
    external_id,
    goods_back,
    online_request,
    order_event,
    place_web_order,
    promotion_version,
    received_event,
    till_sale,
)
from .plans import (
    PROFILE_SYSTEMS,
    PROMOTIONS,
    SHOPPERS,
    AuthorPromotion,
    EditProfile,
    Fault,
    PlaceOrder,
    ReturnGoods,
    Step,
)
from .settle import catch_up
from .world import World

TRIES = 5
PACE_S = 0.5
"""The longest a step waits for the hub to look at what it published."""
NAMES = {"given_name": ("Anouk", "Bas", "Chantal"), "family_name": ("Bakker", "de Jong", "Visser")}


@dataclass(frozen=True)
class Catalogue:
    """The SKUs plans sell (campaign and plain ones) and the disjoint ones promotions target, so
    a promotion never changes what an order earns."""

    bonus: list[str]
    plain: list[str]
    promoted: list[str]

    @classmethod
    def of(cls, estate: Estate) -> Catalogue:
        """Thirty campaign SKUs, thirty plain ones to sell and forty plain ones to promote."""
        plain = each_skus(estate, campaign=False)
        return cls(each_skus(estate, campaign=True)[:30], plain[40:70], plain[:40])


@dataclass
class Sent:
    """What one plan sent: the invariants are checked against it."""

    orders: list[Order] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    refused_requests: int = 0
    promotions: dict[str, int] = field(default_factory=dict)
    edits: int = 0
    faults: int = 0
    deferred: int = 0


class Driver:
    """One plan's channels and people; `slot` numbers the plan, so its ids are its own."""

    def __init__(
        self, world: World, catalogue: Catalogue, slot: int, shoppers: list[EstateCustomer]
    ) -> None:
        assert len(shoppers) == SHOPPERS
        self.world, self.catalogue, self.shoppers = world, catalogue, shoppers
        self.slot, self.prefix = slot, f"IX{slot}"
        self.sent = Sent()
        self._deferred: list[Callable[[], Awaitable[None]]] = []
        self._numbers = 0

    def _number(self) -> int:
        self._numbers += 1
        return self._numbers

    async def onboard(self) -> None:
        """Every system reports each shopper once, as an initial load would."""
        for shopper in self.shoppers:
            for system in PROFILE_SYSTEMS:
                await self._report(shopper, system)

    async def play(self, step: Step) -> None:
        """Carry out one step of the plan, then give the hub a moment to take it in under the
        faults in force (as time passes between the events of a trading day)."""
        await self._carry_out(step)
        await catch_up(self.world.hub.bus, PACE_S)

    async def _carry_out(self, step: Step) -> None:
        match step:
            case PlaceOrder():
                await self._order(step)
            case ReturnGoods():
                await self._return(step)
            case AuthorPromotion():
                await self._promotion(step)
            case EditProfile():
                await self._edit(step)
            case Fault(system=system, kind=kind):
                self.sent.faults += 1 if kind else 0
                await self.world.fault(system, kind)

    async def finish(self) -> None:
        """Clear every fault, then do what people could not do while systems were down."""
        await self.world.clear_faults()
        while self._deferred:
            action = self._deferred.pop(0)
            await action()

    # People act in the products: retried on HTTP 500, put off while a system is unreachable.

    def _reachable(self, system: str) -> bool:
        """False while the system drops or holds every request."""
        return self.world.faulted.get(system) not in ("down", "timeout")

    async def _as_a_person(self, system: str, action: Callable[[], Awaitable[None]]) -> None:
        if not self._reachable(system):
            self.sent.deferred += 1
            self._deferred.append(lambda: self._persist(action))
            return
        try:
            await self._persist(action, tries=TRIES)
        except Exception:  # the fault outlasted a person's patience: they come back later
            self.sent.deferred += 1
            self._deferred.append(lambda: self._persist(action))

    async def _persist(self, action: Callable[[], Awaitable[None]], tries: int = 20) -> None:
        for _ in range(tries - 1):
            try:
                await action()
            except Exception:  # any refusal or outage of an emulator is worth another try
                await asyncio.sleep(0.1)
            else:
                return
        await action()

    # Orders.

    def _basket(self, drawn: tuple[tuple[bool, int, int], ...]) -> list[tuple[str, int]]:
        basket: dict[str, int] = {}
        for bonus, index, quantity in drawn:
            skus = self.catalogue.bonus if bonus else self.catalogue.plain
            basket.setdefault(skus[index % len(skus)], quantity)
        return list(basket.items())

    async def _order(self, step: PlaceOrder) -> None:
        basket = self._basket(step.basket)
        buyer = None if step.buyer is None else self.shoppers[step.buyer]
        if step.web:
            shopper = buyer or self.shoppers[0]

            async def web() -> None:
                await self._publish_order(await place_web_order(self.world, shopper, basket), step)

            await self._as_a_person("shopify", web)
            return
        number = self._number()
        store = STORES[number % len(STORES)]
        order_id = f"{self.prefix}-S{number}"
        estate, day = self.world.estate, self.world.trading_day
        await self._publish_order(till_sale(estate, order_id, buyer, basket, store, day), step)

    async def _publish_order(self, order: Order, step: PlaceOrder) -> None:
        self.sent.orders.append(order)
        events = [order_event(order, copy=n) for n in range(step.journals)]
        await self.world.hub.bus.publish(events)

    # Returns.

    async def _return(self, step: ReturnGoods) -> None:
        if not self.sent.orders:
            return
        order = self.sent.orders[step.order % len(self.sent.orders)]
        await self._bring_back(order, step)

    async def _bring_back(self, order: Order, step: ReturnGoods) -> None:
        wanted: dict[str, int] = {}
        for index, how in step.lines:
            line = order.lines[index % len(order.lines)]
            bought = int(line.quantity)
            wanted.setdefault(line.line_id, {"one": 1, "all": bought, "over": bought + 1}[how])
        number = self._number()
        goods = goods_back(
            order, f"{self.prefix}-R{number}", list(wanted.items()), STORES[number % len(STORES)]
        )
        bus = self.world.hub.bus
        if step.online_first and self._reachable("shopify"):
            await self._request(goods)
        self.sent.returns.append(goods)
        await bus.publish([received_event(goods, copy=n) for n in range(step.receipts)])

    async def _request(self, goods: Return) -> None:
        """The shopper starts the return on the web shop first; if the hub cannot take it now
        (the web shop does not answer), they simply bring the goods."""
        try:
            accepted = await initiate_return(
                self.world.hub.bus, online_request(goods), commerce=self.world.commerce
            )
        except ReturnRefused:
            self.sent.refused_requests += 1
        except Exception:  # the web shop failed the hub's look-up of the order
            return
        else:
            self.sent.requests.append(accepted.return_id)

    # Promotions.

    async def _promotion(self, step: AuthorPromotion) -> None:
        promotion_id = f"{self.prefix}-P{step.promotion}"
        version = self.sent.promotions.get(promotion_id, 0) + 1
        self.sent.promotions[promotion_id] = version
        start = (self.slot * PROMOTIONS + step.promotion) * 2
        skus = self.catalogue.promoted[start % 40 : start % 40 + 2]
        authored = promotion_version(
            promotion_id,
            version,
            skus,
            points=step.points,
            amount=step.amount,
            cancelled=step.cancelled,
        )
        await self.world.hub.bus.publish([authored_event(authored)])

    # Profiles.

    def _value(self, step: EditProfile) -> str:
        if step.field == "phone":
            # Phones are unique per shopper: two people never share one by chance.
            shopper = self.slot * SHOPPERS + step.shopper
            return f"+31{6_1000_0000 + shopper * 10 + step.value}"
        return NAMES[step.field][step.value]

    async def _edit(self, step: EditProfile) -> None:
        shopper = self.shoppers[step.shopper]
        system_id = external_id(shopper, step.system)
        world = self.world
        values = {step.field: self._value(step)}

        async def edit_and_report() -> None:
            await edit_profile(
                world.crm, world.commerce, world.loyalty, step.system, system_id, values
            )
            await self._read_and_publish(shopper, step.system)

        self.sent.edits += 1
        await self._as_a_person(step.system, edit_and_report)

    async def _report(self, shopper: EstateCustomer, system: str) -> None:
        await self._as_a_person(system, lambda: self._read_and_publish(shopper, system))

    async def report_all(self) -> None:
        """Each system reports what it holds of every shopper, as its webhooks do after the
        hub's writes (no faults are in force now)."""
        for shopper in self.shoppers:
            for system in PROFILE_SYSTEMS:
                await self._persist(partial(self._read_and_publish, shopper, system))

    async def _read_and_publish(self, shopper: EstateCustomer, system: str) -> None:
        profile = await read_profile(self.world, system, external_id(shopper, system))
        await self.world.hub.bus.publish([profile_event(system, profile)])


async def read_profile(world: World, system: str, system_id: str) -> Customer:
    """The profile as the system holds it now, read through its port."""
    found: Customer | None
    if system == "hubspot":
        found = await world.crm.get_contact(system_id)
    elif system == "shopify":
        found = await world.commerce.get_customer(system_id)
    else:
        found = await world.loyalty.find_member_profile(system_id)
    assert found is not None, (system, system_id)
    return found
