"""Canonical sales and returns as Odoo sale orders and credit notes, and both back as Postings.

Decisions:
- A sale becomes a `sale.order` whose `client_order_ref` (Customer Reference) is the hub's
  idempotency key and `origin` the canonical order id; `date_order` is when it was placed,
  `warehouse_id` the store's warehouse. Only completed sales are confirmed (`action_confirm`);
  a pending one stays a quotation, a cancelled one is not posted.
- Lines carry the variant, quantity and unit price; line discounts and a share of the order's
  discounts (split by line value, to the cent) become Odoo's percentage `discount`. Odoo keeps
  two decimals of a percentage by default, so a discounted line may differ from the source by a
  cent; reconciliation allows a cent per discounted line.
- Shipping becomes a line of the shipping service product. Taxes are not sent: Odoo applies
  each product's sales taxes (price-included in a European set-up), as the ERP owns tax.
- A return becomes a customer credit note (`account.move`, `move_type` `out_refund`) whose
  `ref` is the key, `invoice_origin` the store that took the goods back (Odoo has no store on
  a journal entry; this is how postings are found per store) and `invoice_date` the business
  day. A line's refund is quantity x unit price; when it does not divide to the cent, a
  second line of quantity 1 carries the remaining cents, so Odoo's total is the refund.
- A Posting's `external_id` is the record's reference (`sale.order,42`, `account.move,7`),
  unique across both models; its status is Odoo's `state`; its business day is the order's
  local date in the stores' time zone, or the credit note's invoice date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from retailhub.canonical.identifiers import normalise_gtin
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, OrderStatus
from retailhub.canonical.returns import Return, ReturnLine
from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.fields import (
    SYSTEM,
    OdooRecord,
    decimal_text,
    odoo_datetime,
    record_ref,
)
from retailhub.connectors.ports import Posting

SALE_ORDER_FIELDS = (
    "name",
    "client_order_ref",
    "amount_total",
    "currency_id",
    "date_order",
    "warehouse_id",
    "state",
)
CREDIT_NOTE_FIELDS = (
    "name",
    "ref",
    "amount_total",
    "currency_id",
    "invoice_date",
    "invoice_origin",
    "state",
)

_HUNDRED = Decimal(100)
_PERCENT_QUANTUM = Decimal("0.01")


@dataclass(frozen=True)
class Products:
    """Odoo variant ids by SKU and by GTIN-14, for the items a document names."""

    by_sku: Mapping[str, int]
    by_gtin: Mapping[str, int]

    def id_for(
        self, sku: str | None, gtin: str | None, resource: str, doc_id: str, path: str
    ) -> int:
        """The variant a line sells, by SKU first, then GTIN."""
        if sku is not None and sku in self.by_sku:
            return self.by_sku[sku]
        if gtin is not None and normalise_gtin(gtin) in self.by_gtin:
            return self.by_gtin[normalise_gtin(gtin)]
        raise MappingError(
            resource,
            doc_id,
            path,
            f"no Odoo product has internal reference {sku!r} or barcode {gtin!r}",
        )


def sale_order_values(
    order: Order,
    key: str,
    *,
    partner_id: int,
    warehouse_id: int,
    products: Products,
    shipping_product_id: int | None = None,
) -> dict[str, Any]:
    """The `create` values of the sale order for `order`, written under `key`."""
    if order.status is OrderStatus.CANCELLED:
        raise MappingError("order", order.order_id, "$.status", "a cancelled sale is not posted")
    shares = _order_discount_shares(order)
    lines = []
    for i, (line, share) in enumerate(zip(order.lines, shares, strict=True)):
        product = products.id_for(line.sku, line.gtin, "order", order.order_id, f"$.lines[{i}]")
        lines.append([0, 0, _sale_line(line, share, product)])
    shipping = order.totals.shipping
    if shipping is not None and not shipping.is_zero():
        if shipping_product_id is None:
            raise MappingError(
                "order", order.order_id, "$.totals.shipping", "no Odoo shipping product is set"
            )
        lines.append(
            [
                0,
                0,
                {
                    "product_id": shipping_product_id,
                    "name": "Shipping",
                    "product_uom_qty": "1",
                    "price_unit": decimal_text(shipping.amount),
                },
            ]
        )
    return {
        "partner_id": partner_id,
        "client_order_ref": key,
        "origin": order.order_id,
        "date_order": odoo_datetime(order.placed_at),
        "warehouse_id": warehouse_id,
        "order_line": lines,
    }


def _order_discount_shares(order: Order) -> list[Money]:
    """Each line's share of the order-level discounts, in proportion to its net value."""
    zero = Money.zero(order.currency)
    total = sum_money((d.amount for d in order.order_discounts), order.currency)
    weights = [line.net.amount for line in order.lines]
    if total.is_zero() or sum(weights) <= 0:
        return [zero] * len(order.lines)
    return total.allocate([max(w, Decimal(0)) for w in weights])


