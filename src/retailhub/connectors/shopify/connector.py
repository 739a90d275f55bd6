"""The commerce port on Shopify's Admin REST API (2024-10): client calls composed with the pure
mappings of this package.

How each write is made safe to repeat, since Shopify REST takes no idempotency key:
- customers: the Shopify id the customer carries, else a search on the email (Shopify keeps
  emails unique), decides update or create; addresses are matched to the ones Shopify holds
  (street, city, postcode, country) and updated by id, so a repeat adds none.
- products: the catalogue index (SKU -> product, variant, inventory item, built by paging
  `GET /products.json?fields=id,variants`, rebuilt when a SKU is missing) finds the product a
  SKU already belongs to; found, it is updated with its variants' ids, else created. Only the
  attributes the variants differ in become Shopify options.
- inventory: `inventory_levels/set` writes an absolute figure; prices: `PUT /variants/{id}`.
- promotions: one price rule per promotion version, its title ending in the marker
  `[<promotion id> v<version>]`, which the connector looks for before creating; its discount
  code `<PROMOTION-ID>-V<version>` is added unless the rule already has it.
- refunds (beyond the port): the refund's note is `retailhub:<key>`, looked for on the order's
  refunds before creating one.

Locations: the estate's codes are Shopify location names, or the first word of one
(`AMS01 Amsterdam Centrum`), unless a map is passed; other locations read as `SHOPIFY-<id>`.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from retailhub.canonical.customer import Customer
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError
from retailhub.connectors.ports import CommercePort
from retailhub.connectors.shopify.client import (
    API_VERSION,
    MAX_IDS_PER_FILTER,
    MAX_PAGE_SIZE,
    SYSTEM,
    Resource,
    ShopifyClient,
)
from retailhub.connectors.shopify.customers import customer_from_canonical, customer_to_canonical
from retailhub.connectors.shopify.inventory import (
    inventory_level_from_canonical,
    inventory_level_to_canonical,
)
from retailhub.connectors.shopify.orders import order_to_canonical
from retailhub.connectors.shopify.prices import variant_price_body
from retailhub.connectors.shopify.products import product_from_canonical
from retailhub.connectors.shopify.promotions import price_rule_to_canonical, promotion_to_price_rule
from retailhub.connectors.shopify.refunds import refund_from_canonical, refund_to_canonical
from retailhub.resilience import ResiliencePolicy, Resilient

_ORDER_ID = re.compile(r"(?:SHOPIFY-ORDER-)?(\d+)")
_CUSTOMER_ID = re.compile(r"(?:SHOPIFY-CUSTOMER-)?(\d+)")
_RULE_ID = re.compile(r"SHOPIFY-PRICE-RULE-(\d+)")
_MARKER = re.compile(r"^(?P<name>.*?)\s*\[(?P<promotion_id>[^\[\]]+) v(?P<version>\d+)\]$")
_PAID_KINDS = {"sale", "capture"}
_NEVER = -math.inf
_OPTIONS = frozenset(
    {"shop_currency", "api_version", "page_size", "catalogue_max_age_s", "location_ids"}
)
REFUND_NOTE_PREFIX = "retailhub:"
_PRODUCT_ATTRIBUTES = frozenset({"tags", "barcode"})
"""Attributes Shopify holds in fields of their own rather than as options."""


@dataclass(frozen=True)
class VariantRef:
    """Where a SKU lives in Shopify: its product, variant and inventory item."""

    product_id: int
    variant_id: int
    inventory_item_id: int


def variant_options(products: Sequence[Product]) -> set[str]:
    """The attributes the variants differ in, which are what Shopify options are; facts shared
    by every variant (`vat_rate`, a single variant's colour) are not offered as a choice."""
    names = {name for product in products for name in product.attributes}
    return {
        name
        for name in names - _PRODUCT_ATTRIBUTES
        if len({product.attributes.get(name) for product in products}) > 1
    }


def promotion_marker(promotion: Promotion) -> str:
    """The suffix that names the promotion version a price rule publishes."""
    return f"[{promotion.promotion_id} v{promotion.version}]"


def discount_code(promotion: Promotion) -> str:
    """The code customers enter: the promotion id and version in Shopify's code alphabet."""
    stem = re.sub(r"[^A-Z0-9]+", "-", promotion.promotion_id.upper()).strip("-")
    return f"{stem}-V{promotion.version}"


def refund_note(key: str) -> str:
    """The note a refund is written with, by which a repeat finds it."""
    return f"{REFUND_NOTE_PREFIX}{key}"


class ShopifyConnector(CommercePort):
    """The web shop: orders, refunds, customers, catalogue, stock, prices and price rules."""

    name = SYSTEM

    def __init__(
        self,
        base_url: str,
        access_token: str,
        policy: ResiliencePolicy,
        *,
        shop_currency: str = "EUR",
        location_ids: Mapping[str, int] | None = None,
        api_version: str = API_VERSION,
        page_size: int = MAX_PAGE_SIZE,
        catalogue_max_age_s: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.page_size = page_size
        self.resilient = Resilient(SYSTEM, policy)
        self.client = ShopifyClient(
            base_url, access_token, self.resilient, api_version=api_version, session=session
        )
        self.shop_currency = shop_currency
        self._location_ids = dict(location_ids) if location_ids is not None else None
        self.catalogue_max_age_s = catalogue_max_age_s
        self._catalogue: dict[str, VariantRef] = {}
        self._catalogue_built_at = _NEVER
        self._catalogue_lock = asyncio.Lock()

    @classmethod
    def from_options(
        cls,
        base_url: str,
        access_token: str,
        policy: ResiliencePolicy,
        options: Mapping[str, Any],
    ) -> ShopifyConnector:
        """A connector from an estate file's `options` for the system: `shop_currency`,
        `api_version`, `page_size`, `catalogue_max_age_s` and `location_ids` (estate code ->
        Shopify location id, when location names do not start with the codes)."""
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ValueError(
                f"shopify has no option {unknown[0]!r}; it takes {', '.join(sorted(_OPTIONS))}"
            )
        locations = options.get("location_ids")
        return cls(
            base_url,
            access_token,
            policy,
            shop_currency=str(options.get("shop_currency", "EUR")),
            api_version=str(options.get("api_version", API_VERSION)),
            page_size=int(options.get("page_size", MAX_PAGE_SIZE)),
            catalogue_max_age_s=float(options.get("catalogue_max_age_s", 60.0)),
            location_ids=None
            if locations is None
            else {str(code): int(number) for code, number in dict(locations).items()},
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self.client.close()

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to this shop."""
        return self.resilient.circuit_state()

    # Locations.

    async def location_ids(self) -> dict[str, int]:
        """Estate location code -> Shopify location id, read once from `GET /locations.json`."""
        if self._location_ids is None:
            ids: dict[str, int] = {}
            for location in await self.client.locations():
                name = str(location.get("name") or "").strip()
                code = name.split()[0] if name else f"SHOPIFY-{location['id']}"
                ids.setdefault(code, int(location["id"]))
                ids[f"SHOPIFY-{location['id']}"] = int(location["id"])
            self._location_ids = ids
        return self._location_ids

    async def location_codes(self) -> dict[int, str]:
        """Shopify location id -> estate code (`SHOPIFY-<id>` for a location the estate lacks)."""
        codes: dict[int, str] = {}
        for code, location in (await self.location_ids()).items():
            if not code.startswith("SHOPIFY-") or location not in codes:
                codes[location] = code
        return codes

    # The catalogue index.

    async def variant(self, sku: str, resource: str = "product") -> VariantRef:
        """Where `sku` lives in Shopify; the index is rebuilt once when it does not know it."""
        found = await self.variants([sku])
        if sku not in found:
            raise MappingError(resource, sku, "$.sku", "no Shopify variant has this SKU")
        return found[sku]

    async def variants(self, skus: Sequence[str], *, fresh: bool = False) -> dict[str, VariantRef]:
        """The SKUs among `skus` that Shopify sells. A miss rebuilds the index, at most once per
        `catalogue_max_age_s` unless `fresh` (a write that must not duplicate a listing)."""
        missing = any(sku not in self._catalogue for sku in skus)
        stale = time.monotonic() - self._catalogue_built_at > self.catalogue_max_age_s
        if self._catalogue_built_at == _NEVER or (missing and (fresh or stale)):
            await self._reload_catalogue()
        return {sku: self._catalogue[sku] for sku in skus if sku in self._catalogue}

    async def _reload_catalogue(self) -> None:
        async with self._catalogue_lock:
            catalogue: dict[str, VariantRef] = {}
            async for product in self.client.products(fields=("id", "variants")):
                _index(product, catalogue)
            self._catalogue, self._catalogue_built_at = catalogue, time.monotonic()

    # Orders and refunds.

    async def get_order(self, order_id: str) -> Order | None:
        """One order by its canonical id (`SHOPIFY-ORDER-<id>`); None for another shop's id."""
        match = _ORDER_ID.fullmatch(order_id)
        if match is None:
            return None
        order = await self.client.order(int(match.group(1)))
        if order is None:
            return None
        return order_to_canonical(order, location_code_by_id=await self.location_codes())

    async def orders_since(self, since: datetime) -> AsyncIterator[Order]:
        """Orders of any status updated at or after `since`, page by page; an order that cannot
        be mapped stops the catch-up with a MappingError naming it, rather than being skipped."""
        codes = await self.location_codes()
        async for order in self.client.orders(_shopify_time(since), limit=self.page_size):
            yield order_to_canonical(order, location_code_by_id=codes)

    async def returns_for_order(self, order_id: str) -> list[Return]:
        """The refunds of an order as canonical returns."""
        number = _shopify_order(order_id)
        order = await self.client.order(number)
        if order is None:
            return []
        codes = await self.location_codes()
        return [
            refund_to_canonical(refund, order, location_code_by_id=codes)
            for refund in await self.client.refunds(number)
        ]

    async def refund_return(self, document: Return, key: str) -> str:
        """Refund a return of a Shopify order once per key; returns the Shopify refund id."""
        if document.original_order_id is None:
            raise MappingError(
                "return", document.return_id, "$.original_order_id", "names no Shopify order"
            )
        number = _shopify_order(document.original_order_id)
        note = refund_note(key)
        for refund in await self.client.refunds(number):
            if refund.get("note") == note:
                return str(refund["id"])
        paid = [
            t
            for t in await self.client.transactions(number)
            if t.get("kind") in _PAID_KINDS and t.get("status") == "success"
        ]
        location = document.received_location
        location_id = (await self.location_ids()).get(location) if location else None
        body = refund_from_canonical(
            document, note, parent_transaction=paid[-1] if paid else None, location_id=location_id
        )
        return str((await self.client.create_refund(number, body))["id"])

    # Customers.

    async def upsert_customer(self, customer: Customer) -> str:
        """Create or update the customer found by Shopify id or email; returns the Shopify id."""
        existing = await self._existing_customer(customer)
        body = customer_from_canonical(customer)
        body.pop("id", None)
        if existing is None:
            return str((await self.client.create_customer(body))["id"])
        body["addresses"] = _match_addresses(body.get("addresses", []), existing)
        if not body["addresses"]:
            del body["addresses"]
        customer_id = int(existing["id"])
        await self.client.update_customer(customer_id, {"id": customer_id, **body})
        return str(customer_id)

    async def _existing_customer(self, customer: Customer) -> Resource | None:
        held = customer.identities.get(SYSTEM)
        if held and held.isdigit():
            found = await self.client.customer(int(held))
            if found is not None:
                return found
        email = customer.primary_email
        if email is None:
            return None
        for candidate in await self.client.search_customers(f"email:{email}"):
            if str(candidate.get("email") or "").lower() == email:
                return candidate
        return None

    async def find_customer(self, email: str) -> Customer | None:
        """The shop's customer with this email, as canonical."""
        for candidate in await self.client.search_customers(f"email:{email}"):
            if str(candidate.get("email") or "").lower() == email.lower():
                return customer_to_canonical(candidate)
        return None

    async def get_customer(self, customer_id: str) -> Customer | None:
        """A customer by Shopify id (`GET /customers/{id}.json`), given bare or as the canonical
        `SHOPIFY-CUSTOMER-<id>`; None for an unknown id or another system's id."""
        match = _CUSTOMER_ID.fullmatch(customer_id)
        if match is None:
            return None
        found = await self.client.customer(int(match.group(1)))
        return None if found is None else customer_to_canonical(found)

    # Catalogue, stock and prices.

    async def upsert_products(self, products: Sequence[Product]) -> str:
        """Create or update the Shopify product these SKUs are the variants of."""
        if not products:
            raise MappingError("product", None, "$", "a Shopify product needs at least one variant")
        known = await self.variants([p.sku for p in products], fresh=True)
        owners = sorted({ref.product_id for ref in known.values()})
        if len(owners) > 1:
            raise MappingError(
                "product",
                products[0].sku,
                "$",
                f"the SKUs belong to different Shopify products {owners}: move them in Shopify first",
            )
        options = variant_options(products)
        listed = [
            p.model_copy(
                update={
                    "attributes": {
                        k: v for k, v in p.attributes.items() if k in options | _PRODUCT_ATTRIBUTES
                    },
                    "external_ids": {k: v for k, v in p.external_ids.items() if k != SYSTEM}
                    | ({SYSTEM: str(known[p.sku].variant_id)} if p.sku in known else {}),
                }
            )
            for p in products
        ]
        product_id = owners[0] if owners else None
        body = product_from_canonical(listed, product_id=product_id)
        if product_id is None:
            written = await self.client.create_product(body)
        else:
            written = await self.client.update_product(product_id, body)
        for sku, ref in list(self._catalogue.items()):
            if ref.product_id == int(written["id"]):
                del self._catalogue[sku]
        _index(written, self._catalogue)
        return str(written["id"])

    async def set_inventory(self, level: InventoryLevel) -> None:
        """Set available-to-sell for a SKU at a location (`inventory_levels/set`)."""
        ref = await self.variant(level.sku, "inventory")
        body = inventory_level_from_canonical(
            level, {level.sku: ref.inventory_item_id}, await self.location_ids()
        )
        await self.client.set_inventory_level(
            body["location_id"], body["inventory_item_id"], body["available"]
        )

    async def inventory_levels(
        self, skus: Sequence[str], location: str | None = None
    ) -> list[InventoryLevel]:
        """Available stock of some SKUs, at one location or all, as Shopify holds it."""
        known = await self.variants(skus)
        if not known:
            return []
        by_item = {ref.inventory_item_id: sku for sku, ref in known.items()}
        locations = [(await self.location_ids())[location]] if location else []
        codes = await self.location_codes()
        items = list(by_item)
        return [
            inventory_level_to_canonical(level, by_item, codes)
            for start in range(0, len(items), MAX_IDS_PER_FILTER)
            async for level in self.client.inventory_levels(
                items[start : start + MAX_IDS_PER_FILTER], locations
            )
        ]

    async def set_price(self, price: Price) -> None:
        """Set a SKU's web price on its variant (`PUT /variants/{id}.json`)."""
        ref = await self.variant(price.sku, "price")
        body = variant_price_body(price, ref.variant_id, self.shop_currency)
        await self.client.update_variant(ref.variant_id, body)

    # Promotions.

    async def put_promotion(self, promotion: Promotion) -> str:
        """Publish a promotion version as one price rule with its discount code; a repeat finds
        the rule by its title marker and the code among the rule's codes."""
        rule = await self._rule_for(promotion.promotion_id, promotion.version)
        if rule is None:
            skus = promotion.eligibility.skus
            known = await self.variants(skus)
            body = promotion_to_price_rule(
                promotion, variant_id_by_sku={sku: ref.variant_id for sku, ref in known.items()}
            )
            body.pop("id", None)
            body["title"] = f"{promotion.name} {promotion_marker(promotion)}"
            rule = await self.client.create_price_rule(body)
        rule_id = int(rule["id"])
        code = discount_code(promotion)
        if all(c.get("code") != code for c in await self.client.discount_codes(rule_id)):
            await self.client.create_discount_code(rule_id, code)
        return str(rule_id)

    async def get_promotion(self, promotion_id: str) -> Promotion | None:
        """A published promotion's latest version (or a rule by `SHOPIFY-PRICE-RULE-<id>`)."""
        match = _RULE_ID.fullmatch(promotion_id)
        if match:
            rule = await self.client.price_rule(int(match.group(1)))
        else:
            rule = await self._rule_for(promotion_id, None)
        if rule is None:
            return None
        codes = await self.client.discount_codes(int(rule["id"]))
        variant_ids = set(rule.get("entitled_variant_ids") or []) | set(
            rule.get("prerequisite_variant_ids") or []
        )
        if not variant_ids <= {ref.variant_id for ref in self._catalogue.values()}:
            await self._reload_catalogue()
        read = price_rule_to_canonical(
            rule,
            codes,
            currency=self.shop_currency,
            sku_by_variant_id={ref.variant_id: sku for sku, ref in self._catalogue.items()},
        )
        marker = _MARKER.match(read.name)
        if marker is None:
            return read
        return read.model_copy(
            update={
                "promotion_id": marker["promotion_id"],
                "version": int(marker["version"]),
                "name": marker["name"] or read.name,
            }
        )

    async def withdraw_promotion(self, promotion_id: str) -> None:
        """Delete every price rule publishing a version of the promotion
        (`DELETE /price_rules/{id}.json`, which takes the rule's discount codes with it), so no
        code of it applies any more; a rule already gone counts as withdrawn."""
        rules = [
            int(rule["id"])
            async for rule in self.client.price_rules()
            if (marker := _MARKER.match(str(rule.get("title") or "")))
            and marker["promotion_id"] == promotion_id
        ]
        for rule_id in rules:
            await self.client.delete_price_rule(rule_id)

    async def _rule_for(self, promotion_id: str, version: int | None) -> Resource | None:
        """The price rule publishing that version (the latest when `version` is None)."""
        best: tuple[int, Resource] | None = None
        async for rule in self.client.price_rules():
            marker = _MARKER.match(str(rule.get("title") or ""))
            if marker is None or marker["promotion_id"] != promotion_id:
                continue
            found = int(marker["version"])
            if version is not None and found == version:
                return rule
            if version is None and (best is None or found > best[0]):
                best = (found, rule)
        return best[1] if best else None

    # Webhooks.

    async def subscribe_webhooks(self, address: str, topics: Sequence[str]) -> list[str]:
        """Subscribe the hub's inbound endpoint to `topics` (once each); returns the ids."""
        return [str((await self.client.subscribe(topic, address))["id"]) for topic in topics]


def _index(product: Resource, catalogue: dict[str, VariantRef]) -> None:
    """Put a product's variants in the catalogue index by SKU."""
    for variant in product.get("variants") or []:
        if variant.get("sku"):
            catalogue[variant["sku"]] = VariantRef(
                int(product["id"]), int(variant["id"]), int(variant["inventory_item_id"])
            )


def _shopify_time(moment: datetime) -> str:
    """A filter time as Shopify writes them: whole seconds with the offset, rounded down so an
    inclusive `*_min` filter misses nothing."""
    return moment.replace(microsecond=0).isoformat()


def _shopify_order(order_id: str) -> int:
    match = _ORDER_ID.fullmatch(order_id)
    if match is None:
        raise MappingError("order", order_id, "$.order_id", "is not a Shopify order id")
    return int(match.group(1))


def _match_addresses(addresses: list[dict[str, Any]], existing: Resource) -> list[dict[str, Any]]:
    """The addresses to send, each with the id of the address Shopify already holds for it."""

    def same_place(address: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(
            str(address.get(field) or "").strip().lower()
            for field in ("address1", "city", "zip", "country_code")
        )

    held = {same_place(a): a.get("id") for a in existing.get("addresses") or []}
    return [
        {**address, "id": held[same_place(address)]}
        if held.get(same_place(address)) is not None
        else address
        for address in addresses
    ]
