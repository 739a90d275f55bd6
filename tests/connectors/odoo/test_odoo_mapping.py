"""Pure mappings on records shaped as Odoo's JSON-2 serves them: `false` for empty fields,
many2one as `[id, display_name]`, UTC datetimes without a zone, floats for amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from odoo_documents import refund, sale

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import OrderStatus
from retailhub.canonical.product import ProductStatus, UnitOfMeasure
from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.fields import OdooRecord
from retailhub.connectors.odoo.mapping import (
    Products,
    credit_note_posting,
    credit_note_values,
    price_to_canonical,
    pricing_control,
    product_to_canonical,
    quants_to_levels,
    sale_order_posting,
    sale_order_values,
)
from retailhub.sandbox.odoo.business import line_total

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
GOUDA: dict[str, Any] = {
    "id": 17,
    "default_code": "SKU-10421",
    "barcode": "8799999004213",
    "name": "Boerenland Gouda mature per kg",
    "categ_id": [41, "All / Food / Cheese / Gouda"],
    "uom_id": [12, "kg"],
    "taxes_id": [1],
    "active": True,
    "write_date": "2026-03-02 08:15:00",
    "list_price": 12.99,
    "standard_price": 7.15,
    "x_price_floor": 7.87,
    "currency_id": [125, "EUR"],
}
PRODUCTS = Products({"SKU-10000": 1, "SKU-10003": 4}, {"08799999000000": 1})


def test_a_variant_becomes_a_product() -> None:
    product = product_to_canonical(GOUDA, {1: Decimal("9.0"), 2: Decimal("21.0")})

    assert product.sku == "SKU-10421"
    assert product.gtins == ["08799999004213"]
    assert product.hierarchy == ["Food", "Cheese", "Gouda"]
    assert product.unit_of_measure is UnitOfMeasure.KG
    assert product.attributes == {"vat_rate": "9"}
    assert product.external_ids == {"odoo": "17"}
    assert product.status is ProductStatus.ACTIVE


def test_empty_fields_come_as_false() -> None:
    bare = {**GOUDA, "barcode": False, "categ_id": False, "taxes_id": [], "active": False}

    product = product_to_canonical(bare)

    assert product.gtins == []
    assert product.hierarchy == []
    assert product.attributes == {}
    assert product.status is ProductStatus.INACTIVE


def test_an_internal_barcode_is_kept_apart_from_gtins() -> None:
    product = product_to_canonical({**GOUDA, "barcode": "SHELF-0042"})

    assert product.gtins == []
    assert product.attributes["barcode"] == "SHELF-0042"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"default_code": False}, "$.default_code"),
        ({"uom_id": [3, "Dozens"]}, "$.uom_id"),
        ({"categ_id": 41}, "$.categ_id"),
        ({"active": None}, "$.active"),
    ],
)
def test_a_faulty_variant_names_its_field(change: dict[str, Any], path: str) -> None:
    with pytest.raises(MappingError) as refused:
        product_to_canonical({**GOUDA, **change})

    assert refused.value.resource == "product.product"
    assert refused.value.resource_id == "17"
    assert refused.value.path == path


def test_a_price_without_a_rule_is_the_list_price_since_the_last_write() -> None:
    price = price_to_canonical(GOUDA, Channel.STORE)

    assert price.list_price == Money.of("12.99", "EUR")
    assert price.sale_price is None
    assert price.valid_from == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def test_a_fixed_price_rule_is_the_sale_price_over_its_dates() -> None:
    rule = {
        "id": 301,
        "pricelist_id": [2, "Web shop"],
        "product_id": [17, "[SKU-10421] Boerenland Gouda mature per kg"],
        "fixed_price": 9.74,
        "date_start": "2026-11-20 00:00:00",
        "date_end": False,
    }

    price = price_to_canonical(GOUDA, Channel.WEB, rule)

    assert price.sale_price == Money.of("9.74", "EUR")
    assert price.valid_from == datetime(2026, 11, 20, tzinfo=UTC)
    assert price.valid_to is None


def test_a_rule_above_the_list_price_is_refused_at_the_rule() -> None:
    rule = {"id": 302, "fixed_price": 14.0, "date_start": False, "date_end": False}

    with pytest.raises(MappingError) as refused:
        price_to_canonical(GOUDA, Channel.STORE, rule)

    assert (refused.value.resource, refused.value.resource_id) == ("product.pricelist.item", "302")
    assert refused.value.path == "$.fixed_price"


def test_pricing_control_reads_cost_and_floor_without_floats() -> None:
    control = pricing_control({**GOUDA, "standard_price": 0.1 + 0.2}, "x_price_floor")

    assert control.cost == Money.of("0.30", "EUR")
    assert control.list_price == Money.of("12.99", "EUR")
    assert control.price_floor == Money.of("7.87", "EUR")
    assert pricing_control({**GOUDA, "x_price_floor": 0.0}, "x_price_floor").price_floor is None


def test_quants_add_up_per_store_across_sub_locations() -> None:
    quants = [
        {
            "id": 1,
            "product_id": [17, "[SKU-10421] Gouda"],
            "location_id": [5, "AMS01/Stock"],
            "quantity": 4.25,
            "reserved_quantity": 0.0,
            "write_date": "2026-11-20 09:00:00",
        },
        {
            "id": 2,
            "product_id": [17, "[SKU-10421] Gouda"],
            "location_id": [21, "AMS01/Stock/Cooler"],
            "quantity": 1.5,
            "reserved_quantity": 0.75,
            "write_date": "2026-11-20 10:30:00",
        },
        {
            "id": 3,
            "product_id": [99, "Gift wrapping"],
            "location_id": [5, "AMS01/Stock"],
            "quantity": 3.0,
            "reserved_quantity": 0.0,
            "write_date": "2026-11-20 10:30:00",
        },
    ]

    [level] = quants_to_levels(quants, {17: "SKU-10421"}, {5: "AMS01", 21: "AMS01"})

    assert (level.sku, level.location) == ("SKU-10421", "AMS01")
    assert level.on_hand == Decimal("5.75")
    assert level.reserved == Decimal("0.75")
    assert level.available == Decimal("5.00")
    assert level.as_of == datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    assert level.sequence == int(level.as_of.timestamp()) * 1_000_000


def test_a_quant_outside_every_store_is_refused() -> None:
    quant = {
        "id": 8,
        "product_id": [17, "x"],
        "location_id": [2, "Virtual Locations/Inventory adjustment"],
        "quantity": 1.0,
        "reserved_quantity": 0.0,
        "write_date": "2026-11-20 10:30:00",
    }

    with pytest.raises(MappingError, match="in no store's warehouse"):
        quants_to_levels([quant], {17: "SKU-10421"}, {5: "AMS01"})


def test_a_sale_order_carries_the_key_and_discounts_as_percentages() -> None:
    order = sale(
        "W-1",
        [("SKU-10000", "3", "8.29"), ("SKU-10003", "1", "4.99")],
        location="WEB",
        line_discount="2.49",
        order_discount="1.00",
        shipping="4.95",
    )

    values = sale_order_values(
        order, "order:W-1", partner_id=7, warehouse_id=6, products=PRODUCTS, shipping_product_id=9
    )

    assert values["client_order_ref"] == "order:W-1"
    assert values["origin"] == "W-1"
    assert values["date_order"] == "2026-11-20 10:15:00"
    assert (values["partner_id"], values["warehouse_id"]) == (7, 6)
    lines = [command[2] for command in values["order_line"]]
    assert [command[:2] for command in values["order_line"]] == [[0, 0]] * 3
    assert lines[0]["product_uom_qty"] == "3"
    assert lines[0]["price_unit"] == "8.29"
    assert [line["product_id"] for line in lines] == [1, 4, 9]
    total = sum(
        line_total(
            float(ln["product_uom_qty"]), float(ln["price_unit"]), float(ln.get("discount", 0))
        )
        for ln in lines
    )
    assert abs(total - order.totals.grand_total.amount) <= Decimal("0.02")


def test_a_line_named_by_gtin_only_finds_its_variant() -> None:
    order = sale("S-1", [("SKU-10000", "1", "2.19")])
    by_gtin = order.model_copy(
        update={
            "lines": [order.lines[0].model_copy(update={"sku": None, "gtin": "08799999000000"})]
        }
    )

    values = sale_order_values(by_gtin, "k", partner_id=1, warehouse_id=1, products=PRODUCTS)

    assert values["order_line"][0][2]["product_id"] == 1


def test_shipping_without_a_shipping_product_is_refused() -> None:
    order = sale("W-2", [("SKU-10000", "1", "2.19")], shipping="4.95")

    with pytest.raises(MappingError) as refused:
        sale_order_values(order, "k", partner_id=1, warehouse_id=1, products=PRODUCTS)

    assert refused.value.path == "$.totals.shipping"


def test_a_pending_sale_maps_but_a_cancelled_one_does_not() -> None:
    pending = sale("P-1", [("SKU-10000", "1", "2.19")], status=OrderStatus.PENDING)
    cancelled = sale("P-2", [("SKU-10000", "1", "2.19")], status=OrderStatus.CANCELLED)

    assert sale_order_values(pending, "k", partner_id=1, warehouse_id=1, products=PRODUCTS)
    with pytest.raises(MappingError, match="cancelled"):
        sale_order_values(cancelled, "k", partner_id=1, warehouse_id=1, products=PRODUCTS)


def test_a_credit_note_refund_that_does_not_divide_keeps_every_cent() -> None:
    document = refund("R-1", [("SKU-10000", "3", "10.00"), ("SKU-10003", "0.512", "2.55")])

    values = credit_note_values(
        document,
        "return:R-1",
        partner_id=3,
        products=PRODUCTS,
        store="AMS01",
        business_day=date(2026, 11, 20),
    )

    assert values["move_type"] == "out_refund"
    assert values["ref"] == "return:R-1"
    assert values["invoice_origin"] == "AMS01"
    assert values["invoice_date"] == "2026-11-20"
    lines = [command[2] for command in values["invoice_line_ids"]]
    assert [(ln["quantity"], ln["price_unit"]) for ln in lines] == [
        ("3", "3.33"),
        ("1", "0.01"),
        ("0.512", "4.98"),
    ]
    total = sum(line_total(float(ln["quantity"]), float(ln["price_unit"])) for ln in lines)
    assert total == Decimal("12.55")


def test_postings_read_back_from_sale_orders_and_credit_notes() -> None:
    order = {
        "id": 42,
        "name": "S00042",
        "client_order_ref": "order:A-1",
        "amount_total": 8.37,
        "currency_id": [125, "EUR"],
        "date_order": "2026-11-20 23:30:00",
        "warehouse_id": [1, "Amsterdam Centrum"],
        "state": "sale",
    }
    note = {
        "id": 7,
        "name": "RINV/2026/00007",
        "ref": "return:R-1",
        "amount_total": 2.19,
        "currency_id": [125, "EUR"],
        "invoice_date": "2026-11-20",
        "invoice_origin": False,
        "state": "posted",
    }

    sold = sale_order_posting(order, {1: "AMS01"}, AMSTERDAM)
    refunded = credit_note_posting(note)

    assert (sold.external_id, sold.key, sold.status) == ("sale.order,42", "order:A-1", "sale")
    assert sold.amount == Money.of("8.37", "EUR")
    assert sold.location == "AMS01"
    assert sold.business_day == date(2026, 11, 21)
    assert (refunded.external_id, refunded.location) == ("account.move,7", None)
    assert refunded.business_day == date(2026, 11, 20)
    with pytest.raises(MappingError) as refused:
        sale_order_posting({**order, "date_order": "20/11/2026"}, {}, AMSTERDAM)
    assert refused.value.path == "$.date_order"


@pytest.mark.parametrize(
    "written",
    ["2026-11-27T21:00:05", "2026-11-27 21:00", "27/11/2026 21:00:05", "2026-13-27 21:00:05", ""],
)
def test_a_datetime_not_in_odoos_format_is_refused_with_its_field(written: str) -> None:
    record = OdooRecord("stock.quant", {"id": 7, "write_date": written})
    with pytest.raises(MappingError, match="write_date"):
        record.moment("write_date")


def test_an_odoo_datetime_is_read_as_utc() -> None:
    record = OdooRecord("stock.quant", {"id": 7, "write_date": "2026-11-27 21:00:05"})
    assert record.moment("write_date") == datetime(2026, 11, 27, 21, 0, 5, tzinfo=UTC)
