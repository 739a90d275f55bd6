"""Canonical promotions as Shopify price rules, and price rules read back (for drift reports).

Decisions:
- What a price rule can say: percent off (all items or entitled variants), an amount off each
  entitled item, buy X get Y of the same items at a percentage off (100 = free), a minimum
  subtotal, customer segments. Fixed prices, loyalty points, hierarchy nodes (Shopify targets
  collections) and loyalty tiers are refused with a MappingError rather than half-published;
  so are a fixed amount off the whole order and "buy these, get those" with different items,
  which the canonical model cannot say.
- Items are named by SKU in the hub and by variant (or product) id in Shopify: the caller
  passes the lookups. Amounts in a price rule carry no currency: the caller passes the shop's.
- A price rule without `ends_at` runs until further notice: its canonical `valid_to` is
  OPEN_ENDED, which maps back to no end.
- Read back, a rule is promotion `SHOPIFY-PRICE-RULE-<id>` version 1 from source shopify, for
  the web channel, active (a rule that exists is published; its window says when it is live).
  The publishing flow keeps the link to its own promotion id through `external_ids`.
- Stackability, priority and pricing controls have no price-rule field: the hub enforces them
  before publishing. Discount codes belong to the rule but the canonical Promotion has no
  field for them; read back they are checked to belong to the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify import ids
from retailhub.connectors.shopify.payload import SYSTEM, Reader, shopify_id

OPEN_ENDED = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The `valid_to` of a promotion with no end date."""

_PUBLISHABLE = {PromotionStatus.ACTIVE, PromotionStatus.ENDED}

Refuse = Callable[[str, str], MappingError]


