"""The Shopify connector against the emulator over loopback HTTP: a promotion withdrawn (every
version's price rule and code deleted, a repeat or an unknown promotion changing nothing),
customers read by id and email, and the breaker state the connector reports."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shopify_sandbox import count

from retailhub.canonical.base import Channel
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import ShopifyEmulator


def offer(promotion_id: str, skus: list[str], version: int = 1) -> Promotion:
    return Promotion(
        promotion_id=promotion_id,
        version=version,
        name="Weekend offer",
        source="hub",
        channels=[Channel.WEB],
        eligibility=Eligibility(skus=skus),
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(10)),
        valid_from=datetime(2026, 11, 20, tzinfo=UTC),
        valid_to=datetime(2026, 12, 20, tzinfo=UTC),
        status=PromotionStatus.ACTIVE,
    )


async def test_a_withdrawn_promotion_leaves_no_rule_or_code_of_any_version(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    skus = [p.sku for p in small_estate.products[:2]]
    kept = await connector.put_promotion(offer("kept-offer", skus))
    await connector.put_promotion(offer("weekend-offer", skus))
    await connector.put_promotion(offer("weekend-offer", skus, version=2))
    assert (count(emulator, "price_rule"), count(emulator, "discount_code")) == (3, 3)

    await connector.withdraw_promotion("weekend-offer")
    await connector.withdraw_promotion("weekend-offer")

    assert await connector.get_promotion("weekend-offer") is None
    assert (count(emulator, "price_rule"), count(emulator, "discount_code")) == (1, 1)
    still = await connector.get_promotion("kept-offer")
    assert still is not None
    assert still.external_ids == {"shopify": kept}


async def test_withdrawing_a_promotion_never_published_changes_nothing(
    connector: ShopifyConnector, emulator: ShopifyEmulator, small_estate: Estate
) -> None:
    await connector.put_promotion(offer("kept-offer", [small_estate.products[0].sku]))
    await connector.withdraw_promotion("never-published")
    assert count(emulator, "price_rule") == 1


async def test_a_customer_is_read_by_shopify_id_or_canonical_id(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    view = small_estate.customers[1].shop_view
    shopify_id = view.identities["shopify"]

    by_id = await connector.get_customer(shopify_id)
    by_canonical = await connector.get_customer(f"SHOPIFY-CUSTOMER-{shopify_id}")
    by_email = await connector.find_customer(view.primary_email or "")

    assert by_id is not None
    assert by_id == by_canonical == by_email
    assert by_id.identities == {"shopify": shopify_id}
    assert by_id.emails == view.emails


async def test_unknown_or_foreign_customers_are_none(connector: ShopifyConnector) -> None:
    assert await connector.get_customer("999999999") is None
    assert await connector.get_customer("HUBSPOT-CONTACT-12") is None
    assert await connector.find_customer("nobody@example.org") is None
    assert connector.circuit_state() == "closed"
