"""Sandbox test helpers: the seed estate built once, and a running echo emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from retailhub.sandbox.seed import Estate, build_estate

from .echo import EchoEmulator

YEAR = 2026


@pytest.fixture(scope="session")
def estate() -> Estate:
    """The default estate, built once for the whole session (it is immutable)."""
    return build_estate(42, year=YEAR)


@pytest.fixture
async def echo(tmp_path: Path) -> AsyncIterator[EchoEmulator]:
    """A running echo emulator on a free loopback port."""
    emulator = EchoEmulator(tmp_path)
    await emulator.start()
    yield emulator
    await emulator.stop()
