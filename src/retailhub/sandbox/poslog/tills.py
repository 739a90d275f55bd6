"""The till simulator: realistic POSLog 6.0 journals for the estate's stores, the same for a seed.

Each basket scans estate items by GTIN (weighed goods in kg at the price per kg), takes money
off for the live percent- or amount-off promotions the store server holds, charges Dutch VAT
included in the price, and is paid by card, by cash rounded to 0.05 with change, or partly
with loyalty points (100 points = EUR 1) when an estate member scans their card. Some baskets
are cancelled, some are returns linked (`TransactionLink`) to an earlier sale of the same
store, and each workstation signs on and off with control transactions. Baskets are canonical
documents written with `canonical_to_poslog`, so they map back to the same documents.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring

import aiohttp

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money, Rounding, sum_money
from retailhub.canonical.order import (
    Discount,
    Order,
    OrderLine,
    OrderStatus,
    PosReference,
    TaxLine,
    Tender,
    TenderType,
    Totals,
)
from retailhub.canonical.product import Product, UnitOfMeasure
from retailhub.canonical.promotion import Promotion, RewardType
from retailhub.canonical.returns import Return, ReturnLine, ReturnReason, ReturnStatus
from retailhub.connectors.poslog import PosDocumentKey, canonical_to_poslog, pos_document_id
from retailhub.sandbox.seed import CET, CURRENCY, Estate

CASH_INCREMENT = Decimal("0.05")
POINTS_PER_EURO = 100
CENT = Decimal("0.01")
WORKSTATIONS = ("1", "2", "3")
RETURN_SHARE = 0.08
CANCEL_SHARE = 0.04
MEMBER_SHARE = 0.45
POINTS_SHARE = 0.2
MAX_REMEMBERED_SALES = 200
_NOTES = (Decimal(5), Decimal(10), Decimal(20), Decimal(50), Decimal(100))
_REASONS = (
    ReturnReason.CHANGED_MIND,
    ReturnReason.DAMAGED,
    ReturnReason.DEFECTIVE,
    ReturnReason.WRONG_ITEM,
)


@dataclass(frozen=True)
class TillRun:
    """One run of a store's tills: the baskets as canonical documents and as one POSLog file."""

    store: str
    documents: tuple[Order | Return, ...]
    control_transactions: int
    poslog: bytes

    @property
    def sales(self) -> int:
        """Completed sales in the run."""
        return sum(
            1 for d in self.documents if isinstance(d, Order) and d.status is OrderStatus.COMPLETED
        )

    @property
    def cancelled(self) -> int:
        """Cancelled baskets in the run."""
        return sum(
            1 for d in self.documents if isinstance(d, Order) and d.status is OrderStatus.CANCELLED
        )

    @property
    def returns(self) -> int:
        """Returns in the run."""
        return sum(1 for d in self.documents if isinstance(d, Return))


@dataclass
class TillState:
    """What the tills remember between runs: last sequence per workstation, recent sales."""

    sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    sales: dict[str, list[Order]] = field(default_factory=dict)

    def next_sequence(self, store: str, workstation: str) -> int:
        """The next receipt number of a workstation (receipts count from 1)."""
        number = self.sequences.get((store, workstation), 0) + 1
        self.sequences[(store, workstation)] = number
        return number

    def remember(self, order: Order) -> None:
        """Keep a completed sale so a later return can link to it."""
        recent = self.sales.setdefault(order.location or "", [])
        recent.append(order)
        del recent[:-MAX_REMEMBERED_SALES]


