"""A Shopify refund (Admin REST resource or refunds/create webhook body) as a canonical Return.

Decisions:
- The refund total is the money actually paid back: the successful `refund` transactions.
  Shopify balances line values against that money with `order_adjustments` (shipping
  refunds, restocking fees, discrepancies) that the canonical Return has no place for, so the
  paid-back money is spread across the lines in proportion to their value; when nothing was
  paid out, each line keeps its own value. Lines are worth Shopify's `subtotal` and
  `total_tax` when given, else the sold line's price, discount and tax for the quantity back.
- A refund is a done thing in Shopify: `refunded` when money moved, else `received`; both
  were handled in the channel of the original order (web unless sold through Shopify POS).
- `restock_type` `no_restock` (or the legacy `restock: false`) means the goods do not go back
  on the shelf.
- Pass the original order for tax-inclusive (EU) shops and for refund lines that omit their
  `line_item`; without it, tax is taken to be on top of prices (this moves value between
  lines, never the total paid back).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import TaxLine
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify import ids
from retailhub.connectors.shopify.orders import order_channel
from retailhub.connectors.shopify.payload import SYSTEM, Reader
from retailhub.connectors.shopify.tenders import refund_tenders

_FIELDS_FED = {
    "$.lines": "refund_line_items",
    "$.refund_tenders": "transactions",
    "$.refund_total": "transactions",
}


def refund_to_canonical(
    refund: Mapping[str, Any],
    order: Mapping[str, Any] | None = None,
    *,
    location_code_by_id: Mapping[int, str] | None = None,
) -> Return:
    """Map a Shopify refund, with its order when at hand; MappingError names refund id and field."""
    doc = Reader.of("refund", refund)
    shopify_order_id = doc.integer("order_id")
    sold = Reader.of("order", order) if order is not None else None
    if sold is not None and sold.integer("id") != shopify_order_id:
        raise doc.fail("order_id", f"is not the order given ({sold.resource_id})")
    currency = _currency(doc, sold)
    taxes_included = sold.flag("taxes_included", default=False) if sold else False
    sold_lines = (
        {str(item.doc.get("id")): item for item in sold.children("line_items")} if sold else {}
    )
    refund_lines = list(doc.children("refund_line_items"))
    if not refund_lines:
        raise doc.fail(
            "refund_line_items", "a refund of money alone, with no goods, is not a return"
        )
    items = [_sold_line(line, sold_lines) for line in refund_lines]
    values = [
        _value(line, item, currency, taxes_included)
        for line, item in zip(refund_lines, items, strict=True)
    ]
    tenders = refund_tenders(doc, currency)
    worth = sum_money((value for value, _ in values), currency)
    refund_total = sum_money((t.amount for t in tenders), currency) if tenders else worth
    if refund_total != worth:
        doc.warn(
            "transactions", f"pay back {refund_total} for lines worth {worth}: spread by value"
        )
    amounts = _spread(refund_total, values, refund_lines)
    restocked = doc.flag("restock", default=False)
    lines = [
        _return_line(line, item, amount, tax_lines, restocked=restocked)
        for line, item, amount, (_, tax_lines) in zip(
            refund_lines, items, amounts, values, strict=True
        )
    ]
    channel = order_channel(sold) if sold else Channel.WEB
    located = [line for line in refund_lines if line.has("location_id")]
    return doc.build(
        Return,
        _FIELDS_FED,
        return_id=ids.return_id(doc.integer("id")),
        external_ids={SYSTEM: doc.resource_id},
        original_order_id=ids.order_id(shopify_order_id),
        initiated_channel=channel,
        received_channel=channel,
        received_location=ids.location_code(located[0], "location_id", location_code_by_id)
        if located
        else None,
        currency=currency,
        lines=lines,
        refund_tenders=tenders,
        refund_total=refund_total,
        status=ReturnStatus.REFUNDED if tenders else ReturnStatus.RECEIVED,
        created_at=doc.timestamp("processed_at" if doc.has("processed_at") else "created_at"),
    )


def refund_from_canonical(
    document: Return,
    note: str,
    *,
    parent_transaction: Mapping[str, Any] | None = None,
    location_id: int | None = None,
) -> dict[str, Any]:
    """The refund resource to send in `{"refund": ...}` for a canonical return of a Shopify order.

    Lines name the order's line items by their Shopify ids (`original_line_id`); restocked
    lines go back to `location_id` when given. Money goes back through the sale's gateway as a
    refund of `parent_transaction` (the order's successful sale or capture); without one the
    refund records goods only. `note` carries the hub's idempotency key, so a repeat can find
    the refund already made.
    """

    def refuse(path: str, reason: str) -> MappingError:
        return MappingError("return", document.return_id, path, reason)

    lines = []
    for i, line in enumerate(document.lines):
        if line.original_line_id is None or not line.original_line_id.isdigit():
            raise refuse(f"$.lines[{i}].original_line_id", "is not a Shopify line item id")
        if line.quantity != line.quantity.to_integral_value():
            raise refuse(f"$.lines[{i}].quantity", "Shopify refunds whole units")
        body: dict[str, Any] = {
            "line_item_id": int(line.original_line_id),
            "quantity": int(line.quantity),
            "restock_type": "return" if line.restock else "no_restock",
        }
        if line.restock and location_id is not None:
            body["location_id"] = location_id
        lines.append(body)
    refund: dict[str, Any] = {"note": note, "notify": False, "refund_line_items": lines}
    if parent_transaction is not None and not document.refund_total.is_zero():
        refund["transactions"] = [
            {
                "parent_id": parent_transaction["id"],
                "amount": format(document.refund_total.amount, "f"),
                "kind": "refund",
                "gateway": parent_transaction.get("gateway"),
            }
        ]
    return refund


def _currency(doc: Reader, sold: Reader | None) -> str:
    """The order's currency; without the order, the currency the refund's own amounts state."""
    if sold is not None:
        return sold.currency("currency")
    for transaction in doc.children("transactions"):
        if transaction.has("currency"):
            return transaction.currency("currency")
    for line in doc.children("refund_line_items"):
        if line.has("subtotal_set"):
            return line.child("subtotal_set").child("shop_money").currency("currency_code")
    raise doc.fail("transactions", "no amount states a currency: pass the original order")


def _sold_line(line: Reader, sold_lines: Mapping[str, Reader]) -> Reader:
    """The order line being returned: embedded in the refund line, or looked up in the order."""
    if line.has("line_item"):
        return line.child("line_item")
    sold = sold_lines.get(str(line.doc.get("line_item_id")))
    if sold is None:
        raise line.fail("line_item", "is missing and no order line has its line_item_id")
    return sold


def _value(
    line: Reader, item: Reader, currency: str, taxes_included: bool
) -> tuple[Money, list[TaxLine]]:
    """What the returned quantity is worth, tax included, and the tax in it."""
    bought = item.integer("quantity")
    if bought <= 0:
        raise item.fail("quantity", "a sold line must have a positive quantity")
    returned = line.integer("quantity")
    if returned <= 0:
        raise line.fail("quantity", "a returned quantity must be positive")
    share = Decimal(returned) / bought
    tax_lines = [
        TaxLine(
            name=tax.text("title") or "tax",
            rate=tax.rate("rate"),
            amount=(tax.money("price", currency) * share).rounded(),
        )
        for tax in item.children("tax_lines")
    ]
    if line.has("subtotal"):
        tax = line.money("total_tax", currency) if line.has("total_tax") else Money.zero(currency)
        value = line.money("subtotal", currency)
        return (value if taxes_included else value + tax), tax_lines
    sold_for = item.money("price", currency) * bought - _discount(item, currency)
    value = (sold_for * share).rounded()
    if not taxes_included:
        value += sum_money((t.amount for t in tax_lines), currency)
    return value, tax_lines


def _discount(item: Reader, currency: str) -> Money:
    allocations = [a.money("amount", currency) for a in item.children("discount_allocations")]
    if allocations:
        return sum_money(allocations, currency)
    if item.has("total_discount"):
        return item.money("total_discount", currency)
    return Money.zero(currency)


def _spread(
    total: Money, values: list[tuple[Money, list[TaxLine]]], lines: list[Reader]
) -> list[Money]:
    """The refund total split over the lines by value (by quantity when no line has a value)."""
    weights = [value.amount for value, _ in values]
    if any(w < 0 for w in weights):
        at = next(i for i, w in enumerate(weights) if w < 0)
        raise lines[at].fail(None, "the line is worth less than nothing")
    if not any(weights):
        weights = [Decimal(line.integer("quantity")) for line in lines]
    return total.allocate(weights)


def _return_line(
    line: Reader, item: Reader, amount: Money, tax_lines: list[TaxLine], *, restocked: bool
) -> ReturnLine:
    """One returned line; the legacy refund-wide `restock` applies when the line has no type."""
    restock_type = line.text("restock_type")
    return line.build(
        ReturnLine,
        {"$.sku": "line_item.sku", "$.quantity": "quantity"},
        line_id=str(line.integer("id")),
        original_line_id=str(item.integer("id")),
        sku=_sku(item),
        quantity=line.integer("quantity"),
        refund_amount=amount,
        tax_lines=tax_lines,
        restock=restock_type != "no_restock" if restock_type else restocked,
    )


def _sku(item: Reader) -> str:
    sku = item.text("sku")
    if sku is None:
        raise item.fail("sku", "is missing: the hub identifies items by SKU")
    return sku
