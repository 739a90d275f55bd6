"""Order: a sale at the till or on the web, with lines, discounts, tax, tenders and totals that add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from retailhub.canonical.base import CanonicalModel, Channel, DocumentId, check_currency
from retailhub.canonical.errors import Location, Problems
from retailhub.canonical.identifiers import ExternalIds, Gtin, LocationCode, Sku
from retailhub.canonical.money import Amount, CurrencyCode, Money, sum_money
from retailhub.canonical.product import UnitOfMeasure


class Discount(CanonicalModel):
    """Money taken off a line or the order, and the promotion (version) that granted it."""

    amount: Money
    promotion_id: str | None = None
    promotion_version: int | None = Field(default=None, ge=1)
    code: str | None = Field(default=None, description="discount code the customer entered")
    description: str | None = None


class TaxLine(CanonicalModel):
    """One tax on a line: rate and amount, which the ERP posts to its tax accounts."""

    name: str = Field(min_length=1)
    rate: Amount = Field(description="as a fraction: 0.19 for 19 %")
    amount: Money


class OrderLine(CanonicalModel):
    """One item sold: what, how many (weighed items are fractional), at what price, less what."""

    line_id: str = Field(min_length=1)
    sku: Sku | None = None
    gtin: Gtin | None = None
    title: str | None = None
    quantity: Amount = Field(description="units, or weight/volume for weighed items")
    unit_of_measure: UnitOfMeasure = UnitOfMeasure.EACH
    unit_price: Money
    extended_amount: Money | None = Field(
        default=None,
        description="quantity x unit price as the source rounded it; computed if absent",
    )
    discounts: list[Discount] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)
    loyalty_points_earned: int | None = Field(default=None, ge=0)

    @property
    def gross(self) -> Money:
        """The line's amount before discounts: as stated by the source, else quantity x unit price."""
        if self.extended_amount is not None:
            return self.extended_amount
        return (self.unit_price * self.quantity).rounded()

    @property
    def discount_total(self) -> Money:
        """Everything taken off this line."""
        return sum_money((d.amount for d in self.discounts), self.unit_price.currency)

    @property
    def net(self) -> Money:
        """The line's amount after its own discounts (before order-level discounts and tax)."""
        return self.gross - self.discount_total

    @property
    def tax_total(self) -> Money:
        """The tax stated on this line."""
        return sum_money((t.amount for t in self.tax_lines), self.unit_price.currency)


class TenderType(StrEnum):
    """How the customer paid (or was refunded)."""

    CASH = "cash"
    CARD = "card"
    GIFT_CARD = "gift_card"
    LOYALTY_POINTS = "loyalty_points"
    STORE_CREDIT = "store_credit"
    VOUCHER = "voucher"
    OTHER = "other"


class Tender(CanonicalModel):
    """One payment: its money value, and for loyalty points the points spent."""

    type: TenderType
    amount: Money
    points: int | None = Field(default=None, ge=1, description="points spent, for loyalty_points")
    reference: str | None = Field(default=None, description="masked card, gift card or auth code")

    @model_validator(mode="after")
    def _check(self) -> Tender:
        problems = Problems()
        if self.type is TenderType.LOYALTY_POINTS and self.points is None:
            problems.add(("points",), "a loyalty points tender must say how many points were spent")
        if self.type is not TenderType.LOYALTY_POINTS and self.points is not None:
            problems.add(("points",), "only a loyalty points tender spends points")
        problems.raise_if_any()
        return self


class Totals(CanonicalModel):
    """The document's own summary figures, checked against its lines."""

    discount_total: Money | None = Field(default=None, description="line plus order discounts")
    tax_total: Money
    shipping: Money | None = None
    rounding: Money | None = Field(default=None, description="cash rounding applied at the till")
    grand_total: Money


class OrderStatus(StrEnum):
    """The order's state: only completed orders are posted, loyalty-accrued and counted."""

    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PosReference(CanonicalModel):
    """Where a store sale was rung up: the keys a store auditor uses to find the receipt."""

    store: LocationCode
    workstation: str = Field(min_length=1)
    sequence: str = Field(min_length=1)
    business_day: date
    operator: str | None = None


