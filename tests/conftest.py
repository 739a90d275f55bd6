"""Shared test helpers: where the shipped samples and the vendors' real payloads live."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "src" / "retailhub" / "samples"


@pytest.fixture
def samples() -> Path:
    """The canonical sample documents shipped with retailhub."""
    return SAMPLES
