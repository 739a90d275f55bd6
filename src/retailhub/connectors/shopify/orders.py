"""A Shopify order (Admin REST resource or orders/* webhook body) as a canonical Order.

Decisions, so the order-to-cash flow gets what it needs:
- status: `cancelled_at` set, or the authorisation voided -> cancelled. `authorized` is
  completed: the card guarantees payment and Shopify captures on fulfilment, so the order must
  reach the ERP now or it would never ship. `pending`, `partially_paid` and `expired` (nothing,
  or not all of it, secured) -> pending, as is an order without a financial status. Paid and
  (partially) refunded orders are completed; refunds arrive as Returns.
- tenders: successful sales and captures, and authorisations not yet captured or voided.
- totals: `total_price` is the grand total, what the customer is charged. `subtotal_price`
  is authoritative for discounts on goods: line `discount_allocations` become line
  discounts, and whatever the subtotal takes off beyond them (older payloads with only
  `discount_codes`) becomes one order discount per code when the codes' amounts account for
  it. A code listed with nothing taken off is not a discount. A difference no code explains
  (Shopify's own sample lists three lines of 199.00 under a subtotal of 398.00) becomes one
  order discount saying so, logged, so the order adds up to what was charged.
- shipping is net of its own discounts; its tax is part of `total_tax`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retailhub.canonical.base import Channel, normalise_email
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderStatus,
    TaxLine,
    Totals,
)
from retailhub.connectors.shopify import ids
from retailhub.connectors.shopify.payload import SYSTEM, Reader
from retailhub.connectors.shopify.tenders import order_tenders

_STATUS_BY_FINANCIAL_STATUS = {
    "pending": OrderStatus.PENDING,
    "partially_paid": OrderStatus.PENDING,
    "expired": OrderStatus.PENDING,
    "authorized": OrderStatus.COMPLETED,
    "paid": OrderStatus.COMPLETED,
    "partially_refunded": OrderStatus.COMPLETED,
    "refunded": OrderStatus.COMPLETED,
    "voided": OrderStatus.CANCELLED,
}

_FIELDS_FED = {
    "$.totals.grand_total": "total_price",
    "$.totals.tax_total": "total_tax",
    "$.totals.discount_total": "total_discounts",
    "$.lines": "line_items",
    "$.tenders": "transactions",
    "$.order_discounts": "subtotal_price",
}
_LINE_FIELDS_FED = {"$.sku": "sku", "$.quantity": "quantity", "$.unit_price": "price"}


def order_to_canonical(
    order: Mapping[str, Any], *, location_code_by_id: Mapping[int, str] | None = None
) -> Order:
    """Map a Shopify order; MappingError names the order id and the field at fault."""
    doc = Reader.of("order", order)
    currency = doc.currency("currency")
    applications = list(doc.children("discount_applications"))
    lines = [_line(item, currency, applications) for item in doc.children("line_items")]
    if not lines:
        raise doc.fail("line_items", "an order needs at least one line item")
    gross = sum_money((line.gross for line in lines), currency)
    if doc.has("total_line_items_price") and doc.money("total_line_items_price", currency) != gross:
        doc.warn("total_line_items_price", f"differs from the sum of the line items {gross}")
    line_discounts = sum_money((line.discount_total for line in lines), currency)
    order_discounts = _order_discounts(doc, currency, gross, line_discounts)
    shipping = [_shipping(line, currency) for line in doc.children("shipping_lines")]
    customer = doc.child("customer") if doc.has("customer") else None
    return doc.build(
        Order,
        _FIELDS_FED,
        order_id=ids.order_id(doc.integer("id")),
        external_ids={SYSTEM: doc.resource_id},
        channel=order_channel(doc),
        location=ids.location_code(doc, "location_id", location_code_by_id)
        if doc.has("location_id")
        else None,
        customer_ids={SYSTEM: str(customer.integer("id"))} if customer else {},
        email=_email(doc),
        currency=currency,
        prices_include_tax=doc.flag("taxes_included", default=False),
        placed_at=doc.timestamp("processed_at" if doc.has("processed_at") else "created_at"),
        status=_status(doc),
        lines=lines,
        order_discounts=order_discounts,
        tenders=order_tenders(doc, currency),
        totals=Totals(
            discount_total=line_discounts
            + sum_money((d.amount for d in order_discounts), currency),
            tax_total=doc.money("total_tax", currency),
            shipping=sum_money(shipping, currency) if shipping else None,
            grand_total=doc.money("total_price", currency),
        ),
    )


def order_channel(order: Reader) -> Channel:
    """Shopify POS sales are store sales; every other source (web, draft orders, apps) is web."""
    return Channel.STORE if order.text("source_name") == "pos" else Channel.WEB


def _line(item: Reader, currency: str, applications: list[Reader]) -> OrderLine:
    sku = item.text("sku")
    if sku is None:
        raise item.fail("sku", "is missing: the hub identifies items by SKU")
    quantity = item.integer("quantity")
    unit_price = item.money("price", currency)
    return item.build(
        OrderLine,
        _LINE_FIELDS_FED,
        line_id=str(item.integer("id")),
        sku=sku,
        title=item.text("name") or item.text("title"),
        quantity=quantity,
        unit_price=unit_price,
        extended_amount=unit_price * quantity,
        discounts=_line_discounts(item, currency, applications),
        tax_lines=[_tax_line(tax, currency) for tax in item.children("tax_lines")],
    )


def _line_discounts(item: Reader, currency: str, applications: list[Reader]) -> list[Discount]:
    """Each allocation of a discount application to this line; `total_discount` for older payloads."""
    discounts = []
    for allocation in item.children("discount_allocations"):
        amount = allocation.money("amount", currency)
        if amount.is_zero():
            continue
        index = allocation.integer("discount_application_index")
        if not 0 <= index < len(applications):
            raise allocation.fail("discount_application_index", f"there is no application {index}")
        application = applications[index]
        discounts.append(
            Discount(
                amount=amount,
                code=application.text("code"),
                description=application.text("title") or application.text("description"),
            )
        )
    if not discounts and item.has("total_discount"):
        total = item.money("total_discount", currency)
        if not total.is_zero():
            discounts.append(Discount(amount=total))
    return discounts


def _tax_line(tax: Reader, currency: str) -> TaxLine:
    return TaxLine(
        name=tax.text("title") or "tax", rate=tax.rate("rate"), amount=tax.money("price", currency)
    )


def _order_discounts(
    doc: Reader, currency: str, gross: Money, line_discounts: Money
) -> list[Discount]:
    """What the order took off beyond the line allocations: one discount per code when the codes
    account for it, else one discount for the unexplained difference, logged."""
    if doc.has("subtotal_price"):
        field = "subtotal_price"
        residual = gross - line_discounts - doc.money(field, currency)
    elif doc.has("total_discounts"):
        field = "total_discounts"
        residual = doc.money(field, currency) - line_discounts
    else:
        return []
    if residual.amount < 0:
        raise doc.fail(field, f"leaves {-residual} more than the line items less their discounts")
    if residual.is_zero():
        return []
    codes = [c for c in doc.children("discount_codes") if c.text("type") != "shipping"]
    by_code = [Discount(amount=c.money("amount", currency), code=c.text("code")) for c in codes]
    if codes and sum_money((d.amount for d in by_code), currency) == residual:
        return by_code
    doc.warn(field, f"takes {residual} off the line items that no discount accounts for")
    return [Discount(amount=residual, description=f"difference between line items and {field}")]


def _shipping(line: Reader, currency: str) -> Money:
    if line.has("discounted_price"):
        return line.money("discounted_price", currency)
    allocations = (a.money("amount", currency) for a in line.children("discount_allocations"))
    return line.money("price", currency) - sum_money(allocations, currency)


def _status(doc: Reader) -> OrderStatus:
    if doc.has("cancelled_at"):
        return OrderStatus.CANCELLED
    financial_status = doc.text("financial_status")
    if financial_status is None:
        return OrderStatus.PENDING
    if financial_status not in _STATUS_BY_FINANCIAL_STATUS:
        raise doc.fail(
            "financial_status", f"{financial_status!r} is not a Shopify financial status"
        )
    return _STATUS_BY_FINANCIAL_STATUS[financial_status]


def _email(doc: Reader) -> str | None:
    raw = doc.text("email")
    if raw is None:
        return None
    try:
        return normalise_email(raw)
    except ValueError as error:
        doc.warn("email", str(error))
        return None