class Order(CanonicalModel):
    """A sale from any channel. Invariant: lines − discounts (+ tax when exclusive) + shipping ±
    rounding = grand total, and tenders − change cover it."""

    kind: Literal["order"] = "order"
    order_id: DocumentId
    external_ids: ExternalIds = Field(default_factory=dict)
    channel: Channel
    location: LocationCode | None = Field(default=None, description="store, or the web shop")
    customer_id: str | None = Field(default=None, description="golden customer id when known")
    customer_ids: ExternalIds = Field(default_factory=dict, description="the buyer in each system")
    email: str | None = None
    loyalty_card: str | None = None
    currency: CurrencyCode
    prices_include_tax: bool = Field(
        description="EU VAT style (true) or US sales tax style (false)"
    )
    placed_at: AwareDatetime
    status: OrderStatus = OrderStatus.COMPLETED
    pos: PosReference | None = None
    lines: list[OrderLine] = Field(min_length=1)
    order_discounts: list[Discount] = Field(default_factory=list)
    tenders: list[Tender] = Field(default_factory=list)
    change_given: Money | None = None
    totals: Totals
    rounding_difference: Money | None = Field(
        default=None,
        description="set by the hub: how far the stated grand total is from the computed one"
        " when they differ by no more than one minor unit",
    )

    @model_validator(mode="after")
    def _check(self) -> Order:
        problems = Problems()
        _check_order_currencies(self, problems)
        problems.raise_if_any()
        _check_lines(self.lines, problems)
        _check_signs(self, problems)
        computed = self.computed_grand_total()
        stated = self.totals.grand_total
        difference = stated - computed
        unit = stated.minor_unit
        if abs(difference.amount) > unit:
            problems.add(
                ("totals", "grand_total"),
                f"grand total {stated} does not add up: lines − discounts"
                f"{'' if self.prices_include_tax else ' + tax'} + shipping ± rounding = {computed}",
            )
        object.__setattr__(
            self, "rounding_difference", None if difference.is_zero() else difference
        )
        _check_tax_total(self, problems)
        _check_discount_total(self, problems)
        if self.status is OrderStatus.COMPLETED and self.tenders:
            _check_tenders_cover(self.tenders, self.change_given, stated, problems)
        problems.raise_if_any()
        return self

    def computed_grand_total(self) -> Money:
        """Lines − all discounts, plus tax when prices exclude it, plus shipping, ± cash rounding."""
        zero = Money.zero(self.currency)
        total = sum_money((line.net for line in self.lines), self.currency)
        total -= sum_money((d.amount for d in self.order_discounts), self.currency)
        if not self.prices_include_tax:
            total += self.totals.tax_total
        total += self.totals.shipping or zero
        total += self.totals.rounding or zero
        return total

    @property
    def tendered(self) -> Money:
        """What the customer handed over, before change."""
        return sum_money((t.amount for t in self.tenders), self.currency)

    def points_spent(self) -> int:
        """Loyalty points used as tender on this order."""
        return sum(t.points or 0 for t in self.tenders if t.type is TenderType.LOYALTY_POINTS)

    def quantity_bought(self, line_id: str) -> Decimal:
        """How many units of the given line were bought (0 when there is no such line)."""
        return sum((ln.quantity for ln in self.lines if ln.line_id == line_id), Decimal(0))


def _check_order_currencies(order: Order, problems: Problems) -> None:
    """Every amount of an order is in the order's currency: the hub never converts silently."""
    cur = order.currency
    for i, line in enumerate(order.lines):
        check_currency(line.unit_price, cur, ("lines", i, "unit_price", "currency"), problems)
        check_currency(
            line.extended_amount, cur, ("lines", i, "extended_amount", "currency"), problems
        )
        for j, discount in enumerate(line.discounts):
            check_currency(discount.amount, cur, ("lines", i, "discounts", j, "amount"), problems)
        for j, tax in enumerate(line.tax_lines):
            check_currency(tax.amount, cur, ("lines", i, "tax_lines", j, "amount"), problems)
    for j, discount in enumerate(order.order_discounts):
        check_currency(discount.amount, cur, ("order_discounts", j, "amount"), problems)
    for j, tender in enumerate(order.tenders):
        check_currency(tender.amount, cur, ("tenders", j, "amount"), problems)
    check_currency(order.change_given, cur, ("change_given",), problems)
    for name in ("discount_total", "tax_total", "shipping", "rounding", "grand_total"):
        check_currency(getattr(order.totals, name), cur, ("totals", name), problems)


