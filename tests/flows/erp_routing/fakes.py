"""An in-memory ERP for the routing unit tests: postings by key, stock by (SKU, location), a
switch to make every call fail, and a gate that holds writes until the test opens it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from retailhub.canonical.base import Channel
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import ErpPort, Posting, PricingControl

DAY = date(2026, 3, 14)


class ErpDown(ConnectionError):
    """The fake ERP is switched off."""


class FakeErp(ErpPort):
    """An ERP holding what it was sent, knowing the SKUs it was given."""

    def __init__(self, name: str, skus: Sequence[str] = (), *, surcharge: Decimal = Decimal(0)):
        self.name = name
        self.skus = list(skus)
        self.surcharge = surcharge
        self.down = False
        self.breaker = "closed"
        self.gate = asyncio.Event()
        self.gate.set()
        self.posted: dict[str, Posting] = {}
        self.stock: dict[tuple[str, str], Decimal] = {}
        self.stock_written: dict[tuple[str, str], datetime] = {}
        self.applied: set[str] = set()
        self.product_written: dict[str, datetime] = {}

    async def _call(self) -> None:
        if self.down:
            raise ErpDown(f"{self.name} is down")

    async def post_sale_order(self, order: Order, key: str) -> Posting:
        await self._call()
        await self.gate.wait()
        amount = order.totals.grand_total + Money(amount=self.surcharge, currency=order.currency)
        posting = Posting("fake", f"SO-{key}", key, amount, order.location, DAY, "sale")
        return self.posted.setdefault(key, posting)

    async def find_posting(self, key: str) -> Posting | None:
        await self._call()
        return self.posted.get(key)

    async def cancel_sale_order(self, key: str) -> Posting | None:
        await self._call()
        if key not in self.posted or not self.posted[key].external_id.startswith("SO-"):
            return None
        self.posted[key] = dataclasses.replace(self.posted[key], status="cancel")
        return self.posted[key]

    def circuit_state(self) -> str:
        return self.breaker

    async def post_credit_note(self, document: Return, key: str) -> Posting:
        await self._call()
        location = document.received_location or document.initiated_location
        posting = Posting("fake", f"CN-{key}", key, document.refund_total, location, DAY, "posted")
        return self.posted.setdefault(key, posting)

    async def void_credit_note(self, key: str) -> None:
        await self._call()
        if key in self.posted:
            self.posted[key] = dataclasses.replace(self.posted[key], status="cancel")

    async def adjust_stock(self, sku: str, location: str, delta: Decimal, key: str) -> None:
        await self._call()
        if key not in self.applied:
            self.applied.add(key)
            self.stock[sku, location] = self.stock.get((sku, location), Decimal(0)) + delta
            self.stock_written[sku, location] = datetime.now(UTC)

    async def stock_levels(
        self, location: str | None = None, changed_since: datetime | None = None
    ) -> list[InventoryLevel]:
        await self._call()
        return [
            InventoryLevel(
                sku=sku,
                location=at,
                on_hand=on_hand,
                as_of=datetime.now(UTC),
                source="fake",
                sequence=1,
            )
            for (sku, at), on_hand in self.stock.items()
            if location in (None, at)
            and (changed_since is None or self.stock_written[sku, at] > changed_since)
        ]

    async def products(self, changed_since: datetime | None = None) -> AsyncIterator[Product]:
        await self._call()
        for sku in self.skus:
            written = self.product_written.get(sku, datetime(2026, 1, 1, tzinfo=UTC))
            if changed_since is None or written >= changed_since:
                yield Product(sku=sku, title=f"{sku} from {self.name}")

    async def prices(
        self, skus: Sequence[str] | None = None, changed_since: datetime | None = None
    ) -> list[Price]:
        await self._call()
        written = datetime(2026, 1, 1, tzinfo=UTC)
        if changed_since is not None and changed_since >= written:
            return []
        return [
            Price(
                sku=sku,
                channel=Channel.STORE,
                list_price=Money(amount=Decimal(1) + self.surcharge, currency="EUR"),
                valid_from=written,
            )
            for sku in self.skus
            if skus is None or sku in skus
        ]

    async def pricing_controls(self, skus: Sequence[str]) -> list[PricingControl]:
        await self._call()
        return [PricingControl(sku, None, None, None) for sku in self.skus if sku in skus]

    async def postings(self, business_day: date, location: str | None = None) -> list[Posting]:
        await self._call()
        return [
            p
            for p in self.posted.values()
            if p.business_day == business_day and location in (None, p.location)
        ]
