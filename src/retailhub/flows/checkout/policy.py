"""How checkout treats the loyalty platform: how long the till may wait for it, and what the hub
may approve on its own while the platform is slow or down (the offline policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CheckoutPolicy:
    """Latency budget, reservation lifetime and offline redemption limits, per estate.

    - `loyalty_budget_s`: the longest a till or web checkout waits for the platform on one
      request (member lookup and quote or reservation together) before the hub answers from
      its last-known balance; `breaker_threshold` budget overruns or failures in a row stop
      the hub asking for `breaker_reset_s`, so a slow platform costs each till nothing.
    - `max_offline_points_per_sale` and `max_offline_points_per_member_per_day` bound what the
      hub approves on its own; an offline approval is never above the last-known balance minus
      what is already approved offline and not yet posted.
    - `reservation_ttl`: a reservation the till neither captures nor releases is released then.
    - `settle_timeout_s`, `max_settle_attempts`, `settle_batch`, `settle_interval_s`: the
      background settlement (offline queue and expiry sweep) waits longer than a till, gives
      up on a redemption after that many failed attempts (an alert for an operator), handles
      that many redemptions per pass, and runs a pass that often.
    """

    loyalty_budget_s: float = 0.3
    breaker_threshold: int = 3
    breaker_reset_s: float = 5.0
    max_offline_points_per_sale: int = 500
    max_offline_points_per_member_per_day: int = 1000
    reservation_ttl: timedelta = timedelta(minutes=15)
    business_timezone: str = "Europe/Amsterdam"
    settle_timeout_s: float = 5.0
    max_settle_attempts: int = 5
    settle_batch: int = 100
    settle_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.loyalty_budget_s <= 0 or self.settle_timeout_s <= 0 or self.breaker_reset_s <= 0:
            raise ValueError("the latency budget, settle timeout and breaker reset must be > 0")
        if self.breaker_threshold < 1 or self.max_settle_attempts < 1 or self.settle_batch < 1:
            raise ValueError("breaker threshold, settle attempts and batch must be at least 1")
        if self.max_offline_points_per_sale < 0 or self.max_offline_points_per_member_per_day < 0:
            raise ValueError("offline point limits cannot be negative (0 approves nothing)")
        if self.reservation_ttl <= timedelta(0) or self.settle_interval_s <= 0:
            raise ValueError("the reservation lifetime and settle interval must be positive")
        ZoneInfo(self.business_timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone whose calendar day the per-member daily limit counts."""
        return ZoneInfo(self.business_timezone)
