"""Shadow mode's findings: what the shadow ERP did with a copy of a document, and where its
posting differs from the primary's.

Only the figures both ERPs should agree on are compared (`COMPARED_FIELDS`): the amount, the
store, the business day and the status. Ids are each ERP's own and are never compared. Values
are kept as text so a record can be stored and shown as it is.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from retailhub.connectors.ports import Posting

COMPARED_FIELDS = ("amount", "location", "business_day", "status")
"""The posting fields the primary and the shadow ERP should agree on."""


class ShadowOperation(StrEnum):
    """The ERP call that was copied to the shadow."""

    POST_SALE_ORDER = "post_sale_order"
    CANCEL_SALE_ORDER = "cancel_sale_order"
    POST_CREDIT_NOTE = "post_credit_note"
    VOID_CREDIT_NOTE = "void_credit_note"
    ADJUST_STOCK = "adjust_stock"


class ShadowOutcome(StrEnum):
    """How the copy went: as the primary, differently, failed, or not sent at all."""

    MATCHED = "matched"
    """The shadow did it too and every compared figure agrees (or there is none to compare)."""
    DIFFERED = "differed"
    FAILED = "failed"
    """The shadow raised or timed out; the primary's outcome stands."""
    SKIPPED = "skipped"
    """The copy was not sent: the shadow's queue was full or closed."""


@dataclass(frozen=True)
class FieldDifference:
    """One compared field on which the two ERPs disagree, with both values."""

    field: str
    primary: str | None
    shadow: str | None


@dataclass(frozen=True)
class ShadowRecord:
    """The result of copying one ERP call to the shadow."""

    key: str
    operation: ShadowOperation
    primary_system: str
    shadow_system: str
    outcome: ShadowOutcome
    recorded_at: datetime
    differences: tuple[FieldDifference, ...] = ()
    error: str | None = None


def _text(value: object) -> str | None:
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def compare_postings(
    primary: Posting, shadow: Posting, fields: tuple[str, ...] = COMPARED_FIELDS
) -> tuple[FieldDifference, ...]:
    """The compared fields on which the shadow's posting differs from the primary's."""
    differences = []
    for name in fields:
        ours, theirs = getattr(primary, name), getattr(shadow, name)
        if ours != theirs:
            differences.append(FieldDifference(name, _text(ours), _text(theirs)))
    return tuple(differences)


class ShadowRecorder(Protocol):
    """Where shadow findings go: memory for tests and demos, a table or an alert later."""

    async def record(self, entry: ShadowRecord) -> None:
        """Keep one finding; must be quick, as a full queue records from the primary's path."""


class InMemoryShadowRecorder:
    """The latest findings in memory, oldest dropped beyond `capacity`."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._records: deque[ShadowRecord] = deque(maxlen=capacity)

    async def record(self, entry: ShadowRecord) -> None:
        """Keep the finding."""
        self._records.append(entry)

    @property
    def records(self) -> list[ShadowRecord]:
        """Every finding kept, oldest first."""
        return list(self._records)

    def for_key(self, key: str) -> list[ShadowRecord]:
        """The findings about one document, oldest first."""
        return [r for r in self._records if r.key == key]

    def with_outcome(self, outcome: ShadowOutcome) -> list[ShadowRecord]:
        """The findings with one outcome (e.g. every difference), oldest first."""
        return [r for r in self._records if r.outcome is outcome]
