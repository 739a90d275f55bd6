"""Field-level survivorship by example: priority and its window, unions, latest consent,
lineage, propagations and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retailhub.canonical.customer import ConsentChannel
from retailhub.flows.customers.audit import AuditKind, audit_merge
from retailhub.flows.customers.golden import GoldenRecord, ProfileChange
from retailhub.flows.customers.rules import (
    FieldRule,
    Strategy,
    SurvivorshipRules,
    SystemProfile,
)
from retailhub.flows.customers.survivorship import (
    EQUAL_PRIORITY,
    LOWER_PRIORITY,
    MergeOutcome,
    merge,
)

from .profiles import change, consent, moment

ID = "GC-ANNA"


def fold(*changes: ProfileChange, rules: SurvivorshipRules | None = None) -> MergeOutcome:
    """Merge changes in order; the last outcome."""
    golden: GoldenRecord | None = None
    outcome = None
    for item in changes:
        outcome = merge(golden, item, rules, customer_id=ID)
        golden = outcome.golden
    assert outcome is not None
    return outcome


def sent(outcome: MergeOutcome) -> dict[str, set[str]]:
    """Which fields went to which system."""
    return {p.system: set(p.fields) for p in outcome.propagations}


CRM = change("hubspot", 0, "crm-1", given_name="Anna", family_name="Jansen")
SHOP_TYPO = change("shopify", 0, "shop-1", given_name="Anna", family_name="Jasnen")


def test_the_crm_wins_names_whatever_order_the_systems_report_in() -> None:
    crm_last = fold(SHOP_TYPO, CRM)
    shop_last = fold(CRM, SHOP_TYPO)
    for outcome in (crm_last, shop_last):
        assert outcome.golden.customer.family_name == "Jansen"
        assert outcome.golden.lineage["family_name"].systems == ("hubspot",)
        assert outcome.golden.conflicts == ()
    assert sent(crm_last) == {"shopify": {"family_name"}}
    assert sent(shop_last) == {"shopify": {"family_name"}}


def test_a_lower_priority_edit_within_the_window_is_a_conflict_not_an_overwrite() -> None:
    edit = change("shopify", 3, "shop-2", given_name="Anna", family_name="Jansen-Smit")
    outcome = fold(CRM, SHOP_TYPO, edit)
    assert outcome.golden.customer.family_name == "Jansen"
    (conflict,) = outcome.conflicts
    assert (conflict.field, conflict.reason) == ("family_name", LOWER_PRIORITY)
    assert conflict.standing.source.event_id == "crm-1"
    assert conflict.challenger.value == "Jansen-Smit"
    assert outcome.changes == ()
    assert all("family_name" not in p.fields for p in outcome.propagations)
    opened = [r for r in audit_merge(outcome) if r.kind is AuditKind.CONFLICT_OPENED]
    assert [(r.field, r.old, r.new) for r in opened] == [("family_name", "Jansen", "Jansen-Smit")]


def test_after_the_window_the_most_recent_value_wins() -> None:
    married = change("shopify", 45, "shop-2", given_name="Anna", family_name="Jansen-Smit")
    outcome = fold(CRM, married)
    assert outcome.golden.customer.family_name == "Jansen-Smit"
    assert outcome.golden.lineage["family_name"].sources[0].event_id == "shop-2"
    assert sent(outcome) == {"hubspot": {"family_name"}}
    (field_change,) = outcome.changes
    assert (field_change.old, field_change.new) == ("Jansen", "Jansen-Smit")


def test_equal_priority_systems_disagreeing_within_the_window_conflict() -> None:
    rules = SurvivorshipRules.from_dict(
        {"fields": {"family_name": {"strategy": "priority", "priority": ["hubspot"]}}}
    )
    loyalty = change("openloyalty", 0, "ol-1", family_name="Jansen")
    shop = change("shopify", 2, "shop-1", family_name="Janssen")
    outcome = fold(shop, loyalty, rules=rules)
    assert outcome.golden.customer.family_name == "Jansen"
    assert [c.reason for c in outcome.golden.conflicts] == [EQUAL_PRIORITY]


def test_a_later_change_from_the_higher_priority_system_closes_the_conflict() -> None:
    edit = change("shopify", 3, "shop-2", family_name="Jansen-Smit")
    confirmed = change("hubspot", 4, "crm-2", given_name="Anna", family_name="Jansen-Smit")
    outcome = fold(CRM, edit, confirmed)
    assert outcome.golden.conflicts == ()
    assert [c.field for c in outcome.resolved] == ["family_name"]
    assert outcome.golden.customer.family_name == "Jansen-Smit"
    assert sent(outcome) == {}
    closed = [r for r in audit_merge(outcome) if r.kind is AuditKind.CONFLICT_CLOSED]
    assert [r.field for r in closed] == ["family_name"]


def test_a_full_profile_report_does_not_make_an_unchanged_name_look_new() -> None:
    shop = change("shopify", 0, "shop-1", given_name="Anna", family_name="Jansen")
    crm = change("hubspot", 1, "crm-1", given_name="Anna", family_name="Jansen")
    new_phone = change(
        "shopify", 3, "shop-2", given_name="Anna", family_name="Jansen", phones=["+31612345678"]
    )
    outcome = fold(shop, crm, new_phone)
    assert outcome.golden.claims["family_name"]["shopify"].source.event_id == "shop-1"
    assert outcome.golden.claims["phones"]["shopify"].source.event_id == "shop-2"
    assert outcome.golden.lineage["family_name"].systems == ("hubspot",)


def test_re_entering_a_value_the_hub_corrected_is_a_conflict_not_a_silent_overwrite() -> None:
    retyped = change("shopify", 1, "shop-2", given_name="Anna", family_name="Jasnen")
    corrected = fold(SHOP_TYPO, CRM)
    assert sent(corrected) == {"shopify": {"family_name"}}
    outcome = merge(corrected.golden, retyped)
    assert [c.challenger.source.event_id for c in outcome.conflicts] == ["shop-2"]
    assert outcome.golden.customer.family_name == "Jansen"
    assert outcome.propagations == ()


def test_the_latest_consent_decision_wins_whatever_its_source() -> None:
    granted = consent(ConsentChannel.EMAIL, True, 1, "hubspot")
    withdrawn = consent(ConsentChannel.EMAIL, False, 5, "shopify")
    crm = change("hubspot", 1, "crm-1", consents=[granted])
    shop = change("shopify", 5, "shop-1", consents=[withdrawn])
    for outcome in (fold(crm, shop), fold(shop, crm)):
        customer = outcome.golden.customer
        assert not customer.consent(ConsentChannel.EMAIL)
        assert outcome.golden.lineage["consents.email"].systems == ("shopify",)
    assert sent(fold(crm, shop)) == {"hubspot": {"consents.email"}}


def test_at_the_same_moment_a_withdrawal_beats_a_grant() -> None:
    grant = change("hubspot", 2, "crm-1", consents=[consent(ConsentChannel.EMAIL, True, 2, "x")])
    refuse = change("shopify", 2, "shop-1", consents=[consent(ConsentChannel.EMAIL, False, 2, "y")])
    assert not fold(grant, refuse).golden.customer.consent(ConsentChannel.EMAIL)
    assert not fold(refuse, grant).golden.customer.consent(ConsentChannel.EMAIL)


def test_an_empty_value_never_erases_what_another_system_knows() -> None:
    birthday = moment(0).date().replace(year=1980)
    crm = change("hubspot", 0, "crm-1", birth_date=birthday, phones=["+31612345678"])
    shop = change("shopify", 1, "shop-1", given_name="Anna", phones=[])
    outcome = fold(crm, shop)
    assert outcome.golden.customer.birth_date == birthday
    assert outcome.golden.customer.phones == ["+31612345678"]
    assert "phones" in sent(outcome)["shopify"]


def test_emails_are_an_ordered_union_led_by_the_web_shop_login() -> None:
    crm = change("hubspot", 0, "crm-1", emails=["anna@work.example.org"])
    shop = change("shopify", 1, "shop-1", emails=["anna@example.nl"])
    outcome = fold(crm, shop)
    assert outcome.golden.customer.emails == ["anna@example.nl", "anna@work.example.org"]
    assert outcome.golden.lineage["emails"].systems == ("shopify", "hubspot")
    # The CRM keeps one address: it receives the login address; nothing goes back to the shop.
    assert outcome.propagations[0].fields == {"emails": ("anna@example.nl",)}
    assert sent(outcome) == {"hubspot": {"emails"}}


def test_a_replayed_or_older_change_changes_nothing() -> None:
    newer = change("hubspot", 5, "crm-2", family_name="Jansen-Smit")
    outcome = fold(CRM, newer)
    for again in (newer, CRM):
        replay = merge(outcome.golden, again)
        assert replay.golden == outcome.golden
        assert (replay.changes, replay.propagations) == ((), ())


def test_an_older_report_arriving_after_a_newer_one_changes_nothing() -> None:
    still = change("hubspot", 5, "crm-5", given_name="Anna", family_name="Jansen")
    late = change("hubspot", 3, "crm-3", given_name="Anna", family_name="Jansen-Smit")
    outcome = fold(CRM, still, late)
    assert outcome.golden.customer.family_name == "Jansen"
    assert (outcome.changes, outcome.propagations) == ((), ())


def test_only_systems_that_know_the_customer_are_sent_to_unless_told_to_create() -> None:
    shop = change("shopify", 0, "shop-1", given_name="Anna", emails=["anna@example.nl"])
    assert fold(shop).propagations == ()
    rules = SurvivorshipRules.from_dict({"create_missing": ["hubspot"]})
    (create,) = fold(shop, rules=rules).propagations
    assert (create.system, create.external_id) == ("hubspot", None)
    assert set(create.fields) == {"given_name", "emails"}


def test_every_change_is_audited_with_its_source_and_old_and_new_values() -> None:
    married = change("shopify", 45, "shop-2", given_name="Anna", family_name="Jansen-Smit")
    records = audit_merge(fold(CRM, married))
    changed = [r for r in records if r.kind is AuditKind.FIELD_CHANGED]
    assert [(r.field, r.old, r.new, r.system, r.event_id) for r in changed] == [
        ("family_name", "Jansen", "Jansen-Smit", "shopify", "shop-2")
    ]
    assert changed[0].changed_at == moment(45)
    propagated = [(r.target, r.field) for r in records if r.kind is AuditKind.PROPAGATED]
    assert propagated == [("hubspot", "family_name")]


def test_rules_load_from_a_dict_and_say_what_is_wrong() -> None:
    rules = SurvivorshipRules.from_dict(
        {
            "fields": {"phones": {"strategy": "priority", "priority": ["pos"], "window_days": 7}},
            "systems": {"pos": {"fields": ["phones"], "capacity": {"phones": 1}}},
        }
    )
    assert rules.fields["phones"] == FieldRule(Strategy.PRIORITY, ("pos",), timedelta(days=7))
    assert rules.system("pos") == SystemProfile(frozenset({"phones"}), {"phones": 1})
    assert rules.fields["emails"].strategy is Strategy.UNION
    with pytest.raises(ValueError, match="strategy must be one of"):
        SurvivorshipRules.from_dict({"fields": {"phones": {"strategy": "loudest"}}})
    with pytest.raises(ValueError, match="cannot be a union"):
        SurvivorshipRules.from_dict({"fields": {"family_name": {"strategy": "union"}}})
    with pytest.raises(ValueError, match="no golden field is called shoe_size"):
        SurvivorshipRules.from_dict({"fields": {"shoe_size": {"strategy": "latest"}}})
    with pytest.raises(ValueError, match="takes no part"):
        SurvivorshipRules.from_dict({"create_missing": ["sap"]})
    with pytest.raises(ValueError, match="takes no part in customer sync"):
        merge(None, change("sap", 0, "sap-1"))


def test_merge_refuses_a_second_account_of_a_system_that_identity_resolution_would_flag() -> None:
    golden = fold(CRM).golden
    with pytest.raises(ValueError, match="linked to hubspot 1, not 2"):
        merge(golden, change("hubspot", 1, "crm-2", "2", family_name="Jansen"))
