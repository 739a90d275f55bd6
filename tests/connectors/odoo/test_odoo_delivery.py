"""Contract: stock follows sale orders in the Odoo emulator when the database delivers on
confirmation — a confirmed order takes its stocked lines off hand once, its cancellation puts
them back once — and moves nothing when it does not; switched over the sandbox control route."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from odoo_documents import sale

from retailhub.canonical.order import Order, OrderStatus
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.odoo import OdooEmulator

SOLD = {"SKU-10000": Decimal(2), "SKU-10003": Decimal("0.512")}


async def deliver_on_confirm(emulator: OdooEmulator, on: object) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.url}{CONTROL_PREFIX}delivery", json={"on_confirm": on}) as answer,
    ):
        return answer.status


async def on_hand(odoo: OdooConnector, location: str = "AMS01") -> dict[str, Decimal]:
    levels = await odoo.stock_levels(location)
    return {level.sku: level.on_hand for level in levels if level.sku in SOLD}


def the_sale(order_id: str, status: OrderStatus = OrderStatus.COMPLETED) -> Order:
    lines = [(sku, str(quantity), "2.19") for sku, quantity in SOLD.items()]
    return sale(order_id, lines, status=status)


async def test_a_delivered_sale_takes_stock_once_and_its_cancellation_puts_it_back(
    odoo: OdooConnector, emulator: OdooEmulator
) -> None:
    assert await deliver_on_confirm(emulator, True) == 200
    before = await on_hand(odoo)

    await odoo.post_sale_order(the_sale("D-1001"), "order:D-1001")
    await odoo.post_sale_order(the_sale("D-1001"), "order:D-1001")
    delivered = await on_hand(odoo)
    await odoo.cancel_sale_order("order:D-1001")
    await odoo.cancel_sale_order("order:D-1001")
    returned = await on_hand(odoo)

    assert delivered == {sku: before.get(sku, Decimal(0)) - SOLD[sku] for sku in SOLD}
    assert returned == {sku: before.get(sku, Decimal(0)) for sku in SOLD}


async def test_a_quotation_cancelled_moves_no_stock(
    odoo: OdooConnector, emulator: OdooEmulator
) -> None:
    await deliver_on_confirm(emulator, True)
    before = await on_hand(odoo)

    await odoo.post_sale_order(the_sale("D-1002", OrderStatus.PENDING), "order:D-1002")
    await odoo.cancel_sale_order("order:D-1002")

    assert await on_hand(odoo) == before


async def test_without_delivery_on_confirmation_a_sale_moves_no_stock(
    odoo: OdooConnector,
) -> None:
    before = await on_hand(odoo)

    await odoo.post_sale_order(the_sale("D-1003"), "order:D-1003")

    assert await on_hand(odoo) == before


@pytest.mark.parametrize("setting", ["yes", None, 1])
async def test_a_delivery_setting_that_is_not_a_boolean_is_refused(
    emulator: OdooEmulator, setting: object
) -> None:
    assert await deliver_on_confirm(emulator, setting) == 400
