"""Telling the loyalty platform what became of each redemption, one call at a time.

A step is one platform call and the state it leads to: an offline approval is blocked at the
platform (it becomes a reservation); a reservation is captured (sale completed) or unblocked
(voided, expired). Each step is saved before the next, so a redemption interrupted between a
block and its capture resumes at the capture. A refusal ends the redemption `rejected`, with an
alert for follow-up in the same transaction; an unavailable platform leaves it pending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from retailhub.bus.port import EventBus
from retailhub.connectors.ports import LoyaltyPort
from retailhub.flows.alerts import Alert, record_alert
from retailhub.flows.checkout.documents import (
    Redemption,
    RedemptionState,
    SaleOutcome,
)
from retailhub.flows.checkout.guard import is_unavailability
from retailhub.flows.checkout.store import adjust_known_balance, save_redemption

T = TypeVar("T")

REJECTED_ALERT = "checkout.redemption_rejected"
"""The alert kind of a redemption the platform refused after the till had been told yes."""

Runner = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]

_GIVEN_BACK = {
    SaleOutcome.VOIDED: RedemptionState.RELEASED,
    SaleOutcome.EXPIRED: RedemptionState.EXPIRED,
}


@dataclass(frozen=True)
class Step:
    """A redemption after one platform call, the points that call moved on the member's
    balance, and the alert it raises (a rejection)."""

    redemption: Redemption
    balance_delta: int = 0
    alert: Alert | None = None


def capture_key(redemption_id: str) -> str:
    """The idempotency key of a redemption's capture (its block uses the redemption id)."""
    return f"{redemption_id}:capture"


def rejected(redemption: Redemption, reason: str, now: datetime) -> Step:
    """The redemption rejected for `reason`, with its follow-up alert."""
    done = replace(
        redemption, state=RedemptionState.REJECTED, rejection_reason=reason, updated_at=now
    )
    what = "offline redemption" if redemption.offline else "redemption"
    summary = (
        f"{what} of {redemption.points} points for member {redemption.member_id} on sale"
        f" {redemption.sale_id} was rejected by the loyalty platform: {reason}"
    )
    detail = (
        f"redemption {redemption.redemption_id}; the till had approved it; sale outcome:"
        f" {redemption.sale_outcome.value if redemption.sale_outcome else 'open'}"
    )
    return Step(done, alert=Alert(REJECTED_ALERT, redemption.redemption_id, summary, detail, True))


async def next_step(loyalty: LoyaltyPort, redemption: Redemption, now: datetime) -> Step:
    """Make the one platform call the redemption needs next; unavailability propagates."""
    r, outcome = redemption, redemption.sale_outcome
    try:
        if r.state is RedemptionState.OFFLINE_APPROVED:
            transfer_id = await loyalty.block_points(r.member_id, r.points, r.redemption_id)
            blocked = replace(r, state=RedemptionState.RESERVED, transfer_id=transfer_id)
            return Step(replace(blocked, updated_at=now), balance_delta=-r.points)
        if r.state is not RedemptionState.RESERVED or outcome is None or r.transfer_id is None:
            return Step(r)
        if outcome is SaleOutcome.COMPLETED:
            spend_id = await loyalty.capture_points(r.transfer_id, capture_key(r.redemption_id))
            state = RedemptionState.POSTED if r.offline else RedemptionState.CAPTURED
            return Step(replace(r, state=state, spend_transfer_id=spend_id, updated_at=now))
        await loyalty.unblock_points(r.transfer_id)
        return Step(replace(r, state=_GIVEN_BACK[outcome], updated_at=now), r.points)
    except Exception as error:
        if is_unavailability(error):
            raise
        if r.state is RedemptionState.OFFLINE_APPROVED and outcome in _GIVEN_BACK:
            # The sale did not use the points and the platform never held them: nothing to undo.
            return Step(replace(r, state=_GIVEN_BACK[outcome], updated_at=now))
        return rejected(r, str(error) or type(error).__name__, now)


async def save_step(bus: EventBus, step: Step, now: datetime) -> None:
    """Commit a step: the redemption, the member's last-known balance and any alert together."""
    async with bus.transaction() as transaction:
        await save_redemption(transaction, step.redemption)
        if step.balance_delta:
            await adjust_known_balance(
                transaction, step.redemption.member_id, step.balance_delta, now
            )
        if step.alert is not None:
            await record_alert(transaction, step.alert)


def _call(
    loyalty: LoyaltyPort, redemption: Redemption, now: datetime
) -> Callable[[], Awaitable[Step]]:
    return lambda: next_step(loyalty, redemption, now)


async def settle(
    bus: EventBus,
    loyalty: LoyaltyPort,
    redemption: Redemption,
    run: Runner[Step],
    clock: Callable[[], datetime],
) -> Redemption:
    """Take the redemption as far as the platform lets it now, saving every step; an
    unavailable platform propagates once the steps made so far are saved."""
    current = redemption
    while current.pending:
        now = clock()
        step = await run(_call(loyalty, current, now))
        if step.redemption == current:
            return current
        await save_step(bus, step, now)
        current = step.redemption
    return current
