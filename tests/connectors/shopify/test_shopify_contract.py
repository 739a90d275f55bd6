"""The Shopify connector against the emulator over real HTTP on loopback: every port method,
paging, and each write repeated with the same key leaving one document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from shopify_sandbox import connect, count, place_order

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Address, Customer
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.money import Money
from retailhub.canonical.order import OrderStatus
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.shopify import connector as connector_module
from retailhub.connectors.shopify.connector import ShopifyConnector, discount_code
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import ShopifyEmulator

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


async def test_get_order_maps_the_shops_order(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    customer = small_estate.customers[0].shop_view
    placed = await place_order(
        connector, small_estate.products[1].sku, 3, email=customer.primary_email
    )
    order = await connector.get_order(f"SHOPIFY-ORDER-{placed['id']}")
    assert order is not None
    assert order.external_ids == {"shopify": str(placed["id"])}
    assert order.status is OrderStatus.COMPLETED
    assert order.prices_include_tax
    assert order.customer_ids == {"shopify": customer.identities["shopify"]}
    assert [(line.sku, line.quantity) for line in order.lines] == [
        (small_estate.products[1].sku, Decimal(3))
    ]
    web_price = small_estate.price(small_estate.products[1].sku, Channel.WEB)
    assert order.totals.grand_total == (web_price.sale_price or web_price.list_price) * 3


async def test_an_unknown_or_foreign_order_is_none(connector: ShopifyConnector) -> None:
    assert await connector.get_order("SHOPIFY-ORDER-123") is None
    assert await connector.get_order("POS-AMS01-2026-0001") is None


async def test_orders_since_pages_through_every_order_of_any_status(
    emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    shop = connect(emulator, page_size=2)
    placed = [await place_order(shop, small_estate.products[i].sku) for i in range(5)]
    cancel = f"orders/{placed[0]['id']}/cancel"
    await shop.client.http.request("POST", shop.client.path(cancel), json={})
    seen = [order async for order in shop.orders_since(LONG_AGO)]
    assert [o.order_id for o in seen] == [f"SHOPIFY-ORDER-{p['id']}" for p in placed]
    assert seen[0].status is OrderStatus.CANCELLED
    later = [o async for o in shop.orders_since(datetime.now(UTC) + timedelta(hours=1))]
    assert later == []
    await shop.close()


async def test_the_client_follows_link_headers_page_by_page(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    pages = [
        len(page) async for page in connector.client.pages("products", "products", {"limit": 15})
    ]
    assert pages == [15, 15, 10]
    assert sum(pages) == len(small_estate.products)


async def test_upsert_customer_updates_the_customer_found_by_email(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    view = small_estate.customers[2].shop_view
    anonymous = view.model_copy(update={"identities": {}, "given_name": "Renamed"})
    before = count(emulator, "customer")
    first = await connector.upsert_customer(anonymous)
    again = await connector.upsert_customer(anonymous)
    assert first == again == view.identities["shopify"]
    assert count(emulator, "customer") == before
    found = await connector.find_customer(view.primary_email or "")
    assert found is not None
    assert found.given_name == "Renamed"
    assert len(found.addresses) == len(view.addresses)


async def test_upsert_customer_creates_a_new_customer_once(
    connector: ShopifyConnector, emulator: ShopifyEmulator
) -> None:
    newcomer = Customer(
        customer_id="CUST-NEW-1",
        given_name="Noor",
        family_name="Visser",
        emails=["noor.visser@example.nl"],
        addresses=[
            Address(lines=["Damrak 1"], city="Amsterdam", postal_code="1012 LG", country="NL")
        ],
    )
    before = count(emulator, "customer")
    first = await connector.upsert_customer(newcomer)
    second = await connector.upsert_customer(newcomer)
    assert first == second
    assert count(emulator, "customer") == before + 1
    held = await connector.client.customer(int(first))
    assert held is not None
    assert len(held["addresses"]) == 1


async def test_upsert_products_creates_once_then_updates(
    connector: ShopifyConnector, emulator: ShopifyEmulator
) -> None:
    variants = [
        Product(
            sku=f"SKU-NEW-{size}",
            gtins=[],
            title=f"retailhub Tea green - {size}",
            hierarchy=["Food", "Drinks", "Tea"],
            brand="retailhub",
            attributes={"Size": size},
        )
        for size in ("20 bags", "40 bags")
    ]
    before = count(emulator, "product")
    first = await connector.upsert_products(variants)
    renamed = [v.model_copy(update={"brand": "Thee & Co"}) for v in variants]
    second = await connector.upsert_products(renamed)
    assert first == second
    assert count(emulator, "product") == before + 1
    product = await connector.client._get(f"products/{first}")
    assert product["product"]["vendor"] == "Thee & Co"
    assert sorted(v["sku"] for v in product["product"]["variants"]) == [
        "SKU-NEW-20 bags",
        "SKU-NEW-40 bags",
    ]


async def test_upsert_products_finds_an_estate_product_by_sku(
    emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    shop = connect(emulator)
    product = small_estate.products[5].model_copy(update={"attributes": {}, "title": "New title"})
    before = count(emulator, "product")
    assert await shop.upsert_products([product]) == "7000000006"
    assert count(emulator, "product") == before
    await shop.close()


async def test_set_inventory_writes_the_level_and_repeats_safely(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    sku = small_estate.products[7].sku
    level = InventoryLevel(
        sku=sku, location="AMS01", on_hand=12, as_of=datetime.now(UTC), source="odoo", sequence=1
    )
    await connector.set_inventory(level)
    await connector.set_inventory(level)
    held = await connector.inventory_levels([sku], "AMS01")
    assert [(h.location, h.available) for h in held] == [("AMS01", Decimal(12))]
    web = await connector.inventory_levels([sku], "WEB")
    assert web[0].available == int(small_estate.stock(sku, "WEB").available or 0)


async def test_set_inventory_of_an_unknown_sku_names_it(connector: ShopifyConnector) -> None:
    level = InventoryLevel(
        sku="SKU-NOWHERE",
        location="WEB",
        on_hand=1,
        as_of=datetime.now(UTC),
        source="odoo",
        sequence=1,
    )
    with pytest.raises(MappingError, match="SKU-NOWHERE"):
        await connector.set_inventory(level)


async def test_set_price_puts_a_sale_on_the_variant(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    sku = small_estate.products[9].sku
    price = Price(
        sku=sku,
        channel=Channel.WEB,
        list_price=Money.of("4.99", "EUR"),
        sale_price=Money.of("3.99", "EUR"),
        valid_from=datetime.now(UTC),
    )
    await connector.set_price(price)
    ref = await connector.variant(sku)
    variant = (await connector.client._get(f"variants/{ref.variant_id}"))["variant"]
    assert (variant["price"], variant["compare_at_price"]) == ("3.99", "4.99")
    await connector.set_price(price.model_copy(update={"sale_price": None}))
    variant = (await connector.client._get(f"variants/{ref.variant_id}"))["variant"]
    assert (variant["price"], variant["compare_at_price"]) == ("4.99", None)


async def test_a_store_price_is_refused_not_written(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    price = small_estate.price(small_estate.products[9].sku, Channel.STORE)
    with pytest.raises(MappingError, match="channel"):
        await connector.set_price(price)


def spring_sale(skus: list[str], version: int = 1) -> Promotion:
    return Promotion(
        promotion_id="spring-sale-2026",
        version=version,
        name="Spring sale",
        source="hub",
        channels=[Channel.WEB, Channel.STORE],
        eligibility=Eligibility(skus=skus),
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(15)),
        valid_from=datetime(2026, 3, 20, tzinfo=UTC),
        valid_to=datetime(2026, 4, 20, tzinfo=UTC),
        status=PromotionStatus.ACTIVE,
    )


async def test_put_promotion_publishes_one_rule_and_code_per_version(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    skus = [p.sku for p in small_estate.products[:3]]
    first = await connector.put_promotion(spring_sale(skus))
    again = await connector.put_promotion(spring_sale(skus))
    assert first == again
    assert (count(emulator, "price_rule"), count(emulator, "discount_code")) == (1, 1)
    codes = await connector.client.discount_codes(int(first))
    assert (
        [c["code"] for c in codes] == [discount_code(spring_sale(skus))] == ["SPRING-SALE-2026-V1"]
    )
    second = await connector.put_promotion(spring_sale(skus, version=2))
    assert second != first
    read = await connector.get_promotion("spring-sale-2026")
    assert read is not None
    assert (read.promotion_id, read.version, read.name) == ("spring-sale-2026", 2, "Spring sale")
    assert read.eligibility.skus == skus
    assert read.reward.percent == Decimal(15)
    by_rule = await connector.get_promotion(f"SHOPIFY-PRICE-RULE-{first}")
    assert by_rule is not None
    assert by_rule.version == 1
    assert await connector.get_promotion("never-published") is None


async def test_a_points_campaign_cannot_be_a_price_rule(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    skus = [p.sku for p in small_estate.products[:2]]
    campaign = small_estate.campaign.model_copy(update={"eligibility": Eligibility(skus=skus)})
    with pytest.raises(MappingError, match="bonus_points"):
        await connector.put_promotion(campaign)


async def test_refund_return_refunds_once_per_key_and_reads_back(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    sku = small_estate.products[4].sku
    placed = await place_order(connector, sku, 2)
    line = placed["line_items"][0]
    unit = Money.of(line["price"], "EUR")
    document = Return(
        return_id="RET-WEB-0001",
        original_order_id=f"SHOPIFY-ORDER-{placed['id']}",
        initiated_channel=Channel.WEB,
        received_channel=Channel.WEB,
        received_location="WEB",
        currency="EUR",
        lines=[
            ReturnLine(
                line_id="1",
                original_line_id=str(line["id"]),
                sku=sku,
                quantity=Decimal(1),
                refund_amount=unit,
            )
        ],
        refund_total=unit,
        status=ReturnStatus.RECEIVED,
        created_at=datetime.now(UTC),
    )
    web_before = (await connector.inventory_levels([sku], "WEB"))[0].on_hand
    first = await connector.refund_return(document, "return:RET-WEB-0001")
    again = await connector.refund_return(document, "return:RET-WEB-0001")
    assert first == again
    assert count(emulator, "refund") == 1
    returns = await connector.returns_for_order(f"SHOPIFY-ORDER-{placed['id']}")
    assert [(r.return_id, r.refund_total) for r in returns] == [(f"SHOPIFY-REFUND-{first}", unit)]
    assert returns[0].status is ReturnStatus.REFUNDED
    assert (await connector.inventory_levels([sku], "WEB"))[0].on_hand == web_before + 1
    order = await connector.client.order(placed["id"])
    assert order is not None
    assert order["financial_status"] == "partially_refunded"


async def test_facts_shared_by_every_variant_are_not_offered_as_options(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    estate_product = small_estate.products[11]
    assert "vat_rate" in estate_product.attributes
    product_id = await connector.upsert_products([estate_product])
    product = (await connector.client._get(f"products/{product_id}"))["product"]
    assert [o["name"] for o in product["options"]] == ["Title"]
    assert product["variants"][0]["title"] == "Default Title"


async def test_stock_of_many_skus_is_read_in_batches_shopify_accepts(
    connector: ShopifyConnector, small_estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = list(range(1, 52))
    with pytest.raises(RequestRefused) as refused:
        await anext(connector.client.inventory_levels(items))
    assert refused.value.status == 422
    monkeypatch.setattr(connector_module, "MAX_IDS_PER_FILTER", 15)
    batches: list[int] = []
    read = connector.client.inventory_levels

    def counted(items: Sequence[int], locations: Sequence[int] = ()) -> AsyncIterator[Any]:
        batches.append(len(items))
        return read(items, locations)

    monkeypatch.setattr(connector.client, "inventory_levels", counted)
    skus = [p.sku for p in small_estate.products]
    levels = await connector.inventory_levels(skus, "WEB")
    assert [level.sku for level in levels] == skus
    assert batches == [15, 15, 10]


async def test_a_shopify_pos_sale_reads_as_a_store_sale_at_its_estate_location(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    amsterdam = (await connector.location_ids())["AMS01"]
    placed = await place_order(
        connector, small_estate.products[6].sku, source_name="pos", location_id=amsterdam
    )
    order = await connector.get_order(str(placed["id"]))
    assert order is not None
    assert (order.channel, order.location) == (Channel.STORE, "AMS01")


async def test_a_listing_made_outside_the_hub_is_found_not_duplicated(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    await connector.variant(small_estate.products[0].sku)
    made = await connector.client.create_product(
        {"title": "Oat milk 1 l", "variants": [{"sku": "SKU-OAT-1L", "price": "2.49"}]}
    )
    before = count(emulator, "product")
    oat = Product(sku="SKU-OAT-1L", title="Oat milk 1 l", brand="Oatly")
    assert await connector.upsert_products([oat]) == str(made["id"])
    assert count(emulator, "product") == before


async def test_unknown_skus_rebuild_the_index_at_most_once_a_minute(
    connector: ShopifyConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilds: list[int] = []
    listing = connector.client.products

    def counted(*, fields: Sequence[str] = ()) -> AsyncIterator[dict[str, Any]]:
        rebuilds.append(1)
        return listing(fields=fields)

    monkeypatch.setattr(connector.client, "products", counted)
    for sku in ("SKU-GONE-1", "SKU-GONE-2", "SKU-GONE-3"):
        price = Price(
            sku=sku,
            channel=Channel.WEB,
            list_price=Money.of("1.00", "EUR"),
            valid_from=datetime.now(UTC),
        )
        with pytest.raises(MappingError, match=sku):
            await connector.set_price(price)
    assert len(rebuilds) == 1


async def test_stock_adjusts_by_a_delta_where_the_item_is_stocked(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    sku = small_estate.products[8].sku
    ref = await connector.variant(sku)
    web = (await connector.location_ids())["WEB"]
    before = int(small_estate.stock(sku, "WEB").available or 0)
    level = await connector.client.adjust_inventory_level(web, ref.inventory_item_id, -3)
    assert level["available"] == before - 3
    made = await connector.client.create_product({"title": "Gift card"})
    unstocked = made["variants"][0]["inventory_item_id"]
    amsterdam = (await connector.location_ids())["AMS01"]
    with pytest.raises(RequestRefused) as refused:
        await connector.client.adjust_inventory_level(amsterdam, unstocked, 1)
    assert refused.value.status == 422


async def test_a_discount_code_is_looked_up_to_its_price_rule(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    rule_id = await connector.put_promotion(spring_sale([small_estate.products[0].sku]))
    found = await connector.client.http.request(
        "GET",
        connector.client.path("discount_codes/lookup"),
        params={"code": "spring-sale-2026-v1"},
    )
    assert str(found.body["discount_code"]["price_rule_id"]) == rule_id


async def test_shopify_lists_open_orders_unless_asked_for_any(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    kept, cancelled = [await place_order(connector, small_estate.products[i].sku) for i in (0, 1)]
    await connector.client.http.request(
        "POST", connector.client.path(f"orders/{cancelled['id']}/cancel"), json={}
    )
    refund = {
        "refund_line_items": [{"line_item_id": cancelled["line_items"][0]["id"], "quantity": 1}]
    }
    await connector.client.create_refund(cancelled["id"], refund)

    async def listed(**params: str) -> list[int]:
        answer = await connector.client.http.request(
            "GET", connector.client.path("orders"), params=params
        )
        return [order["id"] for order in answer.body["orders"]]

    assert await listed() == [kept["id"]]
    assert await listed(status="cancelled") == [cancelled["id"]]
    assert await listed(status="any") == [kept["id"], cancelled["id"]]
