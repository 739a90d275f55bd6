"""The Odoo models the emulator holds, with the fields the connector reads and writes: a small,
faithful subset of Odoo 17-19 (`product.product`, `sale.order`, `stock.quant`, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """An Odoo field type, as far as it changes how a value is stored and served."""

    CHAR = "char"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    MANY2ONE = "many2one"
    ONE2MANY = "one2many"
    MANY2MANY = "many2many"


@dataclass(frozen=True)
class Field:
    """One field: its type, the model it points to, and whether a record needs it."""

    kind: Kind
    comodel: str | None = None
    inverse: str | None = None
    required: bool = False
    label: str = ""

    @property
    def stored(self) -> bool:
        """One2many fields live on the other model; every other field is a column."""
        return self.kind is not Kind.ONE2MANY


def char(label: str = "", *, required: bool = False) -> Field:
    """A char (or selection, date-like text) field."""
    return Field(Kind.CHAR, required=required, label=label)


def m2o(comodel: str, label: str = "", *, required: bool = False) -> Field:
    """A many2one to `comodel`."""
    return Field(Kind.MANY2ONE, comodel=comodel, required=required, label=label)


def o2m(comodel: str, inverse: str) -> Field:
    """A one2many: the `comodel` records whose `inverse` points here."""
    return Field(Kind.ONE2MANY, comodel=comodel, inverse=inverse)


FLOAT, INTEGER, BOOLEAN = Field(Kind.FLOAT), Field(Kind.INTEGER), Field(Kind.BOOLEAN)
DATE, DATETIME = Field(Kind.DATE), Field(Kind.DATETIME)


@dataclass(frozen=True)
class Model:
    """An Odoo model: its technical name, label, fields, default order and record methods."""

    name: str
    label: str
    fields: dict[str, Field]
    order: str = "id"
    actions: frozenset[str] = field(default_factory=frozenset)
    hierarchical: bool = False
    """True when records carry a `parent_path` (`1/4/9/`), which `child_of` searches."""

    @property
    def table(self) -> str:
        """The SQLite table: the model name with dots as underscores, as Odoo names it."""
        return self.name.replace(".", "_")


_COMMON = {"display_name": char("Display Name"), "write_date": DATETIME, "create_date": DATETIME}


def _model(
    name: str,
    label: str,
    fields: dict[str, Field],
    *,
    order: str = "id",
    actions: tuple[str, ...] = (),
    hierarchical: bool = False,
) -> Model:
    return Model(name, label, {**_COMMON, **fields}, order, frozenset(actions), hierarchical)


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        _model("res.currency", "Currency", {"name": char("Currency", required=True)}),
        _model(
            "res.partner",
            "Contact",
            {
                "name": char("Name", required=True),
                "email": char("Email"),
                "ref": char("Reference"),
                "is_company": BOOLEAN,
                "active": BOOLEAN,
            },
            order="display_name, id",
        ),
        _model("uom.uom", "Unit", {"name": char("Unit", required=True)}),
        _model(
            "product.category",
            "Product Category",
            {
                "name": char("Name", required=True),
                "parent_id": m2o("product.category"),
                "complete_name": char("Complete Name"),
            },
            order="complete_name",
            hierarchical=True,
        ),
        _model(
            "account.tax",
            "Tax",
            {
                "name": char("Tax Name", required=True),
                "amount": FLOAT,
                "type_tax_use": char("Tax Type"),
                "price_include": BOOLEAN,
                "active": BOOLEAN,
            },
        ),
        _model(
            "product.product",
            "Product Variant",
            {
                "name": char("Name", required=True),
                "default_code": char("Internal Reference"),
                "barcode": char("Barcode"),
                "categ_id": m2o("product.category", "Product Category", required=True),
                "list_price": FLOAT,
                "standard_price": FLOAT,
                "x_price_floor": FLOAT,
                "type": char("Product Type"),
                "is_storable": BOOLEAN,
                "uom_id": m2o("uom.uom", "Unit", required=True),
                "taxes_id": Field(Kind.MANY2MANY, comodel="account.tax"),
                "currency_id": m2o("res.currency"),
                "active": BOOLEAN,
            },
            order="default_code, name, id",
        ),
        _model(
            "product.pricelist",
            "Pricelist",
            {"name": char("Pricelist Name", required=True), "currency_id": m2o("res.currency")},
        ),
        _model(
            "product.pricelist.item",
            "Pricelist Rule",
            {
                "pricelist_id": m2o("product.pricelist", "Pricelist", required=True),
                "applied_on": char("Apply On"),
                "product_id": m2o("product.product", "Product"),
                "compute_price": char("Computation"),
                "fixed_price": FLOAT,
                "min_quantity": FLOAT,
                "date_start": DATETIME,
                "date_end": DATETIME,
            },
        ),
        _model(
            "stock.location",
            "Inventory Locations",
            {
                "name": char("Location Name", required=True),
                "complete_name": char("Full Location Name"),
                "location_id": m2o("stock.location", "Parent Location"),
                "usage": char("Location Type"),
            },
            order="complete_name, id",
            hierarchical=True,
        ),
        _model(
            "stock.warehouse",
            "Warehouse",
            {
                "name": char("Warehouse", required=True),
                "code": char("Short Name", required=True),
                "lot_stock_id": m2o("stock.location", "Location Stock"),
                "view_location_id": m2o("stock.location", "View Location"),
            },
        ),
        _model(
            "stock.quant",
            "Quants",
            {
                "product_id": m2o("product.product", "Product", required=True),
                "location_id": m2o("stock.location", "Location", required=True),
                "quantity": FLOAT,
                "reserved_quantity": FLOAT,
                "inventory_quantity": FLOAT,
                "inventory_quantity_set": BOOLEAN,
            },
            actions=("action_apply_inventory",),
        ),
        _model(
            "stock.move",
            "Stock Move",
            {
                "name": char("Description", required=True),
                "reference": char("Reference"),
                "product_id": m2o("product.product", "Product", required=True),
                "product_uom_qty": FLOAT,
                "location_id": m2o("stock.location", "Source Location", required=True),
                "location_dest_id": m2o("stock.location", "Destination Location", required=True),
                "state": char("Status"),
                "is_inventory": BOOLEAN,
            },
            order="id desc",
        ),
        _model(
            "sale.order",
            "Sales Order",
            {
                "name": char("Order Reference"),
                "partner_id": m2o("res.partner", "Customer", required=True),
                "client_order_ref": char("Customer Reference"),
                "origin": char("Source Document"),
                "date_order": DATETIME,
                "warehouse_id": m2o("stock.warehouse", "Warehouse"),
                "state": char("Status"),
                "amount_total": FLOAT,
                "currency_id": m2o("res.currency"),
                "order_line": o2m("sale.order.line", "order_id"),
            },
            order="date_order desc, id desc",
            actions=("action_confirm", "action_cancel"),
        ),
        _model(
            "sale.order.line",
            "Sales Order Line",
            {
                "order_id": m2o("sale.order", "Order Reference", required=True),
                "product_id": m2o("product.product", "Product", required=True),
                "name": char("Description"),
                "product_uom_qty": FLOAT,
                "price_unit": FLOAT,
                "discount": FLOAT,
                "price_total": FLOAT,
            },
        ),
        _model(
            "account.move",
            "Journal Entry",
            {
                "name": char("Number"),
                "move_type": char("Type", required=True),
                "partner_id": m2o("res.partner", "Customer"),
                "ref": char("Reference"),
                "invoice_origin": char("Origin"),
                "invoice_date": DATE,
                "state": char("Status"),
                "amount_total": FLOAT,
                "currency_id": m2o("res.currency"),
                "invoice_line_ids": o2m("account.move.line", "move_id"),
            },
            order="invoice_date desc, name desc, id desc",
            actions=("action_post", "button_cancel"),
        ),
        _model(
            "account.move.line",
            "Journal Item",
            {
                "move_id": m2o("account.move", "Journal Entry", required=True),
                "product_id": m2o("product.product", "Product"),
                "name": char("Label"),
                "quantity": FLOAT,
                "price_unit": FLOAT,
                "price_total": FLOAT,
            },
        ),
    )
}
"""Every model the emulator serves, by technical name."""


def _columns(model: Model) -> str:
    types = {
        Kind.INTEGER: "INTEGER",
        Kind.MANY2ONE: "INTEGER",
        Kind.BOOLEAN: "INTEGER",
        Kind.FLOAT: "REAL",
    }
    columns = ["id INTEGER PRIMARY KEY"]
    columns += [
        f"{name} {types.get(f.kind, 'TEXT')}" for name, f in model.fields.items() if f.stored
    ]
    if model.hierarchical:
        columns.append("parent_path TEXT")
    return ", ".join(columns)


INDEXES = {
    "product.product": (("default_code",), ("barcode",)),
    "product.pricelist.item": (("product_id",),),
    "res.partner": (("ref",),),
    "stock.quant": (("product_id", "location_id"),),
    "stock.move": (("reference",),),
    "sale.order": (("client_order_ref",),),
    "sale.order.line": (("order_id",),),
    "account.move": (("ref",),),
    "account.move.line": (("move_id",),),
}
"""Columns looked up by value on every sale or adjustment (Odoo indexes most of them too), so
a lookup costs the same whether the database holds ten documents or a year of them."""


def _indexes() -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS {MODELS[name].table}_{'_'.join(columns)}"
        f" ON {MODELS[name].table} ({', '.join(columns)});"
        for name, indexed in INDEXES.items()
        for columns in indexed
    ]


SCHEMA = "\n".join(
    [f"CREATE TABLE IF NOT EXISTS {m.table} ({_columns(m)});" for m in MODELS.values()] + _indexes()
)
"""The SQLite tables of every model, one column per stored field, and their indexes."""
