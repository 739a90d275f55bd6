"""Finding the Shopify resources in a payload, however it is wrapped."""

from __future__ import annotations

from typing import Any, Literal

from retailhub.connectors.errors import MappingError

ResourceKind = Literal[
    "order", "refund", "customer", "product", "inventory_level", "price_rule", "discount_code"
]


def shopify_documents(payload: Any, kind: ResourceKind) -> list[dict[str, Any]]:
    """The resources of `kind` in a payload: one wrapped as the Admin API returns it
    (`{"order": {...}}`), a wrapped list (`{"orders": [...]}`), or the bare resource or bare
    list that webhooks and exports deliver."""
    plural = f"{kind}s"
    path = "$"
    if isinstance(payload, dict) and isinstance(payload.get(kind), dict):
        payload, path = [payload[kind]], f"$.{kind}"
    elif isinstance(payload, dict) and plural in payload:
        payload, path = payload[plural], f"$.{plural}"
        if not isinstance(payload, list):
            raise MappingError(kind, None, path, "expected a list")
    elif isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise MappingError(kind, None, "$", f"expected a Shopify {kind} or a list of them")
    for i, document in enumerate(payload):
        if not isinstance(document, dict):
            raise MappingError(kind, None, f"{path}[{i}]", "expected a JSON object")
    return payload
