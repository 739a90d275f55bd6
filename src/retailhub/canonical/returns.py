"""Return: goods coming back, possibly bought online and brought to a store, and the refund owed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel, Channel, DocumentId, check_currency
from retailhub.canonical.errors import Fault, Problems, json_path
from retailhub.canonical.identifiers import ExternalIds, Gtin, LocationCode, Sku
from retailhub.canonical.money import Amount, CurrencyCode, Money, sum_money
from retailhub.canonical.order import Order, OrderStatus, TaxLine, Tender
from retailhub.canonical.product import UnitOfMeasure


class ReturnReason(StrEnum):
    """Why the customer brought it back; buyers and quality teams read these."""

    CHANGED_MIND = "changed_mind"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    SIZE_OR_FIT = "size_or_fit"
    LATE_DELIVERY = "late_delivery"
    OTHER = "other"


class ItemCondition(StrEnum):
    """The state the goods came back in, which decides whether they go back on the shelf."""

    RESALEABLE = "resaleable"
    OPENED = "opened"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"


class ReturnLine(CanonicalModel):
    """One item coming back: which line of the original sale, how many, why, and the refund for it."""

    line_id: str = Field(min_length=1)
    original_line_id: str | None = Field(default=None, description="line of the original order")
    sku: Sku | None = None
    gtin: Gtin | None = None
    quantity: Amount
    unit_of_measure: UnitOfMeasure = UnitOfMeasure.EACH
    refund_amount: Money = Field(description="refund for this line, tax included when prices are")
    tax_lines: list[TaxLine] = Field(default_factory=list)
    reason: ReturnReason = ReturnReason.OTHER
    condition: ItemCondition = ItemCondition.RESALEABLE
    restock: bool = True


class ReturnStatus(StrEnum):
    """Where a return is: requested online, goods received, refunded, or refused."""

    REQUESTED = "requested"
    RECEIVED = "received"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Return(CanonicalModel):
    """A return and its refund. Receipt-less returns have no original order; goods may be received
    in another channel than the one where the return was started (buy online, return in store)."""

    kind: Literal["return"] = "return"
    return_id: DocumentId
    external_ids: ExternalIds = Field(default_factory=dict)
    original_order_id: str | None = None
    initiated_channel: Channel
    initiated_location: LocationCode | None = None
    received_channel: Channel | None = None
    received_location: LocationCode | None = None
    customer_id: str | None = None
    loyalty_card: str | None = None
    currency: CurrencyCode
    lines: list[ReturnLine] = Field(min_length=1)
    refund_tenders: list[Tender] = Field(default_factory=list)
    refund_total: Money
    status: ReturnStatus = ReturnStatus.REQUESTED
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _check(self) -> Return:
        problems = Problems()
        check_currency(self.refund_total, self.currency, ("refund_total", "currency"), problems)
        seen: set[str] = set()
        for i, line in enumerate(self.lines):
            check_currency(
                line.refund_amount,
                self.currency,
                ("lines", i, "refund_amount", "currency"),
                problems,
            )
            if line.line_id in seen:
                problems.add(("lines", i, "line_id"), f"line id {line.line_id!r} is used twice")
            seen.add(line.line_id)
            if line.sku is None and line.gtin is None:
                problems.add(("lines", i), "a line must name its item by sku or gtin")
            if line.quantity <= 0:
                problems.add(("lines", i, "quantity"), "a returned quantity must be positive")
            elif line.unit_of_measure is UnitOfMeasure.EACH and (
                line.quantity != line.quantity.to_integral()
            ):
                problems.add(
                    ("lines", i, "quantity"),
                    "a fractional quantity needs a weighed unit of measure",
                )
            if line.refund_amount.amount < 0:
                problems.add(
                    ("lines", i, "refund_amount", "amount"), "a refund must not be negative"
                )
        for i, tender in enumerate(self.refund_tenders):
            check_currency(tender.amount, self.currency, ("refund_tenders", i, "amount"), problems)
        problems.raise_if_any()
        lines_total = sum_money((ln.refund_amount for ln in self.lines), self.currency)
        if abs((lines_total - self.refund_total).amount) > self.refund_total.minor_unit:
            problems.add(
                ("refund_total",),
                f"refund total {self.refund_total} is not the sum of the lines {lines_total}",
            )
        if self.refund_tenders:
            tendered = sum_money((t.amount for t in self.refund_tenders), self.currency)
            if abs((tendered - self.refund_total).amount) > self.refund_total.minor_unit:
                problems.add(
                    ("refund_tenders",),
                    f"refund tenders {tendered} do not pay out the refund total {self.refund_total}",
                )
        if self.received_location is not None and self.received_channel is None:
            problems.add(("received_channel",), "goods received at a location need the channel")
        if self.status in {ReturnStatus.RECEIVED, ReturnStatus.REFUNDED} and (
            self.received_channel is None
        ):
            problems.add(
                ("received_channel",), f"a {self.status.value} return says where it came in"
            )
        problems.raise_if_any()
        return self

    @property
    def is_receiptless(self) -> bool:
        """True when the goods come back without a known original order."""
        return self.original_order_id is None

    def points_refunded(self) -> int:
        """Loyalty points paid back to the member as a refund tender."""
        return sum(t.points or 0 for t in self.refund_tenders if t.points)


def returnable_faults(order: Order, earlier: Iterable[Return], new: Return) -> list[Fault]:
    """Why `new` cannot be accepted against `order` given the returns already accepted for it.

    Guards the rule that quantities returned across all channels never exceed what was bought.
    """
    faults: list[Fault] = []
    if new.original_order_id != order.order_id:
        return [Fault("$.original_order_id", f"this return is not for order {order.order_id}")]
    if order.status is not OrderStatus.COMPLETED:
        return [Fault("$.original_order_id", f"order {order.order_id} is {order.status.value}")]
    already: dict[str, Decimal] = {}
    for previous in earlier:
        if previous.return_id == new.return_id:
            return [Fault("$.return_id", f"return {new.return_id} was already accepted")]
        if previous.status in {ReturnStatus.REJECTED, ReturnStatus.CANCELLED}:
            continue
        for line in previous.lines:
            if line.original_line_id:
                already[line.original_line_id] = already.get(line.original_line_id, Decimal(0)) + (
                    line.quantity
                )
    asked: dict[str, Decimal] = {}
    for i, line in enumerate(new.lines):
        path = json_path(("lines", i, "original_line_id"))
        if line.original_line_id is None:
            faults.append(Fault(path, "a return against an order must name the line it returns"))
            continue
        bought = order.quantity_bought(line.original_line_id)
        if bought == 0:
            faults.append(
                Fault(path, f"order {order.order_id} has no line {line.original_line_id}")
            )
            continue
        asked[line.original_line_id] = asked.get(line.original_line_id, Decimal(0)) + line.quantity
        returned = already.get(line.original_line_id, Decimal(0))
        if returned + asked[line.original_line_id] > bought:
            faults.append(
                Fault(
                    json_path(("lines", i, "quantity")),
                    f"{bought} bought on line {line.original_line_id}, {returned} already returned:"
                    f" {asked[line.original_line_id]} more is too many",
                )
            )
    return faults
