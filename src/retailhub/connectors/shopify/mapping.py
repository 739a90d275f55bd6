"""Shopify <-> canonical: one pure function per document kind, each way Shopify accepts it.

Every function raises `MappingError` naming the Shopify resource, its id and the field at
fault. The decisions behind each mapping are in the docstring of the module that holds it.
"""

from __future__ import annotations

from retailhub.connectors.shopify.customers import customer_from_canonical, customer_to_canonical
from retailhub.connectors.shopify.documents import ResourceKind, shopify_documents
from retailhub.connectors.shopify.inventory import (
    inventory_level_from_canonical,
    inventory_level_to_canonical,
)
from retailhub.connectors.shopify.orders import order_to_canonical
from retailhub.connectors.shopify.products import product_from_canonical, product_to_canonical
from retailhub.connectors.shopify.promotions import (
    OPEN_ENDED,
    price_rule_to_canonical,
    promotion_to_price_rule,
)
from retailhub.connectors.shopify.refunds import refund_to_canonical

__all__ = [
    "OPEN_ENDED",
    "ResourceKind",
    "customer_from_canonical",
    "customer_to_canonical",
    "inventory_level_from_canonical",
    "inventory_level_to_canonical",
    "order_to_canonical",
    "price_rule_to_canonical",
    "product_from_canonical",
    "product_to_canonical",
    "promotion_to_price_rule",
    "refund_to_canonical",
    "shopify_documents",
]
