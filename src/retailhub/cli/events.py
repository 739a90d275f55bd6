"""`retailhub events`, `retailhub dlq` and `retailhub replay`: operate the event bus by hand."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from retailhub.bootstrap import build_bus
from retailhub.bus.port import (
    BusError,
    EventBus,
    HeldEvent,
    LoggedEvent,
    Move,
    Selection,
)
from retailhub.canonical.catalogue import validate_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.config import ConfigError, load_settings

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
PUBLISH_BATCH = 1000

events_app = typer.Typer(help="Publish events to the bus and read its log.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: list, show, retry or skip them (one, all of a key, or by filter).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _with_bus(work: Callable[[EventBus], Awaitable[T]]) -> T:
    """Open the configured bus, run `work` on it, close it; bus and config errors exit cleanly."""

    async def run() -> T:
        async with build_bus(load_settings()) as bus:
            return await work(bus)

    try:
        return asyncio.run(run())
    except ConfigError as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except BusError as error:
        raise _fail(str(error)) from None


def _documents(raw: bytes) -> Iterator[tuple[str, Any]]:
    """The JSON values in a file: one object, a JSON array, or JSON lines; labelled for faults."""
    text = raw.strip()
    if not text:
        return
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield f"line {number}", orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    yield (
                        f"line {number}",
                        InvalidDocument([Fault("$", f"malformed JSON: {error}")]),
                    )
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield f"event {index}", item
    else:
        yield "event 0", value


def read_events(raw: bytes) -> tuple[list[CloudEvent], list[str]]:
    """Validate every event in a file; returns the events and a line per fault."""
    valid: list[CloudEvent] = []
    faults: list[str] = []
    for label, value in _documents(raw):
        try:
            if isinstance(value, InvalidDocument):
                raise value
            event, _payload = validate_event(value)
        except InvalidDocument as error:
            faults.extend(f"{label}: {fault}" for fault in error.faults)
        else:
            valid.append(event)
    return valid, faults


@events_app.command("publish")
def publish(
    file: Path = typer.Argument(..., help="One CloudEvent, a JSON array or JSON lines; `-`."),
) -> None:
    """Validate and publish events. All or nothing: if any event is invalid, none is published
    and each fault is printed with its JSON path (exit 1); an unreadable file exits 2."""
    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as error:
        raise _fail(f"cannot read {file}: {error.strerror or error}", EXIT_BAD_INPUT) from None
    events, faults = read_events(raw)
    if faults:
        for fault in faults:
            errors.print(f"invalid: {fault}", highlight=False)
        raise _fail(f"{len(faults)} fault(s): nothing was published")
    if not events:
        raise _fail("the file holds no events", EXIT_BAD_INPUT)

    async def work(bus: EventBus) -> list[int]:
        positions: list[int] = []
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("publishing", total=len(events))
            async with bus.transaction() as transaction:
                for start in range(0, len(events), PUBLISH_BATCH):
                    batch = events[start : start + PUBLISH_BATCH]
                    positions += await bus.publish(batch, transaction=transaction)
                    progress.advance(task, len(batch))
        return positions

    positions = _with_bus(work)
    console.print(
        f"published {len(positions)} event(s) at positions {positions[0]}..{positions[-1]}"
    )


def _logged_line(logged: LoggedEvent) -> bytes:
    """One log entry as a JSON line: position, recording time and the event."""
    entry = {
        "position": logged.position,
        "recorded_at": logged.recorded_at.isoformat(),
        "event": logged.event.to_dict(),
    }
    return orjson.dumps(entry) + b"\n"


@events_app.command("tail")
def tail(
    type_: list[str] = typer.Option([], "--type", help="Type or pattern (`retail.order.*`)."),
    key: str | None = typer.Option(None, "--key", help="Only this ordering key."),
    after: int = typer.Option(0, "--after", min=0, help="Start after this log position."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
) -> None:
    """Print the log as JSON lines (position, recorded_at, event), oldest first."""

    async def work(bus: EventBus) -> None:
        cursor = after
        while True:
            entries = await bus.tail(after=cursor, types=type_, key=key, limit=limit)
            for logged in entries:
                sys.stdout.buffer.write(_logged_line(logged))
                cursor = logged.position
            sys.stdout.buffer.flush()
            if not follow:
                return
            if not entries:
                await asyncio.sleep(0.5)

    try:
        _with_bus(work)
    except KeyboardInterrupt:
        return


def _selection(
    subscription: str | None,
    position: int | None,
    type_: str | None,
    key: str | None,
    everything: bool,
) -> Selection:
    """The dead letters an operation applies to; refuses a bulk move nobody asked for."""
    if position is not None and subscription is None:
        raise _fail("--position needs --subscription", EXIT_BAD_INPUT)
    if not (subscription or type_ or key or everything):
        raise _fail(
            "say which dead letters: --subscription, --type, --key (with --position for one), or"
            " --all",
            EXIT_BAD_INPUT,
        )
    return Selection(subscription=subscription, position=position, type=type_, key=key)


def _held_table(held: list[HeldEvent], title: str) -> Table:
    """Dead letters or parked events as a table an operator can scan."""
    table = Table(
        "subscription", "position", "state", "type", "key", "attempts", "error", title=title
    )
    for item in held:
        table.add_row(
            item.subscription,
            str(item.position),
            item.state.value,
            item.event.type,
            item.key or "",
            str(len(item.attempts)),
            (item.error or "")[:80],
        )
    return table


def _print_move(move: Move, verb: str) -> None:
    """What a retry or skip moved, or would move on a dry run."""
    tense = f"would {verb}" if move.dry_run else {"retry": "retried", "skip": "skipped"}[verb]
    console.print(_held_table(list(move.events), f"{len(move.events)} dead letter(s) {tense}"))
    if move.parked_behind:
        console.print(f"{move.parked_behind} parked event(s) wait behind them and follow in order")


SubscriptionOption = typer.Option(None, "--subscription", "-s", help="One subscription.")
PositionOption = typer.Option(None, "--position", "-p", min=1, help="One event (needs -s).")
TypeOption = typer.Option(None, "--type", help="Type or pattern (`retail.order.*`).")
KeyOption = typer.Option(None, "--key", help="All dead letters of this ordering key.")
AllOption = typer.Option(False, "--all", help="Every dead letter (bulk).")
DryRunOption = typer.Option(False, "--dry-run", help="Show what would move; change nothing.")


@dlq_app.command("list")
def dlq_list(
    subscription: str | None = SubscriptionOption,
    type_: str | None = TypeOption,
    key: str | None = KeyOption,
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List dead letters, oldest first."""
    selection = Selection(subscription=subscription, type=type_, key=key)
    held = _with_bus(lambda bus: bus.dead_letters(selection))
    if as_json:
        for item in held:
            sys.stdout.buffer.write(orjson.dumps(_held_json(item)) + b"\n")
        return
    console.print(_held_table(held, f"{len(held)} dead letter(s)"))


