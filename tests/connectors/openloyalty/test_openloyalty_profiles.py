"""Contract tests of member profiles and the product catalogue on the Open Loyalty connector
against the emulator over loopback HTTP: enrolling once, reading and writing a profile, items
published to the catalogue, and the breaker state the connector reports."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_openloyalty_faults import port_of

from retailhub.canonical.customer import Customer
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused, SystemFailure
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.resilience import SystemUnavailable
from retailhub.sandbox.openloyalty import OpenLoyaltyEmulator
from retailhub.sandbox.runner import set_faults
from retailhub.sandbox.seed import Estate


def newcomer(**changes: object) -> Customer:
    fields: dict[str, object] = {
        "customer_id": "CUST-NEW-1",
        "given_name": "Noor",
        "family_name": "Visser",
        "emails": ["noor.visser@example.org"],
        "phones": ["+31612345678"],
        "loyalty_cards": ["NL-NEW-000001"],
    }
    return Customer.model_validate(fields | changes)


async def test_a_customer_is_enrolled_once_whatever_the_repeats(
    loyalty: OpenLoyaltyConnector,
) -> None:
    customer = newcomer()

    member_id = await loyalty.register_member(customer, key="enrol:CUST-NEW-1")
    again = await loyalty.register_member(customer, key="enrol:CUST-NEW-1")
    same_email = await loyalty.register_member(
        newcomer(customer_id="CUST-NEW-2", loyalty_cards=[]), key="enrol:CUST-NEW-2"
    )

    assert again == same_email == member_id
    account = await loyalty.find_member(email="noor.visser@example.org")
    assert account is not None
    assert account.member_id == member_id
    assert account.card_numbers == ["NL-NEW-000001"]
    assert account.points_balance == 0


async def test_the_profile_reads_back_as_enrolled(loyalty: OpenLoyaltyConnector) -> None:
    member_id = await loyalty.register_member(newcomer(), key="enrol:profile")

    profile = await loyalty.find_member_profile(member_id)

    assert profile is not None
    assert profile.customer_id == f"OPENLOYALTY-MEMBER-{member_id}"
    assert profile.identities == {"openloyalty": member_id}
    assert (profile.given_name, profile.family_name) == ("Noor", "Visser")
    assert profile.emails == ["noor.visser@example.org"]
    assert profile.phones == ["+31612345678"]
    assert profile.loyalty_cards == ["NL-NEW-000001"]
    assert profile.loyalty is not None
    assert profile.loyalty.tier == "bronze"


async def test_an_update_writes_the_profile_and_is_safe_to_repeat(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member = estate.customers[11]
    member_id = member.account.member_id
    changed = newcomer(
        customer_id=member.golden.customer_id,
        given_name="Renamed",
        emails=["renamed@example.org"],
        loyalty_cards=[member.card_number],
    )

    await loyalty.update_member(member_id, changed)
    await loyalty.update_member(member_id, changed)

    profile = await loyalty.find_member_profile(member_id)
    assert profile is not None
    assert profile.given_name == "Renamed"
    assert profile.emails == ["renamed@example.org"]
    assert profile.loyalty_cards == [member.card_number]
    found = await loyalty.find_member(card=member.card_number)
    assert found is not None
    assert found.points_balance == member.points_balance


async def test_an_email_taken_by_another_member_is_refused_on_update(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    first, second = estate.customers[12], estate.customers[13]
    taken = first.emails[0]
    with pytest.raises(RequestRefused, match=r"customer\.email"):
        await loyalty.update_member(
            second.account.member_id, newcomer(emails=[taken], loyalty_cards=[])
        )


async def test_an_unknown_member_has_no_profile(loyalty: OpenLoyaltyConnector) -> None:
    assert await loyalty.find_member_profile("00000000-0000-4000-8000-000000000000") is None


async def test_a_customer_without_email_or_card_is_not_enrolled(
    loyalty: OpenLoyaltyConnector,
) -> None:
    with pytest.raises(MappingError, match="email or a loyalty card"):
        await loyalty.register_member(newcomer(emails=[], loyalty_cards=[]), key="enrol:none")


async def test_items_are_published_to_the_catalogue_once_per_sku(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    products = list(estate.products[:3])

    await loyalty.put_products(products)
    await loyalty.put_products(products)

    for product in products:
        item = await loyalty.client.get(loyalty.client.path("product", product.sku))
        assert item["sku"] == {"code": product.sku}
        assert item["name"] == product.title
        assert item["categories"] == product.hierarchy
        assert item.get("maker") == product.brand
    listed = loyalty.client.path("product", "NO-SUCH-SKU")
    assert await loyalty.client.get_or_none(listed) is None


async def test_the_circuit_state_follows_the_breaker(
    loyalty: OpenLoyaltyConnector, emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    card = estate.customers[42].card_number
    assert loyalty.circuit_state() == "closed"
    await set_faults("openloyalty", {"error_rate": 1.0}, port_of(emulator))
    with pytest.raises(SystemFailure):
        await loyalty.find_member(card=card)
    with pytest.raises(SystemUnavailable):
        await loyalty.find_member(card=card)
    assert loyalty.circuit_state() == "open"

    await set_faults("openloyalty", None, port_of(emulator), clear=True)
    deadline = time.monotonic() + 5
    while loyalty.circuit_state() == "open":
        assert time.monotonic() < deadline, "the breaker never half-opened"
        await asyncio.sleep(0.05)
    assert loyalty.circuit_state() == "half_open"
    await loyalty.find_member(card=card)
    assert loyalty.circuit_state() == "closed"
