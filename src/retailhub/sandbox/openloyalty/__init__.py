"""The Open Loyalty emulator; importing this package registers it with the sandbox runner."""

from retailhub.sandbox.openloyalty.emulator import SANDBOX_TOKEN, STORE_CODE, OpenLoyaltyEmulator

__all__ = ["SANDBOX_TOKEN", "STORE_CODE", "OpenLoyaltyEmulator"]
