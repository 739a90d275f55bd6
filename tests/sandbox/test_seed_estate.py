"""The seed estate: big enough to be a retailer, valid to the canonical model, deliberately
inconsistent across systems where a real estate is, and the same every time for a seed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer
from retailhub.canonical.identifiers import is_valid_gtin
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.promotion import RewardType
from retailhub.sandbox.seed import CET, CONFLICT_KINDS, Estate, EstateCustomer, build_estate

from .conftest import YEAR


def test_catalogue_has_thousands_of_products_in_a_three_level_hierarchy(estate: Estate) -> None:
    products = estate.products
    assert len(products) >= 2000
    assert len({p.sku for p in products}) == len(products)
    assert all(len(p.hierarchy) == 3 for p in products)
    assert {tuple(p.hierarchy) for p in products} == set(estate.categories)
    assert 100 <= len(estate.categories) <= 400
    assert ("Food", "Cheese", "Gouda") in estate.categories
    weighed = [p for p in products if p.unit_of_measure is UnitOfMeasure.KG]
    assert 50 <= len(weighed) < len(products) // 2


def test_every_gtin_is_a_valid_unique_gtin_13(estate: Estate) -> None:
    gtins = [g for p in estate.products for g in p.gtins]
    assert len(gtins) == len(set(gtins)) == len(estate.products)
    for gtin in gtins:
        assert is_valid_gtin(gtin), gtin
        assert gtin.startswith("0")
        assert len(gtin.lstrip("0")) >= 12
    for product in estate.products:
        if product.unit_of_measure is UnitOfMeasure.KG:
            assert product.gtins[0][1:3] == "21"


def test_five_stores_and_the_web_shop_in_euros(estate: Estate) -> None:
    assert [s.code for s in estate.stores] == ["AMS01", "RTM02", "UTR03", "DHG04", "EIN05", "WEB"]
    assert {s.channel for s in estate.stores} == {Channel.STORE, Channel.WEB}
    assert {s.currency for s in estate.stores} == {"EUR"}
    assert {estate.vat_rate(p.sku) for p in estate.products} == {Decimal(9), Decimal(21)}
    cheese = next(p for p in estate.products if p.hierarchy[1] == "Cheese")
    assert estate.vat_rate(cheese.sku) == Decimal(9)


def test_prices_and_stock_for_every_sku_and_location(estate: Estate) -> None:
    assert len(estate.prices) == 2 * len(estate.products)
    on_sale = [p for p in estate.prices if p.sale_price is not None]
    assert 0 < len(on_sale) < len(estate.prices) // 4
    assert all(p.sale_price is None or p.sale_price < p.list_price for p in estate.prices)
    assert len(estate.inventory) == len(estate.products) * len(estate.stores)
    sequences = [level.sequence for level in estate.inventory]
    assert sequences == sorted(set(sequences))
    sku = estate.products[0].sku
    assert estate.stock(sku, "WEB").location == "WEB"
    assert estate.price(sku, Channel.WEB).channel is Channel.WEB


def test_ten_thousand_loyalty_members_with_unique_cards(estate: Estate) -> None:
    customers = estate.customers
    assert len(customers) == 10_000
    assert len({c.card_number for c in customers}) == 10_000
    assert all(is_valid_gtin(c.card_number) for c in customers)
    tiers = Counter(c.golden.loyalty.tier for c in customers[:2000] if c.golden.loyalty)
    assert set(tiers) == {"bronze", "silver", "gold"}
    assert tiers["bronze"] > tiers["silver"] > tiers["gold"]


def _views(customer: EstateCustomer) -> list[Customer]:
    return [customer.crm_view, customer.loyalty_view, customer.shop_view]


def test_some_profiles_conflict_across_systems_as_their_kind_says(estate: Estate) -> None:
    conflicted = [c for c in estate.customers if c.conflicts]
    assert len(conflicted) == 500
    assert Counter(kind for c in conflicted for kind in c.conflicts).keys() == set(CONFLICT_KINDS)
    for customer in conflicted:
        golden = customer.golden
        match customer.conflicts:
            case ("crm_other_email",):
                assert customer.crm_view.emails[0] not in customer.shop_view.emails
                assert set(customer.crm_view.emails) < set(golden.emails)
            case ("loyalty_old_phone",):
                assert customer.loyalty_view.phones != golden.phones
            case ("shop_name_typo",):
                assert customer.shop_view.family_name != golden.family_name
                assert sorted(customer.shop_view.family_name or "") == sorted(
                    golden.family_name or ""
                )


def test_agreeing_profiles_match_across_views(estate: Estate) -> None:
    for customer in estate.customers[::50]:
        if customer.conflicts:
            continue
        for view in _views(customer):
            assert (view.given_name, view.family_name) == (
                customer.golden.given_name,
                customer.golden.family_name,
            )
            assert view.emails == customer.golden.emails
            assert view.phones == customer.golden.phones


def test_every_view_carries_only_its_own_systems_id_and_passes_validation(
    estate: Estate,
) -> None:
    sample = [c for c in estate.customers if c.conflicts][:60] + list(estate.customers[::250])
    for customer in sample:
        ids = customer.golden.identities
        assert set(ids) == {"hubspot", "openloyalty", "shopify"}
        for view, system in zip(
            _views(customer), ("hubspot", "openloyalty", "shopify"), strict=True
        ):
            assert view.identities == {system: ids[system]}
            assert Customer.model_validate(view.model_dump()) == view
        account = customer.account
        assert account.member_id == ids["openloyalty"]
        assert account.card_numbers == [customer.card_number]


def test_lookups_by_sku_gtin_card_and_email(estate: Estate) -> None:
    product = estate.products[7]
    assert estate.product(product.sku) == product
    assert estate.product_by_gtin(product.gtins[0].lstrip("0")) == product
    customer = estate.customers[123]
    assert estate.customer_by_card(customer.card_number) is customer
    assert estate.customer_by_email(customer.golden.emails[0].upper()) is customer
    crm_only = next(c for c in estate.customers if c.conflicts == ("crm_other_email",))
    assert estate.customer_by_email(crm_only.crm_view.emails[0]) is crm_only


def test_winter_bonus_campaign_gives_points_on_a_hundred_skus(estate: Estate) -> None:
    campaign = estate.campaign
    assert campaign.name == "Winter bonus"
    assert len(campaign.eligibility.skus) == 100
    assert all(estate.product(sku) for sku in campaign.eligibility.skus)
    assert campaign.reward.type is RewardType.BONUS_POINTS
    assert campaign.reward.points == 50
    assert set(campaign.channels) == {Channel.STORE, Channel.WEB}
    assert campaign.is_live(datetime(YEAR, 12, 1, 12, tzinfo=CET))
    assert campaign.is_live(datetime(YEAR, 12, 31, 23, 59, tzinfo=CET))
    assert not campaign.is_live(datetime(YEAR, 11, 19, 23, 59, tzinfo=CET))
    assert not campaign.is_live(datetime(YEAR + 1, 1, 1, tzinfo=CET))


def test_same_seed_same_estate_another_seed_another(estate: Estate) -> None:
    again = build_estate(42, year=YEAR)
    assert again == estate
    for i in (0, 4321, 9999):
        assert again.customers[i].golden == estate.customers[i].golden
        assert again.customers[i].shop_view == estate.customers[i].shop_view
    other = build_estate(7, year=YEAR)
    assert other.products != estate.products
    assert other.customers != estate.customers
