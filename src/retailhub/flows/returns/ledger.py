"""What was bought, per order and line, in every channel: the ledger the returns guard reads.

A bus subscription (`returns.ledger`) keeps each order as the channels last described it, from
`retail.order.created|updated|cancelled.v1`, so a return at the till can be checked against a
store sale as well as a web order. A web order the ledger has not seen (one sold before the hub
listened) is read once from the commerce platform and kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from retailhub.bus.port import Handler, HandlerContext, Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.order import Order, OrderStatus
from retailhub.flows.order_to_cash.events import order_of
from retailhub.flows.returns.events import ORDER_CANCELLED
from retailhub.flows.storage import is_postgres, placeholders

ORDERS_TABLE = "returns_sold_orders"
ORDERS_DDL = f"""
CREATE TABLE IF NOT EXISTS {ORDERS_TABLE} (
    order_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


async def create_ledger_table(transaction: Transaction) -> None:
    """Create the sold-orders table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(ORDERS_DDL)


async def keep_order(transaction: Transaction, order: Order, *, replace: bool = True) -> None:
    """Keep an order as last described; `replace=False` keeps an existing row untouched."""
    marks = ", ".join(placeholders(transaction, 4))
    update = (
        " DO UPDATE SET status = excluded.status, body = excluded.body,"
        " updated_at = excluded.updated_at"
        if replace
        else " DO NOTHING"
    )
    await transaction.execute(
        f"INSERT INTO {ORDERS_TABLE} (order_id, status, body, updated_at) VALUES ({marks})"
        f" ON CONFLICT (order_id){update}",
        (
            order.order_id,
            order.status.value,
            order.model_dump_json(),
            datetime.now(UTC).isoformat(),
        ),
    )


async def sold_order(
    transaction: Transaction, order_id: str, *, lock: bool = False
) -> Order | None:
    """The order as the ledger keeps it; `lock` holds its row (PostgreSQL) for a claim."""
    (mark,) = placeholders(transaction, 1)
    suffix = " FOR UPDATE" if lock and is_postgres(transaction) else ""
    rows = await transaction.fetch_all(
        f"SELECT body FROM {ORDERS_TABLE} WHERE order_id = {mark}{suffix}", (order_id,)
    )
    return Order.model_validate_json(rows[0][0]) if rows else None


def keep_sold_orders() -> Handler:
    """The `returns.ledger` handler: keep every order event's order, a cancellation as cancelled."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        order = order_of(event)
        if event.type == ORDER_CANCELLED and order.status is not OrderStatus.CANCELLED:
            order = order.model_copy(update={"status": OrderStatus.CANCELLED})
        await keep_order(context.transaction, order)

    return handle
