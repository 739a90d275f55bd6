"""Returns started online: the API's `initiate_return`, and the `returns.requested` subscription.

`initiate_return` is what `POST /v1/returns` calls: it validates the document, checks it with
the guard against what was bought and already returned, and publishes
`retail.return.requested.v1`; bad input is refused with every fault and its JSON path
(`ReturnRefused`, an `InvalidDocument`), nothing published.

The `returns.requested` handler then holds the quantities (the guard again, atomically, since
two requests may race), records the return as requested and opens its CRM case, keyed by the
return id. When the goods arrive (at a store or back at the warehouse), the received return
fulfils the request and the saga closes that case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from retailhub.bus.port import EventBus, Handler, HandlerContext
from retailhub.canonical.base import Channel
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.errors import Fault, InvalidDocument, faults_from_validation_error
from retailhub.canonical.returns import Return, ReturnStatus, returnable_faults
from retailhub.connectors.ports import CommercePort, CrmPort
from retailhub.flows.returns.claims import claim_requested, live_claims
from retailhub.flows.returns.crm import buyer_contact
from retailhub.flows.returns.decisions import case_opening_text, case_subject
from retailhub.flows.returns.events import requested_event, return_of
from retailhub.flows.returns.ledger import keep_order, sold_order
from retailhub.flows.returns.status import Outcome, ReturnState, record_return, record_system


class ReturnRefused(InvalidDocument):
    """A return that cannot be started: every fault with the JSON path of the field at fault."""


@dataclass(frozen=True)
class ReturnRequested:
    """A return accepted for the request: its id, the event published, and its log position."""

    return_id: str
    event_id: str
    position: int


async def initiate_return(
    bus: EventBus,
    document: Return | Mapping[str, Any],
    *,
    commerce: CommercePort | None = None,
) -> ReturnRequested:
    """Validate a return started online and publish `retail.return.requested.v1` for it.

    Raises ReturnRefused with each fault's JSON path: an invalid document, no original order,
    an order the hub does not know or that is not completed, lines it does not have, or more
    than what is left to return on a line after the returns already accepted.
    """
    requested = _parsed(document)
    order_id = requested.original_order_id
    if order_id is None:
        raise ReturnRefused(
            [Fault("$.original_order_id", "a return started online names its order")]
        )
    async with bus.transaction() as transaction:
        order = await sold_order(transaction, order_id)
    if order is None and commerce is not None:
        order = await commerce.get_order(order_id)
    if order is None:
        raise ReturnRefused([Fault("$.original_order_id", f"order {order_id} is not known")])
    async with bus.transaction() as transaction:
        await keep_order(transaction, order, replace=False)
        earlier = [c.document for c in await live_claims(transaction, order_id)]
        faults = returnable_faults(order, earlier, requested)
        if faults:
            raise ReturnRefused(faults)
        event = requested_event(requested)
        (position,) = await bus.publish([event], transaction=transaction)
    return ReturnRequested(requested.return_id, event.id, position)


def _parsed(document: Return | Mapping[str, Any]) -> Return:
    """The document as a requested return started online, or every fault found in it."""
    if isinstance(document, Return):
        requested = document
    else:
        try:
            requested = Return.model_validate(document)
        except ValidationError as error:
            raise ReturnRefused(faults_from_validation_error(error)) from None
    faults = []
    if requested.status is not ReturnStatus.REQUESTED:
        faults.append(Fault("$.status", "a return is started as requested"))
    if requested.initiated_channel is Channel.STORE:
        faults.append(Fault("$.initiated_channel", "returns at the till come from the POS"))
    if faults:
        raise ReturnRefused(faults)
    return requested


def hold_requested_returns(crm: CrmPort, commerce: CommercePort | None) -> Handler:
    """The `returns.requested` handler: guard and hold the quantities, record, open the case.

    The order is read (and on SQLite the hub's write lock taken) before the CRM call: requests
    are few, and the case must only be opened for a request the guard accepts.
    """

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        requested = return_of(event)
        transaction = context.transaction
        order_id = requested.original_order_id
        order = await sold_order(transaction, order_id) if order_id else None
        if order is None and order_id and commerce is not None:
            order = await commerce.get_order(order_id)
        if order is None:
            reason = f"order {order_id} is not known"
            await _refuse(context, requested, reason)
            return
        await keep_order(transaction, order, replace=False)
        order = await sold_order(transaction, order.order_id, lock=True)
        assert order is not None
        decision = await claim_requested(transaction, order, requested)
        if not decision.accepted:
            await _refuse(context, requested, decision.reason)
            return
        contact = await buyer_contact(crm, order)
        case_id = await crm.open_case(
            contact,
            case_subject(requested),
            case_opening_text(requested),
            f"return:{requested.return_id}",
        )
        await record_return(
            transaction,
            requested.return_id,
            ReturnState.REQUESTED,
            order_id=order.order_id,
            request_id=requested.return_id,
            case_id=case_id,
        )
        await record_system(
            transaction, requested.return_id, "guard", Outcome.DONE, detail="quantities held"
        )
        await record_system(
            transaction,
            requested.return_id,
            "crm",
            Outcome.DONE,
            reference=case_id,
            detail="case opened",
        )

    return handle


async def _refuse(context: HandlerContext, requested: Return, reason: str) -> None:
    """Record a request the guard refused (raced by another return since the API checked)."""
    await record_return(
        context.transaction,
        requested.return_id,
        ReturnState.REFUSED,
        order_id=requested.original_order_id,
        reason=reason,
    )
    await record_system(
        context.transaction, requested.return_id, "guard", Outcome.FAILED, detail=reason
    )
