"""The sandbox estate's customers whose profiles disagree across systems, through identity
resolution, survivorship and echo suppression: the hub ends where a retailer would expect."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from retailhub.canonical.customer import Customer
from retailhub.flows.customers.echo import (
    InMemoryFingerprintStore,
    record_propagation,
    suppress_echo,
)
from retailhub.flows.customers.fields import digest, profile_fields
from retailhub.flows.customers.golden import GoldenRecord, ProfileChange
from retailhub.flows.customers.identity import (
    IdentityConflict,
    InMemoryIdentityIndex,
    Matched,
    MatchKey,
    NewCustomer,
    resolve_identity,
)
from retailhub.flows.customers.rules import SurvivorshipRules
from retailhub.flows.customers.survivorship import LOWER_PRIORITY, MergeOutcome, merge
from retailhub.sandbox.seed import Estate, EstateCustomer, build_estate

from .profiles import report

RULES = SurvivorshipRules()
VIEWS = {"openloyalty": "loyalty_view", "shopify": "shop_view", "hubspot": "crm_view"}


@pytest.fixture(scope="module")
def estate() -> Estate:
    """The sandbox estate, built once for this module."""
    return build_estate()


@pytest.fixture(scope="module")
def conflicted(estate: Estate) -> dict[str, EstateCustomer]:
    """One customer with a phone for each way the estate's profiles disagree."""
    found: dict[str, EstateCustomer] = {}
    for customer in estate.customers:
        if customer.conflicts and customer.golden.phones:
            found.setdefault(customer.conflicts[0], customer)
    return found


@dataclass
class Hub:
    """The pure core wired as the bus subscription will wire it, with in-memory stores."""

    index: InMemoryIdentityIndex = field(default_factory=InMemoryIdentityIndex)
    goldens: dict[str, GoldenRecord] = field(default_factory=dict)
    fingerprints: InMemoryFingerprintStore = field(default_factory=InMemoryFingerprintStore)
    sent: list[tuple[str, str]] = field(default_factory=list)

    def receive(self, change: ProfileChange) -> MergeOutcome | IdentityConflict | None:
        """Handle one system's report: echo, identity, merge, propagations remembered."""
        resolution = resolve_identity(change.system, change.profile, self.index)
        if isinstance(resolution, IdentityConflict):
            return resolution
        real = suppress_echo(self.fingerprints, change, resolution.customer_id, RULES)
        if real is None:
            return None
        golden = self.goldens.get(resolution.customer_id)
        outcome = merge(golden, real, RULES, customer_id=resolution.customer_id)
        self.goldens[resolution.customer_id] = outcome.golden
        self.index.put(outcome.golden.customer)
        for propagation in outcome.propagations:
            record_propagation(self.fingerprints, propagation)
            self.sent.extend((propagation.system, name) for name in propagation.fields)
        return outcome


def view_change(customer: EstateCustomer, system: str, days: int = 0) -> ProfileChange:
    """The estate's view of a customer in `system`, reported as a change."""
    view: Customer = getattr(customer, VIEWS[system])
    assert view.updated_at is not None
    event_id = f"{system}-{view.identities[system]}-{days}"
    return ProfileChange(system, view, view.updated_at + timedelta(days=days), event_id)


def sync(customer: EstateCustomer, order: tuple[str, ...]) -> Hub:
    """Feed the three views of a customer to a fresh hub in `order`."""
    hub = Hub()
    for system in order:
        assert isinstance(hub.receive(view_change(customer, system)), MergeOutcome)
    return hub


def the_golden(hub: Hub) -> GoldenRecord:
    """The one golden customer the hub made of the three views."""
    (golden,) = hub.goldens.values()
    return golden


def truth(customer: Customer) -> dict[str, object]:
    """What the golden record must say, leaving out the ids the hub chooses itself."""
    return customer.model_dump(exclude={"customer_id", "updated_at"})


ENROLMENT_FIRST = ("openloyalty", "shopify", "hubspot")


def orders() -> Iterator[tuple[str, ...]]:
    """Every order in which the three systems can report."""
    return itertools.permutations(VIEWS)


