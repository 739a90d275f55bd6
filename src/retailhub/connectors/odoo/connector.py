"""The ERP port on Odoo: item master, prices, pricing controls, stock, sale orders, credit notes
and postings, through the JSON-2 API (see `client.py` for the document followed, and the
mapping modules for the decisions on each document).

Idempotency, as Odoo takes no idempotency key:
- a sale order carries the key in `client_order_ref`, a credit note in `ref`; each is looked up
  by it before it is created, and a repeat finishes what a first attempt left half-done
  (confirms a quotation, posts a draft credit note) and answers the first document;
- a stock adjustment is an inventory adjustment applied with the key as the stock move's name
  (`inventory_name` in the context); a key that already names a stock move is not applied
  again. The adjustment reads the quant and sets the counted quantity to on hand + delta:
  Odoo's JSON-2 calls are separate transactions, so a sale booked between the read and the
  apply is overwritten; the window is one round trip.
Stores are warehouses whose `code` is the store code (`stores.py`); customers are partners
whose `ref` is the golden customer id (a walk-in partner for anonymous sales).

Calls per completed sale alone: the lookup by key, the create, the confirmation and one read of
the result; sales posted at the same time share each of those calls (`sale_orders.py`).
Variant ids by SKU/GTIN and partner ids by customer come from a bounded, expiring cache
(`references.py`); a write Odoo refuses forgets the ids it named, so its retry reads them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from retailhub.canonical.base import Channel
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.returns import Return
from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.catalogue import (
    PRICE_FIELDS,
    PRODUCT_FIELDS,
    RULE_FIELDS,
    price_to_canonical,
    pricing_control,
    product_to_canonical,
)
from retailhub.connectors.odoo.client import OdooClient, OdooRefused, Record
from retailhub.connectors.odoo.fields import (
    OdooRecord,
    decimal_text,
    odoo_datetime,
    written_since,
)
from retailhub.connectors.odoo.references import References
from retailhub.connectors.odoo.sale_orders import SaleOrders
from retailhub.connectors.odoo.sales import (
    CREDIT_NOTE_FIELDS,
    SALE_ORDER_FIELDS,
    credit_note_posting,
    credit_note_values,
    sale_order_posting,
)
from retailhub.connectors.odoo.stock import QUANT_FIELDS, quants_to_levels
from retailhub.connectors.odoo.stores import Stores
from retailhub.connectors.ports import ErpPort, Posting, PricingControl
from retailhub.resilience import ResiliencePolicy, Resilient

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OdooCredentials:
    """An API key of the integration's bot user, and the database when the server hosts
    several. The key never appears in a repr or a log."""

    api_key: str = field(repr=False)
    database: str | None = None


@dataclass(frozen=True)
class OdooSettings:
    """How this Odoo database is set up for retail; every choice is configurable."""

    timezone: str = "Europe/Amsterdam"
    """The stores' time zone: business days are local dates."""
    pricelists: Mapping[Channel, str] = field(
        default_factory=lambda: {Channel.STORE: "Stores", Channel.WEB: "Web shop"}
    )
    """The pricelist holding each channel's sale prices, by name."""
    price_floor_field: str | None = "x_price_floor"
    """The custom field holding a variant's price floor; None when the database has none."""
    shipping_sku: str | None = "SHIPPING"
    """The internal reference of the service product shipping is charged with."""
    walk_in_ref: str = "RETAILHUB-WALK-IN"
    """The partner `ref` anonymous sales and returns are booked to."""
    default_location: str = "WEB"
    """The store code of an order that names none (web orders)."""
    root_category: str = "All"
    page_size: int = 200


