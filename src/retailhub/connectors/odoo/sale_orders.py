"""Sale orders written to Odoo once per key, one at a time or many together.

One sale: look the key (`client_order_ref`) up; create the quotation if absent; confirm it if
it is a completed sale still in quotation; read it once at the end (Odoo computes the name and
total). Four calls when the variants and partner are cached.

Sales posted at the same time go together (`connectors/coalesce.py`: nothing waits to fill a
batch; sales arriving while one is in flight go in the next): one search of their keys, the
variants and partners the cache lacks in one search each (partners Odoo lacks in one create),
one `create` of every new quotation (Odoo's create takes a list), one `action_confirm` over
every completed sale still in quotation and one `read` of what was written. A sale that cannot
be mapped (an unknown item or store) fails alone before anything is written. When Odoo refuses
a batch call (a 4xx, or a 500 for a document it cannot process) the batch's cached ids are
forgotten and its sales posted one at a time, each looked up by its key first, so the sale at
fault fails alone and a sale the batch already wrote is finished, not written twice. A batch
that fails for want of Odoo (a timeout, a 503, an open breaker) fails each of its sales with
that failure, for their own retries. A key named twice in one batch is posted once in it and
its repeat after it, finding the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from retailhub.canonical.order import Order, OrderStatus
from retailhub.connectors.coalesce import Coalescer
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import SystemFailure
from retailhub.connectors.odoo.client import OdooClient, OdooRefused, Record
from retailhub.connectors.odoo.references import Item, References
from retailhub.connectors.odoo.sales import SALE_ORDER_FIELDS, sale_order_posting, sale_order_values
from retailhub.connectors.odoo.stores import Store, Stores
from retailhub.connectors.ports import Posting

_log = structlog.get_logger(__name__)

SALE_BATCH = 50
"""Sales per batch: bounded by the hub's concurrency in practice (16 handlers per subscription);
the cap keeps one create's transaction and body small."""
QUOTATION_STATES = ("draft", "sent")


@dataclass(frozen=True)
class _Sale:
    order: Order
    key: str

    def items(self) -> list[Item]:
        return [(line.sku, line.gtin) for line in self.order.lines]


