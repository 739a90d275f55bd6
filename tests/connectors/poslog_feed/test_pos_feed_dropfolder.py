"""The POSLog drop folder end to end over the real bus: atomic hand-over, processed and
rejected files with their reasons, and a crash between publish and move that doubles nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from pos_feed_journals import journal, sale, sale_without_price, sign_on

from retailhub.bus.sqlite import SqliteBus
from retailhub.connectors.poslog.dropfolder import FileVerdict, PoslogDropFolder
from retailhub.sandbox.poslog import TillSimulator
from retailhub.sandbox.poslog.tills import write_to_drop_folder
from retailhub.sandbox.seed import Estate

DAY = date(2026, 11, 27)


class CrashBeforeMove(Exception):
    """Stands for the process dying after the events committed and before the file moved."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The watched folder, apart from the bus's own files."""
    return tmp_path / "drop"


async def logged(bus: SqliteBus) -> int:
    return len(await bus.tail(after=0, limit=10_000))


async def test_a_till_journal_is_published_and_moved_to_processed(
    folder: Path, bus: SqliteBus, estate: Estate
) -> None:
    run = TillSimulator(estate, seed=1).run("AMS01", 25, DAY)
    write_to_drop_folder(folder, "journal-1.xml", run.poslog)
    watcher = PoslogDropFolder(folder, bus)

    (outcome,) = await watcher.scan_once()

    assert outcome.verdict is FileVerdict.PROCESSED
    assert outcome.events_published == len(run.documents) == await logged(bus)
    assert (folder / "processed" / "journal-1.xml").read_bytes() == run.poslog
    assert not (folder / "journal-1.xml").exists()
    assert not list((folder / "processed").glob("*.reason.txt"))


async def test_files_still_being_written_are_left_alone(folder: Path, bus: SqliteBus) -> None:
    folder.mkdir()
    (folder / "journal-2.xml.tmp").write_bytes(journal(sale(2))[:40])
    (folder / "notes.txt").write_text("not a journal")
    (folder / ".hidden.xml").write_bytes(b"")

    assert await PoslogDropFolder(folder, bus).scan_once() == []
    assert (folder / "journal-2.xml.tmp").exists()
    assert await logged(bus) == 0


async def test_a_partly_bad_file_is_processed_with_its_failures_beside_it(
    folder: Path, bus: SqliteBus
) -> None:
    write_to_drop_folder(folder, "mixed.xml", journal(sign_on(1), sale(2), sale_without_price(3)))

    (outcome,) = await PoslogDropFolder(folder, bus).scan_once()

    assert outcome.verdict is FileVerdict.PARTLY_PROCESSED
    assert await logged(bus) == 1
    reason = (folder / "processed" / "mixed.xml.reason.txt").read_text()
    assert reason.startswith("sequence 3 (store AMS01, workstation 1): field ")
    assert "LineItem[1]/Sale/RegularSalesUnitPrice" in reason


async def test_unreadable_and_wholly_bad_files_are_rejected_with_a_reason(
    folder: Path, bus: SqliteBus
) -> None:
    write_to_drop_folder(folder, "broken.xml", b"<POSLog><Transaction>")
    write_to_drop_folder(folder, "all-bad.xml", journal(sale_without_price(4)))

    outcomes = await PoslogDropFolder(folder, bus).scan_once()

    assert {o.verdict for o in outcomes} == {FileVerdict.REJECTED}
    assert await logged(bus) == 0
    rejected = folder / "rejected"
    assert "malformed POSLog XML" in (rejected / "broken.xml.reason.txt").read_text()
    assert "sequence 4" in (rejected / "all-bad.xml.reason.txt").read_text()
    assert (rejected / "all-bad.xml").exists()


async def test_a_crash_between_publish_and_move_doubles_nothing(
    folder: Path, bus: SqliteBus, estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = TillSimulator(estate, seed=2).run("RTM02", 30, DAY)
    write_to_drop_folder(folder, "journal-3.xml", run.poslog)

    def die(*args: object) -> None:
        raise CrashBeforeMove

    with monkeypatch.context() as patched:
        patched.setattr(PoslogDropFolder, "_move", die)
        with pytest.raises(CrashBeforeMove):
            await PoslogDropFolder(folder, bus).scan_once()
    assert await logged(bus) == len(run.documents)

    (outcome,) = await PoslogDropFolder(folder, bus).scan_once()

    assert outcome.verdict is FileVerdict.PROCESSED
    assert await logged(bus) == len(run.documents)


async def test_the_same_name_dropped_twice_keeps_both_files(folder: Path, bus: SqliteBus) -> None:
    watcher = PoslogDropFolder(folder, bus)
    write_to_drop_folder(folder, "daily.xml", journal(sale(2)))
    await watcher.scan_once()
    write_to_drop_folder(folder, "daily.xml", journal(sale(2), sale(3)))
    await watcher.scan_once()

    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["daily.xml", "daily.xml.1"]
    assert await logged(bus) == 2


async def test_the_watcher_polls_until_stopped(folder: Path, bus: SqliteBus) -> None:
    watcher = PoslogDropFolder(folder, bus, poll_interval_s=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(watcher.run(stop, max_scans=500))
    write_to_drop_folder(folder, "late.xml", journal(sale(7)))
    for _ in range(500):
        if (folder / "processed" / "late.xml").exists():
            break
        await asyncio.sleep(0.01)
    stop.set()

    assert await asyncio.wait_for(running, timeout=5) == 1
    assert await logged(bus) == 1


async def test_the_watcher_stops_after_its_scan_budget(folder: Path, bus: SqliteBus) -> None:
    watcher = PoslogDropFolder(folder / "not-yet-created", bus, poll_interval_s=0.01)

    assert await asyncio.wait_for(watcher.run(asyncio.Event(), max_scans=3), timeout=5) == 0


async def test_an_oversized_file_is_rejected_unread(folder: Path, bus: SqliteBus) -> None:
    write_to_drop_folder(folder, "huge.xml", journal(sale(2), sale(3)))

    (outcome,) = await PoslogDropFolder(folder, bus, max_file_bytes=100).scan_once()

    assert outcome.verdict is FileVerdict.REJECTED
    assert "more than the 100" in (folder / "rejected" / "huge.xml.reason.txt").read_text()
    assert await logged(bus) == 0
