"""Faults found in a document, each with the JSON path where it lies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Fault:
    """One thing wrong with a document: where (`$.lines[0].quantity`) and why, in plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InvalidDocument(ValueError):
    """A document that breaks the canonical model or the event contract; carries every fault."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        self.faults = list(faults)
        super().__init__("; ".join(str(f) for f in self.faults) or "invalid document")


def json_path(location: Iterable[int | str]) -> str:
    """Render a location tuple as a JSON path (`("lines", 0, "sku")` -> `$.lines[0].sku`)."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def faults_from_validation_error(error: ValidationError, prefix: Iterable[int | str] = ()) -> list[Fault]:
    """Turn pydantic's errors into faults with JSON paths and the reason without pydantic's jargon."""
    faults = []
    for item in error.errors(include_url=False):
        reason = item["msg"]
        for noise in _PYDANTIC_PREFIXES:
            reason = reason.removeprefix(noise)
        location = [*prefix, *(p for p in item["loc"] if not _is_union_tag(p))]
        faults.append(Fault(json_path(location), reason))
    return faults


def _is_union_tag(part: int | str) -> bool:
    """Pydantic inserts the chosen model or type name into locations of unions; they are not paths."""
    return isinstance(part, str) and (
        part[:1].isupper() or part.startswith(("function-", "lax-", "json-", "tagged-union"))
    )
