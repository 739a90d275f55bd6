"""Contract tests of the Open Loyalty connector against the emulator: members looked up as the
till does, points added, spent, blocked for a basket and released, cancelled, and refusals."""

from __future__ import annotations

import pytest
from openloyalty_helpers import QUICK

from retailhub.connectors.http import RequestRefused
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.sandbox.openloyalty import OpenLoyaltyEmulator
from retailhub.sandbox.seed import Estate


async def test_a_member_is_found_by_card_email_or_id_with_tier_and_balance(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member = estate.customers[20]
    expected = member.account

    by_card = await loyalty.find_member(card=member.card_number)
    by_email = await loyalty.find_member(email=member.emails[0].upper())
    by_id = await loyalty.find_member(member_id=expected.member_id)

    assert by_card == by_email == by_id
    assert by_card is not None
    assert by_card.member_id == expected.member_id
    assert by_card.card_numbers == [member.card_number]
    assert by_card.tier == expected.tier
    assert by_card.points_balance == expected.points_balance
    assert by_card.pending_points == 0
    assert by_card.external_ids == {"openloyalty": expected.member_id}


async def test_an_unknown_card_email_or_id_finds_no_member(loyalty: OpenLoyaltyConnector) -> None:
    assert await loyalty.find_member(card="2612999999999") is None
    assert await loyalty.find_member(email="nobody@example.org") is None
    assert await loyalty.find_member(member_id="00000000-0000-4000-8000-000000000000") is None
    with pytest.raises(ValueError, match="card, an email or a member id"):
        await loyalty.find_member()


async def balance(loyalty: OpenLoyaltyConnector, member_id: str) -> int:
    account = await loyalty.find_member(member_id=member_id)
    assert account is not None
    return account.points_balance


async def test_adding_points_twice_under_one_key_credits_once(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = estate.customers[21].account.member_id
    before = await balance(loyalty, member_id)

    first = await loyalty.add_points(member_id, 250, "compensation for case 17", "case:17")
    again = await loyalty.add_points(member_id, 250, "compensation for case 17", "case:17")

    assert again == first
    assert await balance(loyalty, member_id) == before + 250
    ledger = await loyalty.ledger(member_id)
    assert [row.reason for row in ledger if row.transaction_id == first] == [
        "compensation for case 17"
    ]


async def test_spending_more_than_the_balance_is_refused_clearly(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = estate.customers[22].account.member_id
    too_many = await balance(loyalty, member_id) + 1
    with pytest.raises(RequestRefused, match="Not enough points") as refused:
        await loyalty.spend_points(member_id, too_many, "voucher", "voucher:22")
    assert refused.value.status == 400


async def test_blocked_points_leave_the_balance_until_unblocked_once(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = next(c for c in estate.customers if c.points_balance > 500).account.member_id
    before = await balance(loyalty, member_id)

    reservation = await loyalty.block_points(member_id, 300, "basket:77")
    assert await loyalty.block_points(member_id, 300, "basket:77") == reservation
    assert await balance(loyalty, member_id) == before - 300

    await loyalty.unblock_points(reservation)
    await loyalty.unblock_points(reservation)
    assert await balance(loyalty, member_id) == before


async def test_only_blocked_points_can_be_unblocked(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = estate.customers[23].account.member_id
    credit = await loyalty.add_points(member_id, 10, "welcome", "welcome:23")
    with pytest.raises(RequestRefused, match="Only blocked points"):
        await loyalty.unblock_points(credit)


async def test_cancelling_a_transfer_twice_undoes_it_once(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = estate.customers[24].account.member_id
    before = await balance(loyalty, member_id)
    credit = await loyalty.add_points(member_id, 90, "mistaken goodwill", "goodwill:24")

    await loyalty.cancel_transfer(credit)
    await loyalty.cancel_transfer(credit)

    assert await balance(loyalty, member_id) == before
    assert credit not in {row.transaction_id for row in await loyalty.ledger(member_id)}


async def test_cancelling_an_unknown_transfer_is_refused_as_not_found(
    loyalty: OpenLoyaltyConnector,
) -> None:
    with pytest.raises(RequestRefused) as refused:
        await loyalty.cancel_transfer("00000000-0000-4000-8000-000000000000")
    assert refused.value.status == 404


async def test_a_member_holds_the_loyalty_view_of_a_conflicted_profile(
    loyalty: OpenLoyaltyConnector, emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    conflicted = next(c for c in estate.customers if "loyalty_old_phone" in c.conflicts)
    row = emulator.db.execute(
        "SELECT phone, email, first_name FROM member WHERE card = ?", (conflicted.card_number,)
    ).fetchone()
    view = conflicted.loyalty_view
    assert (row["phone"], row["email"], row["first_name"]) == (
        view.phones[0],
        view.primary_email,
        view.given_name,
    )
    assert row["phone"] != conflicted.golden.phones[0]


async def test_points_for_an_unknown_member_are_refused_as_not_found(
    loyalty: OpenLoyaltyConnector,
) -> None:
    with pytest.raises(RequestRefused) as refused:
        await loyalty.add_points("00000000-0000-4000-8000-000000000000", 5, "x", "x:1")
    assert refused.value.status == 404


async def test_a_wrong_api_token_is_refused(emulator: OpenLoyaltyEmulator) -> None:
    assert emulator.url is not None
    stranger = OpenLoyaltyConnector(emulator.url, api_token="not-the-token", policy=QUICK)
    with pytest.raises(RequestRefused) as refused:
        await stranger.find_member(card="2612000123450")
    assert refused.value.status == 401
    await stranger.close()


async def test_a_jwt_bearer_is_accepted(emulator: OpenLoyaltyEmulator, estate: Estate) -> None:
    assert emulator.url is not None
    admin = OpenLoyaltyConnector(emulator.url, jwt="eyJhbGciOiJSUzI1NiJ9.e30.sig", policy=QUICK)
    assert await admin.find_member(card=estate.customers[0].card_number) is not None
    await admin.close()


async def test_the_tiers_are_listed(loyalty: OpenLoyaltyConnector) -> None:
    tiers = await loyalty.tiers()
    assert [tier["name"] for tier in tiers] == ["bronze", "silver", "gold"]
