"""Reading a HubSpot CRM object (`{"id", "properties", "createdAt", "updatedAt", "archived"}`):
every property arrives as a string or null, and every fault names the object id and its path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import structlog

from retailhub.connectors.errors import MappingError

SYSTEM = "hubspot"

_log = structlog.get_logger(__name__)


class HubSpotObject:
    """One CRM object as the v3 API returns it, read property by property."""

    def __init__(self, resource: str, payload: Any) -> None:
        self.resource = resource
        if not isinstance(payload, Mapping):
            raise MappingError(resource, None, "$", "expected a JSON object")
        raw_id = payload.get("id")
        if not isinstance(raw_id, str) or not raw_id.isdigit():
            raise MappingError(
                resource, None, "$.id", f"expected a numeric id string, found {raw_id!r}"
            )
        self.id = raw_id
        properties = payload.get("properties")
        if not isinstance(properties, Mapping):
            raise self.fail("$.properties", "expected an object of property values")
        self.payload: Mapping[str, Any] = payload
        self.properties: Mapping[str, Any] = properties

    def fail(self, path: str, reason: str) -> MappingError:
        """An error at `path` of this object."""
        return MappingError(self.resource, self.id, path, reason)

    def warn(self, name: str, reason: str) -> None:
        """Log a property left out because it cannot be normalised: tolerated, never silent."""
        _log.warning(
            "hubspot property left out",
            resource=self.resource,
            resource_id=self.id,
            path=f"$.properties.{name}",
            reason=reason,
        )

    def text(self, name: str) -> str | None:
        """A property's value, trimmed; None when absent, null or blank."""
        value = self.properties.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(
                f"$.properties.{name}", f"expected a string, found {type(value).__name__}"
            )
        return value.strip() or None

    def moment(self, name: str) -> datetime | None:
        """A date-time property (ISO 8601 or epoch milliseconds, as HubSpot writes both)."""
        value = self.text(name)
        if value is None:
            return None
        parsed = parse_moment(value)
        if parsed is None:
            raise self.fail(f"$.properties.{name}", f"{value!r} is not a date-time")
        return parsed

    def day(self, name: str) -> date | None:
        """A date property (`YYYY-MM-DD`, or midnight UTC in epoch milliseconds); an unreadable
        one is left out with a warning."""
        value = self.text(name)
        if value is None:
            return None
        if value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC).date()
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            self.warn(name, f"{value!r} is not a date")
            return None

    def stamp(self, field: str) -> datetime | None:
        """A top-level timestamp (`createdAt`, `updatedAt`)."""
        value = self.payload.get(field)
        if value is None:
            return None
        parsed = parse_moment(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.fail(f"$.{field}", f"{value!r} is not a date-time")
        return parsed


def parse_moment(value: str) -> datetime | None:
    """A HubSpot date-time: ISO 8601 (`2019-10-30T03:30:17.883Z`) or epoch milliseconds."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def hubspot_moment(moment: datetime) -> str:
    """A date-time as HubSpot writes it: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime) -> str:
    """A date-time as the epoch milliseconds search filters compare date properties by."""
    return str(int(moment.timestamp() * 1000))
