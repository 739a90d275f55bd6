"""The hub's own record of each store's business day, kept by the `reconciliation.ledger`
subscription on order and return events.

One row per order and per return: its store, business day, status, the amount the ERP should
book and the canonical document itself (the member is read from it; a return's repair needs
it). Rows are written through the handler's transaction, so a row commits exactly with the
event's handled mark, and only an event at a later log position than the row's replaces it: a
replay of an older event changes nothing. The subscription starts at the beginning of the
retained log, so a hub that adds reconciliation later still records what it already carries.

Business day: a till sale's own `pos.business_day`, else the local date (in the stores' time
zone) of when it was placed, or for a return of when it was created, as the ERP dates them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from retailhub.bus.port import Handler, HandlerContext, Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderStatus
from retailhub.canonical.returns import Return, ReturnStatus
from retailhub.flows.order_to_cash.events import ORDER_CANCELLED, ORDER_EVENTS, order_of
from retailhub.flows.reconciliation.settings import ReconciliationSettings
from retailhub.flows.storage import Reader, placeholders

RETURN_RECEIVED = "retail.return.received.v1"
RETURN_REFUNDED = "retail.return.refunded.v1"
RETURN_EVENTS = (RETURN_RECEIVED, RETURN_REFUNDED)
LEDGER_EVENTS = (*ORDER_EVENTS, *RETURN_EVENTS)
LEDGER_SUBSCRIPTION = "reconciliation.ledger"

TABLE = "reconciliation_documents"
DDL = (
    f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    document_kind    TEXT NOT NULL,
    document_id      TEXT NOT NULL,
    store            TEXT NOT NULL,
    business_day     TEXT NOT NULL,
    status           TEXT NOT NULL,
    amount           TEXT NOT NULL,
    currency         TEXT NOT NULL,
    original_order   TEXT,
    document         TEXT NOT NULL,
    position         INTEGER NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (document_kind, document_id)
)
""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_day ON {TABLE} (business_day, store)",
)
COLUMNS = (
    "document_kind",
    "document_id",
    "store",
    "business_day",
    "status",
    "amount",
    "currency",
    "original_order",
    "document",
    "position",
)


class DocumentKind(StrEnum):
    """What a row of the hub's record is."""

    ORDER = "order"
    RETURN = "return"


@dataclass(frozen=True)
class Recorded:
    """One order or return as the hub last heard of it."""

    kind: DocumentKind
    document_id: str
    store: str
    business_day: date
    status: str
    amount: Money
    """What the ERP should book: an order's goods, discounts, tax and shipping without till cash
    rounding (the ERP knows nothing of it); a return's refund total."""
    document: Order | Return
    position: int
    original_order_id: str | None = None

    @property
    def order(self) -> Order:
        """The order this row records (TypeError for a return)."""
        if not isinstance(self.document, Order):
            raise TypeError(f"{self.document_id} is a return, not an order")
        return self.document

    @property
    def return_(self) -> Return:
        """The return this row records (TypeError for an order)."""
        if not isinstance(self.document, Return):
            raise TypeError(f"{self.document_id} is an order, not a return")
        return self.document


def erp_amount(order: Order) -> Money:
    """What the ERP books for an order: its computed total less the till's cash rounding."""
    rounding = order.totals.rounding or Money.zero(order.currency)
    return order.computed_grand_total() - rounding


def order_day(order: Order, settings: ReconciliationSettings) -> date:
    """The business day of a sale: the till's own, else its local date of placing."""
    if order.pos is not None:
        return order.pos.business_day
    return order.placed_at.astimezone(settings.zone).date()


def recorded_of(
    event: CloudEvent, position: int, settings: ReconciliationSettings
) -> Recorded | None:
    """The row an order or return event makes, or None for another type."""
    if event.type in ORDER_EVENTS:
        order = order_of(event)
        status = OrderStatus.CANCELLED if event.type == ORDER_CANCELLED else order.status
        return Recorded(
            DocumentKind.ORDER,
            order.order_id,
            order.location or settings.web_location,
            order_day(order, settings),
            status.value,
            erp_amount(order),
            order,
            position,
        )
    if event.type in RETURN_EVENTS:
        document = Return.model_validate(event.data)
        refunded = event.type == RETURN_REFUNDED
        return_status = ReturnStatus.REFUNDED if refunded else document.status
        return Recorded(
            DocumentKind.RETURN,
            document.return_id,
            document.received_location or document.initiated_location or settings.web_location,
            document.created_at.astimezone(settings.zone).date(),
            return_status.value,
            document.refund_total,
            document,
            position,
            document.original_order_id,
        )
    return None


async def create_ledger_table(transaction: Transaction) -> None:
    """Create the hub's record table if it is missing (idempotent, SQLite and PostgreSQL)."""
    for statement in DDL:
        await transaction.execute(statement)


async def record(transaction: Transaction, row: Recorded) -> None:
    """Write a row unless the one stored came from a later event."""
    marks = ", ".join(placeholders(transaction, len(COLUMNS) + 1))
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*COLUMNS[2:], "updated_at"))
    await transaction.execute(
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, updated_at) VALUES ({marks})"
        f" ON CONFLICT (document_kind, document_id) DO UPDATE SET {updates}"
        f" WHERE excluded.position >= {TABLE}.position",
        (
            row.kind.value,
            row.document_id,
            row.store,
            row.business_day.isoformat(),
            row.status,
            format(row.amount.amount, "f"),
            row.amount.currency,
            row.original_order_id,
            row.document.model_dump_json(),
            row.position,
            datetime.now(UTC).isoformat(),
        ),
    )


def keep_ledger(settings: ReconciliationSettings) -> Handler:
    """The handler recording every order and return event in the hub's record."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        row = recorded_of(event, context.position, settings)
        if row is not None:
            await record(context.transaction, row)

    return handle


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"


def _row(values: Sequence[Any]) -> Recorded:
    kind, document_id, store, day, status, amount, currency, original, document, position = values
    parsed_kind = DocumentKind(kind)
    parsed: Order | Return = (
        Order.model_validate_json(document)
        if parsed_kind is DocumentKind.ORDER
        else Return.model_validate_json(document)
    )
    return Recorded(
        parsed_kind,
        document_id,
        store,
        date.fromisoformat(day),
        status,
        Money(amount=Decimal(amount), currency=currency),
        parsed,
        int(position),
        original,
    )


async def documents_of_day(reader: Reader, day: date, store: str | None = None) -> list[Recorded]:
    """The orders and returns of a business day, for one store or all, by store and id."""
    parameters: list[Any] = [day.isoformat()]
    statement = f"{_SELECT} WHERE business_day = {placeholders(reader, 1)[0]}"
    if store is not None:
        statement += f" AND store = {placeholders(reader, 1, start=2)[0]}"
        parameters.append(store)
    rows = await reader.fetch_all(
        statement + " ORDER BY store, document_kind, document_id", parameters
    )
    return [_row(row) for row in rows]


async def documents_by_id(
    reader: Reader, kind: DocumentKind, ids: Iterable[str]
) -> dict[str, Recorded]:
    """The rows of some orders or returns by id, whatever their day (missing ids are left out)."""
    wanted = sorted(set(ids))
    found: dict[str, Recorded] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = placeholders(reader, len(chunk) + 1)
        rows = await reader.fetch_all(
            f"{_SELECT} WHERE document_kind = {marks[0]}"
            f" AND document_id IN ({', '.join(marks[1:])})",
            [kind.value, *chunk],
        )
        found.update((row[1], _row(row)) for row in rows)
    return found