class TillSimulator:
    """Rings up baskets for the estate's stores; the same seed and state give the same files."""

    def __init__(
        self,
        estate: Estate,
        *,
        seed: int = 0,
        state: TillState | None = None,
        promotions: Sequence[Promotion] = (),
    ) -> None:
        self.estate = estate
        self.state = state or TillState()
        self.promotions = sorted(promotions, key=lambda p: -p.priority)
        self._rng = random.Random(seed)
        self._catalogue = [p for p in estate.products if p.gtins]
        self._members = estate.customers

    def run(self, store: str, count: int, business_day: date) -> TillRun:
        """Ring up `count` retail transactions at `store` on `business_day`, as one POSLog file."""
        if store not in {s.code for s in self.estate.stores if s.channel is Channel.STORE}:
            raise ValueError(f"{store!r} is not one of the estate's stores")
        if not 1 <= count <= 10_000:
            raise ValueError("count must be from 1 to 10000")
        opened: set[str] = set()
        documents: list[Order | Return] = []
        openings: list[bytes] = []
        for _ in range(count):
            workstation = self._rng.choice(WORKSTATIONS)
            if workstation not in opened:
                opened.add(workstation)
                sign_on = self.state.next_sequence(store, workstation)
                openings.append(
                    _control(store, workstation, sign_on, business_day, "OperatorSignOn")
                )
            sequence = self.state.next_sequence(store, workstation)
            key = PosDocumentKey(store, business_day, workstation, str(sequence))
            documents.append(self._basket(key))
        closings = [
            _control(
                store, ws, self.state.next_sequence(store, ws), business_day, "OperatorSignOff"
            )
            for ws in sorted(opened)
        ]
        body = canonical_to_poslog(documents)
        return TillRun(
            store,
            tuple(documents),
            len(openings) + len(closings),
            _with_controls(body, openings, closings),
        )

    def _basket(self, key: PosDocumentKey) -> Order | Return:
        recent = self.state.sales.get(key.store, [])
        draw = self._rng.random()
        if draw < RETURN_SHARE and recent:
            original = recent.pop(self._rng.randrange(len(recent)))
            return self._return(key, original)
        order = self._sale(key, cancelled=draw > 1 - CANCEL_SHARE)
        if order.status is OrderStatus.COMPLETED:
            self.state.remember(order)
        return order

    def _sale(self, key: PosDocumentKey, *, cancelled: bool) -> Order:
        rng = self._rng
        lines = [
            self._line(str(n), rng.choice(self._catalogue), key)
            for n in range(1, rng.randint(1, 8) + 1)
        ]
        grand = sum_money((ln.net for ln in lines), CURRENCY)
        tax = sum_money((ln.tax_total for ln in lines), CURRENCY)
        member = rng.choice(self._members) if rng.random() < MEMBER_SHARE else None
        tenders: list[Tender] = []
        change: Money | None = None
        rounding: Money | None = None
        if not cancelled:
            tenders, change, rounding = self._payment(grand, member is not None)
        return Order(
            order_id=pos_document_id(key),
            channel=Channel.STORE,
            location=key.store,
            loyalty_card=member.card_number if member else None,
            currency=CURRENCY,
            prices_include_tax=True,
            placed_at=_moment(key),
            status=OrderStatus.CANCELLED if cancelled else OrderStatus.COMPLETED,
            pos=PosReference(
                store=key.store,
                workstation=key.workstation,
                sequence=key.sequence,
                business_day=key.business_day,
                operator=f"OP{int(key.workstation) * 10 + 1}",
            ),
            lines=lines,
            tenders=tenders,
            change_given=change,
            totals=Totals(
                tax_total=tax,
                rounding=rounding,
                grand_total=grand + rounding if rounding else grand,
            ),
        )

    def _line(self, line_id: str, product: Product, key: PosDocumentKey) -> OrderLine:
        price = self.estate.price(product.sku, Channel.STORE).selling_price
        weighed = product.unit_of_measure is UnitOfMeasure.KG
        quantity = (
            Decimal(self._rng.randint(150, 2500)).scaleb(-3)
            if weighed
            else Decimal(self._rng.choice((1, 1, 1, 2, 3)))
        )
        gross = (price * quantity).rounded()
        rate = self.estate.vat_rate(product.sku) / 100
        discounts = self._promotion_discounts(product, quantity, gross, key)
        net = gross - sum_money((d.amount for d in discounts), CURRENCY)
        return OrderLine(
            line_id=line_id,
            sku=product.sku,
            gtin=product.gtins[0],
            title=product.title,
            quantity=quantity,
            unit_of_measure=product.unit_of_measure,
            unit_price=price,
            extended_amount=gross,
            discounts=discounts,
            tax_lines=[_vat(net, rate)],
        )

    def _promotion_discounts(
        self, product: Product, quantity: Decimal, gross: Money, key: PosDocumentKey
    ) -> list[Discount]:
        """Money off from the first live price promotion the item qualifies for at this store."""
        moment = _moment(key)
        for promotion in self.promotions:
            if not _applies(promotion, product, key.store) or not promotion.is_live(moment):
                continue
            reward = promotion.reward
            if reward.type is RewardType.PERCENT_OFF and reward.percent is not None:
                off = (gross * (reward.percent / 100)).rounded()
            elif reward.type is RewardType.AMOUNT_OFF and reward.amount is not None:
                off = min((reward.amount * quantity).rounded(), gross)
            else:
                continue
            if off.is_zero():
                return []
            return [
                Discount(
                    amount=off, promotion_id=promotion.promotion_id, description=promotion.name
                )
            ]
        return []

    def _payment(
        self, grand: Money, member: bool
    ) -> tuple[list[Tender], Money | None, Money | None]:
        """Card, cash rounded to 0.05 with change, or points first and the rest by card."""
        rng = self._rng
        points_euros = Decimal(rng.randint(1, 5))
        if member and rng.random() < POINTS_SHARE and grand.amount > points_euros:
            paid_by_points = Money(amount=points_euros, currency=CURRENCY)
            return (
                [
                    Tender(
                        type=TenderType.LOYALTY_POINTS,
                        amount=paid_by_points,
                        points=int(points_euros) * POINTS_PER_EURO,
                    ),
                    _card(grand - paid_by_points, rng),
                ],
                None,
                None,
            )
        if rng.random() < 0.5:
            return [_card(grand, rng)], None, None
        to_pay = grand.rounded_to(CASH_INCREMENT, Rounding.HALF_UP)
        handed = next((n for n in _NOTES if n >= to_pay.amount), to_pay.amount)
        if rng.random() < 0.25:
            handed = to_pay.amount
        rounding = to_pay - grand
        change = Money(amount=handed, currency=CURRENCY) - to_pay
        return (
            [Tender(type=TenderType.CASH, amount=Money(amount=handed, currency=CURRENCY))],
            None if change.is_zero() else change,
            None if rounding.is_zero() else rounding,
        )

    def _return(self, key: PosDocumentKey, original: Order) -> Return:
        rng = self._rng
        chosen = rng.sample(original.lines, k=min(len(original.lines), rng.randint(1, 2)))
        lines: list[ReturnLine] = []
        for n, sold in enumerate(chosen, start=1):
            if sold.unit_of_measure is UnitOfMeasure.EACH and sold.quantity > 1:
                quantity = Decimal(rng.randint(1, int(sold.quantity)))
            else:
                quantity = sold.quantity
            # What the customer paid for these units: the line after its promotion discount.
            refund = (sold.net * (quantity / sold.quantity)).rounded()
            rate = sold.tax_lines[0].rate
            lines.append(
                ReturnLine(
                    line_id=str(n),
                    original_line_id=sold.line_id,
                    sku=sold.sku,
                    gtin=sold.gtin,
                    quantity=quantity,
                    unit_of_measure=sold.unit_of_measure,
                    refund_amount=refund,
                    tax_lines=[_vat(refund, rate)],
                    reason=rng.choice(_REASONS),
                )
            )
        total = sum_money((ln.refund_amount for ln in lines), CURRENCY)
        cash = total.rounded_to(CASH_INCREMENT) == total and rng.random() < 0.5
        payout = Tender(type=TenderType.CASH, amount=total) if cash else _card(total, rng)
        return Return(
            return_id=pos_document_id(key),
            original_order_id=original.order_id,
            initiated_channel=Channel.STORE,
            initiated_location=key.store,
            received_channel=Channel.STORE,
            received_location=key.store,
            loyalty_card=original.loyalty_card,
            currency=CURRENCY,
            lines=lines,
            refund_tenders=[payout],
            refund_total=total,
            status=ReturnStatus.REFUNDED,
            created_at=_moment(key),
        )


