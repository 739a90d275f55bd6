"""The Shopify connector: Admin REST payloads mapped to and from canonical, and webhook checks."""
