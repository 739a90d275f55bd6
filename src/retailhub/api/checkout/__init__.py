"""The checkout experience API: loyalty quotes and point redemptions for tills and the web
checkout (`/v1/checkout/loyalty`)."""

from retailhub.api.checkout.routes import checkout_router

__all__ = ["checkout_router"]
