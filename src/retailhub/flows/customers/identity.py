"""Identity resolution: which golden customer a system's profile is, by deterministic keys only.

Keys are exact after normalisation: the system's own id (once linked), the golden id a system
carries for us (HubSpot's `retailhub_customer_id`), a loyalty card, an email (trimmed,
lower-cased) and an E.164 phone. `MatchRules` lists the rules in priority order; a rule may ask
for confirmation by other fields (a shared household phone is not a person, so by default a
phone matches only when the family name agrees too).

Every rule that matches is consulted, not only the first: when they point at different golden
customers, or at a customer already linked to another account in the same system, the answer
is an `IdentityConflict` for a person to settle - two profiles are never merged silently. No
match gives a `NewCustomer` whose id is derived from the system identity, so a replayed event
creates the same golden id. Fuzzy matching is deliberately absent: a wrong merge shows one
person's orders and points to another.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from retailhub.canonical.customer import Customer


class MatchKey(StrEnum):
    """A deterministic key a golden customer can be looked up by."""

    SYSTEM_ID = "system_id"
    CUSTOMER_ID = "customer_id"
    LOYALTY_CARD = "loyalty_card"
    EMAIL = "email"
    PHONE = "phone"


class Confirmation(StrEnum):
    """A field that must agree (after normalisation) before a key's match counts."""

    FAMILY_NAME = "family_name"
    GIVEN_NAME = "given_name"
    BIRTH_DATE = "birth_date"


@dataclass(frozen=True)
class MatchRule:
    """One way to recognise a customer: a key, and the fields that must agree with it."""

    key: MatchKey
    confirm: tuple[Confirmation, ...] = ()


DEFAULT_MATCH_RULES = (
    MatchRule(MatchKey.SYSTEM_ID),
    MatchRule(MatchKey.CUSTOMER_ID),
    MatchRule(MatchKey.LOYALTY_CARD),
    MatchRule(MatchKey.EMAIL),
    MatchRule(MatchKey.PHONE, (Confirmation.FAMILY_NAME,)),
)


@dataclass(frozen=True)
class MatchRules:
    """The match rules in priority order: the first that matches names the key reported."""

    rules: tuple[MatchRule, ...] = DEFAULT_MATCH_RULES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchRules:
        """Rules from a plain table: `{"match": [{"key": "email"}, {"key": "phone",
        "confirm": ["family_name"]}]}`; no `match` keeps the defaults."""
        raw = data.get("match")
        if raw is None:
            return cls()
        if not isinstance(raw, list) or not raw:
            raise ValueError("match must be a non-empty list of rules")
        return cls(tuple(_rule(i, item) for i, item in enumerate(raw)))


def _rule(index: int, item: Any) -> MatchRule:
    where = f"match[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a table with a key")
    try:
        key = MatchKey(str(item.get("key")))
    except ValueError:
        choices = ", ".join(k.value for k in MatchKey)
        raise ValueError(f"{where}.key must be one of {choices}") from None
    confirm = item.get("confirm", [])
    if not isinstance(confirm, list):
        raise ValueError(f"{where}.confirm must be a list")
    try:
        return MatchRule(key, tuple(Confirmation(c) for c in confirm))
    except ValueError:
        choices = ", ".join(c.value for c in Confirmation)
        raise ValueError(f"{where}.confirm may name only {choices}") from None


def system_key(system: str, external_id: str) -> str:
    """The lookup value of a system identity (`shopify:6000000001`)."""
    return f"{system}:{external_id}"


def key_values(key: MatchKey, customer: Customer) -> tuple[str, ...]:
    """The values of `key` a profile carries (a profile may have several emails or cards)."""
    if key is MatchKey.SYSTEM_ID:
        return tuple(system_key(s, i) for s, i in sorted(customer.identities.items()))
    if key is MatchKey.CUSTOMER_ID:
        return (customer.customer_id,)
    if key is MatchKey.LOYALTY_CARD:
        return tuple(card.strip() for card in customer.loyalty_cards)
    if key is MatchKey.EMAIL:
        return tuple(customer.emails)
    return tuple(customer.phones)


def normalise_name(value: str | None) -> str:
    """A name compared without case, accents, spaces or punctuation (`Müller-Lüdenscheidt`)."""
    if value is None:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def confirmed(profile: Customer, known: Customer, fields: Iterable[Confirmation]) -> bool:
    """Whether every confirmation field is present and agrees between the two profiles."""
    for confirmation in fields:
        if confirmation is Confirmation.BIRTH_DATE:
            if profile.birth_date is None or profile.birth_date != known.birth_date:
                return False
            continue
        mine = normalise_name(getattr(profile, confirmation.value))
        if not mine or mine != normalise_name(getattr(known, confirmation.value)):
            return False
    return True


