"""The comparisons, free of I/O: the hub's record of a day against the ERPs' postings and the
members' loyalty ledgers, each disagreement a typed `Discrepancy`.

ERP: a completed sale needs an active sale order under its order id, a refunded return an active
credit note under the returns flow's key, each for the hub's amount; a cancelled order must not
be an active sale order; an active posting under a key the hub has no document for is reported.
Postings are matched by key across every ERP of the estate and across days (a till sale rung up
after midnight is dated by the till, the ERP dates it by the clock), so only a document no ERP
holds at all counts as missing.

Loyalty: a cancelled order keeps no points (its accrual rows sum to nothing); a refunded return
of an order that earned points has a reversal row of its own; a return that was not refunded
has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from retailhub.canonical.loyalty import LoyaltyTransaction, LoyaltyTransactionType
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderStatus
from retailhub.canonical.returns import ReturnStatus
from retailhub.connectors.ports import Posting
from retailhub.flows.reconciliation.discrepancies import Discrepancy, DiscrepancyKind
from retailhub.flows.reconciliation.ledger import DocumentKind, Recorded

CANCELLED_POSTING_STATES = frozenset({"cancel", "cancelled", "canceled", "void", "voided"})


@dataclass(frozen=True)
class ErpPosting:
    """A posting and the name of the ERP of the estate that holds it."""

    erp: str
    posting: Posting

    @property
    def active(self) -> bool:
        """False once the ERP cancelled the document."""
        return (self.posting.status or "").lower() not in CANCELLED_POSTING_STATES


def posting_key(row: Recorded, credit_note_key: Callable[[str], str]) -> str:
    """The key the document's ERP posting is written under."""
    if row.kind is DocumentKind.ORDER:
        return row.document_id
    return credit_note_key(row.document_id)


def amount_tolerance(row: Recorded, cent_per_discounted_line: bool) -> Money:
    """How far the ERP's amount may be from the hub's: nothing, or a minor unit per discounted
    line of an order when the ERP keeps discounts as rounded percentages."""
    zero = Money.zero(row.amount.currency)
    if not cent_per_discounted_line or not isinstance(row.document, Order):
        return zero
    order = row.document
    discounted = sum(1 for line in order.lines if line.discounts or order.order_discounts)
    return Money(amount=row.amount.minor_unit * discounted, currency=row.amount.currency)


def amounts_agree(expected: Money, found: Money | None, tolerance: Money) -> bool:
    """True when the ERP's amount is the hub's, in the same currency, within `tolerance`."""
    if found is None or found.currency != expected.currency:
        return False
    return abs(found - expected) <= tolerance


def _discrepancy(row: Recorded, kind: DiscrepancyKind, summary: str, **fields: Any) -> Discrepancy:
    return Discrepancy(
        kind=kind,
        key=row.document_id,
        store=row.store,
        business_day=row.business_day,
        summary=summary,
        document_id=row.document_id,
        **fields,
    )


def erp_discrepancies(
    rows: Sequence[Recorded],
    postings: Mapping[str, Sequence[ErpPosting]],
    day_postings: Sequence[ErpPosting],
    known_elsewhere: Iterable[str],
    *,
    day: date,
    credit_note_key: Callable[[str], str],
    cent_per_discounted_line: bool,
) -> list[Discrepancy]:
    """The ERP discrepancies of a day: `rows` the hub's documents of the day, `postings` every
    posting found for their keys (the day's, and others found by key), `day_postings` the ERPs'
    postings of the day in scope and `known_elsewhere` the keys of those postings whose document
    the hub recorded on another day or at another store."""
    found: list[Discrepancy] = []
    expected_keys: set[str] = set()
    for row in rows:
        key = posting_key(row, credit_note_key)
        expected_keys.add(key)
        active = [p for p in postings.get(key, ()) if p.active]
        if row.kind is DocumentKind.ORDER:
            found += _order_postings(row, active, cent_per_discounted_line)
        elif row.status == ReturnStatus.REFUNDED.value:
            found += _refund_postings(row, key, active)
    others = set(known_elsewhere)
    for one in day_postings:
        key = one.posting.key
        if not one.active or key in expected_keys or key in others:
            continue
        amount = one.posting.amount
        found.append(
            Discrepancy(
                DiscrepancyKind.POSTING_WITHOUT_ORDER,
                f"{one.erp}:{key}",
                one.posting.location or "?",
                one.posting.business_day or day,
                f"{one.erp} holds {one.posting.external_id} under key {key}, which no order or"
                " return the hub recorded has",
                erp=one.erp,
                posting_id=one.posting.external_id,
                found=None if amount is None else str(amount),
            )
        )
    return found