class OdooConnector(ErpPort):
    """Odoo as the hub's ERP."""

    name = "odoo"

    def __init__(
        self,
        base_url: str,
        credentials: OdooCredentials,
        policy: ResiliencePolicy,
        *,
        settings: OdooSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        resilient: Resilient | None = None,
    ) -> None:
        self.settings = settings or OdooSettings()
        self.resilient = resilient or Resilient(self.name, policy)
        self.client = OdooClient(
            base_url, credentials.api_key, self.resilient, database=credentials.database
        )
        self._zone = ZoneInfo(self.settings.timezone)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._quant_locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sku_by_product: dict[int, str] = {}
        page_size = self.settings.page_size
        self.stores = Stores(self.client, page_size=page_size)
        self.references = References(
            self.client, walk_in_ref=self.settings.walk_in_ref, page_size=page_size
        )
        self.sale_orders = SaleOrders(
            self.client,
            self.references,
            self.stores,
            timezone=self._zone,
            default_location=self.settings.default_location,
            shipping_sku=self.settings.shipping_sku,
        )

    @classmethod
    def from_options(
        cls,
        base_url: str,
        api_key: str,
        policy: ResiliencePolicy,
        options: Mapping[str, Any],
    ) -> OdooConnector:
        """A connector from an estate file's `options` for the system: `database`, `timezone`,
        `store_pricelist`, `web_pricelist`, `price_floor_field` and `shipping_sku` (empty for
        none), `walk_in_ref`, `default_location`, `root_category`, `page_size`."""
        known = {
            "database",
            "timezone",
            "store_pricelist",
            "web_pricelist",
            "price_floor_field",
            "shipping_sku",
            "walk_in_ref",
            "default_location",
            "root_category",
            "page_size",
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"odoo has no option {unknown[0]!r}; it takes {', '.join(sorted(known))}"
            )
        defaults = OdooSettings()
        pricelists = dict(defaults.pricelists)
        pricelists[Channel.STORE] = str(options.get("store_pricelist", pricelists[Channel.STORE]))
        pricelists[Channel.WEB] = str(options.get("web_pricelist", pricelists[Channel.WEB]))
        settings = OdooSettings(
            timezone=str(options.get("timezone", defaults.timezone)),
            pricelists=pricelists,
            price_floor_field=_optional(options, "price_floor_field", defaults.price_floor_field),
            shipping_sku=_optional(options, "shipping_sku", defaults.shipping_sku),
            walk_in_ref=str(options.get("walk_in_ref", defaults.walk_in_ref)),
            default_location=str(options.get("default_location", defaults.default_location)),
            root_category=str(options.get("root_category", defaults.root_category)),
            page_size=int(options.get("page_size", defaults.page_size)),
        )
        database = options.get("database")
        credentials = OdooCredentials(api_key, None if database is None else str(database))
        return cls(base_url, credentials, policy, settings=settings)

    async def close(self) -> None:
        await self.client.close()

    # sales and returns

    async def post_sale_order(self, order: Order, key: str) -> Posting:
        """The sale order for `order` under `key`, once per key: created, confirmed when the
        sale is completed, and answered as Odoo computed it; written together with the sales
        posted meanwhile (see `sale_orders.py`)."""
        return await self.sale_orders.post(order, key)

    async def find_posting(self, key: str) -> Posting | None:
        order = await self.sale_orders.find(key)
        if order is not None:
            return await self.sale_orders.posting(order)
        note = await self._credit_note(key)
        return None if note is None else credit_note_posting(note)

    async def cancel_sale_order(self, key: str) -> Posting | None:
        """Cancel the sale order written under `key` with `action_cancel`; a cancelled order is
        answered as it is. Odoo (16+) answers a confirmed order's `action_cancel` with the
        "cancel and warn the customer" wizard unless the context says `disable_cancel_warning`,
        which the hub sends: the customer is not Odoo's to tell. Odoo cancels the order's
        pickings that are not done; goods already delivered come back only by a return picking,
        which is the ERP's own workflow (to confirm per database: a locked order must be
        unlocked first, and Odoo refuses to cancel one with a posted invoice)."""
        return await self.sale_orders.cancel(key)

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to this Odoo database."""
        return self.resilient.circuit_state()

    async def post_credit_note(self, document: Return, key: str) -> Posting:
        found = await self._credit_note(key)
        if found is None:
            values = credit_note_values(
                document,
                key,
                partner_id=await self.references.partner(document.customer_id, None),
                products=await self.references.products_for(
                    [(line.sku, line.gtin) for line in document.lines]
                ),
                store=document.received_location or document.initiated_location,
                business_day=document.created_at.astimezone(self._zone).date(),
            )
            try:
                move_id = await self.client.create("account.move", values)
            except OdooRefused:
                lines = [(line.sku, line.gtin) for line in document.lines]
                self.references.forget(lines, document.customer_id)
                raise
            found = await self.client.read_back("account.move", move_id, CREDIT_NOTE_FIELDS)
        if found.get("state") == "draft":
            await self.client.act("account.move", "action_post", [found["id"]])
            found = await self.client.read_back("account.move", found["id"], CREDIT_NOTE_FIELDS)
        return credit_note_posting(found)

    async def void_credit_note(self, key: str) -> None:
        found = await self._credit_note(key)
        if found is None or found.get("state") == "cancel":
            return
        await self.client.act("account.move", "button_cancel", [found["id"]])

    async def postings(self, business_day: date, location: str | None = None) -> list[Posting]:
        start = datetime.combine(business_day, time(0), self._zone)
        end = datetime.combine(business_day + timedelta(days=1), time(0), self._zone)
        orders: list[Any] = [
            ("date_order", ">=", odoo_datetime(start)),
            ("date_order", "<", odoo_datetime(end)),
            ("client_order_ref", "!=", False),
        ]
        notes: list[Any] = [
            ("move_type", "=", "out_refund"),
            ("invoice_date", "=", business_day.isoformat()),
            ("ref", "!=", False),
        ]
        if location is not None:
            orders.append(("warehouse_id", "=", (await self.stores.get(location)).warehouse_id))
            notes.append(("invoice_origin", "=", location))
        stores = await self.stores.by_warehouse()
        found = [
            sale_order_posting(record, stores, self._zone)
            async for record in self._all("sale.order", orders, SALE_ORDER_FIELDS)
        ]
        found += [
            credit_note_posting(record)
            async for record in self._all("account.move", notes, CREDIT_NOTE_FIELDS)
        ]
        return found

    # stock

    async def adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        """Move stock by `delta` as an inventory adjustment named by `key` (once per key).

        Odoo's adjustments set a counted quantity, not a difference: two adjustments of one
        quant read, counted and applied at once would lose one of them. They are serialised per
        SKU and location in this process, so each counts from the quantity the previous one
        left; hubs in several processes should let the ERP move sale stock itself (delivery on
        confirmation, `StockSettings.erp_moves_stock`)."""
        if delta == 0:
            return
        async with self._quant_locks[(sku, location)]:
            await self._adjust_stock(sku, location, delta, key)

    async def _adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        if await self._adjusted(key):
            return
        store = await self.stores.get(location)
        products = await self.references.products_for([(sku, None)])
        product = products.id_for(sku, None, "inventory", f"{sku}@{location}", "$.sku")
        quants = await self.client.search_read(
            "stock.quant",
            [("product_id", "=", product), ("location_id", "=", store.stock_location_id)],
            ["quantity"],
            limit=1,
        )
        counting = {"inventory_mode": True}
        if quants:
            quant_id = quants[0]["id"]
            on_hand = OdooRecord("stock.quant", quants[0]).decimal("quantity")
            counted = {"inventory_quantity": decimal_text(on_hand + delta)}
            await self.client.write("stock.quant", [quant_id], counted, context=counting)
        else:
            quant_id = await self.client.create(
                "stock.quant",
                {
                    "product_id": product,
                    "location_id": store.stock_location_id,
                    "inventory_quantity": decimal_text(delta),
                },
                context=counting,
            )
        await self.client.act(
            "stock.quant",
            "action_apply_inventory",
            [quant_id],
            context={**counting, "inventory_name": key},
        )

    async def _adjusted(self, key: str) -> bool:
        """True when a stock move is named by `key`: Odoo names an applied adjustment after the
        `inventory_name` context, adding ` (<user>)` when the quant is assigned to someone."""
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        moves = await self.client.search_read(
            "stock.move",
            ["|", ("reference", "=", key), ("reference", "=like", f"{escaped} (%)")],
            ["id"],
            limit=1,
        )
        return bool(moves)

    async def stock_levels(
        self, location: str | None = None, changed_since: datetime | None = None
    ) -> list[InventoryLevel]:
        codes = [location] if location is not None else list(await self.stores.all())
        roots = [(await self.stores.get(code)).stock_location_id for code in codes]
        store_by_location = await self.stores.locations_of(codes)
        domain: list[Any] = [("location_id", "child_of", roots)]
        if changed_since is not None:
            # A level sums every quant of the item in the store: re-read them all for an item
            # any of whose quants moved.
            moved = await self._ids_of(
                "stock.quant", [*domain, written_since(changed_since)], "product_id"
            )
            if not moved:
                return []
            domain.append(("product_id", "in", sorted(moved)))
        quants = [record async for record in self._all("stock.quant", domain, QUANT_FIELDS)]
        products = {OdooRecord("stock.quant", q).required_many2one("product_id")[0] for q in quants}
        return quants_to_levels(quants, await self._skus_of(products), store_by_location)

    # item master and prices

    async def products(self, changed_since: datetime | None = None) -> AsyncIterator[Product]:
        vat_rates = await self._vat_rates()
        domain: list[Any] = [("type", "!=", "service")]
        order = "id asc"
        if changed_since is not None:
            # Odoo keeps whole seconds: `>=` re-reads that second rather than miss a change.
            domain.append(("write_date", ">=", odoo_datetime(changed_since)))
            order = "write_date asc, id asc"
        async for record in self._all(
            "product.product", domain, PRODUCT_FIELDS, order=order, context={"active_test": False}
        ):
            if not record.get("default_code"):
                _log.warning("odoo product left out: no internal reference", product=record["id"])
                continue
            yield product_to_canonical(record, vat_rates, self.settings.root_category)

    async def prices(
        self, skus: Sequence[str] | None = None, changed_since: datetime | None = None
    ) -> list[Price]:
        domain: list[Any] = [("type", "!=", "service"), ("default_code", "!=", False)]
        if skus is not None:
            domain.append(("default_code", "in", list(skus)))
        pricelists = await self._pricelists()
        if changed_since is not None:
            repriced = await self._repriced(domain, pricelists, changed_since)
            if not repriced:
                return []
            domain.append(("id", "in", sorted(repriced)))
        variants = [record async for record in self._all("product.product", domain, PRICE_FIELDS)]
        some = skus is not None or changed_since is not None
        rules = await self._rules_in_force(pricelists, {v["id"] for v in variants}, some)
        return [
            price_to_canonical(variant, channel, rules.get((pricelist, variant["id"])))
            for variant in variants
            for channel, pricelist in pricelists.items()
        ]

    async def pricing_controls(self, skus: Sequence[str]) -> list[PricingControl]:
        if not skus:
            return []
        fields = ["default_code", "standard_price", "list_price", "currency_id"]
        if self.settings.price_floor_field:
            fields.append(self.settings.price_floor_field)
        records = [
            record
            async for record in self._all(
                "product.product",
                [("default_code", "in", list(skus))],
                fields,
                context={"active_test": False},
            )
        ]
        return [pricing_control(record, self.settings.price_floor_field) for record in records]

    # lookups

    async def _all(
        self,
        model: str,
        domain: list[Any],
        fields: Sequence[str],
        *,
        order: str = "id asc",
        context: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Record]:
        async for page in self.client.search_read_all(
            model, domain, fields, order=order, page_size=self.settings.page_size, context=context
        ):
            for record in page:
                yield record

    async def _credit_note(self, key: str) -> Record | None:
        found = await self.client.search_read(
            "account.move",
            [("move_type", "=", "out_refund"), ("ref", "=", key)],
            CREDIT_NOTE_FIELDS,
            limit=1,
        )
        return found[0] if found else None

    async def _skus_of(self, product_ids: set[int]) -> dict[int, str]:
        missing = sorted(product_ids - set(self._sku_by_product))
        for start in range(0, len(missing), self.settings.page_size):
            chunk = missing[start : start + self.settings.page_size]
            for record in await self.client.search_read(
                "product.product",
                [("id", "in", chunk)],
                ["default_code"],
                context={"active_test": False},
            ):
                if record.get("default_code"):
                    self._sku_by_product[record["id"]] = record["default_code"]
        return self._sku_by_product

    async def _vat_rates(self) -> dict[int, Decimal]:
        rates = {}
        async for record in self._all("account.tax", [("type_tax_use", "=", "sale")], ["amount"]):
            rates[record["id"]] = OdooRecord("account.tax", record).decimal("amount")
        return rates

    async def _pricelists(self) -> dict[Channel, int]:
        names = dict(self.settings.pricelists)
        found = {
            record["name"]: record["id"]
            async for record in self._all(
                "product.pricelist", [("name", "in", list(names.values()))], ["name"]
            )
        }
        missing = [name for name in names.values() if name not in found]
        if missing:
            raise MappingError(
                "product.pricelist", None, "$.name", f"no pricelist is called {missing[0]!r}"
            )
        return {channel: found[name] for channel, name in names.items()}

    async def _ids_of(self, model: str, domain: list[Any], many2one: str) -> set[int]:
        """The records a many2one of the matching records points to."""
        found: set[int] = set()
        async for record in self._all(model, domain, [many2one]):
            target = OdooRecord(model, record).many2one(many2one)
            if target is not None:
                found.add(target[0])
        return found

    async def _repriced(
        self, variants: list[Any], pricelists: Mapping[Channel, int], since: datetime
    ) -> set[int]:
        """Variants whose price may have changed since a moment: one matching `variants` was
        written (list price, currency), or a rule of a channel's pricelist naming one was
        written, started or ended. A rule deleted or moved to another variant is not seen: the
        next full read catches it."""
        written = {
            record["id"]
            async for record in self._all(
                "product.product", [*variants, written_since(since)], ["id"]
            )
        }
        start, now = odoo_datetime(since), odoo_datetime(self._clock())
        rules: list[Any] = [
            ("pricelist_id", "in", list(pricelists.values())),
            "|",
            "|",
            written_since(since),
            "&",
            ("date_start", ">=", start),
            ("date_start", "<=", now),
            "&",
            ("date_end", ">=", start),
            ("date_end", "<=", now),
        ]
        return written | await self._ids_of("product.pricelist.item", rules, "product_id")

    async def _rules_in_force(
        self,
        pricelists: Mapping[Channel, int],
        variant_ids: set[int],
        only_these: bool,
    ) -> dict[tuple[int, int], Record]:
        """The fixed-price rule in force now per (pricelist, variant): the latest started one,
        the newest on a tie, as the pricing team's last decision. `only_these` asks Odoo for the
        rules of `variant_ids` alone rather than every rule."""
        domain: list[Any] = [
            ("pricelist_id", "in", list(pricelists.values())),
            ("applied_on", "=", "0_product_variant"),
            ("compute_price", "=", "fixed"),
        ]
        if only_these:
            domain.append(("product_id", "in", sorted(variant_ids)))
        now = self._clock()
        chosen: dict[tuple[int, int], tuple[datetime, int, Record]] = {}
        async for rule in self._all("product.pricelist.item", domain, RULE_FIELDS):
            item = OdooRecord("product.pricelist.item", rule)
            product = item.many2one("product_id")
            if product is None or product[0] not in variant_ids:
                continue
            start = item.optional_moment("date_start") or datetime.min.replace(tzinfo=UTC)
            end = item.optional_moment("date_end")
            if start > now or (end is not None and end < now):
                continue
            slot = (item.required_many2one("pricelist_id")[0], product[0])
            if slot not in chosen or (start, item.id) > chosen[slot][:2]:
                chosen[slot] = (start, item.id, rule)
        return {slot: rule for slot, (_, _, rule) in chosen.items()}


def _optional(options: Mapping[str, Any], name: str, default: str | None) -> str | None:
    """An option that may be switched off with an empty value."""
    value = options.get(name, default)
    return str(value) if value else None
