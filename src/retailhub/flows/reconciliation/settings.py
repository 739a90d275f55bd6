"""Reconciliation settings: the stores' time zone, the web shop's location, the schedule, and
the keys the returns flow writes its credit notes and loyalty returns under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo


def return_id_key(return_id: str) -> str:
    """The key a return's credit note and loyalty registration are written under: its id."""
    return return_id


@dataclass(frozen=True)
class ReconciliationSettings:
    """How reconciliation reads the estate's days and when it runs by itself."""

    timezone: str = "Europe/Amsterdam"
    """The stores' time zone: a document's business day is its local date there (as the ERP's)."""
    web_location: str = "WEB"
    """The location web orders are booked at when they name none (the ERP's default store)."""
    schedule: str = "30 3 * * *"
    """Cron (in `timezone`) of the daily run, which reconciles the day before."""
    schedule_name: str = "retailhub-reconciliation-daily"
    repair_on_schedule: bool = False
    """Re-drive what the scheduled run finds (the on-demand run repairs when asked)."""
    cent_per_discounted_line: bool = True
    """Allow one minor unit per discounted line between the hub's and the ERP's amount: an ERP
    keeping a discount as a percentage of two decimals (Odoo) may land a cent away. Every other
    amount compares exactly, currency included."""
    credit_note_key: Callable[[str], str] = field(default=return_id_key)
    """The key the returns flow posts a return's credit note under, from the return id."""
    loyalty_return_key: Callable[[str], str] = field(default=return_id_key)
    """The key the returns flow registers a return with the loyalty platform under."""

    @property
    def zone(self) -> ZoneInfo:
        """The stores' time zone."""
        return ZoneInfo(self.timezone)