class IdentityIndex(Protocol):
    """The golden customers the hub knows, searchable by key (a table with indexed key
    columns in the hub database; `InMemoryIdentityIndex` in tests)."""

    def lookup(self, key: MatchKey, value: str) -> frozenset[str]:
        """The golden ids a key value points at."""
        ...

    def customer(self, customer_id: str) -> Customer | None:
        """A golden customer as it stands, for confirmations."""
        ...


@dataclass
class InMemoryIdentityIndex:
    """An IdentityIndex over golden Customers held in memory."""

    _customers: dict[str, Customer] = field(default_factory=dict)
    _keys: dict[tuple[MatchKey, str], set[str]] = field(default_factory=dict)

    def put(self, customer: Customer) -> None:
        """Index a golden customer, replacing what was indexed for its id before."""
        old = self._customers.get(customer.customer_id)
        if old is not None:
            for key in MatchKey:
                for value in key_values(key, old):
                    self._keys.get((key, value), set()).discard(old.customer_id)
        self._customers[customer.customer_id] = customer
        for key in MatchKey:
            for value in key_values(key, customer):
                self._keys.setdefault((key, value), set()).add(customer.customer_id)

    def lookup(self, key: MatchKey, value: str) -> frozenset[str]:
        """The golden ids a key value points at."""
        return frozenset(self._keys.get((key, value), ()))

    def customer(self, customer_id: str) -> Customer | None:
        """A golden customer as it stands."""
        return self._customers.get(customer_id)


@dataclass(frozen=True)
class KeyMatch:
    """Evidence: `key` with `value` points at golden customer `customer_id`."""

    customer_id: str
    key: MatchKey
    value: str


@dataclass(frozen=True)
class Matched:
    """The profile is a known golden customer; `by` is the strongest key that said so."""

    customer_id: str
    by: KeyMatch


@dataclass(frozen=True)
class NewCustomer:
    """No key matched: a new golden customer, its id derived from the system identity."""

    customer_id: str


@dataclass(frozen=True)
class IdentityConflict:
    """Keys disagree about who this is: for a person to settle, never merged silently."""

    reason: str
    evidence: tuple[KeyMatch, ...]

    @property
    def customer_ids(self) -> tuple[str, ...]:
        """The golden customers the evidence points at."""
        return tuple(sorted({m.customer_id for m in self.evidence}))


Resolution = Matched | NewCustomer | IdentityConflict


def new_customer_id(system: str, external_id: str) -> str:
    """A golden id derived from the first system identity, stable across replays."""
    token = hashlib.sha256(system_key(system, external_id).encode()).hexdigest()[:16]
    return f"GC-{token.upper()}"


def resolve_identity(
    system: str, profile: Customer, index: IdentityIndex, rules: MatchRules | None = None
) -> Resolution:
    """Decide which golden customer `profile` (as `system` holds it) is, or that it is new,
    or that its keys conflict."""
    rules = rules or MatchRules()
    external_id = profile.identities.get(system)
    if external_id is None:
        raise ValueError(f"a profile from {system} must carry its {system} id in identities")
    evidence = _evidence(profile, index, rules)
    found = {m.customer_id for m in evidence}
    if len(found) > 1:
        return IdentityConflict("the keys point at different golden customers", evidence)
    if not found:
        return NewCustomer(new_customer_id(system, external_id))
    (customer_id,) = found
    known = index.customer(customer_id)
    linked = known.identities.get(system) if known is not None else None
    if linked is not None and linked != external_id:
        other = KeyMatch(customer_id, MatchKey.SYSTEM_ID, system_key(system, linked))
        return IdentityConflict(
            f"the golden customer is already linked to another {system} account",
            (*evidence, other),
        )
    return Matched(customer_id, evidence[0])


def _evidence(profile: Customer, index: IdentityIndex, rules: MatchRules) -> tuple[KeyMatch, ...]:
    """Every confirmed key match, strongest rule first."""
    found: list[KeyMatch] = []
    for rule in rules.rules:
        for value in key_values(rule.key, profile):
            for customer_id in sorted(index.lookup(rule.key, value)):
                known = index.customer(customer_id)
                if known is None or not confirmed(profile, known, rule.confirm):
                    continue
                match = KeyMatch(customer_id, rule.key, value)
                if match not in found:
                    found.append(match)
    return tuple(found)
