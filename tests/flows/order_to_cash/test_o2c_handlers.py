"""The subscriptions' handlers against small fakes of the ports: who earns, who is noted, what
a pending or cancelled order does, and what each records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from retailhub.bus.port import EventBus, Handler, HandlerContext
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.customer import Customer
from retailhub.canonical.loyalty import LoyaltyAccount
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderLine, OrderStatus, Totals
from retailhub.connectors.ports import CrmPort, ErpPort, LoyaltyPort, PointsOutcome, Posting
from retailhub.flows.order_to_cash import CrossSystemStatus, Outcome, StockSettings, order_status
from retailhub.flows.order_to_cash.crm import note_on_crm
from retailhub.flows.order_to_cash.erp import post_to_erp
from retailhub.flows.order_to_cash.events import (
    ORDER_CANCELLED,
    ORDER_CREATED,
    ORDER_UPDATED,
    POINTS_ACCRUED,
    PointsMoved,
    points_event,
    points_notice_of,
)
from retailhub.flows.order_to_cash.loyalty import accrue_points
from retailhub.flows.order_to_cash.status import create_order_status_table
from retailhub.flows.order_to_cash.stock import move_stock


def an_order(**changes: Any) -> Order:
    order = Order(
        order_id="WEB-1",
        channel=Channel.WEB,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime(2026, 11, 27, 12, tzinfo=UTC),
        lines=[
            OrderLine(
                line_id="1",
                sku="SKU-1",
                quantity=Decimal(2),
                unit_price=Money(amount=Decimal("5.00"), currency="EUR"),
            )
        ],
        totals=Totals(
            tax_total=Money.zero("EUR"), grand_total=Money(amount=Decimal("10.00"), currency="EUR")
        ),
    )
    return order.model_copy(update=changes)


class FakeLoyalty:
    name = "openloyalty"

    def __init__(self, members: dict[str, LoyaltyAccount], matched: str = "M-1") -> None:
        self.members = members
        self.matched = matched
        self.sales: list[Order] = []

    async def find_member(
        self, *, card: str | None = None, email: str | None = None, member_id: str | None = None
    ) -> LoyaltyAccount | None:
        return self.members.get(email or member_id or card or "")

    async def register_sale(self, order: Order, key: str) -> PointsOutcome:
        self.sales.append(order)
        return PointsOutcome(self.matched, 60 if self.matched else 0)


class FakeCrm:
    name = "hubspot"

    def __init__(self, contacts: dict[str, str]) -> None:
        self.contacts = contacts
        self.notes: dict[str, tuple[str, str]] = {}
        self.lookups = 0
        self.gone: set[str] = set()

    async def find_contact(self, email: str) -> Customer | None:
        self.lookups += 1
        found = self.contacts.get(email)
        if found is None:
            return None
        return Customer(customer_id="C-1", identities={"hubspot": found}, emails=[email])

    async def add_note(self, contact_id: str, text: str, key: str) -> str:
        if contact_id in self.gone:
            raise LookupError(f"contact {contact_id} was merged away")
        self.notes.setdefault(key, (contact_id, text))
        return f"note-{len(self.notes)}"


class FakeErp:
    name = "odoo"

    def __init__(self) -> None:
        self.postings: dict[str, Posting] = {}
        self.adjustments: dict[str, Decimal] = {}

    async def post_sale_order(self, order: Order, key: str) -> Posting:
        return self.postings.setdefault(
            key, Posting("odoo", f"sale.order,{len(self.postings) + 1}", key, status="sale")
        )

    async def find_posting(self, key: str) -> Posting | None:
        return self.postings.get(key)

    async def cancel_sale_order(self, key: str) -> Posting | None:
        posted = self.postings.get(key)
        if posted is None:
            return None
        self.postings[key] = Posting(posted.system, posted.external_id, key, status="cancel")
        return self.postings[key]

    async def adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        self.adjustments.setdefault(key, delta)


async def deliver(
    bus: SqliteBus, handler: Handler, order: Order, event_type: str = ORDER_CREATED
) -> CrossSystemStatus:
    """Run one handler on one event in a bus transaction, as a subscription would."""
    async with bus.transaction() as transaction:
        await create_order_status_table(transaction)
        context = HandlerContext("o2c.test", 1, 1, transaction)
        await handler(to_event(order, event_type, "/test"), context)
    async with bus.transaction() as transaction:
        return await order_status(transaction, order.order_id)


async def test_a_member_found_by_email_earns_under_their_card(tmp_path: Path) -> None:
    member = LoyaltyAccount(member_id="M-1", card_numbers=["2612000001"], points_balance=0)
    loyalty = FakeLoyalty({"ann@example.com": member})
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        handler = accrue_points(cast(LoyaltyPort, loyalty), bus)
        status = await deliver(bus, handler, an_order(email="ann@example.com"))
        published = await bus.tail(types=[POINTS_ACCRUED])
    assert loyalty.sales[0].loyalty_card == "2612000001"
    row = status.systems["loyalty"]
    assert (row.outcome, row.reference, row.points) == (Outcome.DONE, "M-1", 60)
    assert [e.event.subject for e in published] == ["WEB-1"]


async def test_nobody_the_platform_knows_earns_nothing(tmp_path: Path) -> None:
    loyalty = FakeLoyalty({})
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        handler = accrue_points(cast(LoyaltyPort, loyalty), cast(EventBus, bus))
        status = await deliver(bus, handler, an_order(email="who@example.com"))
    assert status.outcome("loyalty") is Outcome.SKIPPED
    assert loyalty.sales == []


async def test_a_card_the_platform_does_not_know_is_registered_without_points(
    tmp_path: Path,
) -> None:
    loyalty = FakeLoyalty({}, matched="")
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        handler = accrue_points(cast(LoyaltyPort, loyalty), bus)
        status = await deliver(bus, handler, an_order(loyalty_card="2612999999"))
        published = await bus.tail(types=[POINTS_ACCRUED])
    assert status.systems["loyalty"].points == 0
    assert "matched no member" in (status.systems["loyalty"].detail or "")
    assert published == []


async def test_a_pending_order_waits_everywhere(tmp_path: Path) -> None:
    erp, crm = FakeErp(), FakeCrm({"ann@example.com": "501"})
    loyalty = FakeLoyalty({})
    pending = an_order(status=OrderStatus.PENDING, email="ann@example.com", loyalty_card="26")
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        for handler in (
            post_to_erp(cast(ErpPort, erp)),
            move_stock(cast(ErpPort, erp), StockSettings()),
            accrue_points(cast(LoyaltyPort, loyalty), bus),
            note_on_crm(cast(CrmPort, crm)),
        ):
            status = await deliver(bus, handler, pending)
    assert {s.outcome for s in status.systems.values()} == {Outcome.SKIPPED}
    assert (erp.postings, erp.adjustments, loyalty.sales, crm.notes) == ({}, {}, [], {})


async def test_the_crm_note_finds_the_contact_by_its_id_or_email(tmp_path: Path) -> None:
    crm = FakeCrm({"ann@example.com": "501"})
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        handler = note_on_crm(cast(CrmPort, crm))
        by_email = await deliver(bus, handler, an_order(email="ann@example.com"))
        by_id = await deliver(
            bus, handler, an_order(order_id="WEB-2", customer_ids={"hubspot": "777"})
        )
        nobody = await deliver(bus, handler, an_order(order_id="WEB-3", email="x@example.com"))
    assert by_email.outcome("crm") is Outcome.DONE
    assert crm.notes["order:WEB-1"] == ("501", "Order WEB-1 (web, web): 1 line, total 10.00 EUR")
    assert by_id.outcome("crm") is Outcome.DONE
    assert crm.notes["order:WEB-2"][0] == "777"
    assert nobody.outcome("crm") is Outcome.SKIPPED
    assert nobody.systems["crm"].detail == "no contact"


async def test_the_buyer_is_looked_up_once_for_the_order_and_its_points_until_refused(
    tmp_path: Path,
) -> None:
    crm = FakeCrm({"ann@example.com": "501"})
    order = an_order(email="ann@example.com")
    handler = note_on_crm(cast(CrmPort, crm))
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        await deliver(bus, handler, order)
        points = points_event(POINTS_ACCRUED, PointsMoved(order, "M-1", 60))
        async with bus.transaction() as transaction:
            await handler(points, HandlerContext("o2c.test", 2, 1, transaction))
        assert crm.lookups == 1
        crm.gone.add("501")
        crm.contacts["ann@example.com"] = "502"
        later = an_order(order_id="WEB-2", email="ann@example.com")
        with pytest.raises(LookupError, match="merged away"):
            await deliver(bus, handler, later)
        status = await deliver(bus, handler, later)
    assert crm.lookups == 2
    assert status.outcome("crm") is Outcome.DONE
    assert crm.notes["order:WEB-1:points"][0] == "501"
    assert crm.notes["order:WEB-2"][0] == "502"


def test_a_points_event_gives_back_the_order_buyer_and_points_it_was_written_with() -> None:
    order = an_order(email="ann@example.com", customer_ids={"hubspot": "501"})
    notice = points_notice_of(points_event(POINTS_ACCRUED, PointsMoved(order, "M-1", 60)))
    assert (notice.order_id, notice.email, notice.customer_ids) == (
        "WEB-1",
        "ann@example.com",
        {"hubspot": "501"},
    )
    assert (notice.member_id, notice.points) == ("M-1", 60)
    garbled = points_event(POINTS_ACCRUED, PointsMoved(order, "M-1", 60))
    assert isinstance(garbled.data, dict)
    garbled.data["order"]["customer_ids"] = {"hubspot": 501}
    with pytest.raises(ValueError, match="customer ids are malformed"):
        points_notice_of(garbled)


async def test_a_cancellation_before_posting_posts_nothing(tmp_path: Path) -> None:
    erp = FakeErp()
    cancelled = an_order(status=OrderStatus.CANCELLED)
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        erp_status = await deliver(bus, post_to_erp(cast(ErpPort, erp)), cancelled, ORDER_CANCELLED)
        stock_status = await deliver(
            bus, move_stock(cast(ErpPort, erp), StockSettings()), cancelled, ORDER_CANCELLED
        )
    assert erp_status.outcome("erp") is Outcome.SKIPPED
    assert stock_status.outcome("stock") is Outcome.SKIPPED
    assert (erp.postings, erp.adjustments) == ({}, {})


async def test_a_sale_then_its_cancellation_puts_the_stock_back(tmp_path: Path) -> None:
    erp = FakeErp()
    handler = move_stock(cast(ErpPort, erp), StockSettings())
    order = an_order()
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        await deliver(bus, handler, order)
        await deliver(bus, handler, order)
        status = await deliver(
            bus,
            handler,
            order.model_copy(update={"status": OrderStatus.CANCELLED}),
            ORDER_CANCELLED,
        )
    assert erp.adjustments == {"WEB-1:1": Decimal(-2), "WEB-1:1:cancel": Decimal(2)}
    assert status.outcome("stock") is Outcome.REVERSED
    assert status.systems["stock"].reference == "WEB"


async def test_a_pending_order_is_posted_when_an_update_completes_it(tmp_path: Path) -> None:
    erp = FakeErp()
    handler = post_to_erp(cast(ErpPort, erp))
    async with SqliteBus(tmp_path / "hub.sqlite") as bus:
        waiting = await deliver(bus, handler, an_order(status=OrderStatus.PENDING))
        posted = await deliver(bus, handler, an_order(), ORDER_UPDATED)
        again = await deliver(bus, handler, an_order(), ORDER_UPDATED)
    assert waiting.outcome("erp") is Outcome.SKIPPED
    assert posted.outcome("erp") is Outcome.DONE
    assert again.systems["erp"].reference == posted.systems["erp"].reference == "sale.order,1"
    assert list(erp.postings) == ["WEB-1"]
