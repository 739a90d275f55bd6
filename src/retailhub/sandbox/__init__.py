"""Emulators of the products the connectors speak to (Shopify, Odoo, HubSpot, Open Loyalty, a
POSLog receiver) over one deterministic seed estate, with faults injectable at run time."""
