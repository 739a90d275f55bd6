"""A saga killed with SIGKILL in the middle of a step completes after restart, each effect once.

The first process blocks — in the saga's second step, or in the compensation of that step
after the third was refused — and is killed; the second launches DBOS on the same SQLite file,
which recovers the pending saga at launch: what was checkpointed is replayed (not applied
again), the rest runs once, and the alert of a compensated saga is raised once.
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


@pytest.mark.parametrize(
    ("scenario", "before_kill", "outcome", "after_restart"),
    [
        (
            "forward",
            {"erp_credit_note": 1},
            "completed",
            {"erp_credit_note": 1, "loyalty_reversal": 1, "crm_ticket": 1},
        ),
        (
            "compensation",
            {"erp_credit_note": 1, "loyalty_reversal": 1},
            "compensated",
            {
                "erp_credit_note": 1,
                "loyalty_reversal": 1,
                "undo loyalty_reversal": 1,
                "undo erp_credit_note": 1,
                "alert compensated": 1,
            },
        ),
    ],
)
def test_a_killed_saga_finishes_after_restart_with_each_effect_once(
    tmp_path: Path,
    scenario: str,
    before_kill: dict[str, int],
    outcome: str,
    after_restart: dict[str, int],
) -> None:
    home, database, started = tmp_path / "home", tmp_path / "effects.sqlite", tmp_path / "started"

    blocked = start("block", scenario, home, database, started)
    deadline = time.monotonic() + LIMIT_SECONDS
    while not started.exists():
        if blocked.poll() is not None or time.monotonic() > deadline:
            blocked.kill()
            pytest.fail(f"the saga never reached the held step:\n{blocked.communicate()[1]}")
        time.sleep(0.02)
    blocked.kill()
    blocked.wait(timeout=LIMIT_SECONDS)
    assert effects(database) == Counter(before_kill)

    resumed = start("resume", scenario, home, database, started)
    try:
        out, err = resumed.communicate(timeout=LIMIT_SECONDS * 2)
    except subprocess.TimeoutExpired:
        resumed.kill()
        pytest.fail("the restarted process did not finish the saga")
    assert resumed.returncode == 0, err
    assert out.splitlines()[-1] == f"{outcome} True"
    assert effects(database) == Counter(after_restart)
