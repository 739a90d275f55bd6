"""Reading and writing Odoo field values as JSON-2 carries them, with every fault a MappingError
naming the model, the record id and the field.

Odoo serialises an empty field as `false` (never null), a many2one as `[id, display_name]`,
datetimes as naive UTC `YYYY-MM-DD HH:MM:SS` and monetary and float fields as JSON numbers.
Numbers are read through their shortest decimal text (`2.19` stays 2.19) and brought to the
currency's minor unit, so no float reaches a canonical amount. Amounts and quantities are
written as decimal strings, which Odoo's float fields convert with `float()` at the boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from retailhub.canonical.errors import faults_from_validation_error
from retailhub.canonical.money import Money, minor_unit
from retailhub.connectors.errors import MappingError

SYSTEM = "odoo"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Model = TypeVar("Model", bound=BaseModel)


def odoo_datetime(moment: datetime) -> str:
    """A moment as a datetime field value: UTC, to the second."""
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


def written_since(moment: datetime) -> tuple[str, str, str]:
    """The domain leaf of records written since a moment. Odoo stamps `write_date` in whole
    seconds, so `>=` on the moment's second re-reads that second rather than miss a change."""
    return ("write_date", ">=", odoo_datetime(moment))


def plain(value: Decimal) -> Decimal:
    """A quantity without trailing zeros or exponent (`20`, `0.512`), as read from a float."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def decimal_text(value: Decimal) -> str:
    """A Decimal as the plain decimal string written to a float field."""
    return format(plain(value), "f")


def record_ref(model: str, record_id: int) -> str:
    """A record as Odoo's reference fields name it (`sale.order,42`): unique across models."""
    return f"{model},{record_id}"


class OdooRecord:
    """One record from `search_read`, read field by field."""

    def __init__(self, model: str, payload: Any) -> None:
        self.model = model
        if not isinstance(payload, Mapping):
            raise MappingError(model, None, "$", "expected a record (a JSON object)")
        self.payload: Mapping[str, Any] = payload
        record_id = payload.get("id")
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            raise MappingError(model, None, "$.id", f"{record_id!r} is not a record id")
        self.id = record_id

    def fail(self, field: str, reason: str) -> MappingError:
        """An error naming this record and `field`."""
        return MappingError(self.model, str(self.id), f"$.{field}", reason)

    def value(self, field: str) -> Any:
        """The field's value, None when Odoo says `false` or it was not read."""
        value = self.payload.get(field)
        return None if value is False or value is None else value

    def text(self, field: str) -> str | None:
        """A char field, None when empty."""
        value = self.value(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"{value!r} is not text")
        return value.strip() or None

    def required_text(self, field: str) -> str:
        """A char field that must be set."""
        value = self.text(field)
        if value is None:
            raise self.fail(field, "is not set")
        return value

    def flag(self, field: str) -> bool:
        """A boolean field."""
        value = self.payload.get(field)
        if not isinstance(value, bool):
            raise self.fail(field, f"{value!r} is not true or false")
        return value

    def decimal(self, field: str) -> Decimal:
        """A float or monetary field as the Decimal its shortest text spells."""
        value = self.payload.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"{value!r} is not a number")
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise self.fail(field, f"{value!r} is not a finite number")
        return amount

    def money(self, field: str, currency: str) -> Money:
        """A monetary field in `currency`, at the currency's minor unit."""
        return Money.of(self.decimal(field).quantize(minor_unit(currency)), currency)

    def many2one(self, field: str) -> tuple[int, str] | None:
        """A many2one as (id, display name), None when empty."""
        value = self.value(field)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], int)
            or not isinstance(value[1], str)
        ):
            raise self.fail(field, f"{value!r} is not a many2one [id, name]")
        return value[0], value[1]

    def required_many2one(self, field: str) -> tuple[int, str]:
        """A many2one that must be set."""
        value = self.many2one(field)
        if value is None:
            raise self.fail(field, "is not set")
        return value

    def ids(self, field: str) -> list[int]:
        """A one2many or many2many field: the related ids."""
        value = self.payload.get(field)
        if value is False or value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in value
        ):
            raise self.fail(field, f"{value!r} is not a list of ids")
        return value

    def currency(self, field: str = "currency_id") -> str:
        """The ISO code of a `res.currency` many2one (its display name is the code)."""
        return self.required_many2one(field)[1]

    def moment(self, field: str) -> datetime:
        """A datetime field as an aware UTC datetime."""
        value = self.text(field)
        if value is None:
            raise self.fail(field, "is not set")
        text = value[:19]
        # fromisoformat is about ten times cheaper than strptime (stock reads parse thousands);
        # the shape check keeps it as strict as the format Odoo writes.
        if len(text) != 19 or text[10] != " ":
            raise self.fail(field, f"{value!r} is not an Odoo datetime")
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise self.fail(field, f"{value!r} is not an Odoo datetime") from None

    def optional_moment(self, field: str) -> datetime | None:
        """A datetime field that may be empty."""
        return None if self.value(field) is None else self.moment(field)

    def day(self, field: str) -> date:
        """A date field."""
        value = self.text(field)
        if value is None:
            raise self.fail(field, "is not set")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not an Odoo date") from None

    def build(self, model: type[Model], feeds: Mapping[str, str], **values: Any) -> Model:
        """Validate a canonical document; a fault is reported at the Odoo field that feeds the
        canonical field at fault (`feeds` maps canonical paths to Odoo fields)."""
        try:
            return model(**values)
        except ValidationError as error:
            found = faults_from_validation_error(error)
            first = found[0].path
            field = next(
                (f for path, f in feeds.items() if first == path or first.startswith(path + ".")),
                None,
            )
            reason = "; ".join(f"canonical {f.path}: {f.reason}" for f in found)
            path = "$" if field is None else f"$.{field}"
            raise MappingError(self.model, str(self.id), path, reason) from None
