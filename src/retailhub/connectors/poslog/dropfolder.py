"""The POSLog drop folder: store servers export till journals into a folder the hub watches.

Contract with the POS export: write each file as `<name>.tmp` in the watched folder and rename
it to its final name (`<name>.xml`) when complete. A rename within one folder is atomic, so
the watcher never reads half a file. Only files matching `pattern` (default `*.xml`, any case)
are taken; `*.tmp` files, hidden files, other files and folders are left alone.

For each file, oldest first, the watcher maps it (`intake.poslog_intake`), publishes its
events in one bus transaction, and then moves it:

- to `processed/` when at least one transaction mapped (or the file holds only control
  transactions). If some transactions failed, their failures are written next to it in
  `processed/<name>.reason.txt`: the good sales must not wait for one bad basket, and the
  operator fixes and re-drops only the failed ones (a re-drop of the whole file is harmless).
- to `rejected/` with `<name>.reason.txt` when the file cannot be read as POSLog at all, is
  larger than `max_file_bytes`, or every transaction in it failed. Nothing is published for it.

Each line of a reason file names the transaction (sequence number, store, workstation), the
field and the reason. Crash safety: events commit before the file moves; if the process dies
in between, the next scan reads the file again and publishes the same event ids, which the
bus dedupes by (id, source), so nothing doubles. The reason file is written (tmp + rename)
before the move, for the same reason.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, tzinfo
from enum import StrEnum
from fnmatch import fnmatch
from pathlib import Path

import structlog

from retailhub.bus.port import EventBus
from retailhub.canonical.product import UnitOfMeasure
from retailhub.connectors.poslog.intake import PoslogIntake, poslog_intake, publish_intake
from retailhub.connectors.poslog.records import TransactionFailure
from retailhub.connectors.poslog.safe_xml import PoslogSyntaxError

_log = structlog.get_logger(__name__)

PROCESSED = "processed"
REJECTED = "rejected"
PARTIAL_SUFFIX = ".tmp"
REASON_SUFFIX = ".reason.txt"
MIN_POLL_INTERVAL_S = 0.01
MAX_POLL_INTERVAL_S = 60.0
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
"""A till journal larger than this is rejected unread rather than loaded into memory."""
_MAX_NAME_ATTEMPTS = 1000


class FileVerdict(StrEnum):
    """Where a dropped file went."""

    PROCESSED = "processed"
    PARTLY_PROCESSED = "partly_processed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class DroppedFile:
    """What became of one dropped file: its verdict, events published, and failures."""

    name: str
    verdict: FileVerdict
    moved_to: Path
    events_published: int
    failures: tuple[str, ...]


class PoslogDropFolder:
    """Watches one folder of POSLog files and publishes what they hold to the bus."""

    def __init__(
        self,
        folder: Path,
        bus: EventBus,
        *,
        poll_interval_s: float = 1.0,
        max_files_per_scan: int = 100,
        pattern: str = "*.xml",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        store_timezone: tzinfo = UTC,
        weight_unit: UnitOfMeasure | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.bus = bus
        self.poll_interval_s = min(max(poll_interval_s, MIN_POLL_INTERVAL_S), MAX_POLL_INTERVAL_S)
        self.max_files_per_scan = max(1, max_files_per_scan)
        self.pattern = pattern.lower()
        self.max_file_bytes = max_file_bytes
        self.store_timezone = store_timezone
        self.weight_unit = weight_unit

    def pending(self) -> list[Path]:
        """Complete files waiting in the folder, oldest first (at most one scan's worth)."""
        if not self.folder.is_dir():
            return []
        waiting: list[tuple[int, str, Path]] = []
        for entry in self.folder.iterdir():
            name = entry.name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIX):
                continue
            if not fnmatch(name.lower(), self.pattern):
                continue
            try:
                if entry.is_file():
                    waiting.append((entry.stat().st_mtime_ns, name, entry))
            except FileNotFoundError:
                continue  # taken by another watcher of the same folder meanwhile
        waiting.sort()
        return [path for _, _, path in waiting[: self.max_files_per_scan]]

    async def scan_once(self) -> list[DroppedFile]:
        """Take in every complete file present now; return what became of each."""
        taken: list[DroppedFile] = []
        for path in self.pending():
            try:
                taken.append(await self.take_in(path))
            except FileNotFoundError:
                _log.info("poslog file gone before it was taken in", file=path.name)
        return taken

    async def take_in(self, path: Path) -> DroppedFile:
        """Publish one file's events, then move it to processed/ or rejected/."""
        size = path.stat().st_size
        if size > self.max_file_bytes:
            reason = f"file: {size} bytes is more than the {self.max_file_bytes} a journal may hold"
            return self._move(path, FileVerdict.REJECTED, 0, (reason,))
        try:
            intake = await asyncio.to_thread(self._read, path)
        except PoslogSyntaxError as error:
            return self._move(path, FileVerdict.REJECTED, 0, (f"file: {error}",))
        failures = tuple(_describe(f) for f in intake.failures)
        if intake.rejected:
            return self._move(path, FileVerdict.REJECTED, 0, failures)
        await publish_intake(self.bus, intake.events)
        return self._move(path, _verdict(intake), len(intake.events), failures)

    def _read(self, path: Path) -> PoslogIntake:
        """Read and map a file (in a worker thread: a day's journal takes a while to parse)."""
        return poslog_intake(
            path.read_bytes(), store_timezone=self.store_timezone, weight_unit=self.weight_unit
        )

    async def run(self, stop: asyncio.Event, *, max_scans: int | None = None) -> int:
        """Scan every poll interval until `stop` is set (or `max_scans` scans); return files taken."""
        taken = 0
        scans = 0
        while not stop.is_set() and (max_scans is None or scans < max_scans):
            scans += 1
            try:
                taken += len(await self.scan_once())
            except OSError as error:
                _log.warning(
                    "poslog drop folder scan failed", folder=str(self.folder), error=str(error)
                )
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_interval_s)
            except TimeoutError:
                continue
        return taken

    def _move(
        self, path: Path, verdict: FileVerdict, published: int, failures: tuple[str, ...]
    ) -> DroppedFile:
        target_dir = self.folder / (REJECTED if verdict is FileVerdict.REJECTED else PROCESSED)
        target_dir.mkdir(exist_ok=True)
        target = _free_name(target_dir, path.name)
        if failures:
            _write_atomically(target_dir / f"{target.name}{REASON_SUFFIX}", _reason_text(failures))
        os.replace(path, target)
        _log.info(
            "poslog file taken in",
            file=path.name,
            verdict=verdict.value,
            events=published,
            failures=len(failures),
        )
        return DroppedFile(path.name, verdict, target, published, failures)


def _verdict(intake: PoslogIntake) -> FileVerdict:
    return FileVerdict.PARTLY_PROCESSED if intake.failures else FileVerdict.PROCESSED


def _describe(failure: TransactionFailure) -> str:
    return (
        f"sequence {failure.sequence or '?'} (store {failure.store or '?'}, workstation "
        f"{failure.workstation or '?'}): field {failure.field}: {failure.reason}"
    )


def _reason_text(failures: tuple[str, ...]) -> str:
    return "".join(f"{line}\n" for line in failures)


def _free_name(folder: Path, name: str) -> Path:
    """`name` in `folder`, or `name.1`, `name.2`, ... when a file of that name was taken before."""
    candidate = folder / name
    for attempt in range(1, _MAX_NAME_ATTEMPTS + 1):
        if not candidate.exists():
            return candidate
        candidate = folder / f"{name}.{attempt}"
    raise OSError(f"{folder} holds {_MAX_NAME_ATTEMPTS} files named {name}; clear it out")


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
