"""Price: what one SKU sells for in one channel, store or zone, over a window of time."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel, Channel
from retailhub.canonical.errors import Problems
from retailhub.canonical.identifiers import LocationCode, Sku
from retailhub.canonical.money import Money


class Price(CanonicalModel):
    """A list price and optional sale price; no store and no zone means the channel's national price."""

    kind: Literal["price"] = "price"
    sku: Sku
    channel: Channel
    store: LocationCode | None = None
    zone: str | None = Field(default=None, min_length=1)
    list_price: Money
    sale_price: Money | None = None
    tax_included: bool = True
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Price:
        problems = Problems()
        if self.store is not None and self.zone is not None:
            problems.add(("zone",), "a price applies to a store or to a zone, not both")
        if self.list_price.amount < 0:
            problems.add(("list_price", "amount"), "a price must not be negative")
        if self.sale_price is not None:
            if self.sale_price.currency != self.list_price.currency:
                problems.add(("sale_price", "currency"), "sale and list price differ in currency")
            elif self.sale_price.amount < 0:
                problems.add(("sale_price", "amount"), "a price must not be negative")
            elif self.sale_price > self.list_price:
                problems.add(
                    ("sale_price", "amount"),
                    f"sale price {self.sale_price} is above list price {self.list_price}",
                )
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            problems.add(("valid_to",), "the price window ends before it starts")
        problems.raise_if_any()
        return self

    @property
    def selling_price(self) -> Money:
        """What the customer pays: the sale price when there is one, else the list price."""
        return self.sale_price or self.list_price
