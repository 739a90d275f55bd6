"""Checkout's background work, which the hub runs beside the API: expiring reservations the
tills never finished, and posting the offline queue once the loyalty platform is back.

Both are bounded passes (at most `settle_batch` redemptions each). A pass stops at the first
sign that the platform is still unavailable: every failed call is followed by a lookup of the
redemption's member, and only if the platform answers that is the failure counted against the
redemption (a long outage uses up no attempts); after `max_settle_attempts` counted failures
the redemption is rejected for an operator. `keep_checkout_settled` runs a pass every `settle_interval_s` until cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from retailhub.flows.checkout.desk import CheckoutDesk
from retailhub.flows.checkout.documents import Redemption, RedemptionState, SaleOutcome
from retailhub.flows.checkout.guard import UNAVAILABLE
from retailhub.flows.checkout.settlement import Step, rejected, save_step, settle
from retailhub.flows.checkout.store import (
    get_redemption,
    redemptions_expired,
    redemptions_in_state,
    redemptions_to_settle,
    save_redemption,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassReport:
    """What one pass did: redemptions finished or moved on, and why it stopped early if so."""

    settled: int = 0
    rejected: int = 0
    waiting: int = 0
    platform_down: bool = False


def _within(desk: CheckoutDesk) -> Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]:
    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with asyncio.timeout(desk.policy.settle_timeout_s):
            return await call()

    return run


async def expire_overdue_reservations(desk: CheckoutDesk) -> PassReport:
    """Mark open redemptions past their expiry `expired` and give their points back at the
    platform (an offline approval the platform never saw just expires here)."""
    now = desk.clock()
    async with desk.bus.transaction() as transaction:
        overdue = await redemptions_expired(transaction, now, desk.policy.settle_batch)
    expired = []
    for redemption in overdue:
        lock = desk.lock_for(redemption.redemption_id)
        async with lock, desk.bus.transaction() as transaction:
            current = await get_redemption(transaction, redemption.redemption_id)
            if current is None or current.sale_outcome is not None:
                continue
            marked = replace(current, sale_outcome=SaleOutcome.EXPIRED, updated_at=now)
            never_held = current.state is RedemptionState.OFFLINE_APPROVED and not (
                current.platform_attempted
            )
            if never_held:
                marked = replace(marked, state=RedemptionState.EXPIRED)
            await save_redemption(transaction, marked)
        expired.append(marked)
    at_platform = [r for r in expired if r.pending]
    return await _settle_all(desk, at_platform, finished=len(expired) - len(at_platform))


async def post_offline_queue(desk: CheckoutDesk) -> PassReport:
    """Tell the platform what it does not know yet, oldest first: offline approvals (blocked,
    then captured or given back) and reservations whose sale ended while it was down."""
    async with desk.bus.transaction() as transaction:
        queued = await redemptions_to_settle(transaction, desk.policy.settle_batch)
    return await _settle_all(desk, queued)


async def _settle_all(desk: CheckoutDesk, queue: list[Redemption], finished: int = 0) -> PassReport:
    settled, refused = 0, 0
    for position, redemption in enumerate(queue):
        try:
            done = await _settle_one(desk, redemption)
        except UNAVAILABLE as error:
            if not await _platform_answers(desk, redemption):
                return PassReport(settled, refused, len(queue) - position, platform_down=True)
            refused += await _count_failure(desk, redemption, error)
            continue
        settled += 1
        refused += done.state is RedemptionState.REJECTED
    return PassReport(settled + finished, refused, 0)


async def _settle_one(desk: CheckoutDesk, redemption: Redemption) -> Redemption:
    """Settle one redemption as it stands now, holding its lock against a till's call."""
    async with desk.lock_for(redemption.redemption_id):
        async with desk.bus.transaction() as transaction:
            current = await get_redemption(transaction, redemption.redemption_id) or redemption
        return await settle(desk.bus, desk.loyalty, current, _within(desk), desk.clock)


async def _platform_answers(desk: CheckoutDesk, redemption: Redemption) -> bool:
    """Whether the platform answers a lookup of the redemption's member now."""
    try:
        async with asyncio.timeout(desk.policy.settle_timeout_s):
            await desk.loyalty.find_member(member_id=redemption.member_id)
    except UNAVAILABLE:
        return False
    except Exception:
        log.exception("member lookup for %s failed", redemption.redemption_id)
    return True


async def _count_failure(desk: CheckoutDesk, redemption: Redemption, error: BaseException) -> int:
    """Count a failed attempt on a redemption the platform should have taken; reject it after
    the policy's last attempt. Returns 1 when it was rejected."""
    now = desk.clock()
    async with desk.bus.transaction() as transaction:
        current = await get_redemption(transaction, redemption.redemption_id) or redemption
    attempts = current.attempts + 1
    message = str(error) or type(error).__name__
    if attempts < desk.policy.max_settle_attempts:
        updated = replace(current, attempts=attempts, last_error=message, updated_at=now)
        await save_step(desk.bus, Step(updated), now)
        return 0
    gave_up = replace(current, attempts=attempts, last_error=message)
    await save_step(
        desk.bus, rejected(gave_up, f"gave up after {attempts} attempts: {message}", now), now
    )
    return 1


async def rejected_redemptions(desk: CheckoutDesk, limit: int = 1000) -> list[Redemption]:
    """Redemptions the platform refused after the till was told yes, newest first: the
    follow-up list (each also has an open alert of kind `checkout.redemption_rejected`)."""
    async with desk.bus.transaction() as transaction:
        return await redemptions_in_state(transaction, RedemptionState.REJECTED, limit)


async def keep_checkout_settled(desk: CheckoutDesk) -> None:
    """Expire overdue reservations and post the offline queue every `settle_interval_s`, until
    cancelled; a failing pass is logged and the next one tries again."""
    while True:
        try:
            await expire_overdue_reservations(desk)
            await post_offline_queue(desk)
        except Exception:
            log.exception("checkout settlement pass failed")
        await asyncio.sleep(desk.policy.settle_interval_s)
