"""Checkout loyalty: what the POS and the web checkout ask of the loyalty platform (quote,
reserve, capture, release), answered within a latency budget and, when the platform is slow or
down, from the last-known balance under an offline policy whose approvals are queued and posted
when the platform recovers. See docs/checkout-loyalty.md.

Wiring (bootstrap)::

    desk = await open_checkout_desk(bus, connectors.loyalty, CheckoutPolicy())
    app.include_router(checkout_router(desk))
    task = asyncio.create_task(keep_checkout_settled(desk))  # cancel it on shutdown
"""

from retailhub.flows.checkout.desk import CheckoutDesk
from retailhub.flows.checkout.documents import (
    CheckoutError,
    CheckoutQuote,
    IdempotencyConflict,
    LoyaltyUnavailable,
    MemberNotFound,
    MemberRef,
    Redemption,
    RedemptionClosed,
    RedemptionNotFound,
    RedemptionRefused,
    RedemptionState,
    SaleOutcome,
    redemption_id_for,
)
from retailhub.flows.checkout.policy import CheckoutPolicy
from retailhub.flows.checkout.settlement import REJECTED_ALERT
from retailhub.flows.checkout.upkeep import (
    PassReport,
    expire_overdue_reservations,
    keep_checkout_settled,
    post_offline_queue,
    rejected_redemptions,
)
from retailhub.flows.checkout.wiring import open_checkout_desk

__all__ = [
    "REJECTED_ALERT",
    "CheckoutDesk",
    "CheckoutError",
    "CheckoutPolicy",
    "CheckoutQuote",
    "IdempotencyConflict",
    "LoyaltyUnavailable",
    "MemberNotFound",
    "MemberRef",
    "PassReport",
    "Redemption",
    "RedemptionClosed",
    "RedemptionNotFound",
    "RedemptionRefused",
    "RedemptionState",
    "SaleOutcome",
    "expire_overdue_reservations",
    "keep_checkout_settled",
    "open_checkout_desk",
    "post_offline_queue",
    "redemption_id_for",
    "rejected_redemptions",
]
