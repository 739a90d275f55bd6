"""The Odoo ERP emulator (JSON-2 external API); importing this package registers it."""

from retailhub.sandbox.odoo.emulator import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator

__all__ = ["SANDBOX_API_KEY", "SANDBOX_DATABASE", "OdooEmulator"]