def _sale_line(line: OrderLine, order_share: Money, product_id: int) -> dict[str, Any]:
    gross = line.gross
    taken = line.discount_total + order_share
    percent = Decimal(0)
    if not taken.is_zero() and not gross.is_zero():
        percent = (taken.amount / gross.amount * _HUNDRED).quantize(
            _PERCENT_QUANTUM, rounding=ROUND_HALF_UP
        )
    return {
        "product_id": product_id,
        "name": line.title or line.sku or line.line_id,
        "product_uom_qty": decimal_text(line.quantity),
        "price_unit": decimal_text(line.unit_price.amount),
        "discount": decimal_text(percent),
    }


def credit_note_values(
    document: Return,
    key: str,
    *,
    partner_id: int,
    products: Products,
    store: str | None,
    business_day: date,
) -> dict[str, Any]:
    """The `create` values of the customer credit note for a return, written under `key`."""
    lines = []
    for i, line in enumerate(document.lines):
        product = products.id_for(
            line.sku, line.gtin, "return", document.return_id, f"$.lines[{i}]"
        )
        lines += [[0, 0, values] for values in _refund_lines(line, product)]
    return {
        "move_type": "out_refund",
        "partner_id": partner_id,
        "ref": key,
        "invoice_origin": store or False,
        "invoice_date": business_day.isoformat(),
        "invoice_line_ids": lines,
    }


def _refund_lines(line: ReturnLine, product_id: int) -> list[dict[str, Any]]:
    """Quantity x unit price, plus a line of the cents that do not divide evenly."""
    refund, quantity = line.refund_amount, line.quantity
    unit = refund.minor_unit
    price = (refund.amount / quantity).quantize(unit, rounding=ROUND_DOWN)
    rest = refund.amount - (price * quantity).quantize(unit, rounding=ROUND_HALF_UP)
    name = line.sku or line.gtin or line.line_id
    lines = [
        {
            "product_id": product_id,
            "name": f"Return of {name}",
            "quantity": decimal_text(quantity),
            "price_unit": decimal_text(price),
        }
    ]
    if rest:
        lines.append(
            {
                "product_id": product_id,
                "name": f"Return of {name}: rounding",
                "quantity": "1",
                "price_unit": decimal_text(rest),
            }
        )
    return lines


def sale_order_posting(
    order: Mapping[str, Any], store_by_warehouse: Mapping[int, str], timezone: ZoneInfo
) -> Posting:
    """A sale order read with SALE_ORDER_FIELDS as a Posting."""
    record = OdooRecord("sale.order", order)
    warehouse = record.many2one("warehouse_id")
    return Posting(
        system=SYSTEM,
        external_id=record_ref("sale.order", record.id),
        key=record.required_text("client_order_ref"),
        amount=record.money("amount_total", record.currency()),
        location=None if warehouse is None else store_by_warehouse.get(warehouse[0]),
        business_day=record.moment("date_order").astimezone(timezone).date(),
        status=record.required_text("state"),
    )


def credit_note_posting(move: Mapping[str, Any]) -> Posting:
    """A credit note read with CREDIT_NOTE_FIELDS as a Posting."""
    record = OdooRecord("account.move", move)
    return Posting(
        system=SYSTEM,
        external_id=record_ref("account.move", record.id),
        key=record.required_text("ref"),
        amount=record.money("amount_total", record.currency()),
        location=record.text("invoice_origin"),
        business_day=record.day("invoice_date"),
        status=record.required_text("state"),
    )
