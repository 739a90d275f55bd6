"""Echo suppression: a value the hub sent to a system must not come back as that system's change.

When the hub propagates fields to a system it records one fingerprint per field: the system,
the golden customer, the field and a digest of the value as the system holds it. When that
system later reports the customer, every field whose value has the recorded digest is an echo
and is dropped from the change; if nothing else is left the report is no change at all. A field
that differs from its fingerprint is a real change by someone in that system, and its
fingerprint is forgotten so a later return to the sent value counts as a change again.

Fingerprints are kept until superseded (a newer propagation of the field, or a report that
differs), not consumed by the first echo: systems fire several webhooks for one update, and a
full-profile report of an unrelated change repeats the echoed fields. At most one fingerprint
per system, customer and field exists, so the store stays as small as the golden records.
In the hub database it is one table keyed by (system, customer_id, field), written in the
same transaction that records the propagation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from retailhub.flows.customers.fields import digest
from retailhub.flows.customers.golden import ProfileChange
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.survivorship import Propagation


@dataclass(frozen=True)
class Fingerprint:
    """A value the hub sent: to which system, for which customer and field, its digest."""

    system: str
    customer_id: str
    field: str
    digest: str


class FingerprintStore(Protocol):
    """Where fingerprints of propagated values are kept between propagation and echo."""

    def remember(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Keep these fingerprints, each replacing any for its system, customer and field."""
        ...

    def expected(self, system: str, customer_id: str) -> Mapping[str, Fingerprint]:
        """The fingerprints outstanding for a customer in a system, by field."""
        ...

    def forget(self, system: str, customer_id: str, fields: Iterable[str]) -> None:
        """Drop the fingerprints of these fields."""
        ...


@dataclass
class InMemoryFingerprintStore:
    """A FingerprintStore in a dict, for tests and the pure core's examples."""

    _fingerprints: dict[tuple[str, str, str], Fingerprint] = field(default_factory=dict)

    def remember(self, fingerprints: Iterable[Fingerprint]) -> None:
        """Keep these fingerprints, each replacing any for its system, customer and field."""
        for fingerprint in fingerprints:
            key = (fingerprint.system, fingerprint.customer_id, fingerprint.field)
            self._fingerprints[key] = fingerprint

    def expected(self, system: str, customer_id: str) -> Mapping[str, Fingerprint]:
        """The fingerprints outstanding for a customer in a system, by field."""
        return {
            name: fingerprint
            for (s, c, name), fingerprint in self._fingerprints.items()
            if s == system and c == customer_id
        }

    def forget(self, system: str, customer_id: str, fields: Iterable[str]) -> None:
        """Drop the fingerprints of these fields."""
        for name in fields:
            self._fingerprints.pop((system, customer_id, name), None)


def fingerprints(propagation: Propagation) -> tuple[Fingerprint, ...]:
    """The fingerprints of what a propagation sends, one per field."""
    return tuple(
        Fingerprint(propagation.system, propagation.customer_id, name, digest(value))
        for name, value in sorted(propagation.fields.items())
    )


@dataclass(frozen=True)
class EchoSplit:
    """A report split into the fields that echo what the hub sent and the rest."""

    echoed: frozenset[str]
    differing: frozenset[str]
    change: ProfileChange | None
    """The report narrowed to the fields that are not echoes; None when all of them are."""


def split_echo(
    change: ProfileChange, expected: Mapping[str, Fingerprint], rules: SurvivorshipRules
) -> EchoSplit:
    """Separate the echoed fields of a report from its real changes (pure)."""
    values = change.values(rules)
    echoed = frozenset(
        name
        for name, value in values.items()
        if name in expected and expected[name].digest == digest(value)
    )
    differing = frozenset(name for name in values if name in expected) - echoed
    remaining = frozenset(values) - echoed
    if not echoed:
        return EchoSplit(echoed, differing, change)
    return EchoSplit(echoed, differing, replace(change, fields=remaining) if remaining else None)


def record_propagation(store: FingerprintStore, propagation: Propagation) -> None:
    """Remember what a propagation sends, so its echo is recognised."""
    store.remember(fingerprints(propagation))


def suppress_echo(
    store: FingerprintStore, change: ProfileChange, customer_id: str, rules: SurvivorshipRules
) -> ProfileChange | None:
    """The part of a report that is a real change (None: it is only an echo); fingerprints of
    fields the system changed since are forgotten."""
    split = split_echo(change, store.expected(change.system, customer_id), rules)
    if split.differing:
        store.forget(change.system, customer_id, split.differing)
    return split.change
