"""A saga killed with SIGKILL in the middle of a step completes after restart, each effect once.

The first process blocks in the second step and is killed; the second launches DBOS on the same
SQLite file, which recovers the pending saga at launch: the first step is replayed from its
checkpoint (not applied again), the second and third run once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

HERE = Path(__file__).parent
LIMIT_SECONDS = 30.0


def start(*arguments: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "kill_saga.py"), *map(str, arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def effects(database: Path) -> Counter[str]:
    if not database.exists():
        return Counter()
    with closing(sqlite3.connect(database)) as connection:
        return Counter(step for (step,) in connection.execute("SELECT step FROM effect"))


def test_a_killed_saga_completes_after_restart_with_each_effect_once(tmp_path: Path) -> None:
    home, database, started = tmp_path / "home", tmp_path / "effects.sqlite", tmp_path / "started"

    blocked = start("block", home, database, started)
    deadline = time.monotonic() + LIMIT_SECONDS
    while not started.exists():
        if blocked.poll() is not None or time.monotonic() > deadline:
            blocked.kill()
            pytest.fail(f"the saga never reached its second step:\n{blocked.communicate()[1]}")
        time.sleep(0.02)
    blocked.kill()
    blocked.wait(timeout=LIMIT_SECONDS)
    assert effects(database) == Counter({"erp_credit_note": 1})

    resumed = start("resume", home, database, started)
    try:
        out, err = resumed.communicate(timeout=LIMIT_SECONDS * 2)
    except subprocess.TimeoutExpired:
        resumed.kill()
        pytest.fail("the restarted process did not finish the saga")
    assert resumed.returncode == 0, err
    assert out.strip() == "completed True"
    assert effects(database) == Counter(
        {"erp_credit_note": 1, "loyalty_reversal": 1, "crm_ticket": 1}
    )
