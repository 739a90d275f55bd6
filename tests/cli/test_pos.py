"""`retailhub pos watch` takes till journals from a drop folder onto the embedded bus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
JOURNAL = ROOT / "src" / "retailhub" / "samples" / "poslog" / "ncr-acs-51tx.xml"


def retailhub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RETAILHUB_HOME": str(home), "RETAILHUB_BUS": "sqlite"}
    env.pop("RETAILHUB_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "retailhub.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_dropped_journal_is_published_once_and_moved(tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    drop.mkdir()
    shutil.copy(JOURNAL, drop / "store9.xml")
    shutil.copy(JOURNAL, drop / "store9-half-written.tmp")
    first = retailhub(home, "pos", "watch", str(drop), "--once")
    assert first.returncode == 0, first.stderr
    assert "took in 1 journal file(s)" in first.stderr
    assert (drop / "processed" / "store9.xml").exists()
    assert (drop / "store9-half-written.tmp").exists()
    log = retailhub(home, "events", "tail", "--limit", "1000").stdout.splitlines()
    assert len(log) == 42
    assert {orjson.loads(line)["event"]["type"] for line in log} == {"retail.order.created.v1"}
    shutil.copy(JOURNAL, drop / "store9-again.xml")
    again = retailhub(home, "pos", "watch", str(drop), "--once")
    assert again.returncode == 0, again.stderr
    assert len(retailhub(home, "events", "tail", "--limit", "1000").stdout.splitlines()) == 42


def test_watching_something_that_is_not_a_folder_exits_two(tmp_path: Path) -> None:
    result = retailhub(tmp_path, "pos", "watch", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "is not a folder" in result.stderr
