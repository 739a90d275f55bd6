"""Shopify customers <-> canonical Customers: contact data normalised, consents kept, round trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from retailhub.canonical.customer import (
    Address,
    AddressKind,
    ConsentChannel,
    Customer,
    MarketingConsent,
)
from retailhub.connectors.errors import MappingError
from retailhub.connectors.shopify.mapping import customer_from_canonical, customer_to_canonical

Sample = Callable[[str], dict[str, Any]]


def test_the_sample_customer_maps_and_its_fictional_phone_is_dropped_with_a_warning(
    shopify: Sample,
) -> None:
    with capture_logs() as logs:
        customer = customer_to_canonical(shopify("customer"))
    assert customer.customer_id == "SHOPIFY-CUSTOMER-207119551"
    assert customer.identities == {"shopify": "207119551"}
    assert (customer.given_name, customer.family_name) == ("Bob", "Norman")
    assert customer.emails == ["bob.norman@hostmail.com"]
    assert customer.addresses == [
        Address(
            lines=["Chestnut Street 92"],
            city="Louisville",
            region="KY",
            postal_code="40202",
            country="US",
        )
    ]
    assert customer.updated_at == datetime.fromisoformat("2015-05-27T18:11:24-04:00")
    # accepts_marketing false cannot tell "never asked" from "withdrew": no decision recorded.
    assert customer.consents == []
    # 555-625-1199 is a US film number (no 555 area code exists): not valid, so left out.
    assert customer.phones == []
    assert [(e["path"], e["resource_id"]) for e in logs] == [
        ("$.default_address.phone", "207119551")
    ]


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("(502) 585-1000", "US", "+15025851000"),
        ("030 1234567", "DE", "+49301234567"),
        ("06 12345678", "NL", "+31612345678"),
        ("+49 30 1234567", "US", "+49301234567"),
    ],
)
def test_national_phone_numbers_are_read_in_the_default_addresss_country(
    shopify: Sample, phone: str, country: str, e164: str
) -> None:
    raw = shopify("customer")
    raw["default_address"]["country_code"] = country
    raw["phone"] = phone
    assert customer_to_canonical(raw).phones == [e164]


def test_email_is_normalised_and_a_broken_one_is_dropped_with_a_warning(shopify: Sample) -> None:
    raw = {**shopify("customer"), "email": "  Bob.Norman@HostMail.COM "}
    assert customer_to_canonical(raw).emails == ["bob.norman@hostmail.com"]
    with capture_logs() as logs:
        assert customer_to_canonical({**raw, "email": "bob at hostmail"}).emails == []
    assert "$.email" in {e["path"] for e in logs}


def test_marketing_consents_keep_the_decision_and_when_it_was_made(shopify: Sample) -> None:
    raw = shopify("customer")
    raw["email_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": "confirmed_opt_in",
        "consent_updated_at": "2024-03-01T10:00:00+01:00",
    }
    raw["sms_marketing_consent"] = {"state": "unsubscribed", "consent_updated_at": None}
    customer = customer_to_canonical(raw)
    email, sms = customer.consents
    assert (email.channel, email.granted, email.source) == (ConsentChannel.EMAIL, True, "shopify")
    assert email.at == datetime.fromisoformat("2024-03-01T10:00:00+01:00")
    assert (sms.channel, sms.granted) == (ConsentChannel.SMS, False)
    assert sms.at == customer.updated_at
    assert customer.consent(ConsentChannel.EMAIL)
    assert not customer.consent(ConsentChannel.SMS)


@pytest.mark.parametrize("state", ["not_subscribed", "pending", "invalid", "redacted"])
def test_states_that_are_no_decision_record_no_consent(shopify: Sample, state: str) -> None:
    raw = {**shopify("customer"), "email_marketing_consent": {"state": state}}
    assert customer_to_canonical(raw).consents == []


def test_the_legacy_accepts_marketing_flag_is_an_email_grant(shopify: Sample) -> None:
    raw = {**shopify("customer"), "accepts_marketing": True}
    raw["accepts_marketing_updated_at"] = "2015-05-01T09:00:00-04:00"
    [consent] = customer_to_canonical(raw).consents
    assert (consent.channel, consent.granted) == (ConsentChannel.EMAIL, True)


def test_an_address_without_a_city_is_dropped_with_a_warning(shopify: Sample) -> None:
    raw = shopify("customer")
    raw["default_address"]["city"] = ""
    raw["addresses"] = []
    with capture_logs() as logs:
        assert customer_to_canonical(raw).addresses == []
    assert "$.default_address.address1" in {e["path"] for e in logs}


def test_a_customer_without_id_is_refused(shopify: Sample) -> None:
    raw = shopify("customer")
    del raw["id"]
    with pytest.raises(MappingError) as caught:
        customer_to_canonical(raw)
    assert (caught.value.resource, caught.value.resource_id, caught.value.path) == (
        "customer",
        None,
        "$.id",
    )


def test_a_garbled_consent_time_names_the_field(shopify: Sample) -> None:
    raw = shopify("customer")
    raw["email_marketing_consent"] = {"state": "subscribed", "consent_updated_at": "yesterday"}
    with pytest.raises(MappingError) as caught:
        customer_to_canonical(raw)
    assert caught.value.path == "$.email_marketing_consent.consent_updated_at"


def anna() -> Customer:
    return Customer(
        customer_id="SHOPIFY-CUSTOMER-7001",
        identities={"shopify": "7001"},
        given_name="Anna",
        family_name="de Vries",
        emails=["anna.devries@example.nl"],
        phones=["+31612345678"],
        addresses=[
            Address(
                lines=["Prinsengracht 263", "3rd floor"],
                city="Amsterdam",
                region="NH",
                postal_code="1016 GV",
                country="NL",
            ),
            Address(lines=["Hauptstraße 5"], city="München", region="Bayern", country="DE"),
        ],
        consents=[
            MarketingConsent(
                channel=ConsentChannel.EMAIL,
                granted=True,
                at=datetime.fromisoformat("2025-01-02T03:04:05+01:00"),
                source="shopify",
            ),
            MarketingConsent(
                channel=ConsentChannel.SMS,
                granted=False,
                at=datetime.fromisoformat("2025-02-03T04:05:06+01:00"),
                source="shopify",
            ),
        ],
    )


def test_a_customer_survives_the_round_trip_through_shopify() -> None:
    customer = anna()
    body = customer_from_canonical(customer)
    assert body["addresses"][0]["default"] is True
    assert body["addresses"][0]["province_code"] == "NH"
    assert body["addresses"][1]["province"] == "Bayern"
    assert body["email_marketing_consent"]["state"] == "subscribed"
    assert customer_to_canonical(body) == customer


def test_a_new_customer_is_sent_without_id_or_empty_fields() -> None:
    customer = Customer(customer_id="C-1", given_name="Anna", addresses=[], emails=[])
    assert customer_from_canonical(customer) == {"first_name": "Anna", "addresses": []}


def test_an_address_of_any_kind_comes_back_as_a_home_address() -> None:
    billing = anna().addresses[0].model_copy(update={"kind": AddressKind.BILLING})
    customer = anna().model_copy(update={"addresses": [billing]})
    [address] = customer_to_canonical(customer_from_canonical(customer)).addresses
    assert address.kind is AddressKind.HOME