def promotion_to_price_rule(
    promotion: Promotion, *, variant_id_by_sku: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The price rule resource to send in `{"price_rule": ...}` for this promotion version."""

    def refuse(path: str, reason: str) -> MappingError:
        return MappingError("promotion", promotion.key, path, reason)

    if promotion.status not in _PUBLISHABLE:
        raise refuse("$.status", f"a {promotion.status.value} promotion is not published")
    if Channel.WEB not in promotion.channels:
        raise refuse("$.channels", "the promotion does not run on the web shop")
    eligibility = promotion.eligibility
    if eligibility.hierarchy_nodes:
        raise refuse("$.eligibility.hierarchy_nodes", "Shopify targets variants, not hierarchy")
    if eligibility.customer_tiers:
        raise refuse("$.eligibility.customer_tiers", "Shopify knows no loyalty tiers")
    variants = [
        _variant_id(sku, variant_id_by_sku, refuse, i) for i, sku in enumerate(eligibility.skus)
    ]
    rule: dict[str, Any] = {
        "title": promotion.name,
        "target_type": "line_item",
        "target_selection": "entitled" if variants else "all",
        "entitled_variant_ids": variants,
        "customer_selection": "prerequisite" if eligibility.customer_segments else "all",
        "starts_at": promotion.valid_from.isoformat(),
        "ends_at": None if promotion.valid_to == OPEN_ENDED else promotion.valid_to.isoformat(),
        **_reward_fields(promotion.reward, variants, refuse),
    }
    if eligibility.customer_segments:
        rule["customer_segment_prerequisite_ids"] = [
            _segment_id(segment, refuse, i)
            for i, segment in enumerate(eligibility.customer_segments)
        ]
    if eligibility.minimum_spend is not None:
        rule["prerequisite_subtotal_range"] = {
            "greater_than_or_equal_to": format(eligibility.minimum_spend.amount, "f")
        }
    shopify_rule = shopify_id(promotion.external_ids, "promotion", promotion.key)
    return rule if shopify_rule is None else {"id": shopify_rule, **rule}


def price_rule_to_canonical(
    price_rule: Mapping[str, Any],
    discount_codes: Sequence[Mapping[str, Any]] = (),
    *,
    currency: str | None = None,
    sku_by_variant_id: Mapping[int, str] | None = None,
    skus_by_product_id: Mapping[int, Sequence[str]] | None = None,
) -> Promotion:
    """Read a price rule (and its discount codes) back as a promotion."""
    doc = Reader.of("price_rule", price_rule)
    for i, code in enumerate(discount_codes):
        owner = code.get("price_rule_id")
        if owner is not None and str(owner) != doc.resource_id:
            raise MappingError(
                "price_rule", doc.resource_id, f"$.discount_codes[{i}]", f"belongs to rule {owner}"
            )
    if doc.text("target_type") != "line_item":
        raise doc.fail("target_type", "only price rules on line items are promotions")
    if doc.text("customer_selection") == "prerequisite" and (
        not doc.ids("customer_segment_prerequisite_ids")
        or doc.ids("prerequisite_customer_ids")
        or doc.ids("prerequisite_saved_search_ids")
    ):
        raise doc.fail("customer_selection", "only customer segments can be read as eligibility")
    entitled = _skus(doc, "entitled", sku_by_variant_id, skus_by_product_id)
    return doc.build(
        Promotion,
        {"$.reward": "value", "$.eligibility": "target_selection", "$.valid_to": "ends_at"},
        promotion_id=ids.promotion_id(doc.integer("id")),
        version=1,
        name=doc.text("title") or doc.resource_id,
        source=SYSTEM,
        channels=[Channel.WEB],
        eligibility=doc.build(
            Eligibility,
            {"$.skus": "entitled_variant_ids", "$.customer_segments": "customer_selection"},
            skus=entitled,
            customer_segments=[str(s) for s in doc.ids("customer_segment_prerequisite_ids")],
            minimum_spend=_minimum_spend(doc, currency),
        ),
        reward=_reward(doc, currency, entitled, sku_by_variant_id, skus_by_product_id),
        valid_from=doc.timestamp("starts_at"),
        valid_to=doc.timestamp("ends_at") if doc.has("ends_at") else OPEN_ENDED,
        status=PromotionStatus.ACTIVE,
        external_ids={SYSTEM: doc.resource_id},
    )


def _reward_fields(reward: Reward, variants: list[int], refuse: Refuse) -> dict[str, Any]:
    if reward.type is RewardType.PERCENT_OFF and reward.percent is not None:
        return {
            "value_type": "percentage",
            "value": _negative(reward.percent),
            "allocation_method": "across",
        }
    if reward.type is RewardType.AMOUNT_OFF and reward.amount is not None:
        return {
            "value_type": "fixed_amount",
            "value": _negative(reward.amount.amount),
            "allocation_method": "each",
        }
    if reward.type is RewardType.BUY_X_GET_Y:
        if not variants:
            raise refuse("$.eligibility.skus", "Shopify's buy X get Y needs the items named")
        return {
            "value_type": "percentage",
            "value": _negative(reward.percent or Decimal(100)),
            "allocation_method": "each",
            "prerequisite_variant_ids": variants,
            "prerequisite_to_entitlement_quantity_ratio": {
                "prerequisite_quantity": reward.buy_quantity,
                "entitled_quantity": reward.get_quantity,
            },
        }
    raise refuse("$.reward.type", f"a Shopify price rule cannot give {reward.type.value}")


def _negative(value: Decimal) -> str:
    """Shopify writes what a rule takes off as a negative decimal string."""
    return format(-value, "f")


def _variant_id(sku: str, lookup: Mapping[str, int] | None, refuse: Refuse, index: int) -> int:
    variant = (lookup or {}).get(sku)
    if variant is None:
        raise refuse(f"$.eligibility.skus[{index}]", "no Shopify variant has this SKU")
    return variant


def _segment_id(segment: str, refuse: Refuse, index: int) -> int:
    if not segment.isdigit():
        raise refuse(f"$.eligibility.customer_segments[{index}]", "is not a Shopify segment id")
    return int(segment)


def _skus(
    doc: Reader,
    role: str,
    sku_by_variant_id: Mapping[int, str] | None,
    skus_by_product_id: Mapping[int, Sequence[str]] | None,
) -> list[str]:
    """The SKUs a rule names as `entitled` or `prerequisite`, from variant and product ids."""
    if doc.ids(f"{role}_collection_ids"):
        raise doc.fail(f"{role}_collection_ids", "collections cannot be read as SKUs")
    skus: list[str] = []
    for i, variant in enumerate(doc.ids(f"{role}_variant_ids")):
        sku = (sku_by_variant_id or {}).get(variant)
        if sku is None:
            raise doc.fail(f"{role}_variant_ids[{i}]", f"no SKU is known for variant {variant}")
        skus.append(sku)
    for i, product in enumerate(doc.ids(f"{role}_product_ids")):
        product_skus = (skus_by_product_id or {}).get(product)
        if not product_skus:
            raise doc.fail(f"{role}_product_ids[{i}]", f"no SKUs are known for product {product}")
        skus.extend(product_skus)
    if role == "entitled" and doc.text("target_selection") == "entitled" and not skus:
        raise doc.fail("target_selection", "is entitled but the rule names no items")
    return list(dict.fromkeys(skus))


def _minimum_spend(doc: Reader, currency: str | None) -> Money | None:
    if not doc.has("prerequisite_subtotal_range"):
        return None
    subtotal = doc.child("prerequisite_subtotal_range")
    if currency is None:
        raise subtotal.fail(None, "an amount needs the shop's currency: pass currency")
    return subtotal.money("greater_than_or_equal_to", currency)


def _reward(
    doc: Reader,
    currency: str | None,
    entitled: list[str],
    sku_by_variant_id: Mapping[int, str] | None,
    skus_by_product_id: Mapping[int, Sequence[str]] | None,
) -> Reward:
    value = -doc.amount("value")
    if value <= 0:
        raise doc.fail("value", "a price rule must take something off (a negative value)")
    value_type = doc.text("value_type")
    fields_fed = {"$.percent": "value", "$.amount": "value"}
    ratio = doc.doc.get("prerequisite_to_entitlement_quantity_ratio") or {}
    if ratio.get("prerequisite_quantity") and ratio.get("entitled_quantity"):
        prerequisite = _skus(doc, "prerequisite", sku_by_variant_id, skus_by_product_id)
        if value_type != "percentage" or sorted(prerequisite) != sorted(entitled):
            raise doc.fail(
                "prerequisite_variant_ids",
                "buy X get Y is canonical only as a percentage off the same items",
            )
        return doc.build(
            Reward,
            fields_fed,
            type=RewardType.BUY_X_GET_Y,
            buy_quantity=ratio["prerequisite_quantity"],
            get_quantity=ratio["entitled_quantity"],
            percent=value,
        )
    if value_type == "percentage":
        return doc.build(Reward, fields_fed, type=RewardType.PERCENT_OFF, percent=value)
    if value_type != "fixed_amount":
        raise doc.fail("value_type", f"{value_type!r} is not a Shopify value type")
    if doc.text("allocation_method") != "each":
        raise doc.fail("allocation_method", "a fixed amount off the whole order is not canonical")
    if currency is None:
        raise doc.fail("value", "a fixed amount needs the shop's currency: pass currency")
    return doc.build(
        Reward,
        fields_fed,
        type=RewardType.AMOUNT_OFF,
        amount=Money(amount=value, currency=currency),
    )
