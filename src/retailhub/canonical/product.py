"""Product: the ERP's item master entry that the web shop, POS and loyalty catalogue all copy."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from retailhub.canonical.base import CanonicalModel
from retailhub.canonical.errors import Problems
from retailhub.canonical.identifiers import ExternalIds, Gtin, Sku


class ProductStatus(StrEnum):
    """Whether an item can be sold: discontinued items sell out but are not reordered."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DISCONTINUED = "discontinued"


class UnitOfMeasure(StrEnum):
    """How an item is counted at the till: per piece or weighed/measured."""

    EACH = "each"
    KG = "kg"
    G = "g"
    L = "l"
    M = "m"
    LB = "lb"


class Product(CanonicalModel):
    """An item: SKU, barcodes, title, where it sits in the merchandise hierarchy, attributes, status."""

    kind: Literal["product"] = "product"
    sku: Sku
    gtins: list[Gtin] = Field(default_factory=list)
    title: str = Field(min_length=1, max_length=255)
    hierarchy: list[str] = Field(
        default_factory=list, description="Merchandise hierarchy path, top down"
    )
    brand: str | None = None
    unit_of_measure: UnitOfMeasure = UnitOfMeasure.EACH
    attributes: dict[str, str] = Field(default_factory=dict)
    status: ProductStatus = ProductStatus.ACTIVE
    external_ids: ExternalIds = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Product:
        problems = Problems()
        seen: set[str] = set()
        for i, gtin in enumerate(self.gtins):
            if gtin in seen:
                problems.add(("gtins", i), f"GTIN {gtin} is listed twice")
            seen.add(gtin)
        for i, node in enumerate(self.hierarchy):
            if not node.strip():
                problems.add(("hierarchy", i), "a hierarchy level must not be empty")
        problems.raise_if_any()
        return self

    def in_hierarchy(self, path: list[str]) -> bool:
        """True when the product sits at or below the hierarchy node `path`."""
        return self.hierarchy[: len(path)] == path
