"""Plain records of what a POSLog transaction says, read namespace-free and before any retail rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True)
class PosKey:
    """The keys a store auditor uses to find a receipt, as the POS wrote them."""

    store: str | None
    workstation: str | None
    sequence: str | None
    business_day: str | None


@dataclass(frozen=True)
class TransactionLinkRecord:
    """A pointer to another transaction: the original sale of a return, or a resumed suspension."""

    key: PosKey
    line: str | None
    reason: str | None


@dataclass(frozen=True)
class PriceModifierRecord:
    """Money taken off a line or the transaction, and the promotion behind it (positive = off)."""

    amount: Decimal
    promotion_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TaxRecord:
    """One tax amount, its rate in percent, and whether prices already include it."""

    name: str
    amount: Decimal
    percent: Decimal | None
    included_in_price: bool | None


class ItemAction(StrEnum):
    """Whether an item line sells goods or takes them back."""

    SALE = "sale"
    RETURN = "return"


@dataclass(frozen=True)
class ItemRecord:
    """One `Sale` or `Return` line item with the fields the hub maps."""

    line_number: str
    action: ItemAction
    voided: bool
    item_id: str | None
    pos_item_id: str | None
    pos_id_type: str | None
    description: str | None
    quantity: Decimal
    unit_code: str | None
    weighed: bool
    regular_price: Decimal | None
    actual_price: Decimal | None
    extended_amount: Decimal | None
    modifiers: tuple[PriceModifierRecord, ...] = ()
    taxes: tuple[TaxRecord, ...] = ()
    link: TransactionLinkRecord | None = None
    reason: str | None = None
    operator_sequence: str | None = None
    included_in_price: bool | None = None


@dataclass(frozen=True)
class TenderRecord:
    """One tender line: what type, which direction (sale or refund), how much, and change given."""

    line_number: str
    tender_type: str
    type_code: str | None
    amount: Decimal
    change: Decimal | None = None
    points: int | None = None
    reference: str | None = None
    rounding: Decimal | None = None


@dataclass(frozen=True)
class RewardRecord:
    """A loyalty reward line (NCR `LoyaltyReward`): money off for an item or the whole basket."""

    amount: Decimal
    promotion_id: str | None
    item_sequence: str | None


@dataclass(frozen=True)
class RetailTransactionRecord:
    """A retail transaction (sale, return or cancelled basket) as read from the file."""

    key: PosKey
    operator: str | None
    currency: str
    ended_at: str | None
    cancelled: bool
    items: tuple[ItemRecord, ...]
    tenders: tuple[TenderRecord, ...]
    change_lines: tuple[Decimal, ...]
    taxes: tuple[TaxRecord, ...]
    discounts: tuple[PriceModifierRecord, ...]
    rewards: tuple[RewardRecord, ...]
    totals: dict[str, Decimal] = field(default_factory=dict)
    loyalty_card: str | None = None
    customer_id: str | None = None
    link: TransactionLinkRecord | None = None


@dataclass(frozen=True)
class ControlTransactionRecord:
    """A non-sale transaction (sign-on, sign-off, no sale, till loan or pickup): skipped and counted."""

    key: PosKey
    kind: str


@dataclass(frozen=True)
class TransactionFailure:
    """A transaction that could not be read or mapped: which one, which field, and why."""

    store: str | None
    workstation: str | None
    sequence: str | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"transaction {self.sequence or '?'} (store {self.store or '?'}"
        where += f", workstation {self.workstation or '?'})"
        return f"{where}: {self.field}: {self.reason}"
