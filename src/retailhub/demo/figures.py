"""The figures of a trading day, read from the hub's projections: what the live view shows while
the day runs and what the summary reports at closing."""

from __future__ import annotations

from dataclasses import dataclass, field

from retailhub.bootstrap import Hub
from retailhub.flows.order_to_cash.status import SYSTEMS, TABLE


@dataclass(frozen=True)
class OrderFigures:
    """Where the day's orders stand in each system, and the loyalty points they earned."""

    done: dict[str, int] = field(default_factory=dict)
    points_issued: int = 0
    points_reversed: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def fully_posted(self) -> int:
        """Orders every system holds: the smallest count of the four."""
        return min((self.done.get(system, 0) for system in SYSTEMS), default=0)


async def order_figures(hub: Hub) -> OrderFigures:
    """Settled outcomes per system, points moved and what the bus still holds for order-to-cash."""
    async with hub.bus.transaction() as transaction:
        rows = await transaction.fetch_all(
            f"SELECT system, outcome, COUNT(*), COALESCE(SUM(points), 0) FROM {TABLE}"
            " GROUP BY system, outcome"
        )
    done: dict[str, int] = {}
    issued = reversed_points = 0
    for system, outcome, count, points in rows:
        if outcome in ("done", "skipped", "reversed", "attention"):
            done[system] = done.get(system, 0) + int(count)
        if system == "loyalty" and outcome == "done":
            issued += int(points)
        if system == "loyalty" and outcome == "reversed":
            reversed_points += int(points)
    retrying = dead = 0
    for name in hub.subscriptions:
        if name.startswith("o2c."):
            status = await hub.bus.status(name)
            retrying += status.retrying + status.parked
            dead += status.dead
    return OrderFigures(done, issued, reversed_points, retrying, dead)
