"""The CloudEvents envelope: every spec rule accepted when kept and refused when broken."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from retailhub.canonical.cloudevents import (
    ENVELOPE_JSON_SCHEMA,
    CloudEvent,
    is_valid_extension_name,
    new_event,
    new_traceparent,
    parse_event,
)
from retailhub.canonical.errors import InvalidDocument

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
MINIMAL: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt-1001",
    "source": "https://shop.example.com/stores/42",
    "type": "retail.order.created.v1",
}
FULL: dict[str, Any] = {
    **MINIMAL,
    "subject": "ORD-1001",
    "time": "2026-11-27T10:00:00.123456Z",
    "datacontenttype": "application/json",
    "dataschema": "https://retailhub.dev/schemas/events/retail.order.created.v1.json",
    "partitionkey": "ORD-1001",
    "traceparent": TRACEPARENT,
    "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    "tenant": "acme",
    "attempt": 3,
    "replayed": False,
    "data": {"order_id": "ORD-1001", "total": {"amount": "19.99", "currency": "EUR"}},
}
ABSENT = object()
SCHEMA = Draft202012Validator(ENVELOPE_JSON_SCHEMA)


def event(**changes: Any) -> dict[str, Any]:
    """The minimal valid event with members changed, added, or removed (given ABSENT)."""
    document = {**MINIMAL, **changes}
    return {name: value for name, value in document.items() if value is not ABSENT}


def faults(raw: Any) -> list[tuple[str, str]]:
    """The (path, reason) of every fault parse_event finds; fails the test if there is none."""
    with pytest.raises(InvalidDocument) as refused:
        parse_event(raw)
    return [(fault.path, fault.reason) for fault in refused.value.faults]


def fault_paths(raw: Any) -> list[str]:
    """The JSON paths of the faults parse_event finds."""
    return [path for path, _ in faults(raw)]


def parse_accepts(document: dict[Any, Any]) -> bool:
    """Whether parse_event takes the document."""
    try:
        parse_event(document)
    except InvalidDocument:
        return False
    return True


def test_minimal_event_is_read_with_defaults_for_the_rest() -> None:
    parsed = parse_event(orjson.dumps(MINIMAL))
    assert parsed == CloudEvent(
        id="evt-1001", source="https://shop.example.com/stores/42", type="retail.order.created.v1"
    )
    assert parsed.extensions == {}
    assert parsed.data is None


def test_full_event_is_read_into_typed_attributes() -> None:
    parsed = parse_event(orjson.dumps(FULL))
    assert parsed.time == datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    assert parsed.subject == "ORD-1001"
    assert parsed.partitionkey == "ORD-1001"
    assert parsed.traceparent == TRACEPARENT
    assert parsed.extensions == {"tenant": "acme", "attempt": 3, "replayed": False}
    assert parsed.data == FULL["data"]


def test_text_and_mapping_input_read_the_same() -> None:
    assert (
        parse_event(orjson.dumps(FULL).decode())
        == parse_event(FULL)
        == parse_event(orjson.dumps(FULL))
    )


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type"])
def test_each_required_attribute_must_be_present(name: str) -> None:
    assert faults(event(**{name: ABSENT})) == [(f"$.{name}", "is required")]


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type"])
def test_required_attribute_must_not_be_null(name: str) -> None:
    assert faults(event(**{name: None})) == [(f"$.{name}", "is required and must not be null")]


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("id", 1001, "an integer"),
        ("source", ["https://shop.example.com"], "an array"),
        ("specversion", 1.0, "a non-integer number"),
        ("specversion", 1, "an integer"),
        ("type", {"name": "order"}, "an object"),
        ("subject", True, "a boolean"),
        ("time", 1_700_000_000, "an integer"),
        ("partitionkey", 42, "an integer"),
        ("traceparent", 1, "an integer"),
        ("datacontenttype", ["application/json"], "an array"),
    ],
)
def test_attribute_values_must_be_json_strings(name: str, value: Any, kind: str) -> None:
    assert faults(event(**{name: value})) == [(f"$.{name}", f"must be a string, not {kind}")]


@pytest.mark.parametrize("name", ["id", "source", "type", "subject", "partitionkey"])
def test_attributes_that_must_be_non_empty(name: str) -> None:
    assert faults(event(**{name: ""})) == [(f"$.{name}", "must not be empty")]


def test_specversion_must_be_1_0() -> None:
    assert faults(event(specversion="0.3")) == [
        ("$.specversion", 'must be "1.0" (CloudEvents 1.0), not "0.3"')
    ]


@pytest.mark.parametrize("name", ["subject", "time", "datacontenttype", "tracestate", "tenant"])
def test_null_optional_attribute_reads_as_absent(name: str) -> None:
    parsed = parse_event(event(**{name: None}))
    assert parsed == parse_event(MINIMAL)
    assert name not in parsed.to_dict()


@pytest.mark.parametrize(
    "text",
    [
        "id\nwith newline",
        "tab\there",
        "nul\x00",
        "c1 control \x85",
        "noncharacter \ufdd0",
        "noncharacter \U0001fffe",
        "lone surrogate \udead",
    ],
)
def test_strings_refuse_controls_noncharacters_and_lone_surrogates(text: str) -> None:
    assert fault_paths(event(id=text)) == ["$.id"]


def test_strings_accept_any_other_unicode() -> None:
    subject = "Café Ünïcode 😀 👩‍👩‍👧 (with zero-width joiners) 東京"
    assert parse_event(orjson.dumps(event(subject=subject))).subject == subject


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "/cloudevents/spec/pull/123",
        "/sensors/tn-1234567/alerts",
        "1-555-123-4567",
        "//pos.example.com/tills/7",
        "http://[::1]:8080/webhooks",
        "https://user:pw@erp.example.com:8443/odata?$filter=x#frag",
        "stores/42/tills/%E2%82%AC",
        "?only=query",
        "https://shop.example.com/" + "long/" * 100,
    ],
)
def test_source_accepts_uri_references(source: str) -> None:
    assert parse_event(event(source=source)).source == source


@pytest.mark.parametrize(
    "source",
    [
        "https://shop.example.com/with space",
        "1abc:scheme-must-start-with-a-letter",
        "https://shop.example.com/%zz",
        "https://shop.example.com:port/",
        "https://[::1/",
        "https://[not-an-ip]/",
        "http://a:b:c/",
        "https://shop.example.com/{template}",
        "https://bücher.example/",
        "\\\\windows\\share",
        "https://shop.example.com/" + "long/" * 100 + " ",
    ],
)
def test_source_refuses_what_is_not_a_uri_reference(source: str) -> None:
    assert fault_paths(event(source=source)) == ["$.source"]


@pytest.mark.parametrize(
    "dataschema",
    [
        "https://retailhub.dev/schemas/order/v1.json",
        "urn:retailhub:schema:order:1",
        "https://retailhub.dev/schemas?version=1",
    ],
)
def test_dataschema_accepts_absolute_uris(dataschema: str) -> None:
    assert parse_event(event(dataschema=dataschema)).dataschema == dataschema


@pytest.mark.parametrize(
    "dataschema", ["", "/schemas/order/v1.json", "https://retailhub.dev/schemas#order"]
)
def test_dataschema_refuses_relative_references_and_fragments(dataschema: str) -> None:
    assert fault_paths(event(dataschema=dataschema)) == ["$.dataschema"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/cloudevents+json",
        "text/plain; charset=utf-8",
        'multipart/mixed; boundary="simple boundary"',
        "application/vnd.apache.thrift.binary",
    ],
)
def test_datacontenttype_accepts_media_types(content_type: str) -> None:
    assert parse_event(event(datacontenttype=content_type)).datacontenttype == content_type


@pytest.mark.parametrize(
    "content_type", ["json", "application/", "application/json; charset", "text/plain; a=b c"]
)
def test_datacontenttype_refuses_what_is_not_a_media_type(content_type: str) -> None:
    assert fault_paths(event(datacontenttype=content_type)) == ["$.datacontenttype"]


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27t10:00:00z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        (
            "2026-11-27T12:00:00+02:00",
            datetime(2026, 11, 27, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2026-11-27T04:30:00-05:30",
            datetime(2026, 11, 27, 4, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("2026-11-27T10:00:00.5Z", datetime(2026, 11, 27, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-27T10:00:00.123456789Z", datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-02-29T23:59:59+00:00", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_time_reads_rfc3339_timestamps(text: str, moment: datetime) -> None:
    parsed = parse_event(event(time=text)).time
    assert parsed == moment
    assert parsed is not None
    assert parsed.utcoffset() == moment.utcoffset()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-11-27T10:00:00", "UTC offset"),
        ("2026-11-27 10:00:00Z", "UTC offset"),
        ("2026-11-27T10:00Z", "UTC offset"),
        ("2026-11-27", "UTC offset"),
        ("2026-11-27T10:00:00+0200", "UTC offset"),
        ("2026-11-27T10:00:00+24:00", "UTC offset"),
        ("2026-13-01T10:00:00Z", "UTC offset"),
        ("2016-12-31T23:59:60Z", "UTC offset"),
        ("2026-02-30T10:00:00Z", "is not a real date and time: day is out of range for month"),
        ("2025-02-29T10:00:00Z", "is not a real date and time: day is out of range for month"),
    ],
)
def test_time_refuses_what_is_not_an_rfc3339_timestamp(text: str, reason: str) -> None:
    [(path, found)] = faults(event(time=text))
    assert path == "$.time"
    assert reason in found


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), "2026-11-27T10:00:00.123456Z"),
        (datetime(2026, 11, 27, 10, tzinfo=UTC), "2026-11-27T10:00:00Z"),
        (
            datetime(2026, 11, 27, 12, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-27T12:00:00+02:00",
        ),
        (
            datetime(2026, 11, 27, 4, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            "2026-11-27T04:30:00-05:30",
        ),
    ],
)
def test_time_is_written_as_rfc3339_with_z_for_utc(moment: datetime, text: str) -> None:
    assert new_event("retail.test.v1", "/tests", time=moment).to_dict()["time"] == text


@pytest.mark.parametrize("name", ["comexampleext1", "a", "z" * 20, "42"])
def test_extension_names_of_lower_case_letters_and_digits(name: str) -> None:
    assert is_valid_extension_name(name)
    assert parse_event(event(**{name: "x"})).extensions == {name: "x"}


@pytest.mark.parametrize("name", ["MyExt", "my-ext", "my_ext", "z" * 21, "café", " "])
def test_extension_names_refused(name: str) -> None:
    assert not is_valid_extension_name(name)
    assert faults(event(**{name: "x"})) == [
        (
            f"$.{name}",
            "is not a valid extension attribute name: "
            "use 1 to 20 lower-case ASCII letters or digits",
        )
    ]


@pytest.mark.parametrize("name", ["", "data", "data_base64", "id", "time", "partitionkey", 7])
def test_attributes_the_envelope_models_are_not_extension_names(name: Any) -> None:
    assert not is_valid_extension_name(name)


@pytest.mark.parametrize("value", ["acme", "", True, False, 0, 7, -(2**31), 2**31 - 1], ids=repr)
def test_extension_values_may_be_strings_booleans_and_32_bit_integers(value: Any) -> None:
    parsed = parse_event(orjson.dumps(event(tenant=value)))
    assert parsed.extensions == {"tenant": value}
    assert type(parsed.extensions["tenant"]) is type(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": 1}, "must be a string, an integer or a boolean, not an object"),
        ([1, 2], "must be a string, an integer or a boolean, not an array"),
        (1.5, "must be a string, an integer or a boolean, not a non-integer number"),
        (1.0, "must be a string, an integer or a boolean, not a non-integer number"),
        (2**31, "must be an integer from -2147483648 to 2147483647"),
        (-(2**31) - 1, "must be an integer from -2147483648 to 2147483647"),
    ],
    ids=repr,
)
def test_extension_values_of_other_types_refused(value: Any, reason: str) -> None:
    assert faults(orjson.dumps(event(tenant=value))) == [("$.tenant", reason)]


def test_data_and_data_base64_are_mutually_exclusive() -> None:
    assert faults(event(data={"a": 1}, data_base64="aGVsbG8=")) == [
        ("$", "must not have both data and data_base64")
    ]
    # The JSON format counts a member as present even when null: null data is a payload.
    assert fault_paths(event(data=None, data_base64="aGVsbG8=")) == ["$"]


@pytest.mark.parametrize("text", ["", "aGVsbG8=", "aGVsbA==", "aGVsbG8h", "+/+/"])
def test_data_base64_accepts_base64(text: str) -> None:
    parsed = parse_event(event(data_base64=text, datacontenttype="application/octet-stream"))
    assert parsed.data_base64 == text
    assert base64.b64decode(parsed.data_base64, validate=True) == base64.b64decode(text)


@pytest.mark.parametrize("value", ["aGVsbG8", "aGVsbG8=!", "a===", "aGVs bG8=", "aGVsbG8-", 42])
def test_data_base64_refuses_what_is_not_base64(value: Any) -> None:
    assert faults(event(data_base64=value)) == [
        ("$.data_base64", "must be base64 text (RFC 4648, standard alphabet, padded)")
    ]


@pytest.mark.parametrize("content_type", [None, "application/json", "text/xml"])
@pytest.mark.parametrize("data", [{"a": [1, 2.5, None]}, [1, 2], "just a string", 42, True])
def test_data_is_kept_as_the_decoded_json_value(content_type: str | None, data: Any) -> None:
    parsed = parse_event(orjson.dumps(event(data=data, datacontenttype=content_type)))
    assert parsed.data == data


@pytest.mark.parametrize(
    "traceparent",
    [
        TRACEPARENT,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next",
    ],
)
def test_traceparent_accepts_w3c_trace_context(traceparent: str) -> None:
    assert parse_event(event(traceparent=traceparent)).traceparent == traceparent


@pytest.mark.parametrize(
    ("traceparent", "reason"),
    [
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "lower-case hex"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "all-zero trace-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "all-zero parent-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "lower-case hex"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", "lower-case hex"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "lower-case hex"),
        ("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "lower-case hex"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "lower-case hex"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "four fields"),
    ],
)
def test_traceparent_refuses_what_w3c_trace_context_forbids(traceparent: str, reason: str) -> None:
    [(path, found)] = faults(event(traceparent=traceparent))
    assert path == "$.traceparent"
    assert reason in found


@pytest.mark.parametrize(
    "tracestate",
    [
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "tenant1@vendor=some value",
        " a=1 , b=2 ",
        "a=1,,b=2",
        ",".join(f"k{i}=v" for i in range(32)),
    ],
)
def test_tracestate_accepts_w3c_list_members(tracestate: str) -> None:
    assert parse_event(event(tracestate=tracestate)).tracestate == tracestate


@pytest.mark.parametrize(
    "tracestate",
    [
        "no-equals-sign",
        "Upper=1",
        "a=b=c",
        "a=",
        ",".join(f"k{i}=v" for i in range(33)),
        "a=" + "x" * 511,
    ],
)
def test_tracestate_refuses_what_w3c_trace_context_forbids(tracestate: str) -> None:
    assert fault_paths(event(tracestate=tracestate)) == ["$.tracestate"]


def test_partitionkey_is_a_non_empty_string() -> None:
    assert parse_event(event(partitionkey="ORD-1001")).partitionkey == "ORD-1001"
    assert faults(event(partitionkey="")) == [("$.partitionkey", "must not be empty")]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"id": "evt-1",, "source": "/x"}', "line 1, column 16 (character 15)"),
        ('{\n  "id": "evt-1"\n  "source": "/x"\n}', "line 3, column 3 (character 20)"),
        (b"", "line 1, column 1 (character 0)"),
        (b'{"id": "\xff"}', "line 1, column 1"),
    ],
)
def test_malformed_json_is_one_fault_naming_its_position(raw: bytes | str, where: str) -> None:
    [(path, reason)] = faults(raw)
    assert path == "$"
    assert reason.startswith("is not valid JSON: ")
    assert where in reason


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[]", "an array"), (b'"event"', "a string"), (b"42", "an integer"), (b"null", "null")],
)
def test_json_that_is_not_an_object_is_refused(raw: bytes, kind: str) -> None:
    assert faults(raw) == [("$", f"must be a JSON object, not {kind}")]


def test_mapping_with_a_member_name_that_is_not_a_string_is_refused() -> None:
    assert faults({**MINIMAL, 7: "x"}) == [("$", "has a member name that is not a string: 7")]


def test_every_fault_is_reported_together() -> None:
    document = {
        "specversion": "0.3",
        "id": 1001,
        "type": "",
        "time": "2026-11-27T10:00:00",
        "traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "My-Ext": {"nested": True},
        "data": {},
        "data_base64": "aGVsbG8=",
    }
    assert fault_paths(orjson.dumps(document)) == [
        "$.specversion",
        "$.id",
        "$.type",
        "$.time",
        "$.traceparent",
        "$.My-Ext",
        "$.My-Ext",
        "$.source",
        "$",
    ]


def test_round_trip_through_json_is_lossless() -> None:
    parsed = parse_event(orjson.dumps(FULL))
    assert parse_event(parsed.to_json()) == parsed
    assert orjson.loads(parsed.to_json()) == FULL


def test_to_dict_flattens_extensions_and_leaves_out_unset_attributes() -> None:
    built = CloudEvent(id="e", source="/s", type="t", extensions={"tenant": "acme", "attempt": 2})
    assert built.to_dict() == {
        "specversion": "1.0",
        "id": "e",
        "source": "/s",
        "type": "t",
        "tenant": "acme",
        "attempt": 2,
    }
    assert orjson.loads(built.to_json()) == built.to_dict()


def test_to_dict_refuses_a_naive_time_built_by_hand() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CloudEvent(id="e", source="/s", type="t", time=datetime(2026, 11, 27)).to_dict()


def test_new_event_fills_in_a_uuid4_id_utc_now_and_json_content_type() -> None:
    before = datetime.now(UTC)
    built = new_event("retail.order.created.v1", "/stores/42", {"order_id": "ORD-1001"})
    after = datetime.now(UTC)
    assert uuid.UUID(built.id).version == 4
    assert built.time is not None
    assert before <= built.time <= after
    assert built.time.utcoffset() == timedelta(0)
    assert built.specversion == "1.0"
    assert built.datacontenttype == "application/json"
    assert built.data == {"order_id": "ORD-1001"}
    assert new_event("retail.order.created.v1", "/stores/42").id != built.id
    assert parse_event(built.to_json()) == built


def test_new_event_keeps_every_argument() -> None:
    moment = datetime(2026, 11, 27, 10, tzinfo=UTC)
    built = new_event(
        "retail.order.created.v1",
        "/stores/42",
        [1, 2],
        subject="ORD-1001",
        partitionkey="ORD-1001",
        traceparent=TRACEPARENT,
        tracestate="rojo=1",
        id="evt-1",
        time=moment,
        datacontenttype="application/vnd.retailhub+json",
        dataschema="urn:retailhub:schema:order:1",
        extensions={"tenant": "acme", "attempt": 1, "replayed": True},
    )
    assert built == CloudEvent(
        id="evt-1",
        source="/stores/42",
        type="retail.order.created.v1",
        subject="ORD-1001",
        time=moment,
        datacontenttype="application/vnd.retailhub+json",
        dataschema="urn:retailhub:schema:order:1",
        data=[1, 2],
        partitionkey="ORD-1001",
        traceparent=TRACEPARENT,
        tracestate="rojo=1",
        extensions={"tenant": "acme", "attempt": 1, "replayed": True},
    )


class OrderPlaced(BaseModel):
    order_id: str
    total: Decimal
    placed_on: date


def test_new_event_stores_a_pydantic_model_as_its_json_dump() -> None:
    document = OrderPlaced(
        order_id="ORD-1001", total=Decimal("19.90"), placed_on=date(2026, 11, 27)
    )
    built = new_event("retail.order.created.v1", "/stores/42", document)
    assert built.data == {"order_id": "ORD-1001", "total": "19.90", "placed_on": "2026-11-27"}
    assert parse_event(built.to_json()) == built


def test_new_event_passes_data_through_json_once() -> None:
    built = new_event("retail.test.v1", "/tests", {"lines": (1, 2), "on": date(2026, 11, 27)})
    assert built.data == {"lines": [1, 2], "on": "2026-11-27"}


def test_new_event_refuses_data_that_is_not_json() -> None:
    with pytest.raises(InvalidDocument) as refused:
        new_event("retail.test.v1", "/tests", {"amount": Decimal("1.10")})
    [fault] = refused.value.faults
    assert fault.path == "$.data"
    assert fault.reason.startswith("is not JSON-compatible")


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (datetime(2026, 11, 27, 10), "must be timezone-aware"),
        (
            datetime(2026, 11, 27, 10, tzinfo=timezone(timedelta(seconds=30))),
            "must have a UTC offset in whole minutes (RFC 3339)",
        ),
    ],
)
def test_new_event_refuses_times_rfc3339_cannot_carry(moment: datetime, reason: str) -> None:
    with pytest.raises(InvalidDocument) as refused:
        new_event("retail.test.v1", "/tests", time=moment)
    assert [(f.path, f.reason) for f in refused.value.faults] == [("$.time", reason)]


def test_new_event_checks_like_parse_event_and_reports_every_fault() -> None:
    with pytest.raises(InvalidDocument) as refused:
        new_event(
            "",
            "not a uri",
            subject="",
            traceparent="00-zz",
            extensions={"Bad-Name": "x", "partitionkey": "ORD-1", "nested": {"a": 1}},  # type: ignore[dict-item]
        )
    assert [fault.path for fault in refused.value.faults] == [
        "$.partitionkey",
        "$.source",
        "$.type",
        "$.subject",
        "$.traceparent",
        "$.Bad-Name",
        "$.nested",
    ]


def test_new_traceparent_is_fresh_and_valid() -> None:
    first, second = new_traceparent(), new_traceparent()
    assert first != second
    for traceparent in (first, second):
        assert traceparent.startswith("00-")
        assert traceparent.endswith("-01")
        assert parse_event(event(traceparent=traceparent)).traceparent == traceparent


SCHEMA_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("minimal", MINIMAL, True),
    ("full", FULL, True),
    ("binary data", event(datacontenttype="image/png", data_base64="iVBORw0KGgo="), True),
    ("null optionals", event(subject=None, time=None, unset=None), True),
    ("lower-case time", event(time="2026-11-27t10:00:00.123456789z"), True),
    ("relative source", event(source="1-555-123-4567"), True),
    ("urn source", event(source="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"), True),
    ("future traceparent", event(traceparent="cc-" + TRACEPARENT[3:] + "-more"), True),
    ("missing id", event(id=ABSENT), False),
    ("integer id", event(id=1001), False),
    ("empty id", event(id=""), False),
    ("newline in id", event(id="evt\n"), False),
    ("null type", event(type=None), False),
    ("specversion 0.3", event(specversion="0.3"), False),
    ("numeric specversion", event(specversion=1.0), False),
    ("source with space", event(source="/stores/4 2"), False),
    ("source array", event(source=["/stores/42"]), False),
    ("source colon in first segment", event(source="1abc:x"), False),
    ("time without offset", event(time="2026-11-27T10:00:00"), False),
    ("time as number", event(time=1_700_000_000), False),
    ("time with space", event(time="2026-11-27 10:00:00Z"), False),
    ("relative dataschema", event(dataschema="/schemas/order"), False),
    ("dataschema with fragment", event(dataschema="https://x.example/s#f"), False),
    ("datacontenttype without subtype", event(datacontenttype="json"), False),
    ("empty subject", event(subject=""), False),
    ("empty partitionkey", event(partitionkey=""), False),
    ("upper-case extension name", event(MyExt="x"), False),
    ("hyphenated extension name", event(**{"my-ext": "x"}), False),
    ("long extension name", event(**{"z" * 21: "x"}), False),
    ("object extension", event(tenant={"id": 1}), False),
    ("array extension", event(tenant=[1]), False),
    ("fractional extension", event(tenant=1.5), False),
    ("64-bit extension", event(tenant=2**40), False),
    ("data and data_base64", event(data={}, data_base64="aGVsbG8="), False),
    ("bad base64", event(data_base64="aGVsbG8"), False),
    ("upper-case traceparent", event(traceparent=TRACEPARENT.upper()), False),
    ("traceparent version ff", event(traceparent="ff" + TRACEPARENT[2:]), False),
    ("zero trace-id", event(traceparent="00-" + "0" * 32 + TRACEPARENT[35:]), False),
    ("zero parent-id", event(traceparent=TRACEPARENT[:36] + "0" * 16 + "-01"), False),
    ("version 00 with five fields", event(traceparent=TRACEPARENT + "-x"), False),
    ("bad tracestate", event(tracestate="Upper=1"), False),
    ("long tracestate", event(tracestate="a=" + "x" * 511), False),
]


@pytest.mark.parametrize(
    ("document", "valid"),
    [pytest.param(document, valid, id=name) for name, document, valid in SCHEMA_CASES],
)
def test_json_schema_agrees_with_parse_event(document: dict[str, Any], valid: bool) -> None:
    assert SCHEMA.is_valid(document) is valid
    assert parse_accepts(document) is valid


def test_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(ENVELOPE_JSON_SCHEMA)


def test_json_schema_leaves_calendar_checks_to_format_assertion() -> None:
    # A pattern cannot know February has no 30th; the schema marks `time` as a date-time format
    # for validators that assert formats, and parse_event checks the calendar itself.
    document = event(time="2026-02-30T10:00:00Z")
    assert SCHEMA.is_valid(document)
    assert fault_paths(document) == ["$.time"]


EXTENSION_NAMES = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(is_valid_extension_name)
# CloudEvents Strings: any Unicode but controls, surrogates and noncharacters (which are Cn).
STRINGS = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")))
EXTENSION_VALUES = st.one_of(st.booleans(), st.integers(-(2**31), 2**31 - 1), STRINGS)


@given(st.dictionaries(EXTENSION_NAMES, EXTENSION_VALUES, max_size=5))
def test_any_valid_extensions_round_trip(extensions: dict[str, str | int | bool]) -> None:
    built = new_event("retail.test.v1", "/tests", {"n": 1}, extensions=extensions)
    parsed = parse_event(built.to_json())
    assert parsed == built
    assert parsed.extensions == extensions
    assert SCHEMA.is_valid(orjson.loads(built.to_json()))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.builds(
            lambda minutes: timezone(timedelta(minutes=minutes)),
            st.integers(-(24 * 60 - 1), 24 * 60 - 1),
        ),
    )
)
def test_any_aware_time_round_trips(moment: datetime) -> None:
    built = new_event("retail.test.v1", "/tests", time=moment)
    parsed = parse_event(built.to_json())
    assert parsed.time == moment
    assert parsed.time is not None
    assert parsed.time.utcoffset() == moment.utcoffset()


ATTRIBUTE_NAMES = {*FULL, "data_base64", "dataschema"}


@given(st.one_of(st.text(max_size=25), st.from_regex(r"[a-z0-9_-]{1,22}", fullmatch=True)))
def test_json_schema_agrees_with_parse_event_on_any_member_name(name: str) -> None:
    document = {**MINIMAL, name: "x"}
    assert SCHEMA.is_valid(document) is parse_accepts(document)
    if name not in ATTRIBUTE_NAMES:
        assert parse_accepts(document) is is_valid_extension_name(name)


# Integral floats (1.0) are the one value the schema cannot tell from integers; the parser refuses
# them as the JSON format allows only the integer component. The schema's pattern covers the BMP.
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",))),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)


@given(JSON_VALUES)
def test_json_schema_agrees_with_parse_event_on_any_extension_value(value: Any) -> None:
    document = {**MINIMAL, "tenant": value}
    assert SCHEMA.is_valid(document) is parse_accepts(document)
