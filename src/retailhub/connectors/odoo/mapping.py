"""Odoo <-> canonical: one pure function per document kind, each raising MappingError naming
the Odoo model, the record id and the field at fault. The decisions behind each mapping are in
the docstring of the module that holds it."""

from __future__ import annotations

from retailhub.connectors.odoo.catalogue import (
    price_to_canonical,
    pricing_control,
    product_to_canonical,
)
from retailhub.connectors.odoo.sales import (
    Products,
    credit_note_posting,
    credit_note_values,
    sale_order_posting,
    sale_order_values,
)
from retailhub.connectors.odoo.stock import quants_to_levels

__all__ = [
    "Products",
    "credit_note_posting",
    "credit_note_values",
    "price_to_canonical",
    "pricing_control",
    "product_to_canonical",
    "quants_to_levels",
    "sale_order_posting",
    "sale_order_values",
]
