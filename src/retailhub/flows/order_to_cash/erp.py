"""The `o2c.erp` subscription: every completed order becomes one ERP sale order.

The sale order is written under the order id, so a repeated event, a second event for the same
order or a replay finds the first posting. A cancellation before posting posts nothing; one
after posting cancels the sale order in the ERP (`ErpPort.cancel_sale_order`, once per key:
a repeat finds it cancelled) and the row turns `reversed`, naming it.
"""

from __future__ import annotations

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.order import OrderStatus
from retailhub.connectors.ports import ErpPort
from retailhub.flows.order_to_cash.decisions import is_completed, sale_key
from retailhub.flows.order_to_cash.events import is_cancellation, order_of
from retailhub.flows.order_to_cash.status import Outcome, SystemStatus, record

SYSTEM = "erp"


def post_to_erp(erp: ErpPort) -> Handler:
    """The handler posting completed orders to the ERP and flagging cancelled postings."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        order = order_of(event)
        key = sale_key(order.order_id)
        cancelled = is_cancellation(event) or order.status is OrderStatus.CANCELLED
        if is_completed(order, is_cancellation(event)):
            posting = await erp.post_sale_order(order, key)
            status = SystemStatus(
                SYSTEM,
                Outcome.DONE,
                reference=posting.external_id,
                detail=f"sale order {posting.status or 'posted'} in {posting.system}",
                attempts=context.attempt,
            )
        elif not cancelled:
            status = SystemStatus(
                SYSTEM, Outcome.SKIPPED, detail="not completed yet", attempts=context.attempt
            )
        else:
            withdrawn = await erp.cancel_sale_order(key)
            if withdrawn is None:
                status = SystemStatus(
                    SYSTEM,
                    Outcome.SKIPPED,
                    detail="cancelled before it was posted",
                    attempts=context.attempt,
                )
            else:
                status = SystemStatus(
                    SYSTEM,
                    Outcome.REVERSED,
                    reference=withdrawn.external_id,
                    detail=f"sale order {withdrawn.external_id} cancelled in {withdrawn.system}",
                    attempts=context.attempt,
                )
        await record(context.transaction, order.order_id, status)

    return handle
