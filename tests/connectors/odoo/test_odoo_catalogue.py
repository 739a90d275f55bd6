"""Contract: the item master, prices and pricing controls read from the Odoo emulator over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from odoo_sandbox import PRODUCTS, YEAR, connect

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.product import ProductStatus, UnitOfMeasure
from retailhub.connectors.odoo.connector import OdooConnector, OdooSettings
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator
from retailhub.sandbox.odoo.seeding import cost_of, price_floor_of
from retailhub.sandbox.seed import CET, Estate


async def test_products_come_as_the_estate_holds_them(odoo: OdooConnector, estate: Estate) -> None:
    products = [p async for p in odoo.products()]

    assert [p.sku for p in products] == [p.sku for p in estate.products]
    for product in products:
        truth = estate.product(product.sku)
        assert product.gtins == truth.gtins
        assert product.title == truth.title
        assert product.hierarchy == truth.hierarchy
        assert product.unit_of_measure is truth.unit_of_measure
        assert product.attributes["vat_rate"] == truth.attributes["vat_rate"]
        assert product.status is ProductStatus.ACTIVE
        assert product.external_ids["odoo"].isdigit()
    assert any(p.unit_of_measure is UnitOfMeasure.KG for p in products)


async def test_products_page_through_small_pages(emulator: OdooEmulator, estate: Estate) -> None:
    connector = connect(emulator, settings=OdooSettings(page_size=7))
    try:
        skus = [p.sku async for p in connector.products()]
    finally:
        await connector.close()

    assert len(skus) == PRODUCTS
    assert len(set(skus)) == PRODUCTS
    assert emulator.faults.requests_served >= PRODUCTS // 7 + 1


async def test_products_changed_since_a_moment(odoo: OdooConnector, estate: Estate) -> None:
    since = datetime(YEAR, 1, 1, tzinfo=CET) + timedelta(minutes=45)

    skus = [p.sku async for p in odoo.products(changed_since=since)]

    assert skus == [p.sku for p in estate.products[45:]]


async def test_an_archived_product_comes_through_inactive(odoo: OdooConnector) -> None:
    [record] = await odoo.client.search_read(
        "product.product", [("default_code", "=", "SKU-10002")], ["id"]
    )
    await odoo.client.write("product.product", [record["id"]], {"active": False})

    products = {p.sku: p async for p in odoo.products()}

    assert products["SKU-10002"].status is ProductStatus.INACTIVE
    assert products["SKU-10000"].status is ProductStatus.ACTIVE


async def test_prices_per_channel_with_sale_prices_from_the_pricelists(
    odoo: OdooConnector, estate: Estate
) -> None:
    prices = await odoo.prices()

    assert len(prices) == 2 * PRODUCTS
    for price in prices:
        truth = estate.price(price.sku, price.channel)
        assert price.list_price == truth.list_price
        assert price.sale_price == truth.sale_price
        if truth.sale_price is not None:
            assert price.valid_from == truth.valid_from
    assert any(p.sale_price is not None for p in prices)


async def test_prices_for_some_skus(odoo: OdooConnector, estate: Estate) -> None:
    prices = await odoo.prices(["SKU-10004", "SKU-10005", "SKU-99999"])

    assert {(p.sku, p.channel) for p in prices} == {
        (sku, channel)
        for sku in ("SKU-10004", "SKU-10005")
        for channel in (Channel.STORE, Channel.WEB)
    }
    assert all(p.sale_price == estate.price(p.sku, p.channel).sale_price for p in prices)


async def test_pricing_controls_give_cost_and_floor(odoo: OdooConnector, estate: Estate) -> None:
    controls = await odoo.pricing_controls(["SKU-10000", "SKU-10004", "SKU-99999"])

    assert [c.sku for c in controls] == ["SKU-10000", "SKU-10004"]
    for control in controls:
        list_price = estate.price(control.sku, Channel.STORE).list_price.amount
        assert control.list_price == Money.of(list_price, "EUR")
        assert control.cost == Money.of(cost_of(control.sku, list_price), "EUR")
        assert control.price_floor == Money.of(price_floor_of(control.sku, list_price), "EUR")
        assert control.cost is not None
        assert control.price_floor is not None
        assert control.cost.amount < control.price_floor.amount <= list_price


async def test_pricing_controls_without_a_floor_field(emulator: OdooEmulator) -> None:
    connector = connect(emulator, settings=OdooSettings(price_floor_field=None))
    try:
        [control] = await connector.pricing_controls(["SKU-10000"])
    finally:
        await connector.close()

    assert control.price_floor is None
    assert control.cost is not None
    assert control.cost.amount > Decimal(0)


async def test_a_connector_from_estate_options(emulator: OdooEmulator) -> None:
    assert emulator.url is not None
    connector = OdooConnector.from_options(
        emulator.url,
        SANDBOX_API_KEY,
        ResiliencePolicy(),
        {"database": SANDBOX_DATABASE, "price_floor_field": "", "web_pricelist": "Web shop"},
    )
    try:
        [control] = await connector.pricing_controls(["SKU-10000"])
    finally:
        await connector.close()

    assert control.price_floor is None
    with pytest.raises(ValueError, match="no option 'colour'"):
        OdooConnector.from_options(emulator.url, "k", ResiliencePolicy(), {"colour": "red"})
