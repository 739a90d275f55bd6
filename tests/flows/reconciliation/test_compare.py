"""The comparisons without I/O: amounts (exact, currency aware, a cent per discounted line),
what an order books in the ERP, keys across days, and the loyalty checks on ledger rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import LoyaltyTransaction, LoyaltyTransactionType
from retailhub.canonical.money import Money
from retailhub.canonical.order import Discount, Order, OrderLine, Tender, TenderType, Totals
from retailhub.connectors.ports import Posting
from retailhub.flows.reconciliation.compare import (
    ErpPosting,
    amount_tolerance,
    amounts_agree,
    erp_discrepancies,
    loyalty_discrepancies,
)
from retailhub.flows.reconciliation.discrepancies import Discrepancy, DiscrepancyKind
from retailhub.flows.reconciliation.ledger import DocumentKind, Recorded, erp_amount
from retailhub.flows.reconciliation.settings import (
    return_of_saga_credit_note,
    saga_credit_note_key,
)

DAY = date(2026, 12, 1)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def order(order_id: str, *, discount: str | None = None, rounding: str | None = None) -> Order:
    discounts = [Discount(amount=eur(discount))] if discount else []
    net = eur("10.00") - (eur(discount) if discount else eur("0"))
    total = net + (eur(rounding) if rounding else eur("0"))
    return Order(
        order_id=order_id,
        channel=Channel.STORE,
        location="AMS01",
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime(2026, 12, 1, 12, tzinfo=UTC),
        lines=[
            OrderLine(
                line_id="1",
                sku="SKU-1",
                quantity=Decimal(1),
                unit_price=eur("10.00"),
                discounts=discounts,
            )
        ],
        tenders=[Tender(type=TenderType.CASH, amount=total)],
        totals=Totals(
            tax_total=eur("0"),
            grand_total=total,
            rounding=eur(rounding) if rounding else None,
        ),
    )


def row(document: Order, status: str = "completed") -> Recorded:
    return Recorded(
        DocumentKind.ORDER,
        document.order_id,
        "AMS01",
        DAY,
        status,
        erp_amount(document),
        document,
        1,
    )


def posting(key: str, amount: Money | None, status: str = "sale") -> ErpPosting:
    return ErpPosting(
        "odoo",
        Posting("odoo", f"sale.order,{key}", key, amount, "AMS01", DAY, status),
    )


def compare(rows: list[Recorded], postings: list[ErpPosting]) -> list[Discrepancy]:
    by_key: dict[str, list[ErpPosting]] = {}
    for one in postings:
        by_key.setdefault(one.posting.key, []).append(one)
    return erp_discrepancies(
        rows,
        by_key,
        postings,
        (),
        day=DAY,
        credit_note_key=saga_credit_note_key,
        cent_per_discounted_line=True,
    )


def test_amounts_compare_exactly_and_never_across_currencies() -> None:
    assert amounts_agree(eur("9.99"), eur("9.99"), eur("0"))
    assert not amounts_agree(eur("9.99"), eur("9.98"), eur("0"))
    assert not amounts_agree(eur("9.99"), Money.of("9.99", "USD"), eur("0.05"))
    assert not amounts_agree(eur("9.99"), None, eur("0.05"))


def test_a_discounted_line_may_be_a_cent_away_and_no_more() -> None:
    discounted = row(order("O-1", discount="3.33"))
    assert amount_tolerance(discounted, True) == eur("0.01")
    assert amount_tolerance(discounted, False) == eur("0")
    assert amount_tolerance(row(order("O-2")), True) == eur("0")
    assert compare([discounted], [posting("O-1", eur("6.68"))]) == []
    [mismatch] = compare([discounted], [posting("O-1", eur("6.69"))])
    assert mismatch.kind is DiscrepancyKind.AMOUNT_MISMATCH
    assert mismatch.expected == "6.67 EUR"
    assert mismatch.found == "6.69 EUR"


def test_the_erp_books_an_order_without_the_tills_cash_rounding() -> None:
    rounded = order("O-3", rounding="0.02")
    assert rounded.totals.grand_total == eur("10.02")
    assert erp_amount(rounded) == eur("10.00")
    assert compare([row(rounded)], [posting("O-3", eur("10.00"))]) == []


def test_postings_and_orders_are_matched_by_key() -> None:
    sold, gone = order("O-4"), order("O-5")
    found = compare(
        [row(sold), row(gone, status="cancelled")],
        [
            posting("O-5", eur("10.00")),
            posting("O-6", eur("1.00")),
            posting("O-7", eur("2.00"), status="cancel"),
        ],
    )
    assert [(d.kind, d.key) for d in found] == [
        (DiscrepancyKind.ORDER_WITHOUT_POSTING, "O-4"),
        (DiscrepancyKind.POSTING_FOR_CANCELLED_ORDER, "O-5"),
        (DiscrepancyKind.POSTING_WITHOUT_ORDER, "odoo:O-6"),
    ]
    assert compare([row(gone, status="cancelled")], [posting("O-5", eur("10"), "cancel")]) == []


def test_credit_note_keys_are_the_return_sagas_and_read_back() -> None:
    key = saga_credit_note_key("RET-1")
    assert key == "return_to_refund:RET-1:erp"
    assert return_of_saga_credit_note(key) == "RET-1"
    assert return_of_saga_credit_note("O-1") is None
    assert return_of_saga_credit_note("return_to_refund::erp") is None


def ledger_row(
    n: int, kind: LoyaltyTransactionType, points: int, **refs: str
) -> LoyaltyTransaction:
    return LoyaltyTransaction(
        transaction_id=f"T-{n}",
        member_id="M-1",
        type=kind,
        points=points,
        occurred_at=datetime(2026, 12, 1, 13, tzinfo=UTC),
        **refs,
    )


def test_a_cancelled_order_keeps_no_points() -> None:
    gone = row(order("O-8"), status="cancelled")
    accrued = [ledger_row(1, LoyaltyTransactionType.ACCRUAL, 10, order_id="O-8")]
    [kept] = loyalty_discrepancies([gone], {"O-8": "M-1"}, {"M-1": accrued})
    assert kept.kind is DiscrepancyKind.POINTS_ON_CANCELLED_ORDER
    assert kept.points == 10
    assert kept.transfers == ("T-1",)
    reversed_ = [*accrued, ledger_row(2, LoyaltyTransactionType.REVERSAL, -10, order_id="O-8")]
    assert loyalty_discrepancies([gone], {"O-8": "M-1"}, {"M-1": reversed_}) == []
    assert loyalty_discrepancies([gone], {}, {"M-1": accrued}) == []


def test_a_discrepancy_survives_its_json() -> None:
    [found] = compare([row(order("O-9"))], [])
    assert Discrepancy.from_json(found.to_json()) == found
    assert found.to_json()["repair"] == "redrive_erp_posting"
    assert found.to_json()["needs_operator"] is False
