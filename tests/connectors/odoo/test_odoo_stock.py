"""Contract: stock per store read from the Odoo emulator, and adjusted once per key."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from odoo_sandbox import PRODUCTS, WITHOUT_STOCK

from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.sandbox.seed import Estate


async def test_stock_of_one_store_matches_the_estate(odoo: OdooConnector, estate: Estate) -> None:
    levels = await odoo.stock_levels("WEB")

    assert len(levels) == PRODUCTS
    for level in levels:
        truth = estate.stock(level.sku, "WEB")
        assert level.location == "WEB"
        assert level.on_hand == truth.on_hand
        assert level.reserved == truth.reserved
        assert level.available == truth.on_hand - truth.reserved
        assert level.source == "odoo"
    assert any(level.reserved > 0 for level in levels)


async def test_stock_of_every_store(odoo: OdooConnector, estate: Estate) -> None:
    levels = await odoo.stock_levels()

    assert {(level.sku, level.location) for level in levels} == {
        (level.sku, level.location) for level in estate.inventory
    }


async def test_unknown_store_is_refused_plainly(odoo: OdooConnector) -> None:
    with pytest.raises(MappingError, match="no Odoo warehouse has the code 'NOPE'"):
        await odoo.stock_levels("NOPE")


async def _on_hand(odoo: OdooConnector, sku: str, location: str) -> Decimal:
    return next(level.on_hand for level in await odoo.stock_levels(location) if level.sku == sku)


async def test_adjusting_stock_moves_it_once_per_key(odoo: OdooConnector, estate: Estate) -> None:
    before = estate.stock("SKU-10000", "AMS01").on_hand

    await odoo.adjust_stock("SKU-10000", "AMS01", Decimal(-3), "sale-A1-line-1")
    await odoo.adjust_stock("SKU-10000", "AMS01", Decimal(-3), "sale-A1-line-1")
    await odoo.adjust_stock("SKU-10000", "AMS01", Decimal(5), "restock-7")

    assert await _on_hand(odoo, "SKU-10000", "AMS01") == before - 3 + 5
    moves = await odoo.client.search_read(
        "stock.move", [("reference", "=", "sale-A1-line-1")], ["product_uom_qty", "state"]
    )
    assert len(moves) == 1
    assert moves[0]["product_uom_qty"] == 3
    assert moves[0]["state"] == "done"


async def test_adjusting_weighed_stock_keeps_grams(odoo: OdooConnector, estate: Estate) -> None:
    before = estate.stock("SKU-10003", "UTR03").on_hand

    await odoo.adjust_stock("SKU-10003", "UTR03", Decimal("-0.512"), "weighed-1")

    assert await _on_hand(odoo, "SKU-10003", "UTR03") == before - Decimal("0.512")


async def test_adjusting_stock_never_held_creates_the_quant(odoo: OdooConnector) -> None:
    sku, store = WITHOUT_STOCK
    assert sku not in {level.sku for level in await odoo.stock_levels(store)}

    await odoo.adjust_stock(sku, store, Decimal(12), "first-delivery")

    assert await _on_hand(odoo, sku, store) == 12


async def test_adjusting_an_unknown_sku_names_it(odoo: OdooConnector) -> None:
    with pytest.raises(MappingError, match="SKU-99999"):
        await odoo.adjust_stock("SKU-99999", "AMS01", Decimal(1), "k-unknown")


async def test_a_move_named_by_the_key_and_its_counter_is_already_applied(
    odoo: OdooConnector, estate: Estate
) -> None:
    before = estate.stock("SKU-10000", "DHG04").on_hand
    [product] = await odoo.client.search_read(
        "product.product", [("default_code", "=", "SKU-10000")], ["id"]
    )
    [adjustment] = await odoo.client.search_read(
        "stock.location", [("usage", "=", "inventory")], ["id"]
    )
    for name in ("count_9 (Mitchell Admin)", "countX10 (Mitchell Admin)"):
        await odoo.client.create(
            "stock.move",
            {
                "name": name,
                "reference": name,
                "product_id": product["id"],
                "location_id": adjustment["id"],
                "location_dest_id": adjustment["id"],
            },
        )

    await odoo.adjust_stock("SKU-10000", "DHG04", Decimal(4), "count_9")
    await odoo.adjust_stock("SKU-10000", "DHG04", Decimal(1), "count_10")

    assert await _on_hand(odoo, "SKU-10000", "DHG04") == before + 1


async def test_concurrent_sales_of_one_item_each_take_their_stock_once(
    odoo: OdooConnector,
) -> None:
    before = await _on_hand(odoo, "SKU-10000", "AMS01")

    sales = [f"rush-{n}" for n in range(8)]
    await asyncio.gather(
        *(odoo.adjust_stock("SKU-10000", "AMS01", Decimal(-1), key) for key in sales)
    )
    await asyncio.gather(
        *(odoo.adjust_stock("SKU-10000", "AMS01", Decimal(-1), key) for key in sales)
    )

    assert await _on_hand(odoo, "SKU-10000", "AMS01") == before - len(sales)
