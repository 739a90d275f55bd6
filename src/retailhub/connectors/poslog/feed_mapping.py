"""Canonical items, prices and promotions <-> the head-office POS feed's JSON records, purely.

The records use ARTS/IXRetail vocabulary (`ItemID`, `POSIdentity`, `RegularSalesUnitPrice`,
`EffectiveDateTime`, `PriceDerivationRule`, ...) so a store-system integrator recognises every
field; see feed.py for why the feed is JSON rather than ARTS XML.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from retailhub.canonical.base import Channel
from retailhub.canonical.errors import faults_from_validation_error
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, UnitOfMeasure
from retailhub.canonical.promotion import Promotion
from retailhub.connectors.errors import MappingError

UNIT_CODES = {
    UnitOfMeasure.EACH: "EA",
    UnitOfMeasure.KG: "KGM",
    UnitOfMeasure.G: "GRM",
    UnitOfMeasure.L: "LTR",
    UnitOfMeasure.M: "MTR",
    UnitOfMeasure.LB: "LBR",
}
_UNITS = {code: unit for unit, code in UNIT_CODES.items()}
_REWARD_TYPES = {
    "percent_off": "PercentOff",
    "amount_off": "AmountOff",
    "fixed_price": "FixedPrice",
    "buy_x_get_y": "BuyXGetY",
    "bonus_points": "BonusPoints",
    "points_multiplier": "PointsMultiplier",
}
_REWARD_NAMES = {name: kind for kind, name in _REWARD_TYPES.items()}

M = TypeVar("M", Product, Price, Promotion)


def product_to_item(product: Product) -> dict[str, Any]:
    """An item file record: the POS item id is the SKU, scanned by any of its GTINs."""
    return {
        "ItemID": product.sku,
        "POSIdentity": [{"POSIDType": "GTIN", "POSItemID": gtin} for gtin in product.gtins],
        "Description": product.title,
        "MerchandiseHierarchy": list(product.hierarchy),
        "Brand": product.brand,
        "UnitOfMeasureCode": UNIT_CODES[product.unit_of_measure],
        "ItemStatus": product.status.value,
        "Attributes": dict(product.attributes),
    }


def item_to_product(record: dict[str, Any]) -> Product:
    """An item record read back from the feed as a canonical Product."""
    item_id = record.get("ItemID")
    unit = record.get("UnitOfMeasureCode", "EA")
    if unit not in _UNITS:
        raise MappingError("item", item_id, "$.UnitOfMeasureCode", f"unknown unit {unit!r}")
    return _validated(
        Product,
        "item",
        item_id,
        {
            "sku": item_id,
            "gtins": [i.get("POSItemID") for i in record.get("POSIdentity", [])],
            "title": record.get("Description"),
            "hierarchy": record.get("MerchandiseHierarchy", []),
            "brand": record.get("Brand"),
            "unit_of_measure": _UNITS[unit],
            "status": record.get("ItemStatus", "active"),
            "attributes": record.get("Attributes", {}),
        },
    )


def price_to_record(price: Price) -> dict[str, Any]:
    """A price change record: one SKU, one store (or zone, or all stores), from one moment."""
    return {
        "ItemID": price.sku,
        "RetailStoreID": price.store,
        "PriceZone": price.zone,
        "CurrencyCode": price.list_price.currency,
        "RegularSalesUnitPrice": format(price.list_price.amount, "f"),
        "PromotionalSalesUnitPrice": (
            format(price.sale_price.amount, "f") if price.sale_price is not None else None
        ),
        "TaxIncludedInPriceFlag": price.tax_included,
        "EffectiveDateTime": price.valid_from.isoformat(),
        "ExpirationDateTime": price.valid_to.isoformat() if price.valid_to else None,
    }


def record_to_price(record: dict[str, Any]) -> Price:
    """A price record read back from the feed as a canonical store Price."""
    currency = record.get("CurrencyCode")
    sale = record.get("PromotionalSalesUnitPrice")
    return _validated(
        Price,
        "price",
        record.get("ItemID"),
        {
            "sku": record.get("ItemID"),
            "channel": Channel.STORE,
            "store": record.get("RetailStoreID"),
            "zone": record.get("PriceZone"),
            "list_price": {"amount": record.get("RegularSalesUnitPrice"), "currency": currency},
            "sale_price": None if sale is None else {"amount": sale, "currency": currency},
            "tax_included": record.get("TaxIncludedInPriceFlag", True),
            "valid_from": record.get("EffectiveDateTime"),
            "valid_to": record.get("ExpirationDateTime"),
        },
    )


def promotion_to_record(promotion: Promotion) -> dict[str, Any]:
    """A promotion version as the POS promotion engine takes it: who qualifies, what rule, when."""
    reward = promotion.reward
    eligibility = promotion.eligibility
    controls = promotion.pricing_controls
    return {
        "PromotionID": promotion.promotion_id,
        "Version": promotion.version,
        "PromotionDescription": promotion.name,
        "LongDescription": promotion.description,
        "Originator": promotion.source,
        "Channels": [c.value for c in promotion.channels],
        "RetailStoreIDs": list(promotion.stores),
        "Eligibility": {
            "ItemIDs": list(eligibility.skus),
            "MerchandiseHierarchies": [list(node) for node in eligibility.hierarchy_nodes],
            "CustomerTiers": list(eligibility.customer_tiers),
            "CustomerSegments": list(eligibility.customer_segments),
            "MinimumSpend": _money(eligibility.minimum_spend),
        },
        "PriceDerivationRule": {
            "Type": _REWARD_TYPES[reward.type.value],
            "Percent": _decimal(reward.percent),
            "Amount": _money(reward.amount),
            "BuyQuantity": reward.buy_quantity,
            "GetQuantity": reward.get_quantity,
            "BonusPoints": reward.points,
            "PointsMultiplier": _decimal(reward.multiplier),
        },
        "EffectiveDateTime": promotion.valid_from.isoformat(),
        "ExpirationDateTime": promotion.valid_to.isoformat(),
        "Stackable": promotion.stackable,
        "Priority": promotion.priority,
        "PriceFloor": _money(controls.price_floor),
        "MinimumMarginPercent": _decimal(controls.minimum_margin_percent),
        "Status": promotion.status.value,
        "ExternalIDs": dict(promotion.external_ids),
    }


def record_to_promotion(record: dict[str, Any]) -> Promotion:
    """A promotion version read back from the feed, for drift reports against what was sent."""
    promotion_id = record.get("PromotionID")
    rule = record.get("PriceDerivationRule") or {}
    eligibility = record.get("Eligibility") or {}
    kind = _REWARD_NAMES.get(rule.get("Type", ""))
    if kind is None:
        raise MappingError(
            "promotion", promotion_id, "$.PriceDerivationRule.Type", f"unknown {rule.get('Type')!r}"
        )
    return _validated(
        Promotion,
        "promotion",
        promotion_id,
        {
            "promotion_id": promotion_id,
            "version": record.get("Version"),
            "name": record.get("PromotionDescription"),
            "description": record.get("LongDescription"),
            "source": record.get("Originator"),
            "channels": record.get("Channels", []),
            "stores": record.get("RetailStoreIDs", []),
            "eligibility": {
                "skus": eligibility.get("ItemIDs", []),
                "hierarchy_nodes": eligibility.get("MerchandiseHierarchies", []),
                "customer_tiers": eligibility.get("CustomerTiers", []),
                "customer_segments": eligibility.get("CustomerSegments", []),
                "minimum_spend": _from_money(eligibility.get("MinimumSpend")),
            },
            "reward": {
                "type": kind,
                "percent": rule.get("Percent"),
                "amount": _from_money(rule.get("Amount")),
                "buy_quantity": rule.get("BuyQuantity"),
                "get_quantity": rule.get("GetQuantity"),
                "points": rule.get("BonusPoints"),
                "multiplier": rule.get("PointsMultiplier"),
            },
            "valid_from": record.get("EffectiveDateTime"),
            "valid_to": record.get("ExpirationDateTime"),
            "stackable": record.get("Stackable", False),
            "priority": record.get("Priority", 0),
            "pricing_controls": {
                "price_floor": _from_money(record.get("PriceFloor")),
                "minimum_margin_percent": record.get("MinimumMarginPercent"),
            },
            "status": record.get("Status"),
            "external_ids": record.get("ExternalIDs", {}),
        },
    )


def _money(value: Money | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"Amount": format(value.amount, "f"), "CurrencyCode": value.currency}


def _from_money(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"amount": value.get("Amount"), "currency": value.get("CurrencyCode")}


def _decimal(value: Any) -> str | None:
    return None if value is None else format(value, "f")


def _validated(model: type[M], resource: str, resource_id: Any, fields: dict[str, Any]) -> M:
    """Build the canonical document; the first fault names the field, as a MappingError."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        fault = faults_from_validation_error(error)[0]
        raise MappingError(resource, str(resource_id), fault.path, fault.reason) from None