def _check_lines(lines: list[OrderLine], problems: Problems) -> None:
    """Lines name an item, sell a positive quantity, and their stated amount matches qty x price."""
    seen: set[str] = set()
    for i, line in enumerate(lines):
        at: Location = ("lines", i)
        if line.line_id in seen:
            problems.add((*at, "line_id"), f"line id {line.line_id!r} is used twice")
        seen.add(line.line_id)
        if line.sku is None and line.gtin is None:
            problems.add(at, "a line must name its item by sku or gtin")
        if line.quantity <= 0:
            problems.add(
                (*at, "quantity"), "a sold quantity must be positive (returns are Returns)"
            )
        if (
            line.unit_of_measure is UnitOfMeasure.EACH
            and line.quantity != line.quantity.to_integral()
        ):
            problems.add((*at, "quantity"), "a fractional quantity needs a weighed unit of measure")
        if line.unit_price.amount < 0:
            problems.add((*at, "unit_price", "amount"), "a unit price must not be negative")
        if line.extended_amount is not None:
            computed = (line.unit_price * line.quantity).rounded()
            if abs((line.extended_amount - computed).amount) > line.unit_price.minor_unit:
                problems.add(
                    (*at, "extended_amount"),
                    f"{line.extended_amount} is not quantity {line.quantity} x unit price"
                    f" {line.unit_price} = {computed}",
                )
        for j, discount in enumerate(line.discounts):
            if discount.amount.amount < 0:
                problems.add((*at, "discounts", j, "amount"), "a discount must not be negative")
        if line.discount_total > line.gross:
            problems.add(
                (*at, "discounts"), f"discounts {line.discount_total} exceed the line {line.gross}"
            )


def _check_signs(order: Order, problems: Problems) -> None:
    """Order discounts, shipping, tax and tenders are never negative: a sale does not pay out."""
    for j, discount in enumerate(order.order_discounts):
        if discount.amount.amount < 0:
            problems.add(("order_discounts", j, "amount"), "a discount must not be negative")
    for name in ("discount_total", "tax_total", "shipping"):
        value = getattr(order.totals, name)
        if value is not None and value.amount < 0:
            problems.add(("totals", name), f"{name.replace('_', ' ')} must not be negative")
    for j, tender in enumerate(order.tenders):
        if tender.amount.amount < 0:
            problems.add(("tenders", j, "amount"), "a tender on a sale must not be negative")


def _check_tax_total(order: Order, problems: Problems) -> None:
    """Line taxes, each rounded on its own, add up to the stated tax total within a unit per line."""
    taxed_lines = [ln for ln in order.lines if ln.tax_lines]
    if not taxed_lines:
        return
    line_tax = sum_money((ln.tax_total for ln in taxed_lines), order.currency)
    tolerance = order.totals.tax_total.minor_unit * sum(len(ln.tax_lines) for ln in taxed_lines)
    # Shipping may carry tax of its own, so line tax may be below the total but never above it.
    if (line_tax - order.totals.tax_total).amount > tolerance:
        problems.add(
            ("totals", "tax_total"),
            f"tax total {order.totals.tax_total} is less than the tax on the lines {line_tax}",
        )


def _check_discount_total(order: Order, problems: Problems) -> None:
    """A stated discount total is the line discounts plus the order discounts."""
    stated = order.totals.discount_total
    if stated is None:
        return
    computed = sum_money((ln.discount_total for ln in order.lines), order.currency) + sum_money(
        (d.amount for d in order.order_discounts), order.currency
    )
    if abs((stated - computed).amount) > stated.minor_unit:
        problems.add(
            ("totals", "discount_total"),
            f"discount total {stated} is not the line and order discounts {computed}",
        )


def _check_tenders_cover(
    tenders: list[Tender], change: Money | None, grand_total: Money, problems: Problems
) -> None:
    """A completed sale is paid: tenders minus change cover the grand total, and change is not
    more than was handed over."""
    tendered = sum_money((t.amount for t in tenders), grand_total.currency)
    change_given = change or Money.zero(grand_total.currency)
    if change_given.amount < 0:
        problems.add(("change_given",), "change given must not be negative")
    if change_given > tendered:
        problems.add(
            ("change_given",), f"change {change_given} exceeds what was tendered {tendered}"
        )
    paid = tendered - change_given
    if (grand_total - paid).amount > grand_total.minor_unit:
        problems.add(
            ("tenders",),
            f"tenders {tendered} minus change {change_given} = {paid} do not cover the grand total"
            f" {grand_total}",
        )
