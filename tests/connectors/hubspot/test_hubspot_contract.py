"""The HubSpot connector against the emulated portal over real HTTP on loopback: every CrmPort
method, search paging, idempotent repeats and refusals in HubSpot's terms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from retailhub.canonical.customer import Customer
from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot import HubSpotCrm
from retailhub.connectors.hubspot.client import HubSpotRefused
from retailhub.connectors.hubspot.connector import SearchWindowExceeded
from retailhub.connectors.hubspot.mapping import CONTACT_PROPERTIES, NOTE_KEY_PROPERTY
from retailhub.sandbox.hubspot import HubSpotEmulator
from retailhub.sandbox.seed import Estate

Connect = Callable[..., HubSpotCrm]


def contacts_in(emulator: HubSpotEmulator, object_type: str = "contacts") -> int:
    return int(
        emulator.db.execute(
            "SELECT COUNT(*) FROM crm_object WHERE object_type = ?", (object_type,)
        ).fetchone()[0]
    )


def newcomer(estate: Estate, email: str = "new.shopper@example.nl") -> Customer:
    """A customer the CRM has never seen: the first estate customer under a new id and email."""
    golden = estate.customers[0].golden
    return golden.model_copy(
        update={"customer_id": "CUST-90001", "identities": {}, "emails": [email]}
    )


async def test_find_contact_maps_the_crm_view_of_the_customer(
    crm: HubSpotCrm, estate: Estate
) -> None:
    view = estate.customers[3].crm_view
    found = await crm.find_contact(view.emails[0].upper())
    assert found is not None
    assert found.identities == {"hubspot": view.identities["hubspot"]}
    assert found.customer_id == view.customer_id
    assert (found.given_name, found.family_name) == (view.given_name, view.family_name)
    assert found.emails == view.emails
    assert found.phones == view.phones
    assert [a.model_dump(exclude={"kind"}) for a in found.addresses] == [
        a.model_dump(exclude={"kind"}) for a in view.addresses
    ]
    assert found.birth_date == view.birth_date
    assert found.consent("email") is view.consent("email")


async def test_every_seeded_phone_reads_back_in_e164_whether_stored_national_or_not(
    crm: HubSpotCrm, estate: Estate
) -> None:
    for customer in estate.customers[:6]:
        view = customer.crm_view
        found = await crm.find_contact(view.emails[0])
        assert found is not None
        assert found.phones == view.phones


async def test_the_crm_knows_a_conflicted_customer_by_their_other_email(
    crm: HubSpotCrm, estate: Estate
) -> None:
    conflicted = estate.customers[-1]
    assert await crm.find_contact(conflicted.golden.emails[0]) is None
    found = await crm.find_contact(conflicted.crm_view.emails[0])
    assert found is not None
    assert found.customer_id == conflicted.golden.customer_id


async def test_find_contact_answers_none_for_an_unknown_email(crm: HubSpotCrm) -> None:
    assert await crm.find_contact("nobody@example.org") is None


async def test_upsert_creates_a_new_contact_once_however_often_it_is_repeated(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    before = contacts_in(hubspot)
    customer = newcomer(estate)
    first = await crm.upsert_contact(customer)
    again = await crm.upsert_contact(customer)
    assert first == again
    assert contacts_in(hubspot) == before + 1
    found = await crm.find_contact(customer.emails[0])
    assert found is not None
    assert found.customer_id == "CUST-90001"
    assert found.identities == {"hubspot": first}


async def test_concurrent_upserts_of_one_new_customer_make_one_contact(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    before = contacts_in(hubspot)
    customer = newcomer(estate, "twice.at.once@example.nl")
    ids = await asyncio.gather(crm.upsert_contact(customer), crm.upsert_contact(customer))
    assert ids[0] == ids[1]
    assert contacts_in(hubspot) == before + 1


async def test_upsert_updates_the_contact_it_knows_by_hubspot_id(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    view = estate.customers[1].crm_view
    renamed = view.model_copy(update={"family_name": "Jansen-de Vries"})
    before = contacts_in(hubspot)
    assert await crm.upsert_contact(renamed) == view.identities["hubspot"]
    found = await crm.find_contact(view.emails[0])
    assert found is not None
    assert found.family_name == "Jansen-de Vries"
    assert found.given_name == view.given_name
    assert contacts_in(hubspot) == before


async def test_upsert_finds_the_contact_by_email_when_the_hubspot_id_is_gone(
    crm: HubSpotCrm, estate: Estate
) -> None:
    view = estate.customers[2].crm_view
    stale = view.model_copy(update={"identities": {"hubspot": "999999"}, "given_name": "Anouk"})
    assert await crm.upsert_contact(stale) == view.identities["hubspot"]
    found = await crm.find_contact(view.emails[0])
    assert found is not None
    assert found.given_name == "Anouk"


async def test_upsert_refuses_a_customer_it_could_not_find_again(
    crm: HubSpotCrm, estate: Estate
) -> None:
    nameless = newcomer(estate).model_copy(update={"emails": []})
    with pytest.raises(MappingError, match=r"CUST-90001: \$\.emails"):
        await crm.upsert_contact(nameless)


async def test_changed_since_pages_through_every_contact_oldest_change_first(
    hubspot: HubSpotEmulator, connect: Connect, estate: Estate
) -> None:
    hubspot.search_window = 21
    crm = connect(page_size=7, search_window=21)
    seen = [c async for c in crm.contacts_changed_since(datetime(2000, 1, 1, tzinfo=UTC))]
    ids = [c.identities["hubspot"] for c in seen]
    assert sorted(ids) == sorted(c.crm_view.identities["hubspot"] for c in estate.customers)
    stamps = [c.updated_at for c in seen]
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def stamp_together(emulator: HubSpotEmulator, first: int, last: int) -> None:
    """Give the contacts at positions first..last of the change order one modification time."""
    rows = emulator.db.execute(
        "SELECT id, updated_ms FROM crm_object WHERE object_type = 'contacts'"
        " ORDER BY updated_ms, id"
    ).fetchall()
    moment = rows[first]["updated_ms"]
    with emulator.db:
        for row in rows[first : last + 1]:
            item = emulator.store.get("contacts", row["id"])
            assert item is not None
            emulator.store.update(item, {}, moment)


async def test_a_restart_inside_one_millisecond_yields_each_contact_once(
    hubspot: HubSpotEmulator, connect: Connect, estate: Estate
) -> None:
    hubspot.search_window = 21
    stamp_together(hubspot, 18, 23)
    crm = connect(page_size=7, search_window=21)
    ids = [
        c.identities["hubspot"]
        async for c in crm.contacts_changed_since(datetime(2000, 1, 1, tzinfo=UTC))
    ]
    assert len(ids) == len(set(ids)) == len(estate.customers)


async def test_more_changes_in_one_millisecond_than_a_search_reaches_stop_loudly(
    hubspot: HubSpotEmulator, connect: Connect
) -> None:
    hubspot.search_window = 7
    stamp_together(hubspot, 0, 7)
    crm = connect(page_size=7, search_window=7)
    with pytest.raises(SearchWindowExceeded, match="more than 7 HubSpot contacts changed"):
        [c async for c in crm.contacts_changed_since(datetime(2000, 1, 1, tzinfo=UTC))]


async def test_changed_since_leaves_out_what_changed_before(
    crm: HubSpotCrm, estate: Estate
) -> None:
    moments = sorted(c.crm_view.updated_at for c in estate.customers)  # type: ignore[type-var]
    middle = moments[len(moments) // 2]
    later = [c async for c in crm.contacts_changed_since(middle)]
    assert later
    assert all(c.updated_at is not None and c.updated_at > middle for c in later)
    assert len(later) == sum(1 for m in moments if m > middle)


async def test_an_upserted_contact_shows_up_as_changed(crm: HubSpotCrm, estate: Estate) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    view = estate.customers[5].crm_view
    await crm.upsert_contact(view.model_copy(update={"given_name": "Fenna"}))
    changed = [c async for c in crm.contacts_changed_since(since)]
    assert [c.given_name for c in changed] == ["Fenna"]


async def test_a_note_lands_once_on_the_contacts_timeline(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    contact_id = estate.customers[0].crm_view.identities["hubspot"]
    first = await crm.add_note(contact_id, "Returned <kettle>\nrefund 24.99", "return-R1")
    again = await crm.add_note(contact_id, "Returned <kettle>\nrefund 24.99", "return-R1")
    other = await crm.add_note(contact_id, "Second visit", "return-R2")
    assert first == again != other
    assert contacts_in(hubspot, "notes") == 2
    note = hubspot.store.get("notes", int(first))
    assert note is not None
    assert note.properties["hs_note_body"] == "Returned &lt;kettle&gt;<br>refund 24.99"
    assert hubspot.store.associations("notes", int(first)) == [("contacts", int(contact_id), 202)]


async def test_a_search_by_note_key_is_case_blind_and_honours_every_filter(
    crm: HubSpotCrm, estate: Estate
) -> None:
    contact_id = estate.customers[0].crm_view.identities["hubspot"]
    first = await crm.add_note(contact_id, "Order W-1: 2 lines", "Order:W-1")
    second = await crm.add_note(contact_id, "Order W-2: 1 line", "order:W-2")

    def by_key(key: str) -> dict[str, str]:
        return {"propertyName": NOTE_KEY_PROPERTY, "operator": "EQ", "value": key}

    async def ids(*groups: list[dict[str, str]]) -> list[str]:
        page = await crm.client.search("notes", list(groups), (NOTE_KEY_PROPERTY,))
        return sorted(str(result["id"]) for result in page["results"])

    assert await ids([by_key("ORDER:w-1")]) == [first]
    body = {"propertyName": "hs_note_body", "operator": "EQ", "value": "something else"}
    assert await ids([by_key("order:w-1"), body]) == []
    assert await ids([by_key("order:w-1")], [by_key("order:w-2")]) == sorted([first, second])
    assert await ids([by_key("order:w-3")]) == []


async def test_a_case_opens_once_per_key_and_moves_through_its_stages(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    contact_id = estate.customers[0].crm_view.identities["hubspot"]
    case = await crm.open_case(contact_id, "Broken kettle", "Lid snapped on day 2", "case-R1")
    assert await crm.open_case(contact_id, "Broken kettle", "Lid snapped", "case-R1") == case
    assert contacts_in(hubspot, "tickets") == 1
    assert hubspot.store.associations("tickets", int(case)) == [("contacts", int(contact_id), 16)]
    ticket = await crm.client.read("tickets", case, ("hs_pipeline", "hs_pipeline_stage"))
    assert ticket is not None
    assert ticket["properties"]["hs_pipeline"] == "0"
    assert ticket["properties"]["hs_pipeline_stage"] == "1"

    await crm.update_case(case, status="in_progress")
    await crm.update_case(case, status="closed", text="Refunded in store")
    await crm.update_case(case, status="closed", text="Refunded in store")
    ticket = await crm.client.read("tickets", case, ("hs_pipeline_stage",))
    assert ticket is not None
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    assert contacts_in(hubspot, "notes") == 1


async def test_a_case_without_a_contact_and_concurrent_opens_make_one_ticket(
    crm: HubSpotCrm, hubspot: HubSpotEmulator
) -> None:
    ids = await asyncio.gather(
        crm.open_case(None, "Till receipt missing", "Shopper left no details", "case-R9"),
        crm.open_case(None, "Till receipt missing", "Shopper left no details", "case-R9"),
    )
    assert ids[0] == ids[1]
    assert contacts_in(hubspot, "tickets") == 1
    assert hubspot.store.associations("tickets", int(ids[0])) == []


async def test_an_unknown_case_status_is_refused_before_calling_hubspot(
    crm: HubSpotCrm, hubspot: HubSpotEmulator
) -> None:
    served = hubspot.faults.requests_served
    with pytest.raises(ValueError, match="'reopened' is not one of open, in_progress, closed"):
        await crm.update_case("9000000001", status="reopened")
    assert hubspot.faults.requests_served == served


async def test_updating_a_missing_case_is_refused_as_object_not_found(crm: HubSpotCrm) -> None:
    with pytest.raises(HubSpotRefused) as refused:
        await crm.update_case("9000000999", status="closed")
    assert refused.value.status == 404
    assert refused.value.category == "OBJECT_NOT_FOUND"
    assert refused.value.correlation_id
    assert "OBJECT_NOT_FOUND: Object not found" in str(refused.value)


async def test_a_case_for_a_contact_hubspot_lacks_is_refused(crm: HubSpotCrm) -> None:
    with pytest.raises(HubSpotRefused) as refused:
        await crm.open_case("424242", "Lost parcel", "No contact", "case-R3")
    assert refused.value.status == 400
    assert refused.value.category == "VALIDATION_ERROR"
    assert "associations are invalid" in refused.value.hubspot_message


async def test_an_unknown_property_is_refused_with_hubspots_validation_error(
    crm: HubSpotCrm,
) -> None:
    with pytest.raises(HubSpotRefused) as refused:
        await crm.client.create("contacts", {"properties": {"shoe_size": "44"}})
    assert refused.value.status == 400
    assert refused.value.category == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in refused.value.hubspot_message


async def test_a_wrong_token_is_refused_as_invalid_authentication(connect: Connect) -> None:
    crm = connect(token="pat-na1-not-ours")
    with pytest.raises(HubSpotRefused) as refused:
        await crm.find_contact("anyone@example.nl")
    assert refused.value.status == 401
    assert refused.value.category == "INVALID_AUTHENTICATION"


async def test_reading_asks_for_the_mapped_properties(crm: HubSpotCrm, estate: Estate) -> None:
    contact_id = estate.customers[0].crm_view.identities["hubspot"]
    contact = await crm.client.read("contacts", contact_id, CONTACT_PROPERTIES)
    assert contact is not None
    assert set(CONTACT_PROPERTIES) <= set(contact["properties"])
    assert await crm.client.read("contacts", "31337", CONTACT_PROPERTIES) is None


async def test_install_creates_the_custom_properties_a_bare_portal_lacks(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    with hubspot.db:
        hubspot.db.execute("DELETE FROM crm_property")
        hubspot.db.execute("DELETE FROM crm_property_group")
    with pytest.raises(HubSpotRefused, match="PROPERTY_DOESNT_EXIST"):
        await crm.add_note("1001", "Before install", "note-before")

    created = await crm.install()
    assert created == [
        "contacts.retailhub_customer_id",
        "contacts.loyalty_card",
        "contacts.retailhub_email_consent",
        "contacts.retailhub_email_consent_at",
        "notes.retailhub_note_key",
        "tickets.retailhub_case_key",
    ]
    assert await crm.install() == []
    assert hubspot.catalogue.unique("tickets") == ["retailhub_case_key"]
    assert await crm.add_note("1001", "After install", "note-after")
    assert await crm.upsert_contact(newcomer(estate, "after.install@example.nl"))


async def test_custom_properties_refuse_values_their_definition_does_not_allow(
    crm: HubSpotCrm,
) -> None:
    with pytest.raises(HubSpotRefused) as refused:
        await crm.client.update("contacts", "1001", {"retailhub_email_consent": "maybe"})
    assert refused.value.category == "VALIDATION_ERROR"
    assert "INVALID_OPTION" in refused.value.hubspot_message
    with pytest.raises(HubSpotRefused) as bad_definition:
        await crm.client.define(
            "contacts",
            {
                "name": "x",
                "label": "X",
                "groupName": "retailhub",
                "type": "string",
                "fieldType": "date",
            },
        )
    assert bad_definition.value.status == 400


async def test_a_contact_named_by_a_webhook_is_read_back_by_id(
    crm: HubSpotCrm, estate: Estate
) -> None:
    view = estate.customers[4].crm_view
    found = await crm.get_contact(view.identities["hubspot"])
    assert found is not None
    assert found.emails == view.emails
    assert await crm.get_contact("31337") is None


async def test_notes_added_together_go_in_one_search_and_one_batch_each_once(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    contacts = [c.crm_view.identities["hubspot"] for c in estate.customers[:10]]
    await crm.add_note(contacts[0], "Order B-0: 1 line", "order:B-0")
    before = hubspot.faults.requests_served

    keys = [f"order:B-{n}" for n in range(10)]
    first = await asyncio.gather(
        *(
            crm.add_note(contact, f"Order {key}", key)
            for contact, key in zip(contacts, keys, strict=True)
        )
    )
    again = await asyncio.gather(*(crm.add_note(contacts[0], "repeat", key) for key in keys))

    assert first == again
    assert len(set(first)) == 10
    assert contacts_in(hubspot, "notes") == 10
    assert hubspot.faults.requests_served - before <= 4, "a search and a batch, then a search"
    for contact, note in zip(contacts, first, strict=True):
        assert hubspot.store.associations("notes", int(note)) == [("contacts", int(contact), 202)]


async def test_a_note_hubspot_refuses_fails_alone_and_the_rest_of_its_batch_lands(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    contact = estate.customers[0].crm_view.identities["hubspot"]
    outcomes = await asyncio.gather(
        crm.add_note(contact, "Order C-1", "order:C-1"),
        crm.add_note("999999999", "Order C-2", "order:C-2"),
        crm.add_note(contact, "Order C-3", "order:C-3"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], HubSpotRefused)
    assert all(isinstance(outcome, str) for outcome in (outcomes[0], outcomes[2]))
    assert contacts_in(hubspot, "notes") == 2


async def test_a_batch_create_with_one_bad_input_creates_nothing(
    crm: HubSpotCrm, hubspot: HubSpotEmulator
) -> None:
    good = {
        "properties": {
            "hs_note_body": "fine",
            "hs_timestamp": "2026-11-27T12:00:00.000Z",
            NOTE_KEY_PROPERTY: "order:D-1",
        }
    }
    bad = {"properties": {"no_such_property": "x"}}
    with pytest.raises(HubSpotRefused) as refused:
        await crm.client.batch_create("notes", [good, bad])
    assert refused.value.status == 400
    assert contacts_in(hubspot, "notes") == 0
    created = await crm.client.batch_create("notes", [good])
    assert [note["properties"][NOTE_KEY_PROPERTY] for note in created] == ["order:D-1"]


async def test_contacts_looked_up_together_are_read_in_one_batch(
    crm: HubSpotCrm, hubspot: HubSpotEmulator, estate: Estate
) -> None:
    await crm.find_contact(estate.customers[0].emails[0])
    before = hubspot.faults.requests_served
    known = [c.crm_view for c in estate.customers[1:6]]
    emails = [view.emails[0].upper() for view in known] + ["nobody@example.nl"]

    found = await asyncio.gather(*(crm.find_contact(email) for email in emails))

    assert hubspot.faults.requests_served - before == 1
    assert [c.identities if c else None for c in found] == [
        *(view.identities for view in known),
        None,
    ]


async def test_a_batch_read_answers_207_naming_the_ids_it_lacks(
    crm: HubSpotCrm, estate: Estate
) -> None:
    contact_id = estate.customers[0].crm_view.identities["hubspot"]
    by_id = await crm.client.batch_read("contacts", [contact_id, "999999999"], ("email",))
    assert [contact["id"] for contact in by_id] == [contact_id]
    response = await crm.client.http.request(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={"idProperty": "email", "inputs": [{"id": "nobody@example.nl"}], "properties": []},
        idempotent=True,
    )
    assert response.status == 207
    assert response.body["results"] == []
    assert response.body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert response.body["errors"][0]["context"]["ids"] == ["nobody@example.nl"]
