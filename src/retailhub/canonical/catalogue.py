"""The event type catalogue: each `retail.<entity>.<verb>.v<N>` type and the payload it carries."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from retailhub.canonical.cloudevents import CloudEvent, new_event, parse_event
from retailhub.canonical.customer import Customer
from retailhub.canonical.errors import Fault, InvalidDocument, faults_from_validation_error
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.loyalty import LoyaltyAccount, LoyaltyTransaction
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return

RETAIL_PREFIX = "retail."
TYPE_PATTERN = re.compile(r"^retail\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$")


ModelClass = type[BaseModel]


@dataclass(frozen=True)
class EventType:
    """A catalogued event type: its name, the canonical payload and the field that is its subject."""

    type: str
    payload: ModelClass
    key_field: str
    description: str

    @property
    def version(self) -> int:
        """The type's major version, the number after the final `.v`."""
        return int(self.type.rsplit(".v", 1)[1])

    @property
    def family(self) -> str:
        """The type without its version (`retail.order.created`)."""
        return self.type.rsplit(".v", 1)[0]


def _entry(type_: str, payload: type[BaseModel], key_field: str, description: str) -> EventType:
    if not TYPE_PATTERN.match(type_):
        raise ValueError(f"event type {type_!r} does not read retail.<entity>.<verb>.v<N>")
    return EventType(type_, payload, key_field, description)


CATALOGUE: dict[str, EventType] = {
    e.type: e
    for e in (
        _entry(
            "retail.order.created.v1", Order, "order_id", "A sale was made in a store or online."
        ),
        _entry("retail.order.updated.v1", Order, "order_id", "An open order changed."),
        _entry("retail.order.cancelled.v1", Order, "order_id", "An order was cancelled or voided."),
        _entry("retail.return.requested.v1", Return, "return_id", "A return was started."),
        _entry("retail.return.received.v1", Return, "return_id", "Returned goods were received."),
        _entry("retail.return.refunded.v1", Return, "return_id", "A return was refunded."),
        _entry("retail.customer.created.v1", Customer, "customer_id", "A customer was created."),
        _entry("retail.customer.updated.v1", Customer, "customer_id", "A profile changed."),
        _entry("retail.product.upserted.v1", Product, "sku", "An item was created or changed."),
        _entry("retail.product.discontinued.v1", Product, "sku", "An item was discontinued."),
        _entry("retail.price.changed.v1", Price, "sku", "A price was set or changed."),
        _entry("retail.promotion.authored.v1", Promotion, "promotion_id", "A promotion version."),
        _entry(
            "retail.promotion.published.v1", Promotion, "promotion_id", "Published to channels."
        ),
        _entry(
            "retail.inventory.changed.v1", InventoryLevel, "sku", "Stock at a location changed."
        ),
        _entry(
            "retail.loyalty_account.updated.v1",
            LoyaltyAccount,
            "member_id",
            "A member's balance or tier changed.",
        ),
        _entry(
            "retail.loyalty_transaction.recorded.v1",
            LoyaltyTransaction,
            "transaction_id",
            "Points were earned, spent, reversed, adjusted or expired.",
        ),
    )
}


def event_type(type_: str) -> EventType:
    """The catalogue entry for a `retail.` type; ValueError when it is not catalogued."""
    try:
        return CATALOGUE[type_]
    except KeyError:
        raise ValueError(f"event type {type_!r} is not in the retail event catalogue") from None


def to_event(
    document: BaseModel,
    type_: str,
    source: str,
    *,
    traceparent: str | None = None,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap a canonical document in the catalogued event type, keyed by its business key so that
    events of one order, return or customer stay in order. A deterministic `id` (and `time`)
    makes the same document published twice one event on the bus."""
    entry = event_type(type_)
    if not isinstance(document, entry.payload):
        raise ValueError(
            f"{type_} carries a {entry.payload.__name__}, not {type(document).__name__}"
        )
    key = str(getattr(document, entry.key_field))
    return new_event(
        type_,
        source,
        document,
        subject=key,
        partitionkey=key,
        traceparent=traceparent,
        id=id,
        time=time,
    )


def validate_event(raw: bytes | str | Mapping[str, Any]) -> tuple[CloudEvent, BaseModel | None]:
    """Check an event against the CloudEvents spec and, for `retail.` types, against the catalogue.

    Returns the envelope and the validated canonical payload (None for non-retail types, which are
    checked as envelopes only). InvalidDocument lists every fault with its JSON path.
    """
    event = parse_event(raw)
    if not event.type.startswith(RETAIL_PREFIX):
        return event, None
    entry = CATALOGUE.get(event.type)
    if entry is None:
        raise InvalidDocument(
            [Fault("$.type", f"{event.type!r} is not in the retail event catalogue")]
        )
    if event.data_base64 is not None or not isinstance(event.data, dict):
        raise InvalidDocument(
            [
                Fault(
                    "$.data",
                    f"a {event.type} event carries its {entry.payload.__name__} as JSON data",
                )
            ]
        )
    try:
        payload = entry.payload.model_validate(event.data)
    except ValidationError as error:
        raise InvalidDocument(faults_from_validation_error(error, prefix=("data",))) from None
    key = str(getattr(payload, entry.key_field))
    if event.subject is not None and event.subject != key:
        raise InvalidDocument(
            [Fault("$.subject", f"subject {event.subject!r} is not the {entry.key_field} {key!r}")]
        )
    return event, payload
