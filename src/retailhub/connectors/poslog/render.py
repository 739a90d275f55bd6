"""Canonical Orders and Returns -> ARTS POSLog 6.0, in the standard namespace and element names.

What a store system expects to import: `RetailStoreID`, `ItemID` with a GTIN `POSIdentity`,
`RetailPriceModifier` and `Discount` lines for promotions, `Tax` with the inclusion flag,
tenders with `TenderChange`, `Return` lines with a `TransactionLink` to the original sale,
and `Total` rows. Reading the output with `poslog_to_canonical` gives the same documents back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, SubElement

from retailhub.canonical.order import Discount, Order, OrderLine, OrderStatus, TaxLine, Tender
from retailhub.canonical.order import TenderType as CanonicalTender
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.poslog.ids import PosDocumentKey, parse_pos_document_id

ARTS_NAMESPACE = "http://www.nrf-arts.org/IXRetail/namespace/"

_UNIT_CODES = {
    UnitOfMeasure.EACH: "EA",
    UnitOfMeasure.KG: "KGM",
    UnitOfMeasure.G: "GRM",
    UnitOfMeasure.L: "LTR",
    UnitOfMeasure.M: "MTR",
    UnitOfMeasure.LB: "LBR",
}
_TENDER_TYPES = {
    CanonicalTender.CASH: "Cash",
    CanonicalTender.CARD: "CreditDebit",
    CanonicalTender.GIFT_CARD: "GiftCard",
    CanonicalTender.LOYALTY_POINTS: "LoyaltyRedemption",
    CanonicalTender.STORE_CREDIT: "StoreCredit",
    CanonicalTender.VOUCHER: "Voucher",
    CanonicalTender.OTHER: "Other",
}
_REFERENCE_PATHS = {
    CanonicalTender.GIFT_CARD: ("GiftCard", "CardNumber"),
    CanonicalTender.STORE_CREDIT: ("CreditNote", "SerialNumber"),
    CanonicalTender.VOUCHER: ("Voucher", "SerialNumber"),
}


def canonical_to_poslog(documents: Iterable[Order | Return]) -> bytes:
    """Write store Orders and Returns as one POSLog file, one `Transaction` each, in the given order.

    Raises ValueError for an order that has no POS reference: only store sales are POSLog.
    """
    # Tags stay unqualified under a default namespace declaration: ElementTree's own namespace
    # handling refuses unqualified attributes (TenderType, TypeCode) next to a default namespace.
    root = Element(
        "POSLog",
        {"xmlns": ARTS_NAMESPACE, "MajorVersion": "6", "MinorVersion": "0", "FixVersion": "0"},
    )
    for document in documents:
        if isinstance(document, Order):
            root.append(_order_transaction(document))
        else:
            root.append(_return_transaction(document))
    ElementTree.indent(root)
    written: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return written


def _order_transaction(order: Order) -> Element:
    if order.pos is None:
        raise ValueError(f"order {order.order_id} has no POS reference: it is not a store sale")
    pos = order.pos
    key = PosDocumentKey(pos.store, pos.business_day, pos.workstation, pos.sequence)
    transaction = _header(key, pos.operator, order.placed_at, order.currency)
    body = _sub(
        transaction,
        "RetailTransaction",
        TransactionStatus="Canceled" if order.status is OrderStatus.CANCELLED else "Finished",
    )
    for line in order.lines:
        _sale_line(body, line, order.prices_include_tax)
    numbers = _line_numbers([line.line_id for line in order.lines])
    for discount in order.order_discounts:
        _modifier(_sub(_line_item(body, next(numbers)), "Discount"), discount)
    tenders = [_tender(body, next(numbers), t, "Sale") for t in order.tenders]
    if order.change_given is not None and tenders:
        cash = [e for e, t in zip(tenders, order.tenders, strict=True) if t.type == "cash"]
        _amount(_sub((cash or tenders)[-1], "TenderChange"), "Amount", order.change_given.amount)
    rounding = order.totals.rounding.amount if order.totals.rounding else Decimal(0)
    _total(body, "TransactionGrandAmount", order.totals.grand_total.amount - rounding)
    _total(body, "TransactionTaxAmount", order.totals.tax_total.amount)
    if rounding:
        _total(body, "TransactionRoundingAmount", rounding)
    _customer(body, order.customer_ids.get("pos") or order.customer_id, order.loyalty_card)
    return transaction


def _return_transaction(document: Return) -> Element:
    key = parse_pos_document_id(document.return_id)
    if key is None:
        store = document.received_location or document.initiated_location
        if store is None:
            raise ValueError(f"return {document.return_id} names no store")
        key = PosDocumentKey(store, document.created_at.date(), "0", document.return_id)
    transaction = _header(key, None, document.created_at, document.currency)
    cancelled = document.status is ReturnStatus.CANCELLED
    body = _sub(
        transaction, "RetailTransaction", TransactionStatus="Canceled" if cancelled else "Finished"
    )
    original = parse_pos_document_id(document.original_order_id or "")
    for line in document.lines:
        _return_line(body, line, original)
    numbers = _line_numbers([line.line_id for line in document.lines])
    for refund in document.refund_tenders:
        _tender(body, next(numbers), refund, "Refund")
    _total(body, "TransactionGrandAmount", -document.refund_total.amount)
    _customer(body, document.customer_id, document.loyalty_card)
    return transaction


def _header(key: PosDocumentKey, operator: str | None, ended: datetime, currency: str) -> Element:
    transaction = Element("Transaction")
    _sub(transaction, "RetailStoreID", key.store)
    _sub(transaction, "WorkstationID", key.workstation)
    _sub(transaction, "SequenceNumber", key.sequence)
    _sub(transaction, "BusinessDayDate", key.business_day.isoformat())
    _sub(transaction, "EndDateTime", ended.isoformat())
    if operator is not None:
        _sub(transaction, "OperatorID", operator)
    _sub(transaction, "CurrencyCode", currency)
    return transaction


def _sale_line(body: Element, line: OrderLine, prices_include_tax: bool) -> None:
    sale = _sub(_line_item(body, line.line_id), "Sale", ItemType="Stock")
    _item(sale, line.sku, line.gtin)
    if line.title is not None:
        _sub(sale, "Description", line.title)
    _amount(sale, "RegularSalesUnitPrice", line.unit_price.amount)
    _amount(sale, "ExtendedAmount", line.gross.amount)
    _quantity(sale, line.quantity, line.unit_of_measure)
    for discount in line.discounts:
        _modifier(_sub(sale, "RetailPriceModifier"), discount)
    for tax in line.tax_lines:
        _tax(sale, tax, prices_include_tax)
    _sub(sale, "TaxIncludedInPriceFlag", "true" if prices_include_tax else "false")


def _return_line(body: Element, line: ReturnLine, original: PosDocumentKey | None) -> None:
    item = _sub(_line_item(body, line.line_id), "Return", ItemType="Stock")
    _item(item, line.sku, line.gtin)
    _amount(item, "ExtendedAmount", line.refund_amount.amount)
    _quantity(item, line.quantity, line.unit_of_measure)
    for tax in line.tax_lines:
        _tax(item, tax, True)
    _sub(item, "TaxIncludedInPriceFlag", "true")
    if original is not None:
        link = _sub(item, "TransactionLink", ReasonCode="Return")
        _sub(link, "RetailStoreID", original.store)
        _sub(link, "WorkstationID", original.workstation)
        _sub(link, "SequenceNumber", original.sequence)
        _sub(link, "BusinessDayDate", original.business_day.isoformat())
        if line.original_line_id is not None:
            _sub(link, "LineItemSequenceNumber", line.original_line_id)
    _sub(item, "Reason", line.reason.value)


def _item(element: Element, sku: str | None, gtin: str | None) -> None:
    if gtin is not None:
        identity = _sub(element, "POSIdentity", POSIDType="GTIN")
        _sub(identity, "POSItemID", gtin)
    if sku is not None:
        _sub(element, "ItemID", sku)


def _quantity(element: Element, quantity: Decimal, unit: UnitOfMeasure) -> None:
    _sub(element, "Quantity", format(quantity, "f"), UnitOfMeasureCode=_UNIT_CODES[unit])


def _modifier(element: Element, discount: Discount) -> None:
    _amount(element, "Amount", discount.amount.amount).set("Action", "Subtract")
    if discount.promotion_id is not None:
        _sub(element, "PromotionID", discount.promotion_id)
    if discount.description is not None:
        _sub(element, "Description", discount.description)


def _tax(element: Element, tax: TaxLine, included: bool) -> None:
    entry = _sub(element, "Tax", TaxType="VAT" if included else "SalesTax")
    _sub(entry, "TaxAuthority", tax.name)
    _amount(entry, "Amount", tax.amount.amount)
    _sub(entry, "Percent", format(tax.rate * 100, "f"))


def _tender(body: Element, number: str, tender: Tender, type_code: str) -> Element:
    element = _sub(
        _line_item(body, number),
        "Tender",
        TenderType=_TENDER_TYPES[tender.type],
        TypeCode=type_code,
    )
    _amount(element, "Amount", tender.amount.amount)
    if tender.points is not None:
        _sub(_sub(element, "LoyaltyRedemption"), "PointsRedeemed", str(tender.points))
    if tender.reference is not None:
        outer, inner = _REFERENCE_PATHS.get(tender.type, ("Authorization", "AuthorizationCode"))
        _sub(_sub(element, outer), inner, tender.reference)
    return element


def _customer(body: Element, customer_id: str | None, loyalty_card: str | None) -> None:
    if customer_id is not None:
        _sub(_sub(body, "Customer"), "CustomerID", customer_id)
    if loyalty_card is not None:
        card = _sub(_sub(body, "LoyaltyAccount"), "LoyaltyCard")
        _sub(card, "PrimaryAccountNumber", loyalty_card)


def _line_numbers(line_ids: list[str]) -> Iterator[str]:
    """Sequence numbers for the non-item line items, after the highest numeric item line id."""
    start = max((int(i) for i in line_ids if i.isdigit()), default=0) + 1
    return (str(n) for n in range(start, start + 10_000))


def _line_item(body: Element, number: str) -> Element:
    line = _sub(body, "LineItem")
    _sub(line, "SequenceNumber", number)
    return line


def _total(body: Element, total_type: str, amount: Decimal) -> None:
    _sub(body, "Total", format(amount, "f"), TotalType=total_type)


def _amount(parent: Element, name: str, amount: Decimal) -> Element:
    return _sub(parent, name, format(amount, "f"))


def _sub(parent: Element, name: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, name, attributes)
    element.text = text
    return element
