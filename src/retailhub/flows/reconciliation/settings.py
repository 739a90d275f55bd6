"""Reconciliation settings: the stores' time zone, the web shop's location, the schedule, and
the keys the returns flow writes its credit notes and loyalty returns under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from retailhub.flows.sagas.runtime import workflow_id

RETURNS_SAGA = "return_to_refund"
"""The return-to-refund saga (`flows/returns/refund.py`): one workflow per return id, whose
steps write under `<saga>:<return id>:<purpose>` (`steps.key(purpose)`)."""


def returns_saga_key(return_id: str, purpose: str) -> str:
    """The key the return-to-refund saga writes one step of a return under."""
    return f"{workflow_id(RETURNS_SAGA, return_id)}:{purpose}"


def saga_credit_note_key(return_id: str) -> str:
    """The key the returns saga posts a return's credit note under (`<saga>:<id>:erp`)."""
    return returns_saga_key(return_id, "erp")


def saga_loyalty_key(return_id: str) -> str:
    """The key the returns saga registers a return with the loyalty platform under."""
    return returns_saga_key(return_id, "loyalty")


def return_of_saga_credit_note(key: str) -> str | None:
    """The return id a credit note key of the returns saga names, or None for another key."""
    prefix, suffix = f"{RETURNS_SAGA}:", ":erp"
    if key.startswith(prefix) and key.endswith(suffix) and len(key) > len(prefix + suffix):
        return key[len(prefix) : -len(suffix)]
    return None


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
    credit_note_key: Callable[[str], str] = field(default=saga_credit_note_key)
    """The key the returns flow posts a return's credit note under, from the return id."""
    return_of_credit_note: Callable[[str], str | None] = field(default=return_of_saga_credit_note)
    """The return id a credit note key names (the inverse of `credit_note_key`), or None."""
    loyalty_return_key: Callable[[str], str] = field(default=saga_loyalty_key)
    """The key the returns flow registers a return with the loyalty platform under."""

    @property
    def zone(self) -> ZoneInfo:
        """The stores' time zone."""
        return ZoneInfo(self.timezone)
