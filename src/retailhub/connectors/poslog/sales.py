"""A POSLog sale (or cancelled basket) -> canonical Order."""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.money import minor_unit
from retailhub.canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderStatus,
    TaxLine,
    Tender,
    Totals,
)
from retailhub.canonical.product import UnitOfMeasure
from retailhub.connectors.poslog.header import (
    document_id,
    ended_at,
    money,
    pos_reference,
    stated_tax_inclusion,
    stated_total,
    tender,
)
from retailhub.connectors.poslog.items import item_gtin, item_sku, unit_of_measure, unit_price
from retailhub.connectors.poslog.parser import FieldError
from retailhub.connectors.poslog.records import (
    ItemRecord,
    PriceModifierRecord,
    RetailTransactionRecord,
    RewardRecord,
    TaxRecord,
)


def sale_to_order(
    record: RetailTransactionRecord,
    items: list[ItemRecord],
    *,
    store_timezone: tzinfo,
    weight_unit: UnitOfMeasure | None,
) -> Order:
    """Map a sale: lines with their discounts and taxes, basket discounts, tenders, change, totals.

    A negative item inside a sale (NCR `ItemType="acs:NegativeItem"`, e.g. a bottle-deposit
    refund) is money off the basket, so it becomes an order discount named after the item.
    """
    currency = record.currency
    sold = [i for i in items if (i.extended_amount or 0) >= 0]
    negative = [i for i in items if (i.extended_amount or 0) < 0]
    if not sold:
        raise FieldError("LineItem/Sale", "the transaction sells nothing")
    by_sequence = {i.operator_sequence: i.line_number for i in sold if i.operator_sequence}
    line_rewards: dict[str, list[RewardRecord]] = {}
    basket_rewards: list[RewardRecord] = []
    for reward in record.rewards:
        line = by_sequence.get(reward.item_sequence or "")
        if line is None:
            basket_rewards.append(reward)
        else:
            line_rewards.setdefault(line, []).append(reward)
    lines = [
        _order_line(item, currency, weight_unit, line_rewards.get(item.line_number, []))
        for item in sold
    ]
    order_discounts = [_discount(m, currency) for m in record.discounts]
    order_discounts += [_reward_discount(r, currency) for r in basket_rewards]
    order_discounts += [
        Discount(amount=money(-(i.extended_amount or Decimal(0)), currency), description=_label(i))
        for i in negative
    ]
    tax_total = _tax_total(record, lines)
    base = sum((ln.net.amount for ln in lines), Decimal(0))
    base -= sum((d.amount.amount for d in order_discounts), Decimal(0))
    grand = stated_total(record, "TransactionGrandAmount")
    if grand is None:
        raise FieldError("Total[TransactionGrandAmount]", "is missing")
    include_tax = _prices_include_tax(record, base, tax_total, grand)
    rounding = _rounding(record)
    # Tills state the grand total before or after cash rounding; the canonical one is after.
    if rounding and abs(grand - base - (0 if include_tax else tax_total)) <= minor_unit(currency):
        grand += rounding
    tenders, change = _sale_tenders(record)
    pos = pos_reference(record)
    return Order(
        order_id=document_id(record.key),
        channel=Channel.STORE,
        location=pos.store,
        customer_id=record.customer_id,
        customer_ids={"pos": record.customer_id} if record.customer_id else {},
        loyalty_card=record.loyalty_card,
        currency=currency,
        prices_include_tax=include_tax,
        placed_at=ended_at(record, store_timezone),
        status=OrderStatus.CANCELLED if record.cancelled else OrderStatus.COMPLETED,
        pos=pos,
        lines=lines,
        order_discounts=order_discounts,
        tenders=tenders,
        change_given=money(change, currency) if change else None,
        totals=Totals(
            tax_total=money(tax_total, currency),
            rounding=money(rounding, currency) if rounding else None,
            grand_total=money(grand, currency),
        ),
    )


