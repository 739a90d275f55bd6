"""The item subscriptions: each ERP item change reaches the commerce platform, the POS item
file and the loyalty catalogue, each through its own subscription and sequence guard.

- `catalogue.commerce.products`: the item's listing is rebuilt from the variants last applied
  there plus this one, aligned on its hierarchy, brand and tags, and sent whole
  (`CommercePort.upsert_products`); a variant that can no longer be sold leaves its listing,
  and a listing with nothing left to sell becomes a draft (inactive items) or is archived
  (discontinued ones).
- `catalogue.pos.items`: the item goes to the POS item file (`PosPort.publish_items`) with its
  status, so the tills stop selling an inactive item and sell a discontinued one out.
- `catalogue.loyalty.products`: the item goes to the loyalty catalogue that earning rules match
  SKUs, hierarchy and brand against (`LoyaltyPort.put_products`).
"""

from __future__ import annotations

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.product import Product
from retailhub.connectors.ports import CommercePort, LoyaltyPort, PosPort
from retailhub.flows.catalogue.decisions import aligned_listing, listed_variants, listing_of
from retailhub.flows.catalogue.events import sequence_of
from retailhub.flows.catalogue.ledger import AppliedLedger, admit
from retailhub.flows.catalogue.settings import CatalogueSettings


def list_on_commerce(
    commerce: CommercePort, ledger: AppliedLedger, settings: CatalogueSettings
) -> Handler:
    """The handler that keeps each item's listing on the commerce platform current."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        product = Product.model_validate(event.data)
        sequence = sequence_of(event)
        transaction = context.transaction
        if not await admit(transaction, ledger, event, product.sku, sequence):
            return
        listing = listing_of(product, settings)
        others = [p for p in await ledger.listing(transaction, listing) if p.sku != product.sku]
        await commerce.upsert_products(listed_variants(aligned_listing(others, product)))
        await ledger.record(
            transaction, product.sku, sequence, listing=listing, body=product.model_dump_json()
        )

    return handle


def send_to_pos(pos: PosPort, ledger: AppliedLedger) -> Handler:
    """The handler that keeps the POS item file current."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        product = Product.model_validate(event.data)
        sequence = sequence_of(event)
        if not await admit(context.transaction, ledger, event, product.sku, sequence):
            return
        await pos.publish_items([product])
        await ledger.record(context.transaction, product.sku, sequence)

    return handle


def send_to_loyalty(loyalty: LoyaltyPort, ledger: AppliedLedger) -> Handler:
    """The handler that keeps the loyalty platform's product catalogue current."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        product = Product.model_validate(event.data)
        sequence = sequence_of(event)
        if not await admit(context.transaction, ledger, event, product.sku, sequence):
            return
        await loyalty.put_products([product])
        await ledger.record(context.transaction, product.sku, sequence)

    return handle
