"""The replay window: a delivery stamped too far from now is refused, so a captured request
cannot be sent again later (within the window, the inbox refuses the copy)."""

from __future__ import annotations

from datetime import UTC, datetime

from retailhub.api.problems import ProblemError
from retailhub.canonical.errors import Fault


def within_window(stamped: datetime, now: datetime, window_s: float) -> bool:
    """True when `stamped` lies within `window_s` seconds of `now`, either way."""
    return abs((now - stamped).total_seconds()) <= window_s


def require_fresh(stamped: datetime | None, window_s: float, header: str) -> None:
    """Refuse (401) a delivery without a usable time stamp or outside the replay window."""
    if stamped is None:
        raise ProblemError(
            401,
            f"the {header} header is missing or not a time",
            slug="replay-window",
            faults=[Fault(f"header.{header.lower()}", "is missing or not a time")],
        )
    if stamped.tzinfo is None:
        stamped = stamped.replace(tzinfo=UTC)
    if not within_window(stamped, datetime.now(UTC), window_s):
        raise ProblemError(
            401,
            f"the delivery is stamped {stamped.isoformat()}, outside the replay window of"
            f" {window_s:.0f} s",
            slug="replay-window",
            title="Delivery outside the replay window",
            faults=[Fault(f"header.{header.lower()}", "is outside the replay window")],
        )


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 time stamp, or None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_epoch_ms(value: str | None) -> datetime | None:
    """Epoch milliseconds as a time, or None when absent or not a whole number."""
    if not value or not value.strip().isdigit():
        return None
    return datetime.fromtimestamp(int(value) / 1000, UTC)
