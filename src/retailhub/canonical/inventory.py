"""InventoryLevel: stock of one SKU at one location, as of a moment and a source sequence."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel
from retailhub.canonical.errors import Problems
from retailhub.canonical.identifiers import LocationCode, Sku, SystemName
from retailhub.canonical.money import Amount


class InventoryLevel(CanonicalModel):
    """On hand, reserved and available stock. `sequence` is the source's monotonic version, so a
    stale or out-of-order update can be recognised and refused."""

    kind: Literal["inventory"] = "inventory"
    sku: Sku
    location: LocationCode
    on_hand: Amount = Field(description="may be negative: stores sell stock not yet booked in")
    reserved: Amount = Field(default=Decimal(0), description="promised to open orders")
    available: Amount | None = Field(
        default=None, description="on hand − reserved; computed if absent"
    )
    as_of: AwareDatetime
    source: SystemName
    sequence: int = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> InventoryLevel:
        problems = Problems()
        if self.reserved < 0:
            problems.add(("reserved",), "reserved stock must not be negative")
        expected = self.on_hand - self.reserved
        if self.available is None:
            object.__setattr__(self, "available", expected)
        elif self.available != expected:
            problems.add(
                ("available",),
                f"available {self.available} is not on hand {self.on_hand} − reserved {self.reserved}",
            )
        problems.raise_if_any()
        return self

    def supersedes(self, other: InventoryLevel) -> bool:
        """True when this level is newer than `other` for the same SKU, location and source."""
        return self.sequence > other.sequence
