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


Location = tuple[int | str, ...]


class InvariantViolation(ValueError):
    """Raised by a document's cross-field check; each fault keeps the location of the field at fault."""

    def __init__(self, faults: Sequence[tuple[Location, str]]) -> None:
        self.faults = list(faults)
        super().__init__("; ".join(f"{json_path(loc)}: {reason}" for loc, reason in self.faults))


class Problems:
    """Collects every invariant fault of a document so the caller sees all of them at once."""

    def __init__(self) -> None:
        self.faults: list[tuple[Location, str]] = []

    def add(self, location: Location, reason: str) -> None:
        """Record that the field at `location` breaks a rule, and why."""
        self.faults.append((location, reason))

    def raise_if_any(self) -> None:
        """Raise InvariantViolation when anything was recorded."""
        if self.faults:
            raise InvariantViolation(self.faults)


def faults_from_validation_error(
    error: ValidationError, prefix: Iterable[int | str] = ()
) -> list[Fault]:
    """Turn pydantic's errors into faults with JSON paths and the reason without pydantic's jargon."""
    faults: list[Fault] = []
    for item in error.errors(include_url=False):
        location = [*prefix, *_path_parts(item["loc"])]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, InvariantViolation):
            faults.extend(Fault(json_path([*location, *loc]), why) for loc, why in cause.faults)
            continue
        reason = item["msg"]
        for noise in _PYDANTIC_PREFIXES:
            reason = reason.removeprefix(noise)
        faults.append(Fault(json_path(location), reason))
    return faults


def _path_parts(loc: tuple[int | str, ...]) -> list[int | str]:
    """The path in a pydantic location: union tags dropped, and a refused dict key named by the key
    itself rather than by the `[key]` marker pydantic puts after it."""
    return [
        part
        for i, part in enumerate(loc)
        if part != "[key]" and (loc[i + 1 : i + 2] == ("[key]",) or not _is_union_tag(part))
    ]


def _is_union_tag(part: int | str) -> bool:
    """Pydantic inserts validator and union markers into locations; they are not paths."""
    return isinstance(part, str) and part.startswith(("function-", "lax-", "json-", "tagged-union"))
