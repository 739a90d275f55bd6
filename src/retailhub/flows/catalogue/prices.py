"""The price subscriptions: the commerce channel's national price to the commerce platform
(`catalogue.commerce.prices`, `CommercePort.set_price`), the store channel's prices to the POS
price feed (`catalogue.pos.prices`, `PosPort.publish_prices`). Each is sequence-guarded per
SKU, channel and store or zone, so a late older price never overwrites a newer one.

Prices of other channels, and store or zone prices of the commerce channel (the commerce
platform holds one price per variant), are not the target's and pass by without a record.
"""

from __future__ import annotations

from retailhub.bus.port import Handler, HandlerContext
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.price import Price
from retailhub.connectors.ports import CommercePort, PosPort
from retailhub.flows.catalogue.decisions import price_key
from retailhub.flows.catalogue.events import sequence_of
from retailhub.flows.catalogue.ledger import AppliedLedger, admit
from retailhub.flows.catalogue.settings import CatalogueSettings


def price_on_commerce(
    commerce: CommercePort, ledger: AppliedLedger, settings: CatalogueSettings
) -> Handler:
    """The handler that sets the commerce channel's national price on the platform."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        price = Price.model_validate(event.data)
        national = price.store is None and price.zone is None
        if price.channel is not settings.commerce_channel or not national:
            return
        key, sequence = price_key(price), sequence_of(event)
        if not await admit(context.transaction, ledger, event, key, sequence):
            return
        await commerce.set_price(price)
        await ledger.record(context.transaction, key, sequence)

    return handle


def price_on_pos(pos: PosPort, ledger: AppliedLedger, settings: CatalogueSettings) -> Handler:
    """The handler that sends the store channel's prices to the POS price feed."""

    async def handle(event: CloudEvent, context: HandlerContext) -> None:
        price = Price.model_validate(event.data)
        if price.channel is not settings.pos_channel:
            return
        key, sequence = price_key(price), sequence_of(event)
        if not await admit(context.transaction, ledger, event, key, sequence):
            return
        await pos.publish_prices([price])
        await ledger.record(context.transaction, key, sequence)

    return handle
