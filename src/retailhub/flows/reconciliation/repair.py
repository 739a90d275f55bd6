"""Repairs: settle a discrepancy by re-driving the flow that should have done the work, or by
the one keyed call that flow makes, so a repair repeated (or racing the flow) writes nothing
twice. A repair does not resolve its discrepancy: the next run of its day confirms it.

- order without posting: the order's dead letter on `o2c.erp` is retried; with none, the
  order's events are replayed to `o2c.erp`, which posts under the order id (a repeat returns
  the first posting). While the bus is still retrying it there is nothing to do.
- points on a cancelled order: the cancellation's dead letter on `o2c.loyalty` is retried;
  with none (the points were accrued behind the hub's back, or after the cancellation was
  handled) the accrual transfers are cancelled, as `o2c.loyalty` cancels them.
- posting for a cancelled order: `ErpPort.cancel_sale_order` under the order id, on the ERP
  that holds it.
- refund without credit note, refund without points reversal: `post_credit_note` and
  `register_return` under the returns flow's keys, on the recorded return (with the member's
  card when the return names none, so the platform finds the member).
- posting without an order, amount mismatch, points reversal without refund: an operator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retailhub.bus.port import EventBus, HoldState, Selection
from retailhub.connectors.ports import ErpPort, LoyaltyPort
from retailhub.flows.order_to_cash.events import ORDER_CANCELLED, ORDER_EVENTS
from retailhub.flows.order_to_cash.status import subscription_name
from retailhub.flows.reconciliation.discrepancies import Discrepancy, Repair
from retailhub.flows.reconciliation.ledger import DocumentKind, documents_by_id
from retailhub.flows.reconciliation.settings import ReconciliationSettings


@dataclass(frozen=True)
class RepairOutcome:
    """What a repair did: `done` when it re-drove or made the call, with what it did."""

    discrepancy: Discrepancy
    done: bool
    action: str

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON-ready values."""
        return {
            "kind": self.discrepancy.kind.value,
            "key": self.discrepancy.key,
            "repair": self.discrepancy.repair.value,
            "done": self.done,
            "action": self.action,
        }


@dataclass(frozen=True)
class RepairPorts:
    """What repairs need: the bus (to re-drive), the ERPs by name, the routed ERP documents are
    posted through, the loyalty platform, and the settings (the returns flow's keys)."""

    bus: EventBus
    erps: Mapping[str, ErpPort]
    erp: ErpPort | None
    loyalty: LoyaltyPort
    settings: ReconciliationSettings


async def redrive(
    bus: EventBus, subscription: str, key: str, types: Sequence[str]
) -> tuple[bool, str]:
    """Retry the key's dead letters on a subscription, else replay its events of `types` there;
    (done, what happened)."""
    held = await bus.held(Selection(subscription=subscription, key=key))
    if any(h.state is HoldState.DEAD for h in held):
        moved = await bus.retry(Selection(subscription=subscription, key=key))
        return True, f"retried {len(moved.events)} dead letter(s) of {key} on {subscription}"
    if held:
        return True, f"{subscription} is still retrying {key}: nothing to re-drive yet"
    first = await bus.tail(key=key, types=types, limit=1)
    if not first:
        return False, f"no event of {key} is left in the bus log to replay to {subscription}"
    plan = await bus.replay(subscription, from_position=first[0].position, types=types, key=key)
    return True, f"replayed {len(plan.positions)} event(s) of {key} to {subscription}"


async def repair(discrepancy: Discrepancy, ports: RepairPorts) -> RepairOutcome:
    """Repair one discrepancy as its kind says (see the module's list)."""
    match discrepancy.repair:
        case Repair.REDRIVE_ERP_POSTING:
            done, action = await redrive(
                ports.bus, subscription_name("erp"), discrepancy.key, ORDER_EVENTS
            )
        case Repair.REDRIVE_POINTS_CANCELLATION:
            done, action = await _cancel_points(discrepancy, ports)
        case Repair.CANCEL_SALE_ORDER:
            done, action = await _cancel_sale_order(discrepancy, ports)
        case Repair.POST_CREDIT_NOTE | Repair.REVERSE_POINTS:
            done, action = await _redo_return(discrepancy, ports)
        case Repair.OPERATOR:
            done, action = (
                False,
                f"{discrepancy.kind.value} cannot be re-driven: an operator decides",
            )
    return RepairOutcome(discrepancy, done, action)


async def _cancel_points(discrepancy: Discrepancy, ports: RepairPorts) -> tuple[bool, str]:
    subscription = subscription_name("loyalty")
    selection = Selection(subscription=subscription, key=discrepancy.key)
    dead = await ports.bus.held(selection, states=(HoldState.DEAD,))
    if any(h.event.type == ORDER_CANCELLED for h in dead):
        moved = await ports.bus.retry(selection)
        return (
            True,
            f"retried {len(moved.events)} dead letter(s) of {discrepancy.key} on {subscription}",
        )
    for transfer in discrepancy.transfers:
        await ports.loyalty.cancel_transfer(transfer)
    return bool(discrepancy.transfers), (
        f"cancelled accrual transfer(s) {', '.join(discrepancy.transfers) or 'none known'}"
        f" of member {discrepancy.member_id}"
    )


async def _cancel_sale_order(discrepancy: Discrepancy, ports: RepairPorts) -> tuple[bool, str]:
    erp = ports.erps.get(discrepancy.erp or "")
    if erp is None:
        return False, f"no ERP named {discrepancy.erp!r} in this estate"
    cancelled = await erp.cancel_sale_order(discrepancy.key)
    if cancelled is None:
        return False, f"{discrepancy.erp} holds no sale order under {discrepancy.key}"
    return True, f"cancelled {cancelled.external_id} in {discrepancy.erp} ({cancelled.status})"


async def _redo_return(discrepancy: Discrepancy, ports: RepairPorts) -> tuple[bool, str]:
    async with ports.bus.transaction() as transaction:
        rows = await documents_by_id(transaction, DocumentKind.RETURN, [discrepancy.key])
    row = rows.get(discrepancy.key)
    if row is None:
        return False, f"the hub has no record of return {discrepancy.key}"
    document = row.return_
    settings = ports.settings
    if discrepancy.repair is Repair.POST_CREDIT_NOTE:
        erp = ports.erp
        if erp is None:
            return False, "no routed ERP to post the credit note through"
        posting = await erp.post_credit_note(document, settings.credit_note_key(document.return_id))
        return True, f"posted credit note {posting.external_id} in {posting.system}"
    if document.loyalty_card is None and discrepancy.member_id:
        member = await ports.loyalty.find_member(member_id=discrepancy.member_id)
        if member is not None and member.card_numbers:
            document = document.model_copy(update={"loyalty_card": member.card_numbers[0]})
    outcome = await ports.loyalty.register_return(
        document, settings.loyalty_return_key(document.return_id)
    )
    return True, f"registered return {document.return_id}: {outcome.points} points moved"
