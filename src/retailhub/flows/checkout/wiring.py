"""Checkout's one wiring function: the desk the API serves, with its tables created.

The hub (bootstrap) calls `open_checkout_desk`, hands the desk to `checkout_router`, and runs
`keep_checkout_settled(desk)` as a background task for as long as the hub is open.
"""

from __future__ import annotations

from retailhub.bus.port import EventBus
from retailhub.connectors.ports import LoyaltyPort
from retailhub.flows.checkout.desk import CheckoutDesk
from retailhub.flows.checkout.policy import CheckoutPolicy


async def open_checkout_desk(
    bus: EventBus, loyalty: LoyaltyPort, policy: CheckoutPolicy | None = None
) -> CheckoutDesk:
    """The checkout desk on this bus and loyalty platform, its tables created."""
    desk = CheckoutDesk(bus, loyalty, policy)
    await desk.create_tables()
    return desk