def _order_postings(
    row: Recorded, active: Sequence[ErpPosting], cent_per_discounted_line: bool
) -> list[Discrepancy]:
    if row.status == OrderStatus.CANCELLED.value:
        return [
            _discrepancy(
                row,
                DiscrepancyKind.POSTING_FOR_CANCELLED_ORDER,
                f"order {row.document_id} was cancelled but {p.erp} still holds sale order"
                f" {p.posting.external_id} ({p.posting.status})",
                erp=p.erp,
                posting_id=p.posting.external_id,
                found=None if p.posting.amount is None else str(p.posting.amount),
            )
            for p in active
        ]
    if row.status != OrderStatus.COMPLETED.value:
        return []
    if not active:
        return [
            _discrepancy(
                row,
                DiscrepancyKind.ORDER_WITHOUT_POSTING,
                f"completed order {row.document_id} ({row.amount}) is in no ERP",
                expected=str(row.amount),
            )
        ]
    return _amounts(row, active, amount_tolerance(row, cent_per_discounted_line))


def _refund_postings(row: Recorded, key: str, active: Sequence[ErpPosting]) -> list[Discrepancy]:
    if not active:
        return [
            _discrepancy(
                row,
                DiscrepancyKind.REFUND_WITHOUT_CREDIT_NOTE,
                f"refunded return {row.document_id} ({row.amount}) has no credit note under"
                f" key {key} in any ERP",
                expected=str(row.amount),
            )
        ]
    return _amounts(row, active, Money.zero(row.amount.currency))


def _amounts(row: Recorded, active: Sequence[ErpPosting], tolerance: Money) -> list[Discrepancy]:
    return [
        _discrepancy(
            row,
            DiscrepancyKind.AMOUNT_MISMATCH,
            f"{row.kind.value} {row.document_id}: the hub recorded {row.amount}, {p.erp}"
            f" {p.posting.external_id} holds {p.posting.amount or 'no amount'}",
            erp=p.erp,
            posting_id=p.posting.external_id,
            expected=str(row.amount),
            found=None if p.posting.amount is None else str(p.posting.amount),
        )
        for p in active
        if not amounts_agree(row.amount, p.posting.amount, tolerance)
    ]


def order_points(ledger: Sequence[LoyaltyTransaction], order_id: str) -> int:
    """What an order still credits the member: its accruals less reversals naming the order."""
    return sum(
        row.points
        for row in ledger
        if row.order_id == order_id and row.type is not LoyaltyTransactionType.REDEMPTION
    )


def return_reversals(
    ledger: Sequence[LoyaltyTransaction], return_id: str
) -> list[LoyaltyTransaction]:
    """The reversal rows the loyalty platform wrote for a return."""
    return [
        row
        for row in ledger
        if row.return_id == return_id and row.type is LoyaltyTransactionType.REVERSAL
    ]


def loyalty_discrepancies(
    rows: Sequence[Recorded],
    members: Mapping[str, str],
    ledgers: Mapping[str, Sequence[LoyaltyTransaction]],
) -> list[Discrepancy]:
    """The loyalty discrepancies of a day: `members` maps a document id to its member's id (a
    return's to the member of its order), `ledgers` each member's ledger."""
    found: list[Discrepancy] = []
    for row in rows:
        member = members.get(row.document_id)
        if member is None:
            continue
        ledger = ledgers.get(member, ())
        if row.kind is DocumentKind.ORDER:
            if row.status != OrderStatus.CANCELLED.value:
                continue
            kept = order_points(ledger, row.document_id)
            if kept > 0:
                accruals = [
                    r.transaction_id
                    for r in ledger
                    if r.order_id == row.document_id and r.type is LoyaltyTransactionType.ACCRUAL
                ]
                found.append(
                    _discrepancy(
                        row,
                        DiscrepancyKind.POINTS_ON_CANCELLED_ORDER,
                        f"cancelled order {row.document_id} still credits member {member}"
                        f" {kept} points",
                        member_id=member,
                        points=kept,
                        expected="0 points",
                        found=f"{kept} points",
                        transfers=tuple(accruals),
                    )
                )
            continue
        found += _return_points(row, member, ledger)
    return found


def _return_points(
    row: Recorded, member: str, ledger: Sequence[LoyaltyTransaction]
) -> list[Discrepancy]:
    reversals = return_reversals(ledger, row.document_id)
    taken = -sum(r.points for r in reversals)
    if row.status == ReturnStatus.REFUNDED.value:
        earned = order_points(ledger, row.original_order_id) if row.original_order_id else 0
        if earned > 0 and not reversals:
            return [
                _discrepancy(
                    row,
                    DiscrepancyKind.REFUND_WITHOUT_POINTS_REVERSAL,
                    f"return {row.document_id} was refunded but the {earned} points order"
                    f" {row.original_order_id} earned were not reversed for it",
                    member_id=member,
                    points=earned,
                    expected="a points reversal",
                    found="none",
                )
            ]
        return []
    if reversals:
        return [
            _discrepancy(
                row,
                DiscrepancyKind.POINTS_REVERSAL_WITHOUT_REFUND,
                f"{taken} points were reversed for return {row.document_id}, which is"
                f" {row.status}, not refunded",
                member_id=member,
                points=taken,
                expected="no reversal",
                found=f"{taken} points reversed",
                transfers=tuple(r.transaction_id for r in reversals),
            )
        ]
    return []
