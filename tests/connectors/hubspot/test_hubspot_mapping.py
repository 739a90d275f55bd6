"""HubSpot contacts <-> canonical Customers, and the note and ticket bodies, on payloads shaped as
HubSpot publishes them (the SimplePublicObject example of its Contacts v3 OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from retailhub.canonical.customer import Address, ConsentChannel, Customer, MarketingConsent
from retailhub.connectors.errors import MappingError
from retailhub.connectors.hubspot.mapping import (
    contact_to_customer,
    customer_to_properties,
    note_body,
    ticket_body,
)


def published_example(**properties: Any) -> dict[str, Any]:
    """HubSpot's own example contact (Contacts v3 OpenAPI, SimplePublicObject), with changes."""
    contact: dict[str, Any] = {
        "id": "512",
        "properties": {
            "company": "Biglytics",
            "createdate": "2019-10-30T03:30:17.883Z",
            "email": "bcooper@biglytics.net",
            "firstname": "Bryan",
            "lastmodifieddate": "2019-12-07T16:50:06.678Z",
            "lastname": "Cooper",
            "phone": "(877) 929-0687",
            "website": "biglytics.net",
        },
        "createdAt": "2019-10-30T03:30:17.883Z",
        "updatedAt": "2019-12-07T16:50:06.678Z",
        "archived": False,
    }
    contact["properties"].update(properties)
    return contact


def test_hubspots_example_contact_maps_with_a_provisional_id() -> None:
    with capture_logs() as logs:
        customer = contact_to_customer(published_example())
    assert customer.customer_id == "HUBSPOT-CONTACT-512"
    assert customer.identities == {"hubspot": "512"}
    assert (customer.given_name, customer.family_name) == ("Bryan", "Cooper")
    assert customer.emails == ["bcooper@biglytics.net"]
    assert customer.updated_at == datetime(2019, 12, 7, 16, 50, 6, 678000, tzinfo=UTC)
    assert customer.phones == []
    assert logs[0]["path"] == "$.properties.phone"
    assert logs[0]["resource_id"] == "512"


def test_a_national_phone_is_read_in_the_contacts_country() -> None:
    customer = contact_to_customer(
        published_example(country="United States", mobilephone="+31 6 12345678")
    )
    assert customer.phones == ["+18779290687", "+31612345678"]


def test_a_dutch_contact_with_address_card_consent_and_our_id() -> None:
    contact = published_example(
        email="  Sanne.Visser@Example.NL ",
        phone="06 1234 5678",
        address="Lange Viestraat 2",
        city="Utrecht",
        zip="3511 BK",
        country="Netherlands",
        date_of_birth="1984-03-09",
        loyalty_card="2612000123452",
        retailhub_customer_id="CUST-00042",
        retailhub_email_consent="granted",
        retailhub_email_consent_at="2026-01-05T10:00:00.000Z",
        hs_email_optout=None,
        state=None,
    )
    customer = contact_to_customer(contact)
    assert customer.customer_id == "CUST-00042"
    assert customer.emails == ["sanne.visser@example.nl"]
    assert customer.phones == ["+31612345678"]
    assert customer.addresses == [
        Address(lines=["Lange Viestraat 2"], city="Utrecht", postal_code="3511 BK", country="NL")
    ]
    assert customer.birth_date == date(1984, 3, 9)
    assert customer.loyalty_cards == ["2612000123452"]
    assert customer.consent(ConsentChannel.EMAIL)


def test_an_unsubscribe_in_hubspot_withdraws_a_later_looking_grant() -> None:
    contact = published_example(
        retailhub_email_consent="granted",
        retailhub_email_consent_at="2020-01-01T00:00:00.000Z",
        hs_email_optout="true",
    )
    customer = contact_to_customer(contact)
    assert not customer.consent(ConsentChannel.EMAIL)
    assert customer.consents[0].at == datetime(2020, 1, 1, tzinfo=UTC)


