"""The golden record and what it is made of: each system's claims, lineage, open conflicts.

A `GoldenRecord` keeps, per field, the latest value each system reported (a `Claim`, stamped
with the change it came from). The resolved customer, its lineage and its open conflicts are a
function of those claims and the rules alone, so the order in which changes arrive does not
change the outcome. `held` is what the hub believes each system holds now (what it reported
or what the hub last sent it), which is how the hub knows whom to send what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from retailhub.canonical.customer import Customer
from retailhub.flows.customers.fields import FieldValue, profile_fields
from retailhub.flows.customers.rules import SurvivorshipRules

Stamp = tuple[datetime, int, str]
"""A change's stamp: (the moment its system stamped, its arrival in the hub's log, event id).
In this order it orders one system's changes; `across_systems` orders changes of several."""


def across_systems(stamp: Stamp) -> Stamp:
    """The order of changes made in different systems: moment to the second, then arrival.

    Shopify and Open Loyalty stamp changes to the second and HubSpot to the millisecond, so a
    later edit in one system can carry an earlier moment than an edit made in another within
    the same second; within a second, arrival decides. One system's own changes keep their
    full precision (`Stamp` order): HubSpot's two edits in one second are ordered by their
    milliseconds, whatever order their webhooks arrive in."""
    at, sequence, event_id = stamp
    return (at.replace(microsecond=0), sequence, event_id)


@dataclass(frozen=True)
class Source:
    """Where a value came from: the system, and the change (event id, when it was made, and
    its position in the hub's event log when known)."""

    system: str
    event_id: str
    at: datetime
    sequence: int = 0
    """The change's position in the hub's log: systems that stamp changes to the second
    (Shopify, Open Loyalty) report edits within one second with one time, and arrival tells
    them apart, from each other and from another system's edits in that second."""

    @property
    def stamp(self) -> Stamp:
        """The change's stamp: by moment, then by arrival, then by event id so that ties are
        still ordered (`across_systems` for changes of different systems)."""
        return (self.at, self.sequence, self.event_id)


@dataclass(frozen=True)
class Claim:
    """The latest value one system reported for one field, the change that set it, and the
    latest report that still said it (so an older report arriving late changes nothing)."""

    value: FieldValue
    source: Source
    confirmed: Stamp


@dataclass(frozen=True)
class Held:
    """What the hub believes a system holds for a field (a digest), and as of which change."""

    digest: str
    stamp: Stamp


@dataclass(frozen=True)
class Lineage:
    """Where a golden field's value came from: one source, or one per item of a union."""

    field: str
    sources: tuple[Source, ...]

    @property
    def systems(self) -> tuple[str, ...]:
        """The systems the value came from, each once, in order."""
        return tuple(dict.fromkeys(s.system for s in self.sources))


@dataclass(frozen=True, eq=False)
class Conflict:
    """A change the golden record refused: `challenger` would replace `standing` but may not
    (equal priority, or lower priority, within the field's window). Open until a later change
    supersedes one of them; the field is not propagated while it is open.

    A conflict is the refusal of one claim: two are the same conflict when they refuse the
    same change of the same field, whatever reports confirmed either party since."""

    customer_id: str
    field: str
    standing: Claim
    challenger: Claim
    reason: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies the conflict: customer, field, and the refused change's system and
        event (the key it is stored under)."""
        source = self.challenger.source
        return (self.customer_id, self.field, source.system, source.event_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Conflict) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True)
class ProfileChange:
    """A profile as one system reported it: the system, its profile (carrying the system's id
    in `identities`), when the system made the change, and the event that brought it.

    `fields` narrows which golden fields the change speaks for (None: every field the system
    keeps); echo suppression narrows it to the fields that really changed."""

    system: str
    profile: Customer
    at: datetime
    event_id: str
    fields: frozenset[str] | None = None
    sequence: int = 0
    """The event's position in the hub's log (0 when not from the log)."""

    @property
    def external_id(self) -> str:
        """The customer's id in the reporting system."""
        try:
            return self.profile.identities[self.system]
        except KeyError:
            raise ValueError(
                f"a profile from {self.system} must carry its {self.system} id in identities"
            ) from None

    @property
    def source(self) -> Source:
        """This change as the source of the values it brings."""
        return Source(self.system, self.event_id, self.at, self.sequence)

    def values(self, rules: SurvivorshipRules) -> dict[str, FieldValue]:
        """The fields this change speaks for, as the reporting system can hold them."""
        system = rules.system(self.system)
        names = system.fields if self.fields is None else self.fields & system.fields
        values = profile_fields(self.profile)
        return {name: system.project(name, values[name]) for name in sorted(names)}


@dataclass(frozen=True)
class GoldenRecord:
    """One customer as the hub knows them: identities, every system's claims, the resolved
    customer, where each field came from, and the conflicts waiting for a person."""

    customer_id: str
    identities: Mapping[str, str]
    claims: Mapping[str, Mapping[str, Claim]]
    """field -> system -> that system's latest claim."""
    held: Mapping[str, Mapping[str, Held]]
    """system -> field -> what the hub believes the system holds."""
    customer: Customer
    lineage: Mapping[str, Lineage]
    conflicts: tuple[Conflict, ...]

    def conflicted_fields(self) -> frozenset[str]:
        """Fields with an open conflict, which are not propagated until it closes."""
        return frozenset(c.field for c in self.conflicts)
