"""A POSLog return (Return lines or negative quantities) -> canonical Return."""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, minor_unit
from retailhub.canonical.order import Tender
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.poslog.header import (
    document_id,
    ended_at,
    money,
    pos_reference,
    stated_tax_inclusion,
    stated_total,
    tender,
)
from retailhub.connectors.poslog.items import (
    item_gtin,
    item_sku,
    return_reason,
    unit_of_measure,
)
from retailhub.connectors.poslog.parser import FieldError
from retailhub.connectors.poslog.records import (
    ItemRecord,
    RetailTransactionRecord,
    TransactionLinkRecord,
)
from retailhub.connectors.poslog.sales import tax_line


def return_to_canonical(
    record: RetailTransactionRecord,
    items: list[ItemRecord],
    *,
    store_timezone: tzinfo,
    weight_unit: UnitOfMeasure | None,
) -> Return:
    """Map goods brought back to a store: the original sale from `TransactionLink`, the refund per
    line (tax included), the reason, and the refund tenders (`TypeCode="Refund"`)."""
    currency = record.currency
    store = pos_reference(record).store
    link = next((i.link for i in items if i.link is not None), _return_link(record))
    refunds = [_refund(item) for item in items]
    if not _tax_inclusive(record):
        refunds = _with_basket_tax(record, refunds, currency)
    lines = [
        ReturnLine(
            line_id=item.line_number,
            original_line_id=item.link.line if item.link else None,
            sku=item_sku(item),
            gtin=item_gtin(item),
            quantity=abs(item.quantity),
            unit_of_measure=unit_of_measure(item, currency, weight_unit),
            refund_amount=money(refund, currency),
            tax_lines=[
                tax_line(t, currency, f"LineItem[{item.line_number}]/Tax") for t in item.taxes
            ],
            reason=return_reason(item.reason or (link.reason if link else None)),
        )
        for item, refund in zip(items, refunds, strict=True)
    ]
    refund_total = sum(refunds, Decimal(0))
    grand = stated_total(record, "TransactionGrandAmount")
    if grand is not None and abs(abs(grand) - refund_total) > minor_unit(currency):
        raise FieldError(
            "Total[TransactionGrandAmount]",
            f"{grand} is not the refund of the returned lines {refund_total}",
        )
    refund_tenders = _refund_tenders(record)
    if record.cancelled:
        status = ReturnStatus.CANCELLED
    else:
        status = ReturnStatus.REFUNDED if refund_tenders else ReturnStatus.RECEIVED
    return Return(
        return_id=document_id(record.key),
        original_order_id=_original_order_id(link),
        initiated_channel=Channel.STORE,
        initiated_location=store,
        received_channel=Channel.STORE,
        received_location=store,
        customer_id=record.customer_id,
        loyalty_card=record.loyalty_card,
        currency=currency,
        lines=lines,
        refund_tenders=refund_tenders,
        refund_total=money(refund_total, currency),
        status=status,
        created_at=ended_at(record, store_timezone),
    )


def _return_link(record: RetailTransactionRecord) -> TransactionLinkRecord | None:
    """A transaction-level link names the original sale unless it links something else (Resume)."""
    link = record.link
    if link is None or (link.reason or "return").lower() not in {"return", "refund"}:
        return None
    return link


def _refund(item: ItemRecord) -> Decimal:
    """The line's refund: its amount (written positive or negative by vendors) less its discounts."""
    if item.extended_amount is None:
        raise FieldError(f"LineItem[{item.line_number}]/ExtendedAmount", "is missing")
    return abs(item.extended_amount) - sum((abs(m.amount) for m in item.modifiers), Decimal(0))


def _tax_inclusive(record: RetailTransactionRecord) -> bool:
    """As the file's flags say; without flags, sales tax shows as basket-level `Tax` lines."""
    stated = stated_tax_inclusion(record)
    return not record.taxes if stated is None else stated


def _with_basket_tax(
    record: RetailTransactionRecord, refunds: list[Decimal], currency: str
) -> list[Decimal]:
    """Sales-tax returns refund the tax too: spread the basket's tax over the lines to the cent."""
    tax = abs(stated_total(record, "TransactionTaxAmount") or Decimal(0))
    if not tax or not any(refunds):
        return refunds
    shares = Money(amount=tax, currency=currency).allocate(refunds)
    return [refund + share.amount for refund, share in zip(refunds, shares, strict=True)]


def _refund_tenders(record: RetailTransactionRecord) -> list[Tender]:
    tenders: list[Tender] = []
    for entry in record.tenders:
        if (entry.type_code or "").lower() != "refund" and entry.amount > 0:
            raise FieldError(
                f"LineItem[{entry.line_number}]/Tender",
                "a return takes a payment: only refund tenders belong to a return",
            )
        tenders.append(tender(entry, record.currency))
    return tenders


def _original_order_id(link: TransactionLinkRecord | None) -> str | None:
    """The order id of the linked sale, by the same scheme as every POS order id."""
    if link is None:
        return None
    return document_id(link.key, "TransactionLink/")
