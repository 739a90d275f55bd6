"""What reconciliation finds: typed discrepancies between the hub's record of a store's business
day, the ERPs' postings and the loyalty ledger, and the report of one run.

Everything here is plain data (picklable, so a DBOS step can return it) and free of I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

ALERT_PREFIX = "reconciliation."


class DiscrepancyKind(StrEnum):
    """The ways the hub, the ERPs and the loyalty platform can disagree about a day."""

    ORDER_WITHOUT_POSTING = "order_without_posting"
    """A completed sale the hub recorded that no ERP holds (or holds only cancelled)."""
    REFUND_WITHOUT_CREDIT_NOTE = "refund_without_credit_note"
    """A refunded return the hub recorded that no ERP holds a credit note for."""
    POSTING_WITHOUT_ORDER = "posting_without_order"
    """An ERP sale order or credit note under a key the hub has no order or return for."""
    AMOUNT_MISMATCH = "amount_mismatch"
    """The ERP's amount differs from the hub's (or is in another currency)."""
    POSTING_FOR_CANCELLED_ORDER = "posting_for_cancelled_order"
    """An order the hub knows cancelled is still an active sale order in the ERP."""
    REFUND_WITHOUT_POINTS_REVERSAL = "refund_without_points_reversal"
    """A refunded return of an order that earned points, with no reversal in the ledger."""
    POINTS_ON_CANCELLED_ORDER = "points_on_cancelled_order"
    """Points the loyalty ledger still credits for an order the hub knows cancelled."""
    POINTS_REVERSAL_WITHOUT_REFUND = "points_reversal_without_refund"
    """Points reversed for a return that was never refunded (rejected, cancelled, or stuck)."""

    @property
    def alert_kind(self) -> str:
        """The kind of the operator alert raised for it (`reconciliation.<kind>`)."""
        return f"{ALERT_PREFIX}{self.value}"


class Repair(StrEnum):
    """How a discrepancy is repaired: by re-driving the flow that should have done the work, by
    the one keyed call that flow would have made, or by an operator."""

    REDRIVE_ERP_POSTING = "redrive_erp_posting"
    """Retry the order's dead letter on `o2c.erp`, or replay its events there."""
    CANCEL_SALE_ORDER = "cancel_sale_order"
    """Cancel the ERP sale order of the cancelled order (`ErpPort.cancel_sale_order`)."""
    POST_CREDIT_NOTE = "post_credit_note"
    """Post the return's credit note under the returns flow's key (`post_credit_note`)."""
    REVERSE_POINTS = "reverse_points"
    """Register the return with the loyalty platform under its key (`register_return`)."""
    REDRIVE_POINTS_CANCELLATION = "redrive_points_cancellation"
    """Retry the cancellation's dead letter on `o2c.loyalty`, else cancel the accrual transfers."""
    OPERATOR = "operator"
    """Nothing the hub can re-drive settles it: a person decides."""


REPAIRS: dict[DiscrepancyKind, Repair] = {
    DiscrepancyKind.ORDER_WITHOUT_POSTING: Repair.REDRIVE_ERP_POSTING,
    DiscrepancyKind.REFUND_WITHOUT_CREDIT_NOTE: Repair.POST_CREDIT_NOTE,
    DiscrepancyKind.POSTING_WITHOUT_ORDER: Repair.OPERATOR,
    DiscrepancyKind.AMOUNT_MISMATCH: Repair.OPERATOR,
    DiscrepancyKind.POSTING_FOR_CANCELLED_ORDER: Repair.CANCEL_SALE_ORDER,
    DiscrepancyKind.REFUND_WITHOUT_POINTS_REVERSAL: Repair.REVERSE_POINTS,
    DiscrepancyKind.POINTS_ON_CANCELLED_ORDER: Repair.REDRIVE_POINTS_CANCELLATION,
    DiscrepancyKind.POINTS_REVERSAL_WITHOUT_REFUND: Repair.OPERATOR,
}
"""Why the operator ones: a posting without an order may be a sale the hub never heard of or a
stray booking, and only a person can tell; an amount mismatch cannot be re-driven, as every ERP
write is keyed by the order and a repeat returns the first posting; points reversed for a return
that was not refunded need a decision between refunding the customer and re-crediting them."""


@dataclass(frozen=True)
class Discrepancy:
    """One disagreement found for a store's business day, identified by its kind and key.

    `key` is the business key an operator searches by: the order or return id, or for a
    posting the hub has no document for `<erp>:<posting key>`. `expected` and `found` say what
    the hub recorded and what the other system holds, as text (amounts with their currency).
    """

    kind: DiscrepancyKind
    key: str
    store: str
    business_day: date
    summary: str
    document_id: str | None = None
    erp: str | None = None
    posting_id: str | None = None
    expected: str | None = None
    found: str | None = None
    member_id: str | None = None
    points: int | None = None
    transfers: tuple[str, ...] = ()

    @property
    def repair(self) -> Repair:
        """How this discrepancy is repaired."""
        return REPAIRS[self.kind]

    @property
    def needs_operator(self) -> bool:
        """True when the hub cannot re-drive it and a person must decide."""
        return self.repair is Repair.OPERATOR

    def to_json(self) -> dict[str, Any]:
        """The discrepancy as JSON-ready values."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["business_day"] = self.business_day.isoformat()
        data["transfers"] = list(self.transfers)
        data["repair"] = self.repair.value
        data["needs_operator"] = self.needs_operator
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Discrepancy:
        """A discrepancy back from `to_json`'s values."""
        values = {k: v for k, v in data.items() if k not in ("repair", "needs_operator")}
        values["kind"] = DiscrepancyKind(values["kind"])
        values["business_day"] = date.fromisoformat(values["business_day"])
        values["transfers"] = tuple(values.get("transfers") or ())
        return cls(**values)


@dataclass(frozen=True)
class Checked:
    """How much one run looked at, so a clean report can be told apart from an empty one."""

    orders: int = 0
    returns: int = 0
    postings: int = 0
    members: int = 0


@dataclass(frozen=True)
class ReconciliationReport:
    """One reconciliation run of a business day, for one store or all of them."""

    business_day: date
    store: str | None
    stores: tuple[str, ...]
    checked: Checked
    discrepancies: tuple[Discrepancy, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        """True when the hub, the ERPs and the loyalty ledger agree about the day."""
        return not self.discrepancies

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "business_day": self.business_day.isoformat(),
            "store": self.store,
            "stores": list(self.stores),
            "checked": asdict(self.checked),
            "clean": self.clean,
            "discrepancies": [d.to_json() for d in self.discrepancies],
        }
