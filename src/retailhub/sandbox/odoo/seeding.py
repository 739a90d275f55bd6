"""The ERP's view of the estate: the item master with costs and price floors, category tree,
sales taxes, a pricelist per channel holding the sale prices, a warehouse per store with its
stock location, and a quant per SKU per store."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from retailhub.canonical.base import Channel
from retailhub.canonical.identifiers import normalise_gtin
from retailhub.canonical.product import UnitOfMeasure
from retailhub.sandbox.odoo.business import EUR_ID
from retailhub.sandbox.odoo.models import MODELS
from retailhub.sandbox.odoo.orm import Orm, display_name, odoo_datetime
from retailhub.sandbox.seed import CET, Estate

ROOT_CATEGORY = "All"
"""Odoo's root product category, above the estate's departments."""

PRICELISTS = {Channel.STORE: "Stores", Channel.WEB: "Web shop"}
"""The pricelist holding each channel's sale prices."""

SHIPPING_SKU = "SHIPPING"
"""The service product web orders charge delivery with."""

FLOOR_MARKUP = Decimal("1.10")
"""The price floor sits 10 % above cost: promotions may not sell below it."""

_CENT = Decimal("0.01")


def cost_fraction(sku: str) -> Decimal:
    """What part of the list price a SKU costs: 0.40 to 0.70, fixed per SKU."""
    digits = "".join(c for c in sku if c.isdigit())
    return Decimal(40 + int(digits or 0) % 31) / 100


def cost_of(sku: str, list_price: Decimal) -> Decimal:
    """The SKU's standard cost."""
    return (list_price * cost_fraction(sku)).quantize(_CENT, rounding=ROUND_HALF_UP)


def price_floor_of(sku: str, list_price: Decimal) -> Decimal:
    """The lowest price the pricing team allows for the SKU."""
    floor = (cost_of(sku, list_price) * FLOOR_MARKUP).quantize(_CENT, rounding=ROUND_HALF_UP)
    return min(floor, list_price)


def barcode_of(gtin: str) -> str:
    """A GTIN as Odoo's barcode field holds it: GTIN-13 (or 8/12) without padding zeros."""
    code = normalise_gtin(gtin)
    return code[1:] if code.startswith("0") else code


