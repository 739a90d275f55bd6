"""Contract: sale orders, credit notes and postings written to the Odoo emulator once per key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from odoo_documents import PLACED, refund, sale

from retailhub.canonical.money import Money
from retailhub.canonical.order import OrderStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.client import OdooRefused
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.sandbox.odoo import OdooEmulator
from retailhub.sandbox.seed import Estate

DAY = date(2026, 11, 20)


async def _count(odoo: OdooConnector, model: str, field: str, key: str) -> int:
    return len(await odoo.client.search_read(model, [(field, "=", key)], ["id"]))


async def test_a_completed_sale_is_posted_and_confirmed(odoo: OdooConnector) -> None:
    order = sale("A-1001", [("SKU-10000", "2", "2.19"), ("SKU-10003", "0.512", "8.99")])

    posting = await odoo.post_sale_order(order, "order:A-1001")

    assert posting.system == "odoo"
    assert posting.external_id.startswith("sale.order,")
    assert posting.key == "order:A-1001"
    assert posting.amount == order.totals.grand_total
    assert posting.location == "AMS01"
    assert posting.business_day == DAY
    assert posting.status == "sale"


async def test_posting_a_sale_twice_gives_the_first_order(odoo: OdooConnector) -> None:
    order = sale("A-1002", [("SKU-10000", "1", "2.19")])

    first = await odoo.post_sale_order(order, "order:A-1002")
    again = await odoo.post_sale_order(order, "order:A-1002")

    assert again == first
    assert await _count(odoo, "sale.order", "client_order_ref", "order:A-1002") == 1


async def test_a_pending_sale_stays_a_quotation_until_it_completes(odoo: OdooConnector) -> None:
    pending = sale("A-1003", [("SKU-10000", "1", "2.19")], status=OrderStatus.PENDING)

    quotation = await odoo.post_sale_order(pending, "order:A-1003")
    completed = pending.model_copy(update={"status": OrderStatus.COMPLETED})
    confirmed = await odoo.post_sale_order(completed, "order:A-1003")

    assert quotation.status == "draft"
    assert confirmed.status == "sale"
    assert confirmed.external_id == quotation.external_id


async def test_discounts_shipping_and_customer_reach_the_order(odoo: OdooConnector) -> None:
    order = sale(
        "W-2001",
        [("SKU-10004", "3", "8.29"), ("SKU-10010", "1", "4.99")],
        location="WEB",
        line_discount="2.49",
        order_discount="1.00",
        shipping="4.95",
        customer_id="CUST-00001",
    )

    posting = await odoo.post_sale_order(order, "order:W-2001")
    second = await odoo.post_sale_order(
        sale("W-2002", [("SKU-10000", "1", "2.19")], location="WEB", customer_id="CUST-00001"),
        "order:W-2002",
    )

    assert posting.amount is not None
    assert abs((posting.amount - order.totals.grand_total).amount) <= Decimal("0.02")
    assert posting.location == second.location == "WEB"
    [record] = await odoo.client.search_read(
        "sale.order", [("client_order_ref", "=", "order:W-2001")], ["partner_id", "order_line"]
    )
    assert len(record["order_line"]) == 3
    partners = await odoo.client.search_read("res.partner", [("ref", "=", "CUST-00001")], ["id"])
    assert [p["id"] for p in partners] == [record["partner_id"][0]]


async def test_a_sale_of_an_unknown_item_is_refused_before_writing(odoo: OdooConnector) -> None:
    order = sale("A-1004", [("SKU-10000", "1", "2.19"), ("SKU-99999", "1", "1.00")])

    with pytest.raises(MappingError) as refused:
        await odoo.post_sale_order(order, "order:A-1004")

    assert refused.value.resource_id == "A-1004"
    assert refused.value.path == "$.lines[1]"
    assert await _count(odoo, "sale.order", "client_order_ref", "order:A-1004") == 0


async def test_a_cancelled_sale_is_not_posted(odoo: OdooConnector) -> None:
    order = sale("A-1005", [("SKU-10000", "1", "2.19")], status=OrderStatus.CANCELLED)

    with pytest.raises(MappingError, match="cancelled"):
        await odoo.post_sale_order(order, "order:A-1005")


async def test_a_credit_note_refunds_the_return_to_the_cent(odoo: OdooConnector) -> None:
    document = refund("R-1", [("SKU-10000", "3", "10.00"), ("SKU-10003", "0.512", "4.60")])

    posting = await odoo.post_credit_note(document, "return:R-1")

    assert posting.external_id.startswith("account.move,")
    assert posting.amount == Money.of("14.60", "EUR")
    assert posting.status == "posted"
    assert posting.location == "AMS01"
    assert posting.business_day == DAY


async def test_a_credit_note_is_issued_once_per_key(odoo: OdooConnector) -> None:
    document = refund("R-2", [("SKU-10000", "1", "2.19")])

    first = await odoo.post_credit_note(document, "return:R-2")
    again = await odoo.post_credit_note(document, "return:R-2")

    assert again == first
    assert await _count(odoo, "account.move", "ref", "return:R-2") == 1


async def test_voiding_a_credit_note_cancels_it_once(odoo: OdooConnector) -> None:
    await odoo.post_credit_note(refund("R-3", [("SKU-10000", "1", "2.19")]), "return:R-3")

    await odoo.void_credit_note("return:R-3")
    await odoo.void_credit_note("return:R-3")
    await odoo.void_credit_note("return:never-written")

    posting = await odoo.find_posting("return:R-3")
    assert posting is not None
    assert posting.status == "cancel"


async def test_find_posting_by_key(odoo: OdooConnector) -> None:
    sold = await odoo.post_sale_order(sale("A-1006", [("SKU-10000", "1", "2.19")]), "k-sale")
    refunded = await odoo.post_credit_note(refund("R-4", [("SKU-10000", "1", "2.19")]), "k-ret")

    assert await odoo.find_posting("k-sale") == sold
    assert await odoo.find_posting("k-ret") == refunded
    assert await odoo.find_posting("k-none") is None


async def test_postings_of_a_business_day_per_store(odoo: OdooConnector) -> None:
    late = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 23:30 in Amsterdam: still the 20th
    after_midnight = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    await odoo.post_sale_order(sale("D-1", [("SKU-10000", "1", "2.19")]), "d-1")
    await odoo.post_sale_order(sale("D-2", [("SKU-10000", "1", "2.19")], placed_at=late), "d-2")
    await odoo.post_sale_order(
        sale("D-3", [("SKU-10000", "1", "2.19")], placed_at=after_midnight), "d-3"
    )
    await odoo.post_sale_order(sale("D-4", [("SKU-10000", "1", "2.19")], location="RTM02"), "d-4")
    await odoo.post_credit_note(refund("D-5", [("SKU-10000", "1", "2.19")]), "d-5")
    await odoo.post_credit_note(
        refund("D-6", [("SKU-10000", "1", "2.19")], location="RTM02"), "d-6"
    )

    amsterdam = await odoo.postings(DAY, "AMS01")
    everywhere = await odoo.postings(DAY)

    assert sorted(p.key for p in amsterdam) == ["d-1", "d-2", "d-5"]
    assert sorted(p.key for p in everywhere) == ["d-1", "d-2", "d-4", "d-5", "d-6"]
    assert {p.key for p in await odoo.postings(date(2026, 11, 21))} == {"d-3"}
    assert all(p.business_day == DAY and p.amount is not None for p in everywhere)
    assert PLACED.date() == DAY


async def test_a_line_scanned_by_barcode_only_is_posted(
    odoo: OdooConnector, estate: Estate
) -> None:
    order = sale("G-1", [("SKU-10000", "2", "2.19"), ("SKU-10004", "1", "8.29")])
    scanned = order.model_copy(
        update={
            "lines": [
                order.lines[0],
                order.lines[1].model_copy(
                    update={"sku": None, "gtin": estate.product("SKU-10004").gtins[0]}
                ),
            ]
        }
    )

    posting = await odoo.post_sale_order(scanned, "order:G-1")

    assert posting.amount == order.totals.grand_total
    [record] = await odoo.client.search_read(
        "sale.order", [("client_order_ref", "=", "order:G-1")], ["order_line"]
    )
    lines = await odoo.client.search_read(
        "sale.order.line", [("id", "in", record["order_line"])], ["product_id"]
    )
    assert [line["product_id"][1].split("]")[0] for line in lines] == ["[SKU-10000", "[SKU-10004"]


async def test_a_sale_of_known_items_costs_a_lookup_a_create_a_confirm_and_a_read(
    odoo: OdooConnector, emulator: OdooEmulator
) -> None:
    await odoo.post_sale_order(
        sale("A-1201", [("SKU-10000", "1", "2.19")], customer_id="CUST-00001"), "order:A-1201"
    )
    before = emulator.faults.requests_served
    order = sale(
        "A-1202",
        [("SKU-10000", "2", "2.19")],
        location="WEB",
        shipping="4.95",
        customer_id="CUST-00001",
    )

    posting = await odoo.post_sale_order(order, "order:A-1202")

    assert emulator.faults.requests_served - before == 4
    assert posting.status == "sale"
    assert posting.amount == order.totals.grand_total


async def test_a_variant_odoo_replaced_is_read_again_after_odoo_refuses_the_old_id(
    odoo: OdooConnector, emulator: OdooEmulator
) -> None:
    await odoo.post_sale_order(sale("A-1301", [("SKU-10000", "1", "2.19")]), "order:A-1301")
    with emulator.db:
        emulator.db.execute(
            "UPDATE product_product SET id = id + 100000 WHERE default_code = 'SKU-10000'"
        )
    order = sale("A-1302", [("SKU-10000", "1", "2.19")])

    with pytest.raises(OdooRefused, match="does not exist"):
        await odoo.post_sale_order(order, "order:A-1302")
    posting = await odoo.post_sale_order(order, "order:A-1302")

    assert posting.status == "sale"
    [line] = await odoo.client.search_read(
        "sale.order.line",
        [("order_id", "=", int(posting.external_id.split(",")[1]))],
        ["product_id"],
    )
    [variant] = await odoo.client.search_read(
        "product.product", [("default_code", "=", "SKU-10000")], ["id"]
    )
    assert line["product_id"][0] == variant["id"]
    assert await _count(odoo, "sale.order", "client_order_ref", "order:A-1302") == 1