def test_untidy_contact_data_is_left_out_with_a_warning() -> None:
    contact = published_example(
        email="not-an-email", country="Atlantis", address="Main Street 1", city="Poseidonia"
    )
    with capture_logs() as logs:
        customer = contact_to_customer(contact)
    assert customer.emails == []
    assert customer.addresses == []
    assert {log["path"] for log in logs} == {
        "$.properties.email",
        "$.properties.country",
        "$.properties.phone",
        "$.properties.address",
    }


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ({"id": 512, "properties": {}}, r"contact \(without id\): \$\.id: expected a numeric"),
        ({"id": "512", "properties": None}, r"contact 512: \$\.properties: expected an object"),
        (
            published_example(firstname=5),
            r"contact 512: \$\.properties\.firstname: expected a string",
        ),
        (
            published_example(retailhub_customer_id="CUST 42"),
            r"contact 512: \$\.properties\.retailhub_customer_id: canonical \$\.customer_id",
        ),
        (
            published_example(retailhub_email_consent="maybe"),
            r"contact 512: \$\.properties\.retailhub_email_consent: 'maybe' is not granted",
        ),
        (
            published_example(retailhub_email_consent="withdrawn"),
            r"contact 512: \$\.properties\.retailhub_email_consent_at: a consent decision needs",
        ),
        (
            published_example(lastmodifieddate="yesterday"),
            r"contact 512: \$\.properties\.lastmodifieddate: 'yesterday' is not a date-time",
        ),
    ],
)
def test_a_contact_that_cannot_be_mapped_names_its_id_and_property(
    contact: dict[str, Any], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        contact_to_customer(contact)


def golden() -> Customer:
    return Customer(
        customer_id="CUST-00042",
        identities={"hubspot": "512", "shopify": "6000000042"},
        loyalty_cards=["2612000123452"],
        given_name="Sanne",
        family_name="Visser",
        emails=["sanne.visser@example.nl", "s.visser@work.example.org"],
        phones=["+31612345678", "+31201234567"],
        addresses=[
            Address(
                lines=["Lange Viestraat 2", "3rd floor"],
                city="Utrecht",
                postal_code="3511 BK",
                country="NL",
            )
        ],
        birth_date=date(1984, 3, 9),
        consents=[
            MarketingConsent(
                channel=ConsentChannel.EMAIL,
                granted=True,
                at=datetime(2025, 1, 1, tzinfo=UTC),
                source="shopify",
            ),
            MarketingConsent(
                channel=ConsentChannel.EMAIL,
                granted=False,
                at=datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC),
                source="openloyalty",
            ),
        ],
    )


def test_a_customer_becomes_string_properties_hubspot_accepts() -> None:
    assert customer_to_properties(golden()) == {
        "email": "sanne.visser@example.nl",
        "firstname": "Sanne",
        "lastname": "Visser",
        "phone": "+31612345678",
        "mobilephone": "+31201234567",
        "date_of_birth": "1984-03-09",
        "loyalty_card": "2612000123452",
        "retailhub_customer_id": "CUST-00042",
        "address": "Lange Viestraat 2, 3rd floor",
        "city": "Utrecht",
        "zip": "3511 BK",
        "country": "NL",
        "retailhub_email_consent": "withdrawn",
        "retailhub_email_consent_at": "2026-02-03T04:05:06.789Z",
    }


def test_a_sparse_or_provisional_customer_sends_only_what_it_knows() -> None:
    sparse = Customer(customer_id="HUBSPOT-CONTACT-512", emails=["b@example.nl"])
    assert customer_to_properties(sparse) == {"email": "b@example.nl"}


def test_a_customer_survives_the_round_trip_through_hubspot_properties() -> None:
    customer = golden()
    contact = {
        "id": "512",
        "properties": {
            **customer_to_properties(customer),
            "lastmodifieddate": "2026-03-01T00:00:00Z",
        },
    }
    back = contact_to_customer(contact)
    assert back.customer_id == customer.customer_id
    assert back.emails == customer.emails[:1]
    assert back.phones == customer.phones
    assert back.loyalty_cards == customer.loyalty_cards
    assert back.birth_date == customer.birth_date
    assert back.consent(ConsentChannel.EMAIL) is customer.consent(ConsentChannel.EMAIL)


def test_a_note_is_escaped_timed_keyed_and_associated() -> None:
    at = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    body = note_body("Refund <24.99>\nthanks & bye", "return-R1", at, contact_id="512")
    assert body == {
        "properties": {
            "hs_note_body": "Refund &lt;24.99&gt;<br>thanks &amp; bye",
            "hs_timestamp": "2026-11-27T09:30:00.000Z",
            "retailhub_note_key": "return-R1",
        },
        "associations": [
            {
                "to": {"id": "512"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            }
        ],
    }
    on_ticket = note_body("x", "k", at, ticket_id="9000000001")
    assert on_ticket["associations"][0]["types"][0]["associationTypeId"] == 228


def test_a_ticket_opens_in_the_support_pipeline() -> None:
    body = ticket_body("Broken kettle", "Lid snapped", "case-R1", "1", "512")
    assert body["properties"] == {
        "subject": "Broken kettle",
        "content": "Lid snapped",
        "hs_pipeline": "0",
        "hs_pipeline_stage": "1",
        "retailhub_case_key": "case-R1",
    }
    assert body["associations"][0]["types"][0]["associationTypeId"] == 16
    assert ticket_body("s", "t", "k", "1", None)["associations"] == []
