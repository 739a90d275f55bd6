"""Drift checked again on demand: read the live version back from every system it was published
to, now, and replace its drift and accuracy (the API's and the CLI's `drift` command)."""

from __future__ import annotations

from datetime import UTC, datetime

from retailhub.bus.port import EventBus
from retailhub.canonical.promotion import Promotion
from retailhub.flows.promotions.channels import PromotionChannels
from retailhub.flows.promotions.drift import accuracy
from retailhub.flows.promotions.publishing import record_drift_alert
from retailhub.flows.promotions.store import (
    ChannelState,
    PromotionView,
    promotion_status,
    record_check,
)


async def recheck_promotion(
    bus: EventBus, channels: PromotionChannels, promotion_id: str
) -> PromotionView | None:
    """Compare the live version with what each system holds now and record the result; the
    promotion's status afterwards (None when the hub does not know the promotion; unchanged
    when no version is live)."""
    async with bus.transaction() as transaction:
        view = await promotion_status(transaction, promotion_id)
    if view is None or view.live is None:
        return view
    live = view.live
    sent = Promotion.model_validate(live.promotion)
    targets = tuple(c.target for c in live.channels if c.state == ChannelState.PUBLISHED)
    checks = await channels.check_all(targets, sent, live.skus)
    score = accuracy(checks)
    async with bus.transaction() as transaction:
        await record_check(
            transaction, promotion_id, live.version, checks, score, datetime.now(UTC)
        )
        await record_drift_alert(transaction, sent, checks, score)
        return await promotion_status(transaction, promotion_id)
