"""Who a return's CRM case is about: the buyer of the original order, as the CRM knows them."""

from __future__ import annotations

from retailhub.canonical.order import Order
from retailhub.connectors.ports import CrmPort


async def buyer_contact(crm: CrmPort, order: Order | None) -> str | None:
    """The buyer's CRM contact id: the order's own reference, else found by email; else None."""
    if order is None:
        return None
    known = order.customer_ids.get(crm.name)
    if known:
        return known
    if order.email:
        contact = await crm.find_contact(order.email)
        if contact is not None:
            return contact.identities.get(crm.name)
    return None
