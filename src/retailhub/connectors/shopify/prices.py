"""Canonical web prices as the body of a Shopify variant update (`PUT /variants/{id}.json`).

Decisions:
- Shopify holds one selling price per variant, the web shop's: store prices and store- or
  zone-specific prices are refused rather than written over the web price.
- A sale price is Shopify's `price` with the list price as `compare_at_price` (the struck-out
  figure); without a sale `compare_at_price` is cleared, so an ended sale stops showing.
- Amounts carry no currency in Shopify: a price in another currency than the shop's is refused.
  Whether prices include tax is a shop setting, not a price field, so it is not sent.
"""

from __future__ import annotations

from typing import Any

from retailhub.canonical.base import Channel
from retailhub.canonical.price import Price
from retailhub.connectors.errors import MappingError


def variant_price_body(price: Price, variant_id: int, shop_currency: str) -> dict[str, Any]:
    """The variant resource that sets `price` on variant `variant_id`."""
    key = f"{price.sku}@{price.channel.value}"

    def refuse(path: str, reason: str) -> MappingError:
        return MappingError("price", key, path, reason)

    if price.channel is not Channel.WEB:
        raise refuse("$.channel", "Shopify holds the web shop's price only")
    if price.store is not None or price.zone is not None:
        raise refuse("$.store", "Shopify holds one national web price, not a store's or zone's")
    for field, money in (("list_price", price.list_price), ("sale_price", price.sale_price)):
        if money is not None and money.currency != shop_currency:
            raise refuse(f"$.{field}", f"is in {money.currency}, the shop sells in {shop_currency}")
    selling = price.sale_price or price.list_price
    return {
        "id": variant_id,
        "price": format(selling.amount, "f"),
        "compare_at_price": format(price.list_price.amount, "f") if price.sale_price else None,
    }
