"""POS feed and intake fixtures: the estate built once, a seeded store server on loopback,
and an embedded SQLite bus in a temporary folder."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from retailhub.bus.sqlite import SqliteBus
from retailhub.sandbox.poslog import PoslogEmulator
from retailhub.sandbox.seed import Estate, build_estate

YEAR = 2026


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The default estate, built once for the whole session (it is immutable)."""
    return build_estate(42, year=YEAR)


@pytest.fixture(scope="session")
def seeded_state(tmp_path_factory: pytest.TempPathFactory, estate: Estate) -> Path:
    """A store server state seeded once; each test starts from its own copy."""
    folder = tmp_path_factory.mktemp("seeded-poslog")
    emulator = PoslogEmulator(folder)
    emulator.load(estate)
    emulator.close_state()
    return emulator.state_path


@pytest.fixture
async def store_server(
    tmp_path: Path, seeded_state: Path, estate: Estate
) -> AsyncIterator[PoslogEmulator]:
    """The head-office store server, seeded from the estate, on a free loopback port."""
    folder = tmp_path / "sandbox"
    folder.mkdir()
    shutil.copyfile(seeded_state, folder / seeded_state.name)
    emulator = PoslogEmulator(folder)
    emulator.load(estate)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[SqliteBus]:
    """The embedded bus in its own file."""
    async with SqliteBus(tmp_path / "bus.sqlite3") as opened:
        yield opened
