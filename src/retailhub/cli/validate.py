"""`retailhub validate`: check files against the canonical model or the event contract."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from retailhub.canonical.catalogue import validate_event
from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.canonical.kinds import DOCUMENT_KINDS, load_json, parse_document

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def _faults_of(kind: str, value: Any) -> list[Fault]:
    """Every fault of one document of `kind` (`event` or a canonical kind)."""
    try:
        if kind == "event":
            validate_event(value)
        else:
            parse_document(kind, value)
    except InvalidDocument as error:
        return error.faults
    return []


def faults_in_text(kind: str, text: bytes) -> list[Fault]:
    """Faults of a file's content: one document, or a JSON array of them (paths then start `$[i]`)."""
    try:
        value = load_json(text)
    except InvalidDocument as error:
        return error.faults
    if not isinstance(value, list):
        return _faults_of(kind, value)
    faults = []
    for i, item in enumerate(value):
        for fault in _faults_of(kind, item):
            faults.append(Fault(f"$[{i}]{fault.path[1:]}", fault.reason))
    return faults


def validate(
    kind: str = typer.Argument(
        ...,
        help=f"`event` (a CloudEvent) or a canonical kind: {', '.join(DOCUMENT_KINDS)}.",
        metavar="KIND",
    ),
    files: list[Path] = typer.Argument(
        ..., help="JSON files (one document or an array of them); `-` reads standard input."
    ),
) -> None:
    """Validate documents and print each fault with its JSON path.

    Exit 0 when every file is valid, 1 when any is invalid (malformed JSON included), 2 when a file
    cannot be read or KIND is unknown.
    """
    if kind != "event" and kind not in DOCUMENT_KINDS:
        typer.echo(
            f"error: unknown kind {kind!r}; use `event` or one of: {', '.join(DOCUMENT_KINDS)}",
            err=True,
        )
        raise typer.Exit(EXIT_UNREADABLE)
    unreadable = invalid = 0
    for path in files:
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            text = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        except OSError as error:
            typer.echo(f"{name}: cannot read: {error.strerror or error}", err=True)
            unreadable += 1
            continue
        faults = faults_in_text(kind, text)
        if faults:
            invalid += 1
            typer.echo(f"{name}: invalid {kind} ({len(faults)} fault{'s' * (len(faults) > 1)})")
            for fault in faults:
                typer.echo(f"  {fault.path}: {fault.reason}")
        else:
            typer.echo(f"{name}: valid {kind}")
    if unreadable:
        raise typer.Exit(EXIT_UNREADABLE)
    if invalid:
        raise typer.Exit(EXIT_INVALID)
