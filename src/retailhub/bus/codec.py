"""How events become log records and back: checked once on the way in, parsed on the way out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from retailhub.bus.port import MalformedEvent, ordering_key
from retailhub.canonical.cloudevents import CloudEvent, parse_event
from retailhub.canonical.errors import Fault, InvalidDocument


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event ready for the log: the columns the bus filters on, and the JSON payload."""

    event: CloudEvent
    event_id: str
    source: str
    type: str
    key: str | None
    payload: bytes


def encode_events(events: Sequence[CloudEvent]) -> list[EncodedEvent]:
    """Serialise a batch, refusing all of it (MalformedEvent) if any event cannot be recorded."""
    faults: list[Fault] = []
    encoded: list[EncodedEvent] = []
    for index, event in enumerate(events):
        where = f"$[{index}]"
        if not isinstance(event, CloudEvent):
            faults.append(Fault(where, f"must be a CloudEvent, not {type(event).__name__}"))
            continue
        if not isinstance(event.id, str) or not event.id:
            faults.append(Fault(f"{where}.id", "must be a non-empty string"))
        if not isinstance(event.source, str) or not event.source:
            faults.append(Fault(f"{where}.source", "must be a non-empty string"))
        if not isinstance(event.type, str) or not event.type or "*" in event.type:
            faults.append(Fault(f"{where}.type", "must be a non-empty event type without '*'"))
        try:
            payload = event.to_json()
        except (TypeError, ValueError) as error:
            faults.append(Fault(f"{where}.data", f"cannot be written as JSON: {error}"))
            continue
        encoded.append(
            EncodedEvent(event, event.id, event.source, event.type, ordering_key(event), payload)
        )
    if faults:
        raise MalformedEvent(faults)
    return encoded


def decode_event(payload: bytes) -> CloudEvent:
    """Read a recorded payload back into a CloudEvent; MalformedEvent if the log holds junk.

    The log holds only what `encode_events` wrote from valid events, so this trusts its shape
    (about 10x cheaper than `parse_event`) and falls back to the full check only to explain a
    payload it cannot read.
    """
    try:
        members = orjson.loads(payload)
        extensions = {k: v for k, v in members.items() if k not in _ATTRIBUTES}
        moment = members.get("time")
        return CloudEvent(
            id=members["id"],
            source=members["source"],
            type=members["type"],
            specversion=members["specversion"],
            subject=members.get("subject"),
            time=None if moment is None else datetime.fromisoformat(moment),
            datacontenttype=members.get("datacontenttype"),
            dataschema=members.get("dataschema"),
            data=members.get("data"),
            data_base64=members.get("data_base64"),
            partitionkey=members.get("partitionkey"),
            traceparent=members.get("traceparent"),
            tracestate=members.get("tracestate"),
            extensions=extensions,
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        try:
            return parse_event(payload)
        except InvalidDocument as error:
            raise MalformedEvent(error.faults) from error


_ATTRIBUTES = frozenset(
    (
        "id",
        "source",
        "type",
        "specversion",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "data",
        "data_base64",
        "partitionkey",
        "traceparent",
        "tracestate",
    )
)


def dumps(value: object) -> str:
    """Compact JSON text for bookkeeping columns (attempt history, filters)."""
    return orjson.dumps(value).decode()