def _held_json(item: HeldEvent) -> dict[str, Any]:
    """A held event with its payload, error, stack summary and every attempt."""
    return {
        "subscription": item.subscription,
        "position": item.position,
        "state": item.state.value,
        "key": item.key,
        "error": item.error,
        "stack": item.stack,
        "attempts": [
            {"at": a.at.isoformat(), "outcome": a.outcome.value, "error": a.error}
            for a in item.attempts
        ],
        "event": item.event.to_dict(),
    }


@dlq_app.command("show")
def dlq_show(
    subscription: str = typer.Argument(..., help="The subscription that gave up on the event."),
    position: int = typer.Argument(..., min=1, help="The event's log position."),
) -> None:
    """Show one dead letter: payload, error, stack summary and every attempt, as JSON."""
    item = _with_bus(lambda bus: bus.dead_letter(subscription, position))
    sys.stdout.buffer.write(orjson.dumps(_held_json(item), option=orjson.OPT_INDENT_2) + b"\n")


@dlq_app.command("retry")
def dlq_retry(
    subscription: str | None = SubscriptionOption,
    position: int | None = PositionOption,
    type_: str | None = TypeOption,
    key: str | None = KeyOption,
    everything: bool = AllOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Put dead letters back in line with a fresh attempt budget (after fixing the cause)."""
    selection = _selection(subscription, position, type_, key, everything)
    move = _with_bus(lambda bus: bus.retry(selection, dry_run=dry_run))
    _print_move(move, "retry")


@dlq_app.command("skip")
def dlq_skip(
    subscription: str | None = SubscriptionOption,
    position: int | None = PositionOption,
    type_: str | None = TypeOption,
    key: str | None = KeyOption,
    everything: bool = AllOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Give up on dead letters (recorded as skipped) and release the events parked behind them."""
    selection = _selection(subscription, position, type_, key, everything)
    move = _with_bus(lambda bus: bus.skip(selection, dry_run=dry_run))
    _print_move(move, "skip")


def parse_start(text: str) -> tuple[int | None, datetime | None]:
    """`--from` as a log position (a number) or a time (ISO 8601; UTC when no offset)."""
    if text.isdigit():
        return int(text), None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"--from {text!r} is neither a log position nor a time such as 2026-11-27T10:00:00Z",
            EXIT_BAD_INPUT,
        ) from None
    return None, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def replay(
    subscription: str = typer.Option(..., "--subscription", "-s", help="Replay into this one."),
    start: str = typer.Option(
        ..., "--from", help="A log position, or a time (ISO 8601) to replay from."
    ),
    type_: list[str] = typer.Option([], "--type", help="Only these types or patterns."),
    key: str | None = typer.Option(None, "--key", help="Only this ordering key."),
    dry_run: bool = DryRunOption,
) -> None:
    """Deliver already-handled events to a subscription again (after fixing a handler).

    Unknown subscriptions and starts outside the retained log are refused (exit 1)."""
    from_position, since = parse_start(start)
    plan = _with_bus(
        lambda bus: bus.replay(
            subscription,
            from_position=from_position,
            since=since,
            types=type_,
            key=key,
            dry_run=dry_run,
        )
    )
    verb = "would replay" if plan.dry_run else "replaying"
    span = f" (positions {plan.positions[0]}..{plan.positions[-1]})" if plan.positions else ""
    console.print(f"{verb} {len(plan.positions)} event(s) into {plan.subscription}{span}")
