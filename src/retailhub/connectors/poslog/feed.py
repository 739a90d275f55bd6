"""The POS feed connector (`PosPort`): the hub sends the store estate its item file, price
changes and promotion versions through the head-office store server, and reads them back.

Why JSON and not ARTS XML: NRF/ARTS published IXRetail XML schemas for item maintenance,
price change and promotion (`PriceDerivationRule`) messages, but no public copy of those
schemas or a vendor's profile of them could be found (the code and documentation corpora hold
POSLog readers and unrelated promotion XML only), and store servers differ in what they import.
So the feed is a small JSON API on the store server, in ARTS vocabulary (`ItemID`,
`POSIdentity`, `RegularSalesUnitPrice`, `EffectiveDateTime`, `PriceDerivationRule`, ...; see
feed_mapping.py and feed_client.py). A store system with a native ARTS XML import sits behind
a thin adapter on the store server; the till journals the POS sends back are real POSLog 6.0
(intake.py, dropfolder.py).

Only store prices reach the POS: web prices in a batch are left out (the web shop's connector
carries them). Idempotency: batches by content key, each price change by (item, store or zone,
effective time), promotions once per version; a withdrawal removes every version.
"""

from __future__ import annotations

from collections.abc import Sequence

from retailhub.canonical.base import Channel
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.promotion import Promotion
from retailhub.connectors.ports import PosPort
from retailhub.connectors.poslog.feed_client import PosFeedClient
from retailhub.connectors.poslog.feed_mapping import (
    item_to_product,
    price_to_record,
    product_to_item,
    promotion_to_record,
    record_to_price,
    record_to_promotion,
)
from retailhub.resilience import ResiliencePolicy, Resilient

MAX_BATCH = 500
"""Items or price changes per request: store servers import in bounded batches."""


class PoslogFeedConnector(PosPort):
    """The POS estate behind `PosPort`, spoken to through its store server's feed API."""

    name = "poslog"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        policy: ResiliencePolicy | None = None,
        *,
        resilient: Resilient | None = None,
    ) -> None:
        self.resilient = resilient or Resilient(self.name, policy or ResiliencePolicy())
        self.client = PosFeedClient(base_url, api_key, self.resilient)

    async def close(self) -> None:
        """Release connections."""
        await self.client.close()

    async def publish_items(self, products: Sequence[Product]) -> None:
        """Send item master changes to the POS item file, in batches of at most MAX_BATCH."""
        records = [product_to_item(p) for p in products]
        for start in range(0, len(records), MAX_BATCH):
            await self.client.send_item_maintenance(records[start : start + MAX_BATCH])

    async def publish_prices(self, prices: Sequence[Price]) -> None:
        """Send store price changes to the POS price feed; web prices are not the POS's."""
        records = [price_to_record(p) for p in prices if p.channel is Channel.STORE]
        for start in range(0, len(records), MAX_BATCH):
            await self.client.send_price_changes(records[start : start + MAX_BATCH])

    async def publish_promotion(self, promotion: Promotion) -> None:
        """Send one promotion version to the POS promotion feed (once per version)."""
        await self.client.put_promotion_version(promotion_to_record(promotion))

    async def withdraw_promotion(self, promotion_id: str) -> None:
        """Take the promotion off the feed (every version), so tills stop applying it at their
        next download; a promotion the feed does not hold is already withdrawn."""
        await self.client.delete_promotion(promotion_id)

    def circuit_state(self) -> str:
        """The state of the breaker guarding calls to the store server."""
        return self.resilient.circuit_state()

    async def get_promotion(self, promotion_id: str) -> Promotion | None:
        """The latest version of a promotion as the POS holds it, for drift reports."""
        record = await self.client.get_promotion(promotion_id)
        return None if record is None else record_to_promotion(record)

    async def get_item(self, sku: str) -> Product | None:
        """An item as the POS item file holds it, for drift reports."""
        record = await self.client.get_item(sku)
        return None if record is None else item_to_product(record)

    async def store_prices(self, sku: str, store: str | None = None) -> list[Price]:
        """The price records the POS holds for a SKU (optionally one store's), for drift reports."""
        return [record_to_price(r) for r in await self.client.get_prices(sku, store)]
