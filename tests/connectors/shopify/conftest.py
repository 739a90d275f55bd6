"""Shopify's own sample payloads, as shipped in retailhub.samples.shopify."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

SHOPIFY_SAMPLES = Path(__file__).resolve().parents[3] / "src" / "retailhub" / "samples" / "shopify"

Sample = Callable[[str], dict[str, Any]]


@pytest.fixture
def shopify() -> Sample:
    """Load a sample's resource unwrapped (`shopify("order")` is the order), parsed afresh each time."""

    def load(name: str) -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads((SHOPIFY_SAMPLES / f"{name}.json").read_bytes())
        return document[name]  # type: ignore[no-any-return]

    return load
