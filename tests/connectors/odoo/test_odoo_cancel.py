"""Contract: a sale order cancelled in the Odoo emulator once per key, whatever state it was in,
and the breaker state the connector reports."""

from __future__ import annotations

from odoo_documents import sale

from retailhub.canonical.order import OrderStatus
from retailhub.connectors.odoo.connector import OdooConnector


async def test_a_confirmed_sale_order_is_cancelled_once(odoo: OdooConnector) -> None:
    order = sale("C-1001", [("SKU-10000", "2", "2.19")])
    posted = await odoo.post_sale_order(order, "order:C-1001")

    cancelled = await odoo.cancel_sale_order("order:C-1001")
    again = await odoo.cancel_sale_order("order:C-1001")

    assert cancelled is not None
    assert cancelled.status == "cancel"
    assert again == cancelled
    assert cancelled.external_id == posted.external_id
    assert cancelled.amount == posted.amount
    assert await odoo.find_posting("order:C-1001") == cancelled


async def test_a_quotation_is_cancelled_too(odoo: OdooConnector) -> None:
    pending = sale("C-1002", [("SKU-10000", "1", "2.19")], status=OrderStatus.PENDING)
    await odoo.post_sale_order(pending, "order:C-1002")

    cancelled = await odoo.cancel_sale_order("order:C-1002")

    assert cancelled is not None
    assert cancelled.status == "cancel"


async def test_nothing_posted_means_nothing_to_cancel(odoo: OdooConnector) -> None:
    assert await odoo.cancel_sale_order("order:never-posted") is None


async def test_without_the_warning_off_odoo_answers_with_its_wizard(odoo: OdooConnector) -> None:
    order = sale("C-1003", [("SKU-10000", "1", "2.19")])
    posted = await odoo.post_sale_order(order, "order:C-1003")
    record_id = int(posted.external_id.split(",")[1])

    wizard = await odoo.client.act("sale.order", "action_cancel", [record_id])

    assert wizard["res_model"] == "sale.order.cancel"
    assert (await odoo.find_posting("order:C-1003")) == posted


async def test_the_circuit_is_closed_after_good_calls(odoo: OdooConnector) -> None:
    await odoo.cancel_sale_order("order:never-posted")
    assert odoo.circuit_state() == "closed"
