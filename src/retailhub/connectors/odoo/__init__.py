"""The Odoo connector: the ERP port over Odoo's JSON-2 external API, and its mappings."""
