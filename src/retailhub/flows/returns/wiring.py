"""Return-to-refund on the bus and the workflow runtime: three subscriptions and one saga.

- `returns.ledger` keeps what was bought per order and line from every order event;
- `returns.requested` holds the quantities of returns started online and opens their case;
- `returns.received` starts the `return_to_refund` saga once per return id (workflow id
  `return_to_refund:<return id>`), so a repeated event, a second file carrying the same till
  return or a replay never refunds twice, and waits for it: the subscription's lag is the
  returns not yet settled, and its concurrency bounds the sagas in flight.

The saga must be registered before the workflow runtime launches, so that DBOS's recovery at
launch finds it. The composition root calls, in this order:

    flow = register_return_to_refund(bus, erp=..., loyalty=..., crm=..., commerce=...,
                                     alerts=BusAlertSink(bus))
    await runtime.launch()
    await subscribe_return_to_refund(bus, runtime, flow)
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from retailhub.bus.port import DEFAULT_RETRY, EventBus, Handler, HandlerContext, RetryPolicy
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.connectors.ports import CommercePort, CrmPort, ErpPort, LoyaltyPort
from retailhub.flows.alerts import BusAlertSink
from retailhub.flows.returns.claims import create_claims_table
from retailhub.flows.returns.events import (
    ORDER_EVENTS,
    RETURN_RECEIVED,
    RETURN_REQUESTED,
    return_of,
)
from retailhub.flows.returns.ledger import create_ledger_table, keep_sold_orders
from retailhub.flows.returns.refund import ReturnPorts, ReturnSettings, ReturnToRefund
from retailhub.flows.returns.requests import hold_requested_returns
from retailhub.flows.returns.status import create_status_tables
from retailhub.flows.sagas import Saga, WorkflowRuntime, register_saga, start_saga

LEDGER = "returns.ledger"
REQUESTED = "returns.requested"
RECEIVED = "returns.received"


def register_return_to_refund(
    bus: EventBus,
    *,
    erp: ErpPort,
    loyalty: LoyaltyPort,
    crm: CrmPort,
    commerce: CommercePort | None,
    alerts: BusAlertSink,
    settings: ReturnSettings | None = None,
) -> ReturnToRefund:
    """Build the saga over these ports and register it; call before the runtime launches."""
    flow = ReturnToRefund(bus, ReturnPorts(erp, loyalty, crm, commerce), alerts, settings)
    register_saga(flow.saga())
    return flow


async def subscribe_return_to_refund(
    bus: EventBus,
    runtime: WorkflowRuntime,
    flow: ReturnToRefund,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: int = 32,
) -> list[str]:
    """Create the flow's tables and run its three subscriptions here; returns their names."""
    async with bus.transaction() as transaction:
        await create_ledger_table(transaction)
        await create_claims_table(transaction)
        await create_status_tables(transaction)
    saga = flow.saga()
    register_saga(saga)
    subscriptions: list[tuple[str, tuple[str, ...], Handler]] = [
        (LEDGER, ORDER_EVENTS, keep_sold_orders()),
        (
            REQUESTED,
            (RETURN_REQUESTED,),
            hold_requested_returns(flow.ports.crm, flow.ports.commerce),
        ),
        (RECEIVED, (RETURN_RECEIVED,), refund_received_returns(runtime, saga)),
    ]
    for name, types, handler in subscriptions:
        await bus.subscribe(name, types, handler, retry=retry, concurrency=concurrency)
    return [name for name, _, _ in subscriptions]


def refund_received_returns(runtime: WorkflowRuntime, saga: Saga[dict[str, Any], Any]) -> Handler:
    """The `returns.received` handler: start the saga once per return id and wait for it."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        document = return_of(event)
        # The saga runs as its own task and opens its own bus transactions: started from a
        # fresh context it does not inherit this handler's marker, which the bus refuses
        # transactions under (they would wait on the handler's own batch).
        start = start_saga(runtime, saga, document.return_id, event.data)
        handle = await asyncio.get_running_loop().create_task(start, context=contextvars.Context())
        await handle.get_result()

    return handle
