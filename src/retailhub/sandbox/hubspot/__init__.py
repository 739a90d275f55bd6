"""The HubSpot emulator of the sandbox estate (system `hubspot`)."""

from retailhub.sandbox.hubspot.emulator import ACCESS_TOKEN, HubSpotEmulator

__all__ = ["ACCESS_TOKEN", "HubSpotEmulator"]
