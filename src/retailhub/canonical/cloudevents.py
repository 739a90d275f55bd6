"""The CloudEvents 1.0 envelope every event in the hub travels in: build it, parse it, check it.

Parsing enforces the CloudEvents 1.0.2 core spec, its JSON format, the partitioning extension
and the distributed-tracing extension (W3C Trace Context) with hand-written checks rather than
pydantic, because every event entering the hub passes through `parse_event`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel

from retailhub.canonical.errors import Fault, InvalidDocument

__all__ = [
    "ENVELOPE_JSON_SCHEMA",
    "CloudEvent",
    "is_valid_extension_name",
    "new_event",
    "new_traceparent",
    "parse_event",
]

# Regular expressions below are written once and used twice: compiled for `parse_event`, and
# anchored into ENVELOPE_JSON_SCHEMA, so the schema and the parser agree. They therefore keep to
# the syntax Python and ECMA-262 share (no named groups, no \A or \Z).

# RFC 3986 URI-reference (section 4.1) and absolute-URI (section 4.3), from the ABNF. Each run of
# characters is written `[c]*(?:%XX[c]*)*` so that the regex engine never backtracks into it.
_UNRESERVED_OR_SUB_DELIM = r"A-Za-z0-9\-._~!$&'()*+,;="


def _run(characters: str) -> str:
    """A regex for any run of `characters` and %-encoded octets."""
    return rf"[{characters}]*(?:%[0-9A-Fa-f]{{2}}[{characters}]*)*"


_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_HOST = (
    r"(?:\[[0-9A-Fa-f:.]+\]"
    rf"|\[[Vv][0-9A-Fa-f]+\.[{_UNRESERVED_OR_SUB_DELIM}:]+\]"
    rf"|{_run(_UNRESERVED_OR_SUB_DELIM)})"
)
_AUTHORITY = rf"(?:{_run(_UNRESERVED_OR_SUB_DELIM + ':')}@)?{_HOST}(?::[0-9]*)?"
_PATH_CHARACTERS = _UNRESERVED_OR_SUB_DELIM + ":@/"
_WITH_AUTHORITY = rf"//{_AUTHORITY}(?:/{_run(_PATH_CHARACTERS)})?"
_HIER_PART = rf"(?:{_WITH_AUTHORITY}|(?!//){_run(_PATH_CHARACTERS)})"
# A relative reference's first segment may not hold a colon, or it would read as a scheme.
_RELATIVE_PART = (
    rf"(?:{_WITH_AUTHORITY}"
    rf"|(?!//){_run(_UNRESERVED_OR_SUB_DELIM + '@')}(?:/{_run(_PATH_CHARACTERS)})?)"
)
_QUERY = rf"(?:\?{_run(_PATH_CHARACTERS + '?')})?"
_FRAGMENT = rf"(?:#{_run(_PATH_CHARACTERS + '?')})?"
_URI_REFERENCE = rf"(?:{_SCHEME}:{_HIER_PART}|{_RELATIVE_PART}){_QUERY}{_FRAGMENT}"
_ABSOLUTE_URI = rf"{_SCHEME}:{_HIER_PART}{_QUERY}"

# RFC 2046 media type: RFC 2045 tokens, parameters as in RFC 9110 (optional spaces around ";").
_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_MEDIA_TYPE = rf"{_TOKEN}/{_TOKEN}(?: *; *{_TOKEN}=(?:{_TOKEN}|{_QUOTED_STRING}))*"

# RFC 3339 date-time with a mandatory offset; field ranges here, calendar checks by datetime.
# Leap seconds (:60) are refused: a Python datetime cannot hold one.
_TIMESTAMP = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)

# W3C Trace Context traceparent: version-traceid-parentid-flags; later versions may append fields.
# The parser matches the shape and then names the rule broken; the schema folds the rules in.
_TRACEPARENT = r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?"
_TRACEPARENT_STRICT = (
    r"(?:00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
    r"|(?!00|ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?)"
)

# W3C Trace Context tracestate: up to 32 comma-separated list-members (empty ones allowed).
_TRACESTATE_KEY = (
    r"(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})"
)
_TRACESTATE_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_TRACESTATE_MEMBER = rf" *(?:{_TRACESTATE_KEY}={_TRACESTATE_VALUE})? *"
_TRACESTATE = rf"{_TRACESTATE_MEMBER}(?:,{_TRACESTATE_MEMBER}){{0,31}}"
_TRACESTATE_MAX_LENGTH = 512

# RFC 4648 base64 with padding, standard alphabet.
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"

# The spec says extension names SHOULD NOT exceed 20 characters; the hub enforces that SHOULD,
# so an over-long name is refused rather than passed on to brokers that may truncate it.
_ATTRIBUTE_NAME = r"[a-z0-9]{1,20}"

# Characters a CloudEvents String must not hold: C0 and C1 controls and Unicode noncharacters;
# the parser also refuses lone surrogates and the noncharacters beyond the BMP, which a JSON
# Schema pattern cannot name portably.
_FORBIDDEN_IN_STRING_BMP = r"\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff"

_CACHED_TEXT_MAX_LENGTH: Final = 256
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1


def _cached_matcher(grammar: str) -> Callable[[str], bool]:
    """A whole-text test for `grammar`. Verdicts on short texts are cached, as sources, schemas,
    media types and extension names repeat from event to event; long ones are not, to bound memory."""
    compiled = re.compile(grammar)

    @lru_cache(maxsize=4096)
    def cached(text: str) -> bool:
        return compiled.fullmatch(text) is not None

    def matches(text: str) -> bool:
        if len(text) > _CACHED_TEXT_MAX_LENGTH:
            return compiled.fullmatch(text) is not None
        return cached(text)

    return matches


_is_uri_reference = _cached_matcher(_URI_REFERENCE)
_is_absolute_uri = _cached_matcher(_ABSOLUTE_URI)
_is_media_type = _cached_matcher(_MEDIA_TYPE)
_is_attribute_name = _cached_matcher(_ATTRIBUTE_NAME)
_TIMESTAMP_RE = re.compile(_TIMESTAMP)
_TRACEPARENT_RE = re.compile(_TRACEPARENT)
_TRACESTATE_RE = re.compile(_TRACESTATE)
_BASE64_RE = re.compile(_BASE64)
_FORBIDDEN_IN_STRING_RE = re.compile(
    f"[{_FORBIDDEN_IN_STRING_BMP}\\ud800-\\udfff"
    + "".join(f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(1, 17))
    + "]"
)

_REQUIRED: Final = ("specversion", "id", "source", "type")


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One CloudEvents 1.0 event; build it with `new_event` or `parse_event`, which validate it."""

    id: str
    source: str
    type: str
    specversion: str = "1.0"
    subject: str | None = None
    time: datetime | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None
    data_base64: str | None = None
    partitionkey: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    extensions: Mapping[str, str | int | bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The structured-mode JSON object: extensions at top level, unset attributes left out."""
        members: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        if self.subject is not None:
            members["subject"] = self.subject
        if self.time is not None:
            members["time"] = _render_time(self.time)
        if self.datacontenttype is not None:
            members["datacontenttype"] = self.datacontenttype
        if self.dataschema is not None:
            members["dataschema"] = self.dataschema
        if self.partitionkey is not None:
            members["partitionkey"] = self.partitionkey
        if self.traceparent is not None:
            members["traceparent"] = self.traceparent
        if self.tracestate is not None:
            members["tracestate"] = self.tracestate
        members.update(self.extensions)
        if self.data is not None:
            members["data"] = self.data
        if self.data_base64 is not None:
            members["data_base64"] = self.data_base64
        return members

    def to_json(self) -> bytes:
        """The structured-mode JSON document (`application/cloudevents+json`) as UTF-8 bytes."""
        return orjson.dumps(self.to_dict())


class _Refusal(Exception):
    """An attribute value the spec does not allow; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _json_kind(value: object) -> str:
    """Name a value's JSON kind for a fault message (`an object`, `an integer`, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a non-integer number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a Python {type(value).__name__}"


def _string(value: object) -> str:
    """A CloudEvents String: text without control characters, lone surrogates or noncharacters."""
    if not isinstance(value, str):
        raise _Refusal(f"must be a string, not {_json_kind(value)}")
    # isprintable() is false for every forbidden character (and some allowed ones, like a
    # zero-width joiner), so the slower exact search runs only on that rare text.
    if not value.isprintable() and _FORBIDDEN_IN_STRING_RE.search(value):
        raise _Refusal(
            "must not contain control characters, lone surrogates or Unicode noncharacters"
        )
    return value


def _non_empty_string(value: object) -> str:
    """A String the spec requires to be non-empty (id, type, subject, partitionkey)."""
    text = _string(value)
    if not text:
        raise _Refusal("must not be empty")
    return text


def _check_specversion(value: object) -> str:
    """The only version this hub speaks is CloudEvents 1.0."""
    text = _string(value)
    if text != "1.0":
        raise _Refusal(f'must be "1.0" (CloudEvents 1.0), not "{text}"')
    return text


def _check_ip_literal(text: str) -> None:
    """The URI grammar only shapes an IP literal; urllib checks it is a real IPv6 or IPvFuture."""
    if "[" in text:
        try:
            urlsplit(text)
        except ValueError as error:
            raise _Refusal(f"has an invalid IP literal: {error}") from None


def _check_source(value: object) -> str:
    """`source` is a non-empty URI-reference (RFC 3986 section 4.1)."""
    text = _non_empty_string(value)
    if not _is_uri_reference(text):
        raise _Refusal("must be a URI-reference (RFC 3986), like /stores/42 or urn:retailhub:pos")
    _check_ip_literal(text)
    return text


def _check_dataschema(value: object) -> str:
    """`dataschema` is a non-empty absolute URI (RFC 3986 section 4.3: a scheme, no fragment)."""
    text = _non_empty_string(value)
    if not _is_absolute_uri(text):
        raise _Refusal("must be an absolute URI with a scheme and no fragment (RFC 3986)")
    _check_ip_literal(text)
    return text


def _check_datacontenttype(value: object) -> str:
    """`datacontenttype` is an RFC 2046 media type, `type/subtype` with optional parameters."""
    text = _non_empty_string(value)
    if not _is_media_type(text):
        raise _Refusal('must be a media type like "application/json" (RFC 2046)')
    return text


def _check_time(value: object) -> datetime:
    """`time` is an RFC 3339 timestamp with an offset; digits beyond microseconds are dropped."""
    text = _string(value)
    if not _TIMESTAMP_RE.fullmatch(text):
        raise _Refusal(
            'must be an RFC 3339 timestamp with a UTC offset, like "2026-11-27T10:00:00Z"'
        )
    # The shape is checked, so fromisoformat only converts and checks the calendar; it wants
    # the upper-case T and Z that RFC 3339 lets a writer put in lower case.
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError as error:
        raise _Refusal(f"is not a real date and time: {error}") from None


def _render_time(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime: `Z` for UTC, else its own offset in whole minutes."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("must be timezone-aware")
    if offset.seconds % 60 or offset.microseconds:
        raise ValueError("must have a UTC offset in whole minutes (RFC 3339)")
    text = moment.isoformat()
    return text[:-6] + "Z" if not offset else text


def _check_traceparent(value: object) -> str:
    """`traceparent` follows W3C Trace Context: lower-case hex, no ff version, no zero ids."""
    text = _string(value)
    match = _TRACEPARENT_RE.fullmatch(text)
    if match is None:
        raise _Refusal(
            'must be a W3C traceparent "<version>-<trace-id>-<parent-id>-<flags>" '
            "in lower-case hex (2, 32, 16 and 2 digits)"
        )
    version, trace_id, parent_id, more = match.groups()
    if version == "ff":
        raise _Refusal("has version ff, which W3C Trace Context forbids")
    if version == "00" and more is not None:
        raise _Refusal("has more than four fields, which version 00 does not allow")
    if trace_id == "0" * 32:
        raise _Refusal("has an all-zero trace-id")
    if parent_id == "0" * 16:
        raise _Refusal("has an all-zero parent-id")
    return text


def _check_tracestate(value: object) -> str:
    """`tracestate` follows W3C Trace Context: up to 32 `key=value` list-members, 512 chars."""
    text = _string(value)
    if len(text) > _TRACESTATE_MAX_LENGTH or not _TRACESTATE_RE.fullmatch(text):
        raise _Refusal(
            "must be a W3C tracestate: at most 32 comma-separated key=value list-members "
            f"and {_TRACESTATE_MAX_LENGTH} characters"
        )
    return text


def _check_data_base64(value: object) -> str:
    """`data_base64` carries binary data as RFC 4648 base64 text."""
    if not isinstance(value, str) or not _BASE64_RE.fullmatch(value):
        raise _Refusal("must be base64 text (RFC 4648, standard alphabet, padded)")
    return value


def _check_extension_value(value: object) -> str | int | bool:
    """Extension values are Strings, Booleans or 32-bit Integers (JSON numbers without fraction)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise _Refusal(f"must be an integer from {_INT32_MIN} to {_INT32_MAX}")
        return value
    if isinstance(value, str):
        return _string(value)
    raise _Refusal(f"must be a string, an integer or a boolean, not {_json_kind(value)}")


_ATTRIBUTE_CHECKS: Final[dict[str, Callable[[object], object]]] = {
    "specversion": _check_specversion,
    "id": _non_empty_string,
    "source": _check_source,
    "type": _non_empty_string,
    "subject": _non_empty_string,
    "time": _check_time,
    "datacontenttype": _check_datacontenttype,
    "dataschema": _check_dataschema,
    "data_base64": _check_data_base64,
    "partitionkey": _non_empty_string,
    "traceparent": _check_traceparent,
    "tracestate": _check_tracestate,
}


def is_valid_extension_name(name: object) -> bool:
    """Whether `name` may key `CloudEvent.extensions`: 1-20 of a-z0-9, not an attribute we model."""
    return (
        isinstance(name, str)
        and _is_attribute_name(name)
        and name not in _ATTRIBUTE_CHECKS
        and name != "data"
    )


def _validate(members: Mapping[Any, Any], faults: list[Fault]) -> CloudEvent:
    """Check every member against the spec, adding to `faults`; raise if any, else the event."""
    fields: dict[str, Any] = {}
    extensions: dict[str, str | int | bool] = {}
    for name, value in members.items():
        check = _ATTRIBUTE_CHECKS.get(name)
        if check is not None:
            if value is None:
                # The JSON format reads null as unset: fine when optional, a fault when required.
                if name in _REQUIRED:
                    faults.append(Fault(f"$.{name}", "is required and must not be null"))
                continue
            try:
                fields[name] = check(value)
            except _Refusal as refusal:
                faults.append(Fault(f"$.{name}", refusal.reason))
        elif name == "data":
            fields["data"] = value
        elif not isinstance(name, str):
            faults.append(Fault("$", f"has a member name that is not a string: {name!r}"))
        else:
            # Names of modelled attributes and `data` never get here, so the grammar decides.
            if not _is_attribute_name(name):
                faults.append(
                    Fault(
                        f"$.{name}",
                        "is not a valid extension attribute name: "
                        "use 1 to 20 lower-case ASCII letters or digits",
                    )
                )
            if value is None:
                continue
            try:
                extensions[name] = _check_extension_value(value)
            except _Refusal as refusal:
                faults.append(Fault(f"$.{name}", refusal.reason))
    for name in _REQUIRED:
        if name not in members:
            faults.append(Fault(f"$.{name}", "is required"))
    if "data" in members and "data_base64" in members:
        faults.append(Fault("$", "must not have both data and data_base64"))
    if faults:
        raise InvalidDocument(faults)
    return CloudEvent(**fields, extensions=extensions)


def parse_event(raw: bytes | str | Mapping[str, Any]) -> CloudEvent:
    """Read a structured-mode CloudEvent (JSON text or a decoded object), refusing every fault.

    Raises InvalidDocument listing each fault with its JSON path. A Mapping is taken as already
    decoded JSON. `data` is kept as the decoded JSON value whatever `datacontenttype` says, and an
    explicit `"data": null` reads as no data.
    """
    if isinstance(raw, bytes | str):
        try:
            members = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            reason = (
                f"is not valid JSON: {error.msg} at line {error.lineno}, "
                f"column {error.colno} (character {error.pos})"
            )
            raise InvalidDocument([Fault("$", reason)]) from error
    else:
        members = raw
    if not isinstance(members, Mapping):
        raise InvalidDocument([Fault("$", f"must be a JSON object, not {_json_kind(members)}")])
    return _validate(members, [])


def new_event(
    type: str,
    source: str,
    data: Any = None,
    *,
    subject: str | None = None,
    partitionkey: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    id: str | None = None,
    time: datetime | None = None,
    datacontenttype: str | None = "application/json",
    dataschema: str | None = None,
    extensions: Mapping[str, str | int | bool] | None = None,
) -> CloudEvent:
    """Build an event to publish, checked by the same rules as `parse_event` (InvalidDocument).

    `id` defaults to a new UUID4 and `time` to now in UTC. A pydantic model as `data` is stored as
    its JSON dump; any other `data` is passed through JSON once, so the event holds exactly what
    a consumer will parse (and a Decimal or other non-JSON value is refused at `$.data`).
    """
    faults: list[Fault] = []
    members: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()) if id is None else id,
        "source": source,
        "type": type,
        "subject": subject,
        "datacontenttype": datacontenttype,
        "dataschema": dataschema,
        "partitionkey": partitionkey,
        "traceparent": traceparent,
        "tracestate": tracestate,
    }
    try:
        members["time"] = _render_time(datetime.now(UTC) if time is None else time)
    except ValueError as error:
        faults.append(Fault("$.time", str(error)))
    for name, value in (extensions or {}).items():
        if name in _ATTRIBUTE_CHECKS or name == "data":
            faults.append(
                Fault(f"$.{name}", "is a CloudEvents attribute: pass it as its own argument")
            )
        else:
            members[name] = value
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if data is not None:
        try:
            members["data"] = orjson.loads(orjson.dumps(data))
        except orjson.JSONEncodeError as error:
            faults.append(Fault("$.data", f"is not JSON-compatible: {error}"))
    return _validate(members, faults)


