"""The figures of a trading day, read from the hub's projections: what the live view shows while
the day runs and what the summary reports at closing."""

from __future__ import annotations

from dataclasses import dataclass, field

from retailhub.bootstrap import Hub
from retailhub.flows.order_to_cash.status import SYSTEMS, TABLE
from retailhub.flows.promotions.store import AccuracySummary, promotion_accuracy_summary
from retailhub.flows.returns.status import RETURNS_TABLE, create_status_tables
from retailhub.flows.returns.status import SYSTEMS_TABLE as RETURN_SYSTEMS_TABLE


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


@dataclass(frozen=True)
class ReturnFigures:
    """Returns by how they ended, and the loyalty points they took back."""

    by_state: dict[str, int] = field(default_factory=dict)
    points_reversed: int = 0

    def count(self, state: str) -> int:
        """Returns in one state."""
        return self.by_state.get(state, 0)

    @property
    def settled(self) -> int:
        """Returns the hub has finished with, one way or the other."""
        return sum(
            n for state, n in self.by_state.items() if state not in ("requested", "received")
        )


async def return_figures(hub: Hub) -> ReturnFigures:
    """Returns received at the stores (requests that became them counted once) and points back."""
    async with hub.bus.transaction() as transaction:
        await create_status_tables(transaction)
        states = await transaction.fetch_all(
            f"SELECT state, COUNT(*) FROM {RETURNS_TABLE} WHERE return_id NOT IN"
            f" (SELECT request_id FROM {RETURNS_TABLE} WHERE request_id IS NOT NULL)"
            " GROUP BY state"
        )
        points = await transaction.fetch_all(
            f"SELECT COALESCE(SUM(ABS(points)), 0) FROM {RETURN_SYSTEMS_TABLE}"
            " WHERE system = 'loyalty' AND outcome = 'done'"
        )
    return ReturnFigures({state: int(n) for state, n in states}, int(points[0][0]))


async def promotion_accuracy(hub: Hub) -> AccuracySummary:
    """How faithfully Shopify, the POS feed and loyalty hold the live promotions."""
    async with hub.bus.transaction() as transaction:
        return await promotion_accuracy_summary(transaction)
