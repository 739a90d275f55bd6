"""The `o2c.crm` subscription: each completed order is noted on the buyer's CRM timeline.

The contact is the one the order names for the CRM system (`customer_ids[<crm name>]`), else
the contact with the order's email (kept a few minutes, so the points note that follows does not
look it up again); an order of nobody the CRM knows is `skipped: no contact`.
The CRM subscription never waits on the loyalty platform: the order note ("Order X: N lines,
total T") is written as the order arrives, so it proceeds through a loyalty outage, and the
points go on a second note when `POINTS_ACCRUED` arrives (ordered after the order on the same
key), as a reversal does when a cancellation takes them back. One note could only carry both by making the CRM wait for loyalty, or by reading the
loyalty row before calling the CRM, which holds the hub database across an HTTP call.
A cancellation of a noted order adds a cancellation note; each note is written once per key.
"""

from __future__ import annotations

from collections.abc import Mapping

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.connectors.ports import CrmPort
from retailhub.flows.order_to_cash.decisions import (
    cancel_note,
    cancel_note_key,
    is_completed,
    order_note,
    order_note_key,
    points_note,
    points_note_key,
    reversal_note,
    reversal_note_key,
)
from retailhub.flows.order_to_cash.events import (
    POINTS_EVENTS,
    POINTS_REVERSED,
    is_cancellation,
    order_of,
    points_notice_of,
)
from retailhub.flows.order_to_cash.status import Outcome, SystemStatus, amend, record, recorded
from retailhub.resilience.cache import ReferenceCache

SYSTEM = "crm"


CONTACT_CACHE_ENTRIES = 20_000
CONTACT_TTL_S = 600.0
"""Contact ids found by email are kept this long (the points note follows its order note
within seconds); a note the CRM refuses forgets the buyer's, so its retry looks them up."""


class Contacts:
    """The CRM's contact id of an order's buyer: the id the order carries for the CRM, else the
    contact found by email, kept a while so the order's later notes do not look it up again."""

    def __init__(self, crm: CrmPort) -> None:
        self.crm = crm
        self._by_email: ReferenceCache[str, str] = ReferenceCache(
            max_entries=CONTACT_CACHE_ENTRIES, ttl_s=CONTACT_TTL_S
        )

    async def of(self, email: str | None, customer_ids: Mapping[str, str]) -> str | None:
        """The buyer's contact id, or None when the CRM knows nobody by the order's email."""
        known = customer_ids.get(self.crm.name)
        if known:
            return known
        if not email:
            return None
        cached = self._by_email.get(email)
        if cached is not None:
            return cached
        contact = await self.crm.find_contact(email)
        if contact is None:
            return None
        ids = contact.identities
        found = ids.get(self.crm.name) or (next(iter(ids.values())) if len(ids) == 1 else None)
        if found is not None:
            self._by_email.put(email, found)
        return found

    async def note(self, email: str | None, contact: str, text: str, key: str) -> str:
        """Add the note; if the CRM refuses it, forget the buyer's cached contact and raise."""
        try:
            return await self.crm.add_note(contact, text, key)
        except Exception:
            if email:
                self._by_email.forget([email])
            raise


def note_on_crm(crm: CrmPort) -> Handler:
    """The handler noting orders, their points and their cancellation on the CRM timeline."""
    contacts = Contacts(crm)

    async def on_points(event: CloudEvent, context: HandlerContext) -> None:
        moved = points_notice_of(event)
        order_id = moved.order_id
        contact = await contacts.of(moved.email, moved.customer_ids)
        if contact is None:
            return
        if event.type == POINTS_REVERSED:
            text, key = reversal_note(order_id, moved.points), reversal_note_key(order_id)
            detail, points = f"{moved.points} points reversed", 0
        else:
            text, key = points_note(order_id, moved.points), points_note_key(order_id)
            detail, points = f"{moved.points} points earned", moved.points
        note = await contacts.note(moved.email, contact, text, key)
        await amend(
            context.transaction, order_id, SYSTEM, detail=f"{detail} (note {note})", points=points
        )

    async def on_order(event: CloudEvent, context: HandlerContext) -> None:
        order = order_of(event)
        order_id = order.order_id
        if is_completed(order, is_cancellation(event)):
            contact = await contacts.of(order.email, order.customer_ids)
            if contact is None:
                status = SystemStatus(
                    SYSTEM, Outcome.SKIPPED, detail="no contact", attempts=context.attempt
                )
            else:
                note = await contacts.note(
                    order.email, contact, order_note(order), order_note_key(order_id)
                )
                status = SystemStatus(
                    SYSTEM,
                    Outcome.DONE,
                    reference=note,
                    detail=f"order noted for contact {contact}",
                    attempts=context.attempt,
                )
        elif is_cancellation(event):
            before = (await recorded(context.transaction, order_id)).get(SYSTEM)
            contact = (
                await contacts.of(order.email, order.customer_ids) if before is not None else None
            )
            if before is None or before.outcome is not Outcome.DONE or contact is None:
                status = SystemStatus(
                    SYSTEM,
                    Outcome.SKIPPED,
                    detail="cancelled before it was noted",
                    attempts=context.attempt,
                )
            else:
                await contacts.note(
                    order.email, contact, cancel_note(order_id), cancel_note_key(order_id)
                )
                status = SystemStatus(
                    SYSTEM,
                    Outcome.DONE,
                    reference=before.reference,
                    points=before.points,
                    detail="cancellation noted",
                    attempts=context.attempt,
                )
        else:
            status = SystemStatus(
                SYSTEM, Outcome.SKIPPED, detail="not completed yet", attempts=context.attempt
            )
        await record(context.transaction, order_id, status)

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        if event.type in POINTS_EVENTS:
            await on_points(event, context)
        else:
            await on_order(event, context)

    return handle
