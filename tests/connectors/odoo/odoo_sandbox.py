"""What the Odoo contract tests share: the estate's size, the resilience policy, and a
connector pointed at a running emulator."""

from __future__ import annotations

from retailhub.connectors.odoo.connector import OdooConnector, OdooCredentials, OdooSettings
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator

YEAR = 2026
PRODUCTS = 60
WITHOUT_STOCK = ("SKU-10001", "RTM02")
"""A SKU never stocked at one store: adjusting it there creates the quant."""

FAST = ResiliencePolicy(
    timeout_s=5.0, max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, breaker_threshold=50
)


def connect(
    emulator: OdooEmulator,
    policy: ResiliencePolicy = FAST,
    *,
    api_key: str = SANDBOX_API_KEY,
    settings: OdooSettings | None = None,
) -> OdooConnector:
    """A connector to the running emulator."""
    assert emulator.url is not None
    return OdooConnector(
        emulator.url,
        OdooCredentials(api_key, SANDBOX_DATABASE),
        policy,
        settings=settings,
    )