def _order_line(
    item: ItemRecord,
    currency: str,
    weight_unit: UnitOfMeasure | None,
    rewards: list[RewardRecord],
) -> OrderLine:
    price = unit_price(item)
    discounts = [_discount(m, currency) for m in item.modifiers]
    discounts += [_reward_discount(r, currency) for r in rewards]
    extended = item.extended_amount
    if extended is not None:
        unit = minor_unit(currency)
        gross = (price * item.quantity).quantize(unit)
        off = sum((d.amount.amount for d in discounts), Decimal(0))
        if discounts and abs(gross - off - extended) <= unit < abs(gross - extended):
            # Vendors disagree whether ExtendedAmount is before or after the line's price
            # modifiers; the canonical line keeps the amount before them.
            extended = gross
        elif abs(gross - extended) > unit:
            price = _effective_unit_price(item, extended, unit)
    return OrderLine(
        line_id=item.line_number,
        sku=item_sku(item),
        gtin=item_gtin(item),
        title=item.description,
        quantity=item.quantity,
        unit_of_measure=unit_of_measure(item, currency, weight_unit),
        unit_price=money(price, currency),
        extended_amount=money(extended, currency) if extended is not None else None,
        discounts=discounts,
        tax_lines=[
            tax_line(t, currency, f"LineItem[{item.line_number}]/Sale/Tax") for t in item.taxes
        ],
    )


def _effective_unit_price(item: ItemRecord, extended: Decimal, unit: Decimal) -> Decimal:
    """The price per unit the customer actually paid, when the stated price is not per unit.

    NCR states `RegularSalesUnitPrice` per pricing quantity: 2 avocados at "6.00" (2 for $6)
    ring up 3.00 each, a dozen eggs keyed as 12 cost "5.69", 14 oz of syrup cost "14.79"/lb,
    and deli weights carry a tare. The extended amount is what was paid, so it decides.
    """
    if item.quantity == 0:
        raise FieldError(f"LineItem[{item.line_number}]/Sale/Quantity", "is zero")
    exact = (extended / item.quantity).quantize(unit)
    if (exact * item.quantity).quantize(unit) == extended:
        return exact
    return (extended / item.quantity).quantize(Decimal("0.000001"))


def tax_line(tax: TaxRecord, currency: str, at: str) -> TaxLine:
    """A line's tax: name, rate as a fraction (19 % -> 0.19) and amount."""
    if tax.percent is None:
        raise FieldError(f"{at}/Percent", "is missing")
    return TaxLine(name=tax.name, rate=tax.percent / 100, amount=money(abs(tax.amount), currency))


def _discount(modifier: PriceModifierRecord, currency: str) -> Discount:
    return Discount(
        amount=money(modifier.amount, currency),
        promotion_id=modifier.promotion_id,
        description=modifier.description,
    )


def _reward_discount(reward: RewardRecord, currency: str) -> Discount:
    return Discount(
        amount=money(reward.amount, currency),
        promotion_id=reward.promotion_id,
        description="loyalty reward",
    )


def _label(item: ItemRecord) -> str:
    name = item.description or "negative item"
    return f"{name.strip()} (item {item_sku(item)})"


def _tax_total(record: RetailTransactionRecord, lines: list[OrderLine]) -> Decimal:
    stated = stated_total(record, "TransactionTaxAmount")
    if stated is not None:
        return stated
    line_tax = sum((ln.tax_total.amount for ln in lines), Decimal(0))
    return line_tax + sum((t.amount for t in record.taxes), Decimal(0))


def _prices_include_tax(
    record: RetailTransactionRecord, base: Decimal, tax: Decimal, grand: Decimal
) -> bool:
    """VAT-style when the file says so; without a flag, when only the inclusive sum adds up."""
    stated = stated_tax_inclusion(record)
    if stated is not None:
        return stated
    return tax != 0 and abs(grand - base) < abs(grand - base - tax)


def _rounding(record: RetailTransactionRecord) -> Decimal:
    """Cash rounding: a rounding `Total` row if there is one, else the tenders' `Rounding`."""
    for total_type, amount in record.totals.items():
        if "rounding" in total_type.lower():
            return amount
    return sum((t.rounding or Decimal(0) for t in record.tenders), Decimal(0))


def _sale_tenders(record: RetailTransactionRecord) -> tuple[list[Tender], Decimal]:
    """Tenders and change. NCR writes change (and card cash-back) as a negative tender line, ARTS
    as `TenderChange` inside the tender, Futura as its own `TenderChange` line: all are change."""
    change = sum(record.change_lines, Decimal(0))
    tenders: list[Tender] = []
    for entry in record.tenders:
        if entry.amount < 0:
            change -= entry.amount
            continue
        tenders.append(tender(entry, record.currency))
        change += abs(entry.change or Decimal(0))
    return tenders, change
