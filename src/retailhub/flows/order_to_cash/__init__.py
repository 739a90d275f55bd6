"""Order-to-cash, choreographed on the bus: web and store orders reach the ERP, stock, the
loyalty platform and the CRM through four independent, idempotent subscriptions, and an
order-status projection says where each order stands in every system.

Modules: `decisions` (pure: keys, stock moves, note texts), `events` (what is listened to and
published), one module per subscription (`erp`, `stock`, `loyalty`, `crm`), `status` (the
projection and its query) and `wiring` (`subscribe_order_to_cash`). See
docs/flows-order-to-cash.md.
"""

from retailhub.flows.order_to_cash.decisions import StockSettings
from retailhub.flows.order_to_cash.status import (
    CrossSystemStatus,
    Outcome,
    SystemStatus,
    create_order_status_table,
    held_for_order,
    order_status,
)
from retailhub.flows.order_to_cash.wiring import subscribe_order_to_cash

__all__ = [
    "CrossSystemStatus",
    "Outcome",
    "StockSettings",
    "SystemStatus",
    "create_order_status_table",
    "held_for_order",
    "order_status",
    "subscribe_order_to_cash",
]
