"""Return-to-refund: a return started online or at the till, received at a store, refunded once.

Goods received (`retail.return.received.v1`, from a till's POSLog or the platform) start the
`return_to_refund` saga per return id: claim the returned quantities against what was bought
in every channel, ERP credit note, loyalty reversal and re-credit, restock where the goods
arrived, the platform's refund for web orders, and the CRM case closed; a step failing for
good undoes what was done and raises an alert. Returns started online
(`initiate_return`, `retail.return.requested.v1`) hold their quantities and open the case
first. `return_status` answers where a return stands in each system. See
docs/flows-return-to-refund.md.
"""

from retailhub.flows.returns.calls import CallPolicy
from retailhub.flows.returns.refund import RefundResult, ReturnSettings, ReturnToRefund
from retailhub.flows.returns.requests import ReturnRefused, ReturnRequested, initiate_return
from retailhub.flows.returns.status import (
    Outcome,
    ReturnState,
    ReturnStatusView,
    SystemOutcome,
    return_status,
)
from retailhub.flows.returns.wiring import register_return_to_refund, subscribe_return_to_refund

__all__ = [
    "CallPolicy",
    "Outcome",
    "RefundResult",
    "ReturnRefused",
    "ReturnRequested",
    "ReturnSettings",
    "ReturnState",
    "ReturnStatusView",
    "ReturnToRefund",
    "SystemOutcome",
    "initiate_return",
    "register_return_to_refund",
    "return_status",
    "subscribe_return_to_refund",
]
