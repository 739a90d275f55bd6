"""The `catalogue.commerce.inventory` subscription: ERP stock becomes available-to-sell on the
commerce platform, per location it sells from.

Available-to-sell is on hand − reserved − the location's safety stock for the commerce channel,
in whole units and never below zero (`decisions.available_to_sell`). A level whose sequence is
not above the last one applied for its source, SKU and location is refused and recorded, never
sent: Shopify's `inventory_levels/set` writes an absolute figure, so a late older level would
overwrite a newer one.
"""

from __future__ import annotations

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.inventory import InventoryLevel
from retailhub.connectors.ports import CommercePort
from retailhub.flows.catalogue.decisions import available_to_sell, level_key
from retailhub.flows.catalogue.events import sequence_of
from retailhub.flows.catalogue.ledger import AppliedLedger, admit
from retailhub.flows.catalogue.settings import CatalogueSettings


def set_commerce_stock(
    commerce: CommercePort, ledger: AppliedLedger, settings: CatalogueSettings
) -> Handler:
    """The handler that sets available-to-sell on the commerce platform."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        level = InventoryLevel.model_validate(event.data)
        if not settings.sells_online_from(level.location):
            return
        key, sequence = level_key(level), sequence_of(event)
        if not await admit(context.transaction, ledger, event, key, sequence):
            return
        await commerce.set_inventory(available_to_sell(level, settings.commerce_channel, settings))
        await ledger.record(context.transaction, key, sequence)

    return handle
