"""The event catalogue: retail types must be catalogued and carry a valid canonical payload."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from retailhub.canonical.catalogue import CATALOGUE, TYPE_PATTERN, to_event, validate_event
from retailhub.canonical.cloudevents import new_event
from retailhub.canonical.errors import InvalidDocument
from retailhub.canonical.kinds import parse_document
from retailhub.canonical.order import Order

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "retailhub" / "samples"


def _order() -> Order:
    document = parse_document("order", (SAMPLES / "canonical" / "web-order-us.json").read_bytes())
    assert isinstance(document, Order)
    return document


def test_every_catalogued_type_is_named_retail_entity_verb_version() -> None:
    assert CATALOGUE
    for name, entry in CATALOGUE.items():
        assert TYPE_PATTERN.match(name)
        assert entry.version >= 1
        assert name == f"{entry.family}.v{entry.version}"
        assert entry.key_field in entry.payload.model_fields


def test_a_wrapped_order_validates_and_is_keyed_by_its_order_id() -> None:
    event = to_event(_order(), "retail.order.created.v1", "/shopify/shop-1")
    assert event.subject == event.partitionkey == "WEB-1001"
    parsed, payload = validate_event(event.to_json())
    assert parsed.type == "retail.order.created.v1"
    assert payload == _order()


def test_unknown_retail_type_is_refused() -> None:
    event = new_event("retail.order.teleported.v1", "/pos", {"order_id": "1"})
    with pytest.raises(InvalidDocument) as caught:
        validate_event(event.to_json())
    assert caught.value.faults[0].path == "$.type"
    assert "not in the retail event catalogue" in caught.value.faults[0].reason


def test_other_types_are_checked_as_envelopes_only() -> None:
    event = new_event("com.example.anything", "/elsewhere", {"free": "form"})
    parsed, payload = validate_event(event.to_dict())
    assert payload is None
    assert parsed.data == {"free": "form"}


def test_payload_faults_are_reported_under_data() -> None:
    body = _order().model_dump(mode="json")
    body["lines"][0]["quantity"] = "-1"
    event = new_event("retail.order.created.v1", "/shopify", body, subject="WEB-1001")
    with pytest.raises(InvalidDocument) as caught:
        validate_event(event.to_json())
    assert "$.data.lines[0].quantity" in [f.path for f in caught.value.faults]


def test_a_subject_that_is_not_the_business_key_is_refused() -> None:
    body = _order().model_dump(mode="json")
    event = new_event("retail.order.created.v1", "/shopify", body, subject="WEB-9999")
    with pytest.raises(InvalidDocument) as caught:
        validate_event(event.to_json())
    assert caught.value.faults[0].path == "$.subject"


def test_retail_events_must_carry_json_data() -> None:
    raw = orjson.loads(new_event("retail.order.created.v1", "/pos", None).to_json())
    raw.pop("data", None)
    raw["data_base64"] = "AAAA"
    with pytest.raises(InvalidDocument) as caught:
        validate_event(raw)
    assert caught.value.faults[0].path == "$.data"


def test_to_event_refuses_the_wrong_payload_for_a_type() -> None:
    with pytest.raises(ValueError, match="carries a Customer"):
        to_event(_order(), "retail.customer.updated.v1", "/crm")
