"""The Odoo ids documents name: variants by SKU or GTIN and partners by customer, from a bounded,
expiring cache, and what it lacks read in one look-up per kind for a whole batch of documents.

Odoo's ids never change, so a cached id goes wrong only when a SKU is given to another variant
or a partner is merged or deleted; a write Odoo refuses forgets the ids it named at once, so
its retry reads them afresh. Customers are partners whose `ref` is the golden customer id (a
walk-in partner for anonymous sales), created on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retailhub.canonical.identifiers import is_valid_gtin, normalise_gtin
from retailhub.connectors.odoo.client import OdooClient
from retailhub.connectors.odoo.sales import Products
from retailhub.resilience.cache import ReferenceCache

PRODUCT_CACHE_ENTRIES = 50_000
PARTNER_CACHE_ENTRIES = 20_000
REFERENCE_TTL_S = 600.0
"""Variant ids by SKU or GTIN and partner ids by customer are kept this long: only a SKU given to
another variant (or a partner merged) is seen late, and a refused write forgets at once."""

Item = tuple[str | None, str | None]
"""A document line's SKU and GTIN, either of which may be missing."""
Buyer = tuple[str | None, str | None]
"""A document's customer id (None when anonymous) and email."""


class References:
    """Variant and partner ids for the documents the connector writes."""

    def __init__(self, client: OdooClient, *, walk_in_ref: str, page_size: int) -> None:
        self.client, self.walk_in_ref, self.page_size = client, walk_in_ref, page_size
        self._product_ids: ReferenceCache[tuple[str, str], int] = ReferenceCache(
            max_entries=PRODUCT_CACHE_ENTRIES, ttl_s=REFERENCE_TTL_S
        )
        self._partners: ReferenceCache[str, int] = ReferenceCache(
            max_entries=PARTNER_CACHE_ENTRIES, ttl_s=REFERENCE_TTL_S
        )

    def partner_ref(self, customer_id: str | None) -> str:
        """The partner `ref` a customer's documents are booked to."""
        return customer_id or self.walk_in_ref

    async def products_for(self, items: Sequence[Item]) -> Products:
        """The variants the lines name, by SKU and by GTIN (archived ones included): from the
        cache, and what it lacks in one look-up."""
        skus = {sku for sku, _ in items if sku}
        gtins = {normalise_gtin(gtin) for _, gtin in items if gtin}
        by_sku = {sku: found for sku in skus if (found := self._product_ids.get(("sku", sku)))}
        by_gtin = {
            code: found for code in gtins if (found := self._product_ids.get(("gtin", code)))
        }
        missing_skus, missing_gtins = sorted(skus - set(by_sku)), sorted(gtins - set(by_gtin))
        if missing_skus or missing_gtins:
            looked_up = await self._look_up_products(missing_skus, missing_gtins)
            for sku, found in looked_up.by_sku.items():
                self._product_ids.put(("sku", sku), found)
            for code, found in looked_up.by_gtin.items():
                self._product_ids.put(("gtin", code), found)
            by_sku.update((sku, looked_up.by_sku[sku]) for sku in skus & set(looked_up.by_sku))
            by_gtin.update(
                (code, looked_up.by_gtin[code]) for code in gtins & set(looked_up.by_gtin)
            )
        return Products(by_sku, by_gtin)

    async def _look_up_products(self, skus: Sequence[str], gtins: Sequence[str]) -> Products:
        """The variants with these internal references or barcodes, asked of Odoo."""
        barcodes = sorted({code for gtin in gtins for code in _barcode_forms(gtin)})
        terms: list[Any] = []
        if skus:
            terms.append(("default_code", "in", list(skus)))
        if barcodes:
            terms.append(("barcode", "in", barcodes))
        if not terms:
            return Products({}, {})
        domain: list[Any] = ["|", *terms] if len(terms) == 2 else terms
        by_sku: dict[str, int] = {}
        by_gtin: dict[str, int] = {}
        async for page in self.client.search_read_all(
            "product.product",
            domain,
            ["default_code", "barcode"],
            page_size=self.page_size,
            context={"active_test": False},
        ):
            for record in page:
                if record.get("default_code"):
                    by_sku[record["default_code"]] = record["id"]
                barcode = record.get("barcode")
                if isinstance(barcode, str) and is_valid_gtin(barcode):
                    by_gtin[normalise_gtin(barcode)] = record["id"]
        return Products(by_sku, by_gtin)

    async def partner(self, customer_id: str | None, email: str | None) -> int:
        """The partner of one customer (the walk-in partner when anonymous)."""
        return (await self.partners([(customer_id, email)]))[self.partner_ref(customer_id)]

    async def partners(self, buyers: Sequence[Buyer]) -> dict[str, int]:
        """Partner ids by `ref` for these buyers: from the cache, the others found in one
        search by `ref` and those Odoo lacks created in one call (named by the first email)."""
        new_values: dict[str, dict[str, Any]] = {}
        for customer_id, email in buyers:
            new_values.setdefault(
                self.partner_ref(customer_id), _partner_values(customer_id, email)
            )
        found = {ref: id_ for ref in new_values if (id_ := self._partners.get(ref)) is not None}
        missing = [ref for ref in new_values if ref not in found]
        if missing:
            async for page in self.client.search_read_all(
                "res.partner",
                [("ref", "in", missing)],
                ["ref"],
                page_size=self.page_size,
                context={"active_test": False},
            ):
                for record in page:
                    found.setdefault(str(record["ref"]), int(record["id"]))
            new = [ref for ref in missing if ref not in found]
            if new:
                created = await self.client.create_many(
                    "res.partner", [{**new_values[ref], "ref": ref} for ref in new]
                )
                found.update(zip(new, created, strict=True))
            for ref in missing:
                self._partners.put(ref, found[ref])
        return found

    def forget(self, items: Sequence[Item], customer_id: str | None) -> None:
        """Forget the cached ids a refused write named, so the retry reads them again."""
        self._product_ids.forget(("sku", sku) for sku, _ in items if sku)
        self._product_ids.forget(("gtin", normalise_gtin(gtin)) for _, gtin in items if gtin)
        self._partners.forget([self.partner_ref(customer_id)])


def _partner_values(customer_id: str | None, email: str | None) -> dict[str, Any]:
    """A new partner for a customer (its `ref` aside): named by their email, else their id."""
    return {"name": email or customer_id or "Walk-in customer", "email": email or False}


def _barcode_forms(gtin: str) -> list[str]:
    """The ways Odoo's barcode field may hold a GTIN: as GTIN-14, 13, 12 or 8 (no padding)."""
    code = normalise_gtin(gtin)
    return [code[-n:] for n in (14, 13, 12, 8) if set(code[:-n]) <= {"0"}]
