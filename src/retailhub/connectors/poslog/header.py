"""What every mapped transaction shares: its receipt keys, its id, its time and its tenders."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from retailhub.canonical.money import Money, minor_unit
from retailhub.canonical.order import PosReference, Tender, TenderType
from retailhub.connectors.poslog.ids import PosDocumentKey, pos_document_id
from retailhub.connectors.poslog.parser import FieldError
from retailhub.connectors.poslog.records import PosKey, RetailTransactionRecord, TenderRecord

_TENDER_TYPES = {
    "cash": TenderType.CASH,
    "creditdebit": TenderType.CARD,
    "credit": TenderType.CARD,
    "debit": TenderType.CARD,
    "card": TenderType.CARD,
    "creditcard": TenderType.CARD,
    "debitcard": TenderType.CARD,
    "giftcard": TenderType.GIFT_CARD,
    "giftcertificate": TenderType.GIFT_CARD,
    "storedvalue": TenderType.GIFT_CARD,
    "loyaltypoints": TenderType.LOYALTY_POINTS,
    "loyaltyredemption": TenderType.LOYALTY_POINTS,
    "points": TenderType.LOYALTY_POINTS,
    "storecredit": TenderType.STORE_CREDIT,
    "creditnote": TenderType.STORE_CREDIT,
    "customeraccount": TenderType.STORE_CREDIT,
    "voucher": TenderType.VOUCHER,
    "coupon": TenderType.VOUCHER,
}


def document_key(key: PosKey, where: str = "") -> PosDocumentKey:
    """The receipt keys of a transaction (or of the one a link points to), all present and valid."""
    if key.store is None:
        raise FieldError(
            f"{where}RetailStoreID", "is missing (neither RetailStoreID nor BusinessUnit)"
        )
    if key.workstation is None:
        raise FieldError(f"{where}WorkstationID", "is missing")
    if key.sequence is None:
        raise FieldError(f"{where}SequenceNumber", "is missing")
    if key.business_day is None:
        raise FieldError(f"{where}BusinessDayDate", "is missing")
    try:
        business_day = date.fromisoformat(key.business_day[:10])
    except ValueError:
        raise FieldError(
            f"{where}BusinessDayDate", f"{key.business_day!r} is not a date (yyyy-mm-dd)"
        ) from None
    return PosDocumentKey(key.store, business_day, key.workstation, key.sequence)


def document_id(key: PosKey, where: str = "") -> str:
    """The deterministic id of the document for this transaction (see `ids.pos_document_id`)."""
    return pos_document_id(document_key(key, where))


def pos_reference(record: RetailTransactionRecord) -> PosReference:
    """Where the sale was rung up: store, workstation, sequence, business day and operator."""
    key = document_key(record.key)
    return PosReference(
        store=key.store,
        workstation=key.workstation,
        sequence=key.sequence,
        business_day=key.business_day,
        operator=record.operator,
    )


def checked_currency(record: RetailTransactionRecord) -> str:
    """The transaction's ISO 4217 currency, refused before any amount is built with it."""
    try:
        minor_unit(record.currency)
    except ValueError as error:
        raise FieldError("CurrencyCode", str(error)) from None
    return record.currency


def ended_at(record: RetailTransactionRecord, store_timezone: tzinfo) -> datetime:
    """When the transaction ended; a time without an offset is read in the store's time zone."""
    if record.ended_at is None:
        raise FieldError("EndDateTime", "is missing")
    try:
        moment = datetime.fromisoformat(record.ended_at)
    except ValueError:
        raise FieldError("EndDateTime", f"{record.ended_at!r} is not a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=store_timezone)


def money(amount: Decimal, currency: str) -> Money:
    """An amount in the transaction's currency."""
    return Money(amount=amount, currency=currency)


def tender(record: TenderRecord, currency: str) -> Tender:
    """One tender at its absolute value: cash, card, gift card, loyalty points, store credit, ..."""
    kind = _TENDER_TYPES.get(record.tender_type.replace(" ", "").lower(), TenderType.OTHER)
    if kind is TenderType.LOYALTY_POINTS and record.points is None:
        raise FieldError(
            f"LineItem[{record.line_number}]/Tender/LoyaltyRedemption/PointsRedeemed",
            "a loyalty points tender must say how many points were spent",
        )
    return Tender(
        type=kind,
        amount=money(abs(record.amount), currency),
        points=record.points if kind is TenderType.LOYALTY_POINTS else None,
        reference=record.reference,
    )


def stated_total(record: RetailTransactionRecord, total_type: str) -> Decimal | None:
    """A `Total` row by its TotalType, vendor prefix ignored."""
    return record.totals.get(total_type)


def stated_tax_inclusion(record: RetailTransactionRecord) -> bool | None:
    """True or False when a `TaxIncludedIn...` flag says whether prices include tax, else None."""
    flags = [t.included_in_price for t in record.taxes]
    for item in record.items:
        flags += [item.included_in_price, *(t.included_in_price for t in item.taxes)]
    stated = [flag for flag in flags if flag is not None]
    return any(stated) if stated else None