class Seeder:
    """Writes the estate into the emulator's tables, remembering the ids it gave."""

    def __init__(self, orm: Orm, estate: Estate) -> None:
        self.orm, self.estate = orm, estate
        self.start = datetime(estate.year, 1, 1, tzinfo=CET)

    def run(self) -> None:
        """Seed everything, in dependency order."""
        self._add("res.currency", name="EUR")
        self._add("res.partner", name="retailhub B.V.", active=1)
        units, kilos = self._add("uom.uom", name="Units"), self._add("uom.uom", name="kg")
        low = self._tax("9% BTW", 9)
        standard = self._tax("21% BTW", 21)
        categories = self._categories()
        products = self._products(categories, {UnitOfMeasure.KG: kilos}, units, low, standard)
        self._pricelists(products)
        self._stock(products)

    def _add(self, model: str, **columns: Any) -> int:
        spec = MODELS[model]
        stamp = odoo_datetime(self.start)
        record_id = self.orm.insert(spec, {"create_date": stamp, "write_date": stamp, **columns})
        self.orm.db.execute(
            f"UPDATE {spec.table} SET display_name = ? WHERE id = ?",
            (display_name(spec, record_id, columns), record_id),
        )
        return record_id

    def _tax(self, name: str, rate: int) -> int:
        return self._add(
            "account.tax", name=name, amount=rate, type_tax_use="sale", price_include=1, active=1
        )

    def _categories(self) -> dict[tuple[str, ...], int]:
        """The merchandise hierarchy as a product category tree under `All`."""
        root = self._add("product.category", name=ROOT_CATEGORY, complete_name=ROOT_CATEGORY)
        self._path("product.category", root, f"{root}/")
        ids: dict[tuple[str, ...], int] = {(): root}
        for path in self.estate.categories:
            for depth in range(1, len(path) + 1):
                key = tuple(path[:depth])
                if key in ids:
                    continue
                parent = ids[key[:-1]]
                record_id = self._add(
                    "product.category",
                    name=key[-1],
                    parent_id=parent,
                    complete_name=" / ".join((ROOT_CATEGORY, *key)),
                )
                parent_path = self._parent_path("product.category", parent)
                self._path("product.category", record_id, f"{parent_path}{record_id}/")
                ids[key] = record_id
        return ids

    def _products(
        self,
        categories: dict[tuple[str, ...], int],
        uoms: dict[UnitOfMeasure, int],
        units: int,
        low: int,
        standard: int,
    ) -> dict[str, int]:
        ids: dict[str, int] = {}
        for index, product in enumerate(self.estate.products):
            list_price = self.estate.price(product.sku, Channel.STORE).list_price.amount
            vat = self.estate.vat_rate(product.sku)
            ids[product.sku] = self._add(
                "product.product",
                name=product.title,
                default_code=product.sku,
                barcode=barcode_of(product.gtins[0]) if product.gtins else None,
                categ_id=categories[tuple(product.hierarchy)],
                list_price=float(list_price),
                standard_price=float(cost_of(product.sku, list_price)),
                x_price_floor=float(price_floor_of(product.sku, list_price)),
                type="consu",
                is_storable=1,
                uom_id=uoms.get(product.unit_of_measure, units),
                taxes_id=orjson.dumps([low if vat == 9 else standard]).decode(),
                currency_id=EUR_ID,
                active=1,
                write_date=odoo_datetime(self.start + timedelta(minutes=index)),
            )
        self._add(
            "product.product",
            name="Shipping",
            default_code=SHIPPING_SKU,
            categ_id=categories[()],
            list_price=4.95,
            standard_price=0.0,
            type="service",
            uom_id=units,
            taxes_id=orjson.dumps([standard]).decode(),
            currency_id=EUR_ID,
            active=1,
        )
        return ids

    def _pricelists(self, products: dict[str, int]) -> None:
        """A pricelist per channel; each sale price is a fixed-price rule on its variant."""
        lists = {
            channel: self._add("product.pricelist", name=name, currency_id=EUR_ID)
            for channel, name in PRICELISTS.items()
        }
        for price in self.estate.prices:
            if price.sale_price is None or price.channel not in lists:
                continue
            self._add(
                "product.pricelist.item",
                pricelist_id=lists[price.channel],
                applied_on="0_product_variant",
                product_id=products[price.sku],
                compute_price="fixed",
                fixed_price=float(price.sale_price.amount),
                min_quantity=0.0,
                date_start=odoo_datetime(price.valid_from),
                date_end=odoo_datetime(price.valid_to) if price.valid_to else None,
            )

    def _stock(self, products: dict[str, int]) -> None:
        """A warehouse per store (code = store code) with its stock location, and the quants."""
        virtual = self._location("Virtual Locations", "view", None)
        self._location("Inventory adjustment", "inventory", virtual)
        self._location("Customers", "customer", virtual)
        stock_of: dict[str, int] = {}
        for store in self.estate.stores:
            view = self._location(store.code, "view", None)
            stock_of[store.code] = self._location("Stock", "internal", view)
            self._add(
                "stock.warehouse",
                name=store.name,
                code=store.code,
                lot_stock_id=stock_of[store.code],
                view_location_id=view,
            )
        for level in self.estate.inventory:
            self._add(
                "stock.quant",
                product_id=products[level.sku],
                location_id=stock_of[level.location],
                quantity=float(level.on_hand),
                reserved_quantity=float(level.reserved),
                inventory_quantity=0.0,
                inventory_quantity_set=0,
                write_date=odoo_datetime(level.as_of),
            )

    def _location(self, name: str, usage: str, parent: int | None) -> int:
        complete = name
        if parent is not None:
            complete = f"{self.orm.row(MODELS['stock.location'], parent)['complete_name']}/{name}"
        record_id = self._add(
            "stock.location", name=name, complete_name=complete, location_id=parent, usage=usage
        )
        above = "" if parent is None else self._parent_path("stock.location", parent)
        self._path("stock.location", record_id, f"{above}{record_id}/")
        return record_id

    def _parent_path(self, model: str, record_id: int) -> str:
        return str(self.orm.row(MODELS[model], record_id)["parent_path"])

    def _path(self, model: str, record_id: int, path: str) -> None:
        self.orm.db.execute(
            f"UPDATE {MODELS[model].table} SET parent_path = ? WHERE id = ?", (path, record_id)
        )
