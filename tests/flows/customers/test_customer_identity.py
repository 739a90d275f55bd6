"""Identity resolution: deterministic keys, configurable rules, conflicts surfaced."""

from __future__ import annotations

from typing import Any

import pytest

from retailhub.canonical.customer import Customer
from retailhub.flows.customers.identity import (
    Confirmation,
    IdentityConflict,
    InMemoryIdentityIndex,
    Matched,
    MatchKey,
    MatchRule,
    MatchRules,
    NewCustomer,
    new_customer_id,
    normalise_name,
    resolve_identity,
)

from .profiles import profile


def golden(customer_id: str, **values: Any) -> Customer:
    """A golden customer as the index holds it."""
    return Customer(customer_id=customer_id, **values)


@pytest.fixture
def index() -> InMemoryIdentityIndex:
    """Two known customers: Anna (card, email, phone, Shopify id) and Daan (email)."""
    index = InMemoryIdentityIndex()
    index.put(
        golden(
            "GC-ANNA",
            identities={"shopify": "600"},
            loyalty_cards=["2612000000017"],
            family_name="Jansen",
            emails=["anna@example.nl"],
            phones=["+31612345678"],
        )
    )
    index.put(golden("GC-DAAN", family_name="de Vries", emails=["daan@example.nl"]))
    return index


def test_a_loyalty_card_alone_is_decisive(index: InMemoryIdentityIndex) -> None:
    resolution = resolve_identity(
        "openloyalty", profile("openloyalty", loyalty_cards=["2612000000017"]), index
    )
    assert isinstance(resolution, Matched)
    assert resolution.customer_id == "GC-ANNA"
    assert resolution.by.key is MatchKey.LOYALTY_CARD


def test_an_email_matches_whatever_case_it_was_typed_in(index: InMemoryIdentityIndex) -> None:
    resolution = resolve_identity(
        "hubspot", profile("hubspot", emails=[" Anna@Example.NL "]), index
    )
    assert isinstance(resolution, Matched)
    assert resolution.customer_id == "GC-ANNA"
    assert resolution.by.key is MatchKey.EMAIL


def test_a_phone_needs_the_family_name_too(index: InMemoryIdentityIndex) -> None:
    household = profile("hubspot", phones=["+31612345678"], family_name="Bakker")
    assert isinstance(resolve_identity("hubspot", household, index), NewCustomer)
    anna = profile("hubspot", phones=["+31 6 1234 5678"], family_name="JANSEN")
    resolution = resolve_identity("hubspot", anna, index)
    assert isinstance(resolution, Matched)
    assert resolution.by.key is MatchKey.PHONE


def test_the_systems_own_id_is_the_strongest_key(index: InMemoryIdentityIndex) -> None:
    resolution = resolve_identity("shopify", profile("shopify", "600"), index)
    assert isinstance(resolution, Matched)
    assert resolution.by.key is MatchKey.SYSTEM_ID


def test_keys_pointing_at_two_customers_are_a_conflict(index: InMemoryIdentityIndex) -> None:
    both = profile("hubspot", loyalty_cards=["2612000000017"], emails=["daan@example.nl"])
    resolution = resolve_identity("hubspot", both, index)
    assert isinstance(resolution, IdentityConflict)
    assert resolution.customer_ids == ("GC-ANNA", "GC-DAAN")
    assert {m.key for m in resolution.evidence} == {MatchKey.LOYALTY_CARD, MatchKey.EMAIL}


def test_a_second_account_in_the_same_system_is_a_conflict(index: InMemoryIdentityIndex) -> None:
    duplicate = profile("shopify", "601", emails=["anna@example.nl"])
    resolution = resolve_identity("shopify", duplicate, index)
    assert isinstance(resolution, IdentityConflict)
    assert "already linked" in resolution.reason


def test_no_match_is_a_new_customer_with_a_stable_id(index: InMemoryIdentityIndex) -> None:
    stranger = profile("shopify", "777", emails=["sem@example.com"])
    first = resolve_identity("shopify", stranger, index)
    assert first == resolve_identity("shopify", stranger, index)
    assert first == NewCustomer(new_customer_id("shopify", "777"))
    assert new_customer_id("shopify", "777") != new_customer_id("hubspot", "777")


def test_rules_decide_which_keys_match(index: InMemoryIdentityIndex) -> None:
    rules = MatchRules.from_dict({"match": [{"key": "loyalty_card"}]})
    assert rules.rules == (MatchRule(MatchKey.LOYALTY_CARD),)
    by_email = profile("hubspot", emails=["anna@example.nl"])
    assert isinstance(resolve_identity("hubspot", by_email, index, rules), NewCustomer)
    strict = MatchRules.from_dict(
        {"match": [{"key": "email", "confirm": ["family_name", "given_name"]}]}
    )
    assert strict.rules[0].confirm == (Confirmation.FAMILY_NAME, Confirmation.GIVEN_NAME)
    assert isinstance(resolve_identity("hubspot", by_email, index, strict), NewCustomer)


def test_rules_from_a_dict_default_when_absent_and_say_what_is_wrong() -> None:
    assert MatchRules.from_dict({}) == MatchRules()
    with pytest.raises(ValueError, match=r"match\[0\]\.key must be one of"):
        MatchRules.from_dict({"match": [{"key": "shoe_size"}]})
    with pytest.raises(ValueError, match=r"match\[1\]\.confirm may name only"):
        MatchRules.from_dict({"match": [{"key": "email"}, {"key": "phone", "confirm": ["age"]}]})
    with pytest.raises(ValueError, match="non-empty list"):
        MatchRules.from_dict({"match": []})


def test_a_profile_must_carry_its_own_system_id(index: InMemoryIdentityIndex) -> None:
    with pytest.raises(ValueError, match="must carry its hubspot id"):
        resolve_identity("hubspot", profile("shopify"), index)


def test_reindexing_a_customer_forgets_its_old_keys() -> None:
    index = InMemoryIdentityIndex()
    index.put(golden("GC-1", emails=["old@example.nl"]))
    index.put(golden("GC-1", emails=["new@example.nl"]))
    assert index.lookup(MatchKey.EMAIL, "old@example.nl") == frozenset()
    assert index.lookup(MatchKey.EMAIL, "new@example.nl") == {"GC-1"}


def test_names_compare_without_case_accents_or_punctuation() -> None:
    assert normalise_name("Müller-Lüdenscheidt") == normalise_name("muller ludenscheidt")
    assert normalise_name(None) == ""
