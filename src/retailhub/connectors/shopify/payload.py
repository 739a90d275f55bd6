"""Reading fields of a Shopify payload: every fault becomes a MappingError naming resource, id and path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from retailhub.canonical.errors import faults_from_validation_error
from retailhub.canonical.money import Money, minor_units, parse_amount
from retailhub.connectors.errors import MappingError

SYSTEM = "shopify"

_log = structlog.get_logger(__name__)

Model = TypeVar("Model", bound=BaseModel)


class Reader:
    """One Shopify resource (or a part of it) and where it lies, so a fault names its exact field."""

    def __init__(
        self, resource: str, doc: Any, *, resource_id: str | None = None, path: str = "$"
    ) -> None:
        self.resource, self.path = resource, path
        if not isinstance(doc, Mapping):
            raise MappingError(resource, resource_id, path, "expected a JSON object")
        self.doc: Mapping[str, Any] = doc
        self.resource_id = resource_id

    @classmethod
    def of(cls, resource: str, doc: Any) -> Reader:
        """A reader for a whole resource, which must carry its Shopify id."""
        reader = cls(resource, doc)
        reader.resource_id = str(reader.integer("id"))
        return reader

    def where(self, field: str) -> str:
        """The JSON path of `field` under this reader."""
        return f"{self.path}.{field}"

    def fail(self, field: str | None, reason: str) -> MappingError:
        """An error for `field` (or this object itself when None)."""
        path = self.path if field is None else self.where(field)
        return MappingError(self.resource, self.resource_id, path, reason)

    def warn(self, field: str, reason: str) -> None:
        """Log a fault that is tolerated (contact data left out, a total reconciled): never silent."""
        _log.warning(
            "shopify payload fault tolerated",
            resource=self.resource,
            resource_id=self.resource_id,
            path=self.where(field),
            reason=reason,
        )

    def has(self, field: str) -> bool:
        """True when the field is present and not null."""
        return self.doc.get(field) is not None

    def required(self, field: str) -> Any:
        """The field's value; an error when it is missing or null."""
        value = self.doc.get(field)
        if value is None:
            raise self.fail(field, "is missing")
        return value

    def child(self, field: str) -> Reader:
        """The nested object under `field`."""
        return Reader(
            self.resource,
            self.required(field),
            resource_id=self.resource_id,
            path=self.where(field),
        )

    def children(self, field: str) -> Iterator[Reader]:
        """The objects of the list under `field` (none when it is absent)."""
        value = self.doc.get(field)
        if value is None:
            return
        if not isinstance(value, list):
            raise self.fail(field, "expected a list")
        for i, item in enumerate(value):
            yield Reader(
                self.resource, item, resource_id=self.resource_id, path=f"{self.where(field)}[{i}]"
            )

    def text(self, field: str) -> str | None:
        """A string field, trimmed; None when absent or blank."""
        value = self.doc.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"expected a string, found {type(value).__name__}")
        return value.strip() or None

    def integer(self, field: str) -> int:
        """A required whole number (ids, quantities); Shopify sends these as JSON integers."""
        value = self.required(field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"expected a whole number, found {value!r}")
        return value

    def ids(self, field: str) -> list[int]:
        """A list of Shopify ids (`entitled_variant_ids`); empty when absent."""
        value = self.doc.get(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.fail(field, f"expected a list of Shopify ids, found {value!r}")
        return value

    def flag(self, field: str, default: bool) -> bool:
        """A boolean field, `default` when absent."""
        value = self.doc.get(field)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(field, f"expected true or false, found {value!r}")
        return value

    def amount(self, field: str) -> Decimal:
        """A required decimal amount; Shopify sends money as decimal strings, and floats are refused."""
        try:
            return parse_amount(self.required(field))
        except ValueError as error:
            raise self.fail(field, str(error)) from None

    def rate(self, field: str) -> Decimal:
        """A tax rate: Shopify sends it as a JSON number (0.06); it is a ratio, not money, so its
        shortest decimal form is exact enough."""
        value = self.required(field)
        if isinstance(value, float):
            value = repr(value)
        try:
            return parse_amount(value)
        except ValueError as error:
            raise self.fail(field, str(error)) from None

    def money(self, field: str, currency: str) -> Money:
        """A required amount in the document's currency; `<field>_set`, when sent, must agree on it."""
        shop_money = self.doc.get(f"{field}_set")
        if isinstance(shop_money, Mapping) and isinstance(shop_money.get("shop_money"), Mapping):
            stated = shop_money["shop_money"].get("currency_code")
            if stated != currency:
                raise self.fail(
                    f"{field}_set", f"is in {stated!r} but the resource is in {currency}"
                )
        return Money(amount=self.amount(field), currency=currency)

    def currency(self, field: str) -> str:
        """A required ISO 4217 code."""
        code = self.required(field)
        if not isinstance(code, str):
            raise self.fail(field, f"expected an ISO 4217 code, found {code!r}")
        try:
            minor_units(code.upper())
        except ValueError as error:
            raise self.fail(field, str(error)) from None
        return code.upper()

    def timestamp(self, field: str) -> datetime:
        """A required ISO 8601 date-time with its offset, as Shopify writes them."""
        value = self.required(field)
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise self.fail(field, f"{value!r} is not a date-time with an offset")
        return moment

    def build(self, model: type[Model], fields_fed: Mapping[str, str], **values: Any) -> Model:
        """Validate a canonical document; a broken invariant is reported at the Shopify field that
        feeds it (`fields_fed` maps canonical path prefixes to fields of this object)."""
        try:
            return model(**values)
        except ValidationError as error:
            faults = faults_from_validation_error(error)
            first = faults[0].path
            path = next(
                (
                    self.where(field) + first[len(prefix) :]
                    for prefix, field in fields_fed.items()
                    if first == prefix or first.startswith((prefix + ".", prefix + "["))
                ),
                self.path,
            )
            reason = "; ".join(f"canonical {f.path}: {f.reason}" for f in faults)
            raise MappingError(self.resource, self.resource_id, path, reason) from None


def shopify_id(external_ids: Mapping[str, str], resource: str, resource_id: str) -> int | None:
    """The Shopify id recorded on a canonical document, as the integer the Admin API expects."""
    value = external_ids.get(SYSTEM)
    if value is None:
        return None
    if not value.isdigit():
        raise MappingError(
            resource, resource_id, "$.external_ids.shopify", f"{value!r} is not a Shopify id"
        )
    return int(value)
