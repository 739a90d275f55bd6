"""Order-to-cash on the bus: four independent subscriptions, one per system.

Each is a durable subscription of its own (`o2c.erp`, `o2c.stock`, `o2c.loyalty`, `o2c.crm`),
so a system that is down retries and dead-letters only its own subscription while the others
carry on; the bus orders each subscription's events per order id and applies the retry policy.

`concurrency` is per subscription. `o2c.erp` and `o2c.stock` both call the ERP, so twice it
should stay within the ERP connector's bulkhead (`max_concurrent`, 32 by default): calls beyond
it are refused at once, and the bus retries and finally dead-letters them.
"""

from __future__ import annotations

from retailhub.bus.port import DEFAULT_RETRY, EventBus, RetryPolicy
from retailhub.connectors.ports import CrmPort, ErpPort, LoyaltyPort
from retailhub.flows.order_to_cash.crm import note_on_crm
from retailhub.flows.order_to_cash.decisions import StockSettings
from retailhub.flows.order_to_cash.erp import post_to_erp
from retailhub.flows.order_to_cash.events import ORDER_EVENTS, POINTS_EVENTS
from retailhub.flows.order_to_cash.loyalty import accrue_points
from retailhub.flows.order_to_cash.status import create_order_status_table, subscription_name
from retailhub.flows.order_to_cash.stock import move_stock


async def subscribe_order_to_cash(
    bus: EventBus,
    *,
    erp: ErpPort,
    loyalty: LoyaltyPort,
    crm: CrmPort,
    stock: StockSettings | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: int = 16,
) -> list[str]:
    """Create the order-status table and run the four subscriptions here; returns their names."""
    async with bus.transaction() as transaction:
        await create_order_status_table(transaction)
    subscriptions = [
        (subscription_name("erp"), ORDER_EVENTS, post_to_erp(erp)),
        (subscription_name("stock"), ORDER_EVENTS, move_stock(erp, stock or StockSettings())),
        (subscription_name("loyalty"), ORDER_EVENTS, accrue_points(loyalty, bus)),
        (subscription_name("crm"), (*ORDER_EVENTS, *POINTS_EVENTS), note_on_crm(crm)),
    ]
    for name, types, handler in subscriptions:
        await bus.subscribe(name, types, handler, retry=retry, concurrency=concurrency)
    return [name for name, _, _ in subscriptions]
