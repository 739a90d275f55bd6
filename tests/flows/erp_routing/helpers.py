"""Routing test helpers: the two running ERPs, canonical store sales and returns, routed ports,
and the shadow's outage switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderLine, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.flows.erp_routing import (
    InMemoryShadowRecorder,
    RoutedErp,
    ShadowQueue,
    load_plan,
)
from retailhub.sandbox.odoo import OdooEmulator
from retailhub.sandbox.runner import set_faults
from retailhub.sandbox.seed import Estate

YEAR = 2026
TRADING_DAY = datetime(YEAR, 3, 14, 11, 30, tzinfo=UTC)
BELGIAN = [({"location": ["BRU*", "ANT*"]}, "odoo_be")]
DRAIN_S = 15.0


@dataclass
class Erps:
    """The Dutch and the Belgian ERP, running, by system name."""

    estate: Estate
    emulators: dict[str, OdooEmulator]
    connectors: dict[str, OdooConnector]

    def routed(self, *, shadow: str | None = None, timeout_s: float = 5.0) -> RoutedErp:
        """The ERP port routing Belgian stores to `odoo_be`, shadowed to `shadow` if given."""
        plan = load_plan("odoo_nl", BELGIAN, shadow=shadow, systems=list(self.connectors))
        queue = ShadowQueue(InMemoryShadowRecorder(), lanes=2, capacity=50, timeout_s=timeout_s)
        return RoutedErp(dict(self.connectors), plan, shadow=queue)

    async def set_down(self, system: str, down: bool) -> None:
        """Take an ERP's emulator down (it hangs up on every call) or bring it back."""
        port = self.emulators[system].port
        assert port is not None
        await set_faults(system, {"down": down}, {system: port})

    def unit_price(self, index: int = 0) -> Money:
        """The store list price of the index-th item."""
        return self.estate.price(self.estate.products[index].sku, Channel.STORE).list_price


def recorded(erp: RoutedErp) -> InMemoryShadowRecorder:
    """The in-memory recorder behind a routed port built by `Erps.routed`."""
    recorder = erp.recorder
    assert isinstance(recorder, InMemoryShadowRecorder)
    return recorder


def store_sale(
    estate: Estate,
    order_id: str,
    location: str,
    *,
    quantity: int = 1,
    placed_at: datetime = TRADING_DAY,
) -> Order:
    """A paid cash sale of the estate's first item at a store."""
    product = estate.products[0]
    price = estate.price(product.sku, Channel.STORE).list_price
    return cash_sale(order_id, location, product.sku, price, quantity=quantity, placed_at=placed_at)


def cash_sale(
    order_id: str,
    location: str,
    sku: str = "SKU-1",
    price: Money | None = None,
    *,
    quantity: int = 1,
    placed_at: datetime = TRADING_DAY,
) -> Order:
    """A paid cash sale of `quantity` of one item at a store."""
    price = price or Money(amount=Decimal("2.50"), currency="EUR")
    total = (price * Decimal(quantity)).rounded()
    return Order(
        order_id=order_id,
        channel=Channel.STORE,
        location=location,
        currency="EUR",
        prices_include_tax=True,
        placed_at=placed_at,
        lines=[OrderLine(line_id="1", sku=sku, quantity=Decimal(quantity), unit_price=price)],
        tenders=[Tender(type=TenderType.CASH, amount=total)],
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=total),
    )


def store_return(return_id: str, order: Order, location: str) -> Return:
    """The first line of `order` brought back to a store for a cash refund."""
    line = order.lines[0]
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=Channel.STORE,
        initiated_location=location,
        received_channel=Channel.STORE,
        received_location=location,
        currency="EUR",
        lines=[
            ReturnLine(
                line_id="1",
                original_line_id=line.line_id,
                sku=line.sku,
                quantity=Decimal(1),
                refund_amount=line.unit_price,
            )
        ],
        refund_total=line.unit_price,
        status=ReturnStatus.RECEIVED,
        created_at=TRADING_DAY,
    )
