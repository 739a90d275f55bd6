"""Resilience policies wrapped around every call to a connected system: timeout, retry (only
when safe), circuit breaker and bulkhead, configured per system in the estate file."""

from retailhub.resilience.policy import (
    BreakerState,
    ResiliencePolicy,
    Resilient,
    RetryableFailure,
    SystemUnavailable,
)

__all__ = ["BreakerState", "ResiliencePolicy", "Resilient", "RetryableFailure", "SystemUnavailable"]
