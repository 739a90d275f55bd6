"""The `o2c.stock` subscription: stock follows each completed order exactly once.

Who moves it is a property of the ERP (`StockSettings.erp_moves_stock`): an ERP that delivers a
confirmed sale order itself (Odoo) has moved it already and the hub records `skipped`; otherwise
the hub adjusts on hand per line under `<order id>:<line id>` (see `decisions`). A cancellation
puts back what the hub took, under `<order id>:<line id>:cancel`, and records `reversed`; it
reads this order's row first to know whether anything was taken, which holds the hub database
for the adjustments — acceptable for the rare cancellation, never on the sale path.
"""

from __future__ import annotations

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.order import Order
from retailhub.connectors.ports import ErpPort
from retailhub.flows.order_to_cash.decisions import (
    StockMove,
    StockSettings,
    cancel_stock_moves,
    is_completed,
    sale_stock_moves,
    stock_location,
    unmovable_lines,
)
from retailhub.flows.order_to_cash.events import is_cancellation, order_of
from retailhub.flows.order_to_cash.status import Outcome, SystemStatus, record, recorded

SYSTEM = "stock"


def move_stock(erp: ErpPort, settings: StockSettings) -> Handler:
    """The handler decrementing stock for sales and putting it back for cancellations."""

    async def adjust(moves: list[StockMove]) -> None:
        for move in moves:
            await erp.adjust_stock(move.sku, move.location, move.delta, move.key)

    async def on_sale(order: Order, attempt: int) -> SystemStatus:
        if settings.erp_moves_stock:
            return SystemStatus(
                SYSTEM,
                Outcome.SKIPPED,
                detail="the ERP moves stock when it confirms the sale order",
                attempts=attempt,
            )
        location = stock_location(order, settings)
        if location is None:
            return SystemStatus(
                SYSTEM, Outcome.SKIPPED, detail="the order names no location", attempts=attempt
            )
        moves = sale_stock_moves(order, settings)
        await adjust(moves)
        missing = unmovable_lines(order)
        detail = f"{len(moves)} line(s) taken from {location}"
        if missing:
            detail += f"; lines without a SKU not moved: {', '.join(missing)}"
        return SystemStatus(
            SYSTEM, Outcome.DONE, reference=location, detail=detail, attempts=attempt
        )

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        order = order_of(event)
        if is_completed(order, is_cancellation(event)):
            status = await on_sale(order, context.attempt)
        elif is_cancellation(event):
            before = (await recorded(context.transaction, order.order_id)).get(SYSTEM)
            if before is not None and before.outcome is Outcome.DONE:
                moves = cancel_stock_moves(order, settings)
                await adjust(moves)
                status = SystemStatus(
                    SYSTEM,
                    Outcome.REVERSED,
                    reference=before.reference,
                    detail=f"cancelled: {len(moves)} line(s) put back",
                    attempts=context.attempt,
                )
            else:
                status = SystemStatus(
                    SYSTEM,
                    Outcome.SKIPPED,
                    detail="cancelled: the hub moved no stock for it",
                    attempts=context.attempt,
                )
        else:
            status = SystemStatus(
                SYSTEM, Outcome.SKIPPED, detail="not completed yet", attempts=context.attempt
            )
        await record(context.transaction, order.order_id, status)

    return handle
