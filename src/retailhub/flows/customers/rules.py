"""Survivorship rules: which system wins each golden field, and what each system holds.

Three strategies decide a field from the latest value each system reported (its claim):

- `priority`: the highest-priority system wins; a newer value from a system of lower or equal
  priority replaces it only once the standing value is older than the field's `window` -
  within the window it is a conflict, surfaced and not applied (see `survivorship`).
- `union`: an ordered union of every system's list, systems in priority order, each list in
  its own order, duplicates dropped. Never a conflict.
- `latest`: the most recent decision wins whatever its source (marketing consent, by the
  moment the customer decided). Never a conflict.

Systems not named in a field's priority rank after those named, equal among themselves.
`SystemProfile` says which fields a system keeps and how many items of a list (the web shop
keeps one email): the hub sends each system its projection of the golden record, and compares
what a system reports within what it can hold. The rules load from a plain dict so the estate
file can carry them (`SurvivorshipRules.from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from retailhub.flows.customers.fields import (
    CONSENT_FIELDS,
    GOLDEN_FIELDS,
    LIST_FIELDS,
    FieldValue,
)


class Strategy(StrEnum):
    """How one golden field is decided from the systems' claims."""

    PRIORITY = "priority"
    UNION = "union"
    LATEST = "latest"


DEFAULT_WINDOW = timedelta(days=30)
"""How long a value set by a system stays protected from lower- or equal-priority changes."""


@dataclass(frozen=True)
class FieldRule:
    """How one field survives: its strategy, the systems in priority order, the window."""

    strategy: Strategy
    priority: tuple[str, ...] = ()
    window: timedelta = DEFAULT_WINDOW

    def rank(self, system: str) -> int:
        """0 for the first system named; every unnamed system shares the rank after the last."""
        return self.priority.index(system) if system in self.priority else len(self.priority)


@dataclass(frozen=True)
class SystemProfile:
    """The golden fields a system keeps, and for lists how many items it keeps (none: all)."""

    fields: frozenset[str]
    capacity: Mapping[str, int] = field(default_factory=dict)

    def project(self, name: str, value: FieldValue) -> FieldValue:
        """The value as this system can hold it: a list cut to the system's capacity."""
        limit = self.capacity.get(name)
        if limit is not None and isinstance(value, tuple):
            return value[:limit]
        return value


def _rule(strategy: Strategy, *priority: str, days: int = 30) -> FieldRule:
    return FieldRule(strategy, priority, timedelta(days=days))


DEFAULT_FIELD_RULES: Mapping[str, FieldRule] = MappingProxyType(
    {
        # The CRM is where service agents correct names; members type theirs at enrolment.
        "given_name": _rule(Strategy.PRIORITY, "hubspot", "openloyalty", "shopify"),
        "family_name": _rule(Strategy.PRIORITY, "hubspot", "openloyalty", "shopify"),
        # Birthday rewards run on the loyalty platform, so members keep it right there.
        "birth_date": _rule(Strategy.PRIORITY, "openloyalty", "hubspot"),
        # The web shop's email is the customer's login and where receipts go: it leads, and
        # every other address still identifies the person, so emails are a union.
        "emails": _rule(Strategy.UNION, "shopify", "openloyalty", "hubspot"),
        # A phone list is contact data the CRM curates; a stale number must not spread.
        "phones": _rule(Strategy.PRIORITY, "hubspot", "shopify", "openloyalty"),
        # The address book customers keep for deliveries lives in the web shop.
        "addresses": _rule(Strategy.PRIORITY, "shopify", "hubspot", "openloyalty"),
        "loyalty_cards": _rule(Strategy.UNION, "openloyalty", "hubspot"),
        "loyalty": _rule(Strategy.PRIORITY, "openloyalty"),
        **{name: _rule(Strategy.LATEST) for name in CONSENT_FIELDS},
    }
)

