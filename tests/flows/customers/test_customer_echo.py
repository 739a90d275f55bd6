"""Echo suppression by example: what the hub sent comes back as nothing, real edits get through."""

from __future__ import annotations

from dataclasses import replace

from retailhub.flows.customers.echo import (
    Fingerprint,
    InMemoryFingerprintStore,
    fingerprints,
    record_propagation,
    split_echo,
    suppress_echo,
)
from retailhub.flows.customers.fields import digest
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.survivorship import Propagation, merge

from .profiles import change

RULES = SurvivorshipRules()
ID = "GC-ANNA"


def sent_to_shop() -> tuple[InMemoryFingerprintStore, Propagation]:
    """The CRM corrected the shop's family name; the hub sent it and remembered it."""
    shop = change("shopify", 0, "shop-1", given_name="Anna", family_name="Jasnen")
    crm = change("hubspot", 0, "crm-1", given_name="Anna", family_name="Jansen")
    outcome = merge(merge(None, shop, RULES, customer_id=ID).golden, crm, RULES)
    (propagation,) = outcome.propagations
    store = InMemoryFingerprintStore()
    record_propagation(store, propagation)
    return store, propagation


def test_a_propagation_leaves_one_fingerprint_per_field() -> None:
    store, propagation = sent_to_shop()
    assert fingerprints(propagation) == (
        Fingerprint("shopify", ID, "family_name", digest("Jansen")),
    )
    assert set(store.expected("shopify", ID)) == {"family_name"}
    assert store.expected("hubspot", ID) == {}


def test_the_echo_of_a_propagation_is_no_change() -> None:
    store, _ = sent_to_shop()
    echo = change("shopify", 1, "shop-2", family_name="Jansen")
    echo_of_name = replace(echo, fields=frozenset({"family_name"}))
    assert suppress_echo(store, echo_of_name, ID, RULES) is None
    # Shops send several webhooks for one update: the fingerprint stays for the next one.
    assert suppress_echo(store, echo_of_name, ID, RULES) is None


def test_a_full_report_keeps_only_the_fields_that_are_not_echoes() -> None:
    store, _ = sent_to_shop()
    report = change("shopify", 1, "shop-2", given_name="Anne", family_name="Jansen")
    split = split_echo(report, store.expected("shopify", ID), RULES)
    assert split.echoed == {"family_name"}
    assert split.change is not None
    assert "family_name" not in split.change.values(RULES)
    assert split.change.values(RULES)["given_name"] == "Anne"


def test_a_real_edit_of_a_sent_field_gets_through_and_forgets_the_fingerprint() -> None:
    store, _ = sent_to_shop()
    edit = change("shopify", 1, "shop-2", given_name="Anna", family_name="Jansen-Smit")
    real = suppress_echo(store, edit, ID, RULES)
    assert real is edit
    assert store.expected("shopify", ID) == {}


def test_an_echo_from_another_system_is_not_mistaken_for_one() -> None:
    store, _ = sent_to_shop()
    crm = change("hubspot", 1, "crm-2", family_name="Jansen")
    assert suppress_echo(store, crm, ID, RULES) is crm