def write_to_drop_folder(folder: Path, name: str, poslog: bytes) -> Path:
    """Write a journal the way POS exports must: `<name>.tmp` first, then an atomic rename."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    partial = folder / f"{name}.tmp"
    partial.write_bytes(poslog)
    os.replace(partial, final)
    return final


async def push_to_hub(url: str, poslog: bytes, *, timeout_s: float = 10.0) -> int:
    """POST a journal to the hub's POSLog receiver; returns the HTTP status it answered."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=poslog, headers={"Content-Type": "application/xml"}) as response,
    ):
        await response.read()
        return response.status


def journal_name(run: TillRun, business_day: date) -> str:
    """`POSLog_<store>_<yyyymmdd>_<first>-<last>.xml`, named after the receipts it holds."""
    first, last = run.documents[0], run.documents[-1]
    return f"POSLog_{run.store}_{business_day:%Y%m%d}_{_short(first)}-{_short(last)}.xml"


def _short(document: Order | Return) -> str:
    key = document.order_id if isinstance(document, Order) else document.return_id
    return key.rsplit("-", 2)[-2] + "." + key.rsplit("-", 1)[-1]


def _applies(promotion: Promotion, product: Product, store: str) -> bool:
    """True when the promotion runs in stores, at this one, and names the item or its category."""
    if Channel.STORE not in promotion.channels:
        return False
    if promotion.stores and store not in promotion.stores:
        return False
    eligibility = promotion.eligibility
    if eligibility.customer_tiers or eligibility.customer_segments or eligibility.minimum_spend:
        return False  # needs the member's tier or the whole basket: left to the POS's own engine
    return product.sku in eligibility.skus or any(
        product.in_hierarchy(node) for node in eligibility.hierarchy_nodes
    )


