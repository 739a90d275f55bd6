"""retailhub: a retail integration hub that keeps ERP, CRM, loyalty, POS and ecommerce consistent."""

__version__ = "0.1.0"
