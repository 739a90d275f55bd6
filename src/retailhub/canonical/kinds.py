"""The canonical document kinds by name: `order`, `return`, `customer`, ... and how to read one."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from retailhub.canonical.customer import Customer
from retailhub.canonical.errors import Fault, InvalidDocument, faults_from_validation_error
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return

DOCUMENT_KINDS: dict[str, type[BaseModel]] = {
    "order": Order,
    "return": Return,
    "customer": Customer,
    "product": Product,
    "price": Price,
    "promotion": Promotion,
    "inventory": InventoryLevel,
    "loyalty_account": LoyaltyAccount,
    "loyalty_transaction": LoyaltyTransaction,
}


def model_for_kind(kind: str) -> type[BaseModel]:
    """The model class of a canonical kind; ValueError naming the known kinds otherwise."""
    try:
        return DOCUMENT_KINDS[kind]
    except KeyError:
        known = ", ".join(DOCUMENT_KINDS)
        raise ValueError(f"unknown document kind {kind!r}; known kinds: {known}") from None


def load_json(raw: bytes | str) -> Any:
    """Parse JSON, turning a syntax error into a fault that gives line and column."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        line = text.count("\n", 0, error.pos) + 1
        column = error.pos - (text.rfind("\n", 0, error.pos) + 1) + 1
        reason = f"malformed JSON at line {line}, column {column}: {error.msg}"
        raise InvalidDocument([Fault("$", reason)]) from None


def parse_document(kind: str, raw: bytes | str | Any) -> BaseModel:
    """Validate a document of the given kind from JSON text or a parsed value; InvalidDocument lists
    every fault with its JSON path."""
    model = model_for_kind(kind)
    value = load_json(raw) if isinstance(raw, bytes | str) else raw
    if not isinstance(value, dict):
        raise InvalidDocument([Fault("$", f"a document of kind {kind!r} must be a JSON object")])
    if "kind" in value and value["kind"] != kind:
        raise InvalidDocument([Fault("$.kind", f"expected kind {kind!r}, found {value['kind']!r}")])
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise InvalidDocument(faults_from_validation_error(error)) from None
