"""Order-to-cash decisions, free of I/O: idempotency keys, which stock moves a sale makes, who
earns points, and what the CRM timeline says.

Keys are derived from the order id only, so a repeated event, a second event for the same order
or a replay after a crash writes the same document again, which each system turns into a no-op:
- ERP sale order and loyalty sale: the order id itself (Odoo stores it in `client_order_ref`,
  Open Loyalty refuses a document number twice);
- stock: `<order id>:<line id>` per line, `<order id>:<line id>:cancel` to put it back;
- CRM notes: `order:<order id>`, `order:<order id>:points`, `order:<order id>:cancelled`,
  `order:<order id>:points-reversed`.

Stock: an ERP that delivers sale orders itself (Odoo, when it confirms a sale order of stocked
goods) moves stock once already, so the hub moves none. Otherwise the hub decrements on hand at
the selling location, one adjustment per line: a store sale has left the shelf; a web order is
decremented at its fulfilment location (`web_location`) at order time, because `ErpPort` has no
reservation call — available-to-sell drops by the same quantity either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.order import Order, OrderStatus


@dataclass(frozen=True)
class StockSettings:
    """How stock follows a sale in this estate's ERP."""

    erp_moves_stock: bool = False
    """True when the ERP delivers (and moves stock) itself as it confirms a sale order."""
    web_location: str = "WEB"
    """The location web orders are fulfilled from when the order names none."""


@dataclass(frozen=True)
class StockMove:
    """One stock adjustment the hub asks the ERP for."""

    sku: str
    location: str
    delta: Decimal
    key: str


def sale_key(order_id: str) -> str:
    """The key the ERP sale order and the loyalty sale are written under."""
    return order_id


def order_note_key(order_id: str) -> str:
    """The key of the order's note on the CRM timeline."""
    return f"order:{order_id}"


def points_note_key(order_id: str) -> str:
    """The key of the note saying how many points the order earned."""
    return f"order:{order_id}:points"


def reversal_note_key(order_id: str) -> str:
    """The key of the note saying a cancellation took the order's points back."""
    return f"order:{order_id}:points-reversed"


def cancel_note_key(order_id: str) -> str:
    """The key of the note saying the order was cancelled."""
    return f"order:{order_id}:cancelled"


def is_completed(order: Order, cancelled_event: bool) -> bool:
    """True when the order is a completed sale: only those are posted, moved and accrued."""
    return not cancelled_event and order.status is OrderStatus.COMPLETED


def stock_location(order: Order, settings: StockSettings) -> str | None:
    """Where the sale takes stock from: its store, or the web fulfilment location."""
    if order.location is not None:
        return order.location
    return settings.web_location if order.channel is not Channel.STORE else None


def sale_stock_moves(order: Order, settings: StockSettings) -> list[StockMove]:
    """The adjustments a completed sale needs from the hub (none when the ERP delivers itself).

    Lines without a SKU cannot be adjusted through the port and are left out; the caller
    reports them.
    """
    location = stock_location(order, settings)
    if settings.erp_moves_stock or location is None:
        return []
    return [
        StockMove(line.sku, location, -line.quantity, f"{order.order_id}:{line.line_id}")
        for line in order.lines
        if line.sku is not None
    ]


def cancel_stock_moves(order: Order, settings: StockSettings) -> list[StockMove]:
    """The adjustments that put back what `sale_stock_moves` took for a cancelled order."""
    return [
        StockMove(move.sku, move.location, -move.delta, f"{move.key}:cancel")
        for move in sale_stock_moves(order, settings)
    ]


def unmovable_lines(order: Order) -> list[str]:
    """Line ids the hub cannot move stock for, as they name no SKU."""
    return [line.line_id for line in order.lines if line.sku is None]


def order_note(order: Order) -> str:
    """The order's line on the customer's CRM timeline."""
    count = len(order.lines)
    where = order.location or order.channel.value
    return (
        f"Order {order.order_id} ({order.channel.value}, {where}): {count}"
        f" line{'s' if count != 1 else ''}, total {order.totals.grand_total}"
    )


def points_note(order_id: str, points: int) -> str:
    """The note saying what the loyalty platform accrued for the order."""
    return f"Order {order_id}: {points} loyalty points earned"


def cancel_note(order_id: str) -> str:
    """The note saying the order was cancelled."""
    return f"Order {order_id} was cancelled"


def reversal_note(order_id: str, points: int) -> str:
    """The note saying the loyalty platform took the order's points back."""
    return f"Order {order_id}: {points} loyalty points reversed, as the order was cancelled"