@pytest.mark.parametrize("kind", ["crm_other_email", "loyalty_old_phone", "shop_name_typo"])
@pytest.mark.parametrize("order", list(orders()))
def test_every_arrival_order_ends_in_the_estates_golden_record(
    conflicted: dict[str, EstateCustomer], kind: str, order: tuple[str, ...]
) -> None:
    customer = conflicted[kind]
    hub = sync(customer, order)
    golden = the_golden(hub)
    assert truth(golden.customer) == truth(customer.golden)
    assert golden.conflicts == ()
    for system, profile in RULES.systems.items():
        values = profile_fields(golden.customer)
        for name in profile.fields:
            expected = profile.project(name, values[name])
            if expected not in (None, ()):
                assert golden.held[system][name].digest == digest(expected), (system, name)


def test_the_crm_learns_the_login_email_and_the_card_and_keeps_its_other_address_known(
    conflicted: dict[str, EstateCustomer],
) -> None:
    customer = conflicted["crm_other_email"]
    hub = sync(customer, ENROLMENT_FIRST)
    assert sorted(hub.sent) == [("hubspot", "emails"), ("hubspot", "loyalty_cards")]
    golden = the_golden(hub)
    assert golden.customer.emails == customer.golden.emails
    assert golden.lineage["emails"].systems == ("shopify", "hubspot")
    work = customer.golden.emails[1]
    assert hub.index.lookup(MatchKey.EMAIL, work) == {golden.customer_id}


def test_the_loyalty_platform_gets_the_current_phone_and_the_old_one_spreads_nowhere(
    conflicted: dict[str, EstateCustomer],
) -> None:
    customer = conflicted["loyalty_old_phone"]
    old = customer.loyalty_view.phones[0]
    hub = sync(customer, ENROLMENT_FIRST)
    assert ("openloyalty", "phones") in hub.sent
    golden = the_golden(hub)
    assert golden.customer.phones == customer.golden.phones
    assert old not in golden.customer.phones
    assert golden.lineage["phones"].systems in (("hubspot",), ("shopify",))


def test_the_web_shop_name_typo_is_corrected_from_the_crm(
    conflicted: dict[str, EstateCustomer],
) -> None:
    customer = conflicted["shop_name_typo"]
    hub = sync(customer, ENROLMENT_FIRST)
    assert ("shopify", "family_name") in hub.sent
    assert the_golden(hub).customer.family_name == customer.golden.family_name
    assert the_golden(hub).lineage["family_name"].systems == ("hubspot",)


def test_typing_the_typo_again_next_day_is_surfaced_as_a_conflict(
    conflicted: dict[str, EstateCustomer],
) -> None:
    customer = conflicted["shop_name_typo"]
    hub = sync(customer, ENROLMENT_FIRST)
    retyped = view_change(customer, "shopify", days=1)
    outcome = hub.receive(retyped)
    assert isinstance(outcome, MergeOutcome)
    (conflict,) = outcome.conflicts
    assert (conflict.field, conflict.reason) == ("family_name", LOWER_PRIORITY)
    assert conflict.challenger.value == customer.shop_view.family_name
    assert outcome.golden.customer.family_name == customer.golden.family_name
    assert outcome.propagations == ()


@pytest.mark.parametrize("kind", ["crm_other_email", "loyalty_old_phone", "shop_name_typo"])
def test_what_the_hub_sent_does_not_come_back_as_a_change(
    conflicted: dict[str, EstateCustomer], kind: str
) -> None:
    hub = sync(conflicted[kind], ENROLMENT_FIRST)
    golden = the_golden(hub)
    values = profile_fields(golden.customer)
    for system, profile in RULES.systems.items():
        held = {name: profile.project(name, values[name]) for name in profile.fields}
        assert golden.customer.updated_at is not None
        at = golden.customer.updated_at + timedelta(days=1)
        echo = report(system, held, at, f"echo-{system}", golden.identities[system])
        outcome = hub.receive(echo)
        assert outcome is None or isinstance(outcome, MergeOutcome)
        if isinstance(outcome, MergeOutcome):
            assert (outcome.changes, outcome.propagations, outcome.conflicts) == ((), (), ())


def test_a_crm_contact_with_only_another_email_and_no_phone_stays_apart(estate: Estate) -> None:
    customer = next(
        c for c in estate.customers if "crm_other_email" in c.conflicts and not c.golden.phones
    )
    hub = sync(customer, ENROLMENT_FIRST)
    assert len(hub.goldens) == 2
    crm = resolve_identity("hubspot", customer.crm_view, hub.index)
    assert isinstance(crm, Matched)
    assert crm.by.key is MatchKey.SYSTEM_ID
    assert isinstance(resolve_identity("hubspot", customer.crm_view, Hub().index), NewCustomer)
