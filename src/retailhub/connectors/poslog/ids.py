"""The deterministic id of a POS document, derived from the keys printed on the receipt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_POS_ID = re.compile(
    r"^POS-(?P<store>.+)-(?P<day>\d{8})-(?P<workstation>[^-]+)-(?P<sequence>[^-]+)$"
)


@dataclass(frozen=True)
class PosDocumentKey:
    """Store, business day, workstation and sequence: what makes a POS receipt unique."""

    store: str
    business_day: date
    workstation: str
    sequence: str


def pos_document_id(key: PosDocumentKey) -> str:
    """`POS-<store>-<yyyymmdd>-<workstation>-<sequence>`, the same every time the file is read.

    Numbers lose leading zeros (`0034` and `34` are one workstation) so that re-exports of a
    journal with other padding still deduplicate; the business day, not the clock date, is used
    because a sale rung up after midnight belongs to the day the store opened.
    """
    return (
        f"POS-{_canonical(key.store)}-{key.business_day:%Y%m%d}"
        f"-{_canonical(key.workstation)}-{_canonical(key.sequence)}"
    )


def parse_pos_document_id(document_id: str) -> PosDocumentKey | None:
    """The receipt keys back from an id made by `pos_document_id`; None for any other id."""
    match = _POS_ID.match(document_id)
    if match is None:
        return None
    day = match["day"]
    try:
        business_day = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        return None
    return PosDocumentKey(match["store"], business_day, match["workstation"], match["sequence"])


def _canonical(part: str) -> str:
    value = part.strip()
    return str(int(value)) if value.isdigit() else value
