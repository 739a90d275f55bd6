"""What the intake reads from inbound events, and the rules the estate configures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retailhub.canonical.catalogue import to_event
from retailhub.canonical.customer import Customer
from retailhub.canonical.loyalty import LoyaltyAccount
from retailhub.flows.customers import CustomerSyncRules, profile_event
from retailhub.flows.customers.events import (
    LOYALTY_ACCOUNT_FIELDS,
    LOYALTY_ACCOUNT_UPDATED,
    profile_change,
)
from retailhub.flows.customers.identity import MatchKey

SYSTEMS = CustomerSyncRules().systems
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_profile_event_is_the_named_systems_report_at_its_change_time() -> None:
    profile = Customer(
        customer_id="SHOPIFY-CUSTOMER-7",
        identities={"shopify": "7", "hubspot": "99"},
        given_name="Anna",
        updated_at=AT,
    )
    change = profile_change(profile_event("shopify", profile), SYSTEMS, position=12)
    assert change is not None
    assert (change.system, change.external_id, change.at, change.sequence) == (
        "shopify",
        "7",
        AT,
        12,
    )
    assert dict(change.profile.identities) == {"shopify": "7"}


def test_a_loyalty_account_event_speaks_only_for_cards_and_tier() -> None:
    account = LoyaltyAccount(
        member_id="m-1",
        card_numbers=["2612000000017"],
        tier="gold",
        points_balance=120,
        external_ids={"openloyalty": "m-1"},
        updated_at=AT,
    )
    event = to_event(account, LOYALTY_ACCOUNT_UPDATED, "/openloyalty/members")
    change = profile_change(event, SYSTEMS)
    assert change is not None
    assert change.fields == LOYALTY_ACCOUNT_FIELDS
    assert change.profile.loyalty is not None
    assert (change.profile.loyalty.member_id, change.profile.loyalty.tier) == ("m-1", "gold")
    assert change.profile.loyalty_cards == ["2612000000017"]


def test_the_hubs_own_events_and_systems_outside_the_sync_are_not_reports() -> None:
    pos = Customer(customer_id="POS-1", identities={"pos": "1"})
    assert profile_change(profile_event("pos", pos), SYSTEMS) is None
    hub = to_event(pos, "retail.customer.updated.v1", "/hub/customer-sync")
    assert profile_change(hub, SYSTEMS) is None


def test_rules_come_from_the_estates_customer_sync_table() -> None:
    rules = CustomerSyncRules.from_dict(
        {
            "match": [{"key": "loyalty_card"}, {"key": "email"}],
            "fields": {
                "phones": {"strategy": "priority", "priority": ["shopify"], "window_days": 7}
            },
        }
    )
    assert [r.key for r in rules.match.rules] == [MatchKey.LOYALTY_CARD, MatchKey.EMAIL]
    assert rules.survivorship.fields["phones"].priority == ("shopify",)
    assert rules.survivorship.fields["phones"].window.days == 7
    with pytest.raises(ValueError, match=r"match\[0\]\.key"):
        CustomerSyncRules.from_dict({"match": [{"key": "shoe_size"}]})