class SaleOrders:
    """Posts, finds and cancels the hub's sale orders in one Odoo database."""

    def __init__(
        self,
        client: OdooClient,
        references: References,
        stores: Stores,
        *,
        timezone: ZoneInfo,
        default_location: str,
        shipping_sku: str | None,
    ) -> None:
        self.client, self.references, self.stores = client, references, stores
        self.timezone, self.default_location = timezone, default_location
        self.shipping_sku = shipping_sku
        self._batches: Coalescer[_Sale, Posting] = Coalescer(self._post_many, max_batch=SALE_BATCH)

    async def post(self, order: Order, key: str) -> Posting:
        """The sale order for `order` under `key`, written with the sales posted meanwhile."""
        return await self._batches.submit(_Sale(order, key))

    async def post_one(self, order: Order, key: str) -> Posting:
        """The sale order for `order` under `key`, written on its own."""
        found = await self.find(key)
        if found is None:
            order_id, state = await self._create(_Sale(order, key)), "draft"
        else:
            order_id, state = int(found["id"]), str(found.get("state"))
        if order.status is OrderStatus.COMPLETED and state in QUOTATION_STATES:
            await self.client.act("sale.order", "action_confirm", [order_id])
            found = None
        if found is None:
            found = await self.read(order_id)
        return await self.posting(found)

    async def find(self, key: str) -> Record | None:
        """The sale order written under `key` (the first, should there be several)."""
        found = await self.client.search_read(
            "sale.order", [("client_order_ref", "=", key)], SALE_ORDER_FIELDS, limit=1
        )
        return found[0] if found else None

    async def read(self, order_id: int) -> Record:
        """The sale order `order_id` as a Posting is made from."""
        return await self.client.read_back("sale.order", order_id, SALE_ORDER_FIELDS)

    async def posting(self, record: Record) -> Posting:
        """A sale order record as the hub's Posting."""
        return sale_order_posting(record, await self.stores.by_warehouse(), self.timezone)

    async def cancel(self, key: str) -> Posting | None:
        """Cancel the sale order written under `key` (see `OdooConnector.cancel_sale_order`)."""
        found = await self.find(key)
        if found is None:
            return None
        if found.get("state") != "cancel":
            await self.client.act(
                "sale.order",
                "action_cancel",
                [found["id"]],
                context={"disable_cancel_warning": True},
            )
            found = await self.read(int(found["id"]))
        return await self.posting(found)

    async def _create(self, sale: _Sale) -> int:
        """Create one quotation; a refusal forgets the cached ids it named, so the retry reads
        them afresh (a product or partner merged or deleted in Odoo)."""
        [values] = await self._values([sale])
        if isinstance(values, Exception):
            raise values
        try:
            return await self.client.create("sale.order", values)
        except OdooRefused:
            self.references.forget(sale.items(), sale.order.customer_id)
            raise

    # many together

    async def _post_many(self, sales: Sequence[_Sale]) -> list[Posting | Exception]:
        """A Posting or the sale's own failure for each sale, in order."""
        firsts: dict[str, _Sale] = {}
        repeats: list[_Sale] = []
        for sale in sales:
            if firsts.setdefault(sale.key, sale) is not sale:
                repeats.append(sale)
        if len(firsts) == 1:
            [sale] = firsts.values()
            answers = {sale.key: await _outcome(self.post_one(sale.order, sale.key))}
        else:
            answers = await self._post_together(list(firsts.values()))
        again = {id(sale): await _outcome(self.post_one(sale.order, sale.key)) for sale in repeats}
        return [again.get(id(sale)) or answers[sale.key] for sale in sales]

    async def _post_together(self, sales: Sequence[_Sale]) -> dict[str, Posting | Exception]:
        """Several sales of distinct keys in one call per step; one at a time when Odoo refuses
        a batch."""
        found = await self._find_many([sale.key for sale in sales])
        fresh = [sale for sale in sales if sale.key not in found]
        answers: dict[str, Posting | Exception] = {}
        try:
            ids = {key: int(record["id"]) for key, record in found.items()}
            ids |= await self._create_many(fresh, answers)
            confirm = [
                ids[sale.key]
                for sale in sales
                if sale.key in ids
                and sale.order.status is OrderStatus.COMPLETED
                and (sale.key not in found or found[sale.key].get("state") in QUOTATION_STATES)
            ]
            if confirm:
                await self.client.act("sale.order", "action_confirm", confirm)
            written = sorted({ids[sale.key] for sale in fresh if sale.key in ids} | set(confirm))
            records = {int(record["id"]): record for record in found.values()}
            if written:
                read = await self.client.read("sale.order", written, SALE_ORDER_FIELDS)
                records.update((int(record["id"]), record) for record in read)
            for sale in sales:
                if sale.key in ids:
                    answers[sale.key] = await _outcome(self.posting(records[ids[sale.key]]))
        except (OdooRefused, SystemFailure) as failure:
            if not _refused_as_a_batch(failure):
                return {sale.key: answers.get(sale.key) or failure for sale in sales}
            _log.warning(
                "odoo refused a batch of sale orders; posting them one at a time",
                sales=len(sales),
                error=str(failure),
            )
            for sale in fresh:
                self.references.forget(sale.items(), sale.order.customer_id)
            for sale in sales:
                if sale.key not in answers:
                    answers[sale.key] = await _outcome(self.post_one(sale.order, sale.key))
        return answers

    async def _find_many(self, keys: Sequence[str]) -> dict[str, Record]:
        """The sale orders written under these keys, in one search (the first of each key)."""
        found: dict[str, Record] = {}
        for record in await self.client.search_read(
            "sale.order", [("client_order_ref", "in", list(keys))], SALE_ORDER_FIELDS
        ):
            found.setdefault(str(record["client_order_ref"]), record)
        return found

    async def _create_many(
        self, sales: Sequence[_Sale], failed: dict[str, Posting | Exception]
    ) -> dict[str, int]:
        """Create the quotations of `sales` in one call; their ids by key. A sale that cannot be
        mapped is left out, its failure put in `failed`."""
        creating: list[tuple[str, dict[str, Any]]] = []
        for sale, values in zip(sales, await self._values(sales), strict=True):
            if isinstance(values, Exception):
                failed[sale.key] = values
            else:
                creating.append((sale.key, values))
        if not creating:
            return {}
        created = await self.client.create_many("sale.order", [values for _, values in creating])
        return {key: order_id for (key, _), order_id in zip(creating, created, strict=True)}

    async def _values(self, sales: Sequence[_Sale]) -> list[dict[str, Any] | MappingError]:
        """Each sale's `create` values, the variants and partners of all of them looked up
        together; a MappingError for a sale that cannot be mapped."""
        outcomes: dict[int, dict[str, Any] | MappingError] = {}
        stores: dict[int, Store] = {}
        for i, sale in enumerate(sales):
            try:
                stores[i] = await self.stores.get(sale.order.location or self.default_location)
            except MappingError as error:
                outcomes[i] = error
        if not stores:
            return [outcomes[i] for i in range(len(sales))]
        shipping = self.shipping_sku
        items = [item for i in stores for item in sales[i].items()]
        products = await self.references.products_for(
            [*items, (shipping, None)] if shipping else items
        )
        partners = await self.references.partners(
            [(sales[i].order.customer_id, sales[i].order.email) for i in stores]
        )
        for i, store in stores.items():
            order = sales[i].order
            try:
                outcomes[i] = sale_order_values(
                    order,
                    sales[i].key,
                    partner_id=partners[self.references.partner_ref(order.customer_id)],
                    warehouse_id=store.warehouse_id,
                    products=products,
                    shipping_product_id=products.by_sku.get(shipping) if shipping else None,
                )
            except MappingError as error:
                outcomes[i] = error
        return [outcomes[i] for i in range(len(sales))]


def _refused_as_a_batch(failure: Exception) -> bool:
    """True when Odoo answered the batch and refused it: a 4xx, or a 500 (Odoo's answer to a
    document it cannot process), so one of its documents may be at fault."""
    if isinstance(failure, OdooRefused):
        return True
    return isinstance(failure, SystemFailure) and failure.status == 500


async def _outcome(posting: Awaitable[Posting]) -> Posting | Exception:
    """The Posting, or the exception this one sale failed with."""
    try:
        return await posting
    except Exception as error:  # this sale alone fails; the others of its batch stand
        return error