DEFAULT_SYSTEMS: Mapping[str, SystemProfile] = MappingProxyType(
    {
        # What the connectors read and write (docs/connectors.md): HubSpot keeps one email,
        # `phone` and `mobilephone`, one address, one card and the email consent.
        "hubspot": SystemProfile(
            frozenset(
                {
                    "given_name",
                    "family_name",
                    "birth_date",
                    "emails",
                    "phones",
                    "addresses",
                    "loyalty_cards",
                    "consents.email",
                }
            ),
            MappingProxyType({"emails": 1, "phones": 2, "addresses": 1, "loyalty_cards": 1}),
        ),
        "shopify": SystemProfile(
            frozenset(
                {
                    "given_name",
                    "family_name",
                    "emails",
                    "phones",
                    "addresses",
                    "consents.email",
                    "consents.sms",
                }
            ),
            MappingProxyType({"emails": 1, "phones": 1}),
        ),
        # Open Loyalty's member profile: names, one email, one phone, one card, and the
        # member reference (id and tier) it is the source of.
        "openloyalty": SystemProfile(
            frozenset(
                {
                    "given_name",
                    "family_name",
                    "emails",
                    "phones",
                    "loyalty_cards",
                    "loyalty",
                }
            ),
            MappingProxyType({"emails": 1, "phones": 1, "loyalty_cards": 1}),
        ),
    }
)


@dataclass(frozen=True)
class SurvivorshipRules:
    """Field rules, the systems that take part in customer sync, and the systems in which the
    hub creates a customer it has not seen there yet (`create_missing`)."""

    fields: Mapping[str, FieldRule] = field(default_factory=lambda: DEFAULT_FIELD_RULES)
    systems: Mapping[str, SystemProfile] = field(default_factory=lambda: DEFAULT_SYSTEMS)
    create_missing: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(GOLDEN_FIELDS)
        if unknown:
            raise ValueError(f"no golden field is called {', '.join(sorted(unknown))}")
        missing = set(GOLDEN_FIELDS) - set(self.fields)
        if missing:
            raise ValueError(f"no survivorship rule for {', '.join(sorted(missing))}")
        for name, rule in self.fields.items():
            if rule.strategy is Strategy.UNION and name not in LIST_FIELDS:
                raise ValueError(f"{name} holds one value, so it cannot be a union")
        for name, profile in self.systems.items():
            if profile.fields - set(GOLDEN_FIELDS):
                raise ValueError(f"system {name!r} names fields that are not golden fields")
        if self.create_missing - set(self.systems):
            raise ValueError("create_missing names a system that takes no part in customer sync")

    def system(self, name: str) -> SystemProfile:
        """The profile of a system; ValueError when it takes no part in customer sync."""
        try:
            return self.systems[name]
        except KeyError:
            raise ValueError(f"system {name!r} takes no part in customer sync") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurvivorshipRules:
        """Rules from a plain table, defaults for what it leaves out.

        `{"fields": {"phones": {"strategy": "priority", "priority": ["shopify"],
        "window_days": 7}}, "systems": {"pos": {"fields": ["emails"], "capacity":
        {"emails": 1}}}, "create_missing": ["hubspot"]}`; a field or system named replaces
        the default one whole."""
        fields = dict(DEFAULT_FIELD_RULES)
        for name, raw in _table(data, "fields").items():
            fields[name] = _field_rule(name, raw)
        systems = dict(DEFAULT_SYSTEMS)
        for name, raw in _table(data, "systems").items():
            systems[name] = _system_profile(name, raw)
        create = data.get("create_missing", [])
        if not isinstance(create, list) or not all(isinstance(s, str) for s in create):
            raise ValueError("create_missing must be a list of system names")
        return cls(MappingProxyType(fields), MappingProxyType(systems), frozenset(create))


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, Mapping):
        raise ValueError(f"{key} must be a table")
    return table


def _field_rule(name: str, raw: Any) -> FieldRule:
    if not isinstance(raw, Mapping):
        raise ValueError(f"fields.{name} must be a table")
    try:
        strategy = Strategy(str(raw.get("strategy")))
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise ValueError(f"fields.{name}.strategy must be one of {choices}") from None
    priority = raw.get("priority", [])
    if not isinstance(priority, list) or not all(isinstance(s, str) for s in priority):
        raise ValueError(f"fields.{name}.priority must be a list of system names")
    days = raw.get("window_days", DEFAULT_WINDOW.days)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"fields.{name}.window_days must be a whole number of days, 0 or more")
    return FieldRule(strategy, tuple(priority), timedelta(days=days))


def _system_profile(name: str, raw: Any) -> SystemProfile:
    if not isinstance(raw, Mapping):
        raise ValueError(f"systems.{name} must be a table")
    fields = raw.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValueError(f"systems.{name}.fields must be a list of golden field names")
    capacity = raw.get("capacity", {})
    if not isinstance(capacity, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in capacity.values()
    ):
        raise ValueError(f"systems.{name}.capacity must map list fields to a count of 1 or more")
    return SystemProfile(frozenset(fields), MappingProxyType(dict(capacity)))