def new_traceparent() -> str:
    """A fresh W3C traceparent (version 00, sampled) for an event that starts a new trace."""
    trace_id = secrets.randbelow(2**128 - 1) + 1  # never all zeros, which W3C forbids
    parent_id = secrets.randbelow(2**64 - 1) + 1
    return f"00-{trace_id:032x}-{parent_id:016x}-01"


def _anchored(pattern: str) -> str:
    """A regular expression for a JSON Schema `pattern`, which matches anywhere unless anchored."""
    return f"^(?:{pattern})$"


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional attribute's schema: the JSON format reads null as unset."""
    return {"anyOf": [{"type": "null"}, schema]}


def _text(**keywords: Any) -> dict[str, Any]:
    """A CloudEvents String's schema, narrowed by further keywords; a fresh dict each time."""
    return {"$ref": "#/$defs/cloudevents_string", **keywords}


ENVELOPE_JSON_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CloudEvent",
    "description": (
        "A CloudEvents 1.0 event in structured mode (JSON format) as retailhub accepts it, with "
        "the partitioning (partitionkey) and distributed-tracing (traceparent, tracestate) "
        "extensions. Integers must be written without fraction or exponent, and calendar "
        "validity of `time` needs format assertion; the parser checks both."
    ),
    "type": "object",
    "required": list(_REQUIRED),
    "properties": {
        "specversion": {"const": "1.0"},
        "id": _text(minLength=1),
        "source": _text(minLength=1, pattern=_anchored(_URI_REFERENCE)),
        "type": _text(minLength=1),
        "subject": _optional(_text(minLength=1)),
        "time": _optional(_text(format="date-time", pattern=_anchored(_TIMESTAMP))),
        "datacontenttype": _optional(_text(pattern=_anchored(_MEDIA_TYPE))),
        "dataschema": _optional(_text(format="uri", pattern=_anchored(_ABSOLUTE_URI))),
        "partitionkey": _optional(_text(minLength=1)),
        "traceparent": _optional(_text(pattern=_anchored(_TRACEPARENT_STRICT))),
        "tracestate": _optional(
            _text(maxLength=_TRACESTATE_MAX_LENGTH, pattern=_anchored(_TRACESTATE))
        ),
        "data": {},
        "data_base64": _optional({"type": "string", "pattern": _anchored(_BASE64)}),
    },
    "propertyNames": _text(
        anyOf=[{"const": "data_base64"}, {"pattern": _anchored(_ATTRIBUTE_NAME)}]
    ),
    "additionalProperties": {
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "integer", "minimum": _INT32_MIN, "maximum": _INT32_MAX},
            _text(),
        ]
    },
    "not": {"required": ["data", "data_base64"]},
    "$defs": {
        "cloudevents_string": {
            "description": "A CloudEvents String: no control characters or noncharacters.",
            "type": "string",
            "not": {"pattern": f"[{_FORBIDDEN_IN_STRING_BMP}]"},
        }
    },
}
