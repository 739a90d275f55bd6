"""Odoo's item master as canonical Products, Prices and PricingControls.

Decisions:
- A SKU is the variant's `default_code`; a product without one cannot be canonical and is
  refused. The `barcode` becomes the GTIN when it is one; any other barcode (an internal
  code) is kept as the attribute `barcode` rather than dropped.
- The merchandise hierarchy is the `categ_id` path (`All / Food / Cheese / Gouda`), without
  Odoo's root category `All`, which every product shares.
- The unit of measure comes from `uom_id`'s name (`Units`, `kg`, `g`, `L`, `m`, `lb`).
- The VAT rate (attribute `vat_rate`, in percent) is the amount of the first sales tax in
  `taxes_id`; the caller passes the sales taxes by id.
- Archived variants (`active` false) are `inactive`: they are read with `active_test` off so
  a product taken out of the range reaches the channels.
- A channel's price is the variant's `list_price`; its sale price is the fixed price of the
  channel pricelist's rule for that variant (`applied_on` `0_product_variant`, `compute_price`
  `fixed`) in force now. With a rule, the price is valid over the rule's dates; without one
  it is valid from the variant's last write, the latest moment Odoo can vouch for.
- Cost is `standard_price`. The price floor lives in a custom field on the variant
  (`x_price_floor` by default, added with Studio): Odoo has no standard floor, pricelist rules
  express margins only for formula prices. 0 or empty means no floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retailhub.canonical.base import Channel
from retailhub.canonical.identifiers import is_valid_gtin
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product, ProductStatus, UnitOfMeasure
from retailhub.connectors.odoo.fields import SYSTEM, OdooRecord
from retailhub.connectors.ports import PricingControl

ROOT_CATEGORY = "All"
PRODUCT_FIELDS = (
    "default_code",
    "barcode",
    "name",
    "categ_id",
    "uom_id",
    "taxes_id",
    "active",
    "write_date",
)
PRICE_FIELDS = ("default_code", "list_price", "currency_id", "write_date")
RULE_FIELDS = ("pricelist_id", "product_id", "fixed_price", "date_start", "date_end")

_UNITS = {
    "units": UnitOfMeasure.EACH,
    "unit": UnitOfMeasure.EACH,
    "unit(s)": UnitOfMeasure.EACH,
    "kg": UnitOfMeasure.KG,
    "g": UnitOfMeasure.G,
    "l": UnitOfMeasure.L,
    "m": UnitOfMeasure.M,
    "lb": UnitOfMeasure.LB,
    "lb(s)": UnitOfMeasure.LB,
}


def product_to_canonical(
    variant: Mapping[str, Any],
    vat_rates: Mapping[int, Decimal] | None = None,
    root_category: str = ROOT_CATEGORY,
) -> Product:
    """Map a `product.product` record read with PRODUCT_FIELDS."""
    record = OdooRecord("product.product", variant)
    sku = record.required_text("default_code")
    attributes: dict[str, str] = {}
    gtins: list[str] = []
    barcode = record.text("barcode")
    if barcode is not None:
        if is_valid_gtin(barcode):
            gtins.append(barcode)
        else:
            attributes["barcode"] = barcode
    rates = vat_rates or {}
    rate = next((rates[t] for t in record.ids("taxes_id") if t in rates), None)
    if rate is not None:
        attributes["vat_rate"] = format(rate.normalize(), "f")
    return record.build(
        Product,
        {"$.sku": "default_code", "$.gtins": "barcode", "$.title": "name"},
        sku=sku,
        gtins=gtins,
        title=record.required_text("name"),
        hierarchy=_hierarchy(record, root_category),
        unit_of_measure=_unit(record),
        attributes=attributes,
        status=ProductStatus.ACTIVE if record.flag("active") else ProductStatus.INACTIVE,
        external_ids={SYSTEM: str(record.id)},
    )


def _hierarchy(record: OdooRecord, root_category: str) -> list[str]:
    category = record.many2one("categ_id")
    if category is None:
        return []
    path = [part.strip() for part in category[1].split(" / ")]
    return path[1:] if path and path[0] == root_category else path


def _unit(record: OdooRecord) -> UnitOfMeasure:
    uom = record.required_many2one("uom_id")
    unit = _UNITS.get(uom[1].strip().lower())
    if unit is None:
        raise record.fail("uom_id", f"unit {uom[1]!r} has no canonical unit of measure")
    return unit


def price_to_canonical(
    variant: Mapping[str, Any], channel: Channel, rule: Mapping[str, Any] | None = None
) -> Price:
    """Map a variant read with PRICE_FIELDS, and the fixed-price rule in force for it on the
    channel's pricelist (read with RULE_FIELDS), to the channel's price."""
    record = OdooRecord("product.product", variant)
    currency = record.currency()
    list_price = record.money("list_price", currency)
    valid_from, valid_to, sale_price = record.moment("write_date"), None, None
    if rule is not None:
        item = OdooRecord("product.pricelist.item", rule)
        sale_price = item.money("fixed_price", currency)
        if sale_price.amount < 0 or sale_price > list_price:
            raise item.fail(
                "fixed_price", f"sale price {sale_price} is not between 0 and list {list_price}"
            )
        valid_from = item.optional_moment("date_start") or valid_from
        valid_to = item.optional_moment("date_end")
    return record.build(
        Price,
        {"$.list_price": "list_price", "$.valid_to": "write_date"},
        sku=record.required_text("default_code"),
        channel=channel,
        list_price=list_price,
        sale_price=sale_price,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def pricing_control(variant: Mapping[str, Any], floor_field: str | None) -> PricingControl:
    """Map a variant read with `default_code`, `standard_price`, `list_price`, `currency_id`
    (and the floor field) to what promotions are validated against."""
    record = OdooRecord("product.product", variant)
    currency = record.currency()
    floor: Money | None = None
    if floor_field is not None and record.value(floor_field) is not None:
        floor = record.money(floor_field, currency)
        floor = None if floor.is_zero() else floor
    return PricingControl(
        sku=record.required_text("default_code"),
        cost=record.money("standard_price", currency),
        list_price=record.money("list_price", currency),
        price_floor=floor,
    )
