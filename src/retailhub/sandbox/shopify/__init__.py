"""The Shopify Admin REST emulator; importing this package registers it with the sandbox."""

from retailhub.sandbox.shopify.emulator import ShopifyEmulator

__all__ = ["ShopifyEmulator"]
