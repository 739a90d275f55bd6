"""Shared values and helpers of the Open Loyalty tests: campaign dates, a quick resilience
policy, and SKUs in and out of the estate's winter campaign."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from retailhub.canonical.order import Order
from retailhub.canonical.product import UnitOfMeasure
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.seed import CET, Estate

YEAR = 2026
IN_CAMPAIGN = datetime(YEAR, 11, 27, 14, 30, tzinfo=CET)
BEFORE_CAMPAIGN = datetime(YEAR, 11, 2, 10, 0, tzinfo=CET)
QUICK = ResiliencePolicy(
    timeout_s=5.0,
    max_attempts=3,
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    breaker_threshold=3,
    breaker_reset_s=0.2,
)

SaleBuilder = Callable[..., Order]


def campaign_sku(estate: Estate, n: int = 0) -> str:
    """An SKU in the winter campaign."""
    return estate.campaign.eligibility.skus[n]


def plain_sku(estate: Estate, n: int = 0) -> str:
    """A packaged SKU outside the winter campaign."""
    eligible = set(estate.campaign.eligibility.skus)
    plain = [
        p.sku
        for p in estate.products
        if p.sku not in eligible and p.unit_of_measure is UnitOfMeasure.EACH
    ]
    return plain[n]
