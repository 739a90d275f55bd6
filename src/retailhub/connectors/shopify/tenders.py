"""Shopify transactions as tenders: what paid for an order, and what paid a refund out."""

from __future__ import annotations

from retailhub.canonical.order import Tender, TenderType
from retailhub.connectors.shopify.payload import Reader

_CARD_GATEWAYS = frozenset({"shopify_payments", "bogus"})
_GATEWAY_TENDERS = {"gift_card": TenderType.GIFT_CARD, "cash": TenderType.CASH}


def order_tenders(order: Reader, currency: str) -> list[Tender]:
    """Successful sales and captures, plus authorisations not yet captured or voided.

    An authorisation is the card's promise to pay; a capture against it (or a void) replaces it,
    so counting both would pay the order twice.
    """
    succeeded = [t for t in order.children("transactions") if _succeeded(t)]
    settled = {t.doc.get("parent_id") for t in succeeded if t.text("kind") in {"capture", "void"}}
    tenders = []
    for transaction in succeeded:
        kind = transaction.text("kind")
        pending_authorisation = kind == "authorization" and transaction.doc.get("id") not in settled
        if kind in {"sale", "capture"} or pending_authorisation:
            tenders.append(_tender(transaction, currency))
    return tenders


def refund_tenders(refund: Reader, currency: str) -> list[Tender]:
    """The successful refund transactions: the money actually paid back."""
    return [
        _tender(t, currency)
        for t in refund.children("transactions")
        if _succeeded(t) and t.text("kind") == "refund"
    ]


def _succeeded(transaction: Reader) -> bool:
    return transaction.text("status") in {None, "success"}


def _tender(transaction: Reader, currency: str) -> Tender:
    stated = transaction.text("currency")
    if stated is not None and stated.upper() != currency:
        raise transaction.fail("currency", f"is {stated} but the order is in {currency}")
    gateway = transaction.text("gateway") or ""
    details = transaction.doc.get("payment_details")
    card = details.get("credit_card_number") if isinstance(details, dict) else None
    if gateway in _GATEWAY_TENDERS:
        tender_type = _GATEWAY_TENDERS[gateway]
    elif card or gateway in _CARD_GATEWAYS:
        tender_type = TenderType.CARD
    else:
        tender_type = TenderType.OTHER
    return Tender(
        type=tender_type,
        amount=transaction.money("amount", currency),
        reference=card or transaction.text("authorization"),
    )