def _vat(gross: Money, rate: Decimal) -> TaxLine:
    """The VAT inside a VAT-inclusive amount, to the cent."""
    net = (gross.amount / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return TaxLine(
        name=f"VAT {rate * 100:.0f}%",
        rate=rate,
        amount=Money(amount=gross.amount - net, currency=gross.currency),
    )


def _card(amount: Money, rng: random.Random) -> Tender:
    return Tender(
        type=TenderType.CARD, amount=amount, reference=f"************{rng.randint(1000, 9999)}"
    )


def _moment(key: PosDocumentKey) -> datetime:
    """When the receipt was printed: store opening at 08:00 plus 40 s per receipt number."""
    opening = datetime.combine(key.business_day, time(8), tzinfo=CET)
    return opening + timedelta(seconds=40 * (int(key.sequence) % 1300))


def _control(store: str, workstation: str, sequence: int, day: date, activity: str) -> bytes:
    transaction = Element("Transaction")
    for name, value in (
        ("RetailStoreID", store),
        ("WorkstationID", workstation),
        ("SequenceNumber", str(sequence)),
        ("BusinessDayDate", day.isoformat()),
        (
            "EndDateTime",
            _moment(PosDocumentKey(store, day, workstation, str(sequence))).isoformat(),
        ),
        ("OperatorID", f"OP{int(workstation) * 10 + 1}"),
    ):
        SubElement(transaction, name).text = value
    SubElement(SubElement(transaction, "ControlTransaction"), activity)
    written: bytes = tostring(transaction, encoding="unicode").encode()
    return written


def _with_controls(body: bytes, openings: Sequence[bytes], closings: Sequence[bytes]) -> bytes:
    """Put the sign-ons before the baskets and the sign-offs after them, inside the POSLog root."""
    start = body.index(b">", body.index(b"<POSLog")) + 1
    end = body.rindex(b"</POSLog>")
    leading = b"".join(b"\n  " + control for control in openings)
    trailing = b"".join(b"  " + control + b"\n" for control in closings)
    return body[:start] + leading + body[start:end] + trailing + body[end:]
