"""Stores as Odoo warehouses: a warehouse's `code` is the store code and its stock location
(`lot_stock_id`, with the locations below it) holds the store's stock. Read once per connector:
warehouses are set up with the estate, not changed by the day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retailhub.connectors.errors import MappingError
from retailhub.connectors.odoo.client import OdooClient
from retailhub.connectors.odoo.fields import OdooRecord


@dataclass(frozen=True)
class Store:
    """One store's warehouse and stock location in Odoo."""

    code: str
    warehouse_id: int
    stock_location_id: int


class Stores:
    """The estate's stores as this Odoo database holds them."""

    def __init__(self, client: OdooClient, *, page_size: int) -> None:
        self.client, self.page_size = client, page_size
        self._stores: dict[str, Store] | None = None
        self._by_warehouse: dict[int, str] = {}
        self._store_locations: dict[int, str] = {}
        self._located: set[str] = set()

    async def all(self) -> dict[str, Store]:
        """Every store by code."""
        if self._stores is None:
            stores = {}
            async for page in self.client.search_read_all(
                "stock.warehouse", [], ["code", "lot_stock_id"], page_size=self.page_size
            ):
                for record in page:
                    warehouse = OdooRecord("stock.warehouse", record)
                    code = warehouse.required_text("code")
                    location = warehouse.required_many2one("lot_stock_id")[0]
                    stores[code] = Store(code, warehouse.id, location)
            self._stores = stores
            self._by_warehouse = {store.warehouse_id: code for code, store in stores.items()}
        return self._stores

    async def get(self, code: str) -> Store:
        """The store with this code; a MappingError when no warehouse has it."""
        store = (await self.all()).get(code)
        if store is None:
            raise MappingError(
                "location", code, "$.location", f"no Odoo warehouse has the code {code!r}"
            )
        return store

    async def by_warehouse(self) -> dict[int, str]:
        """Store codes by warehouse id."""
        await self.all()
        return self._by_warehouse

    async def locations_of(self, codes: Sequence[str]) -> dict[int, str]:
        """The store of every location in or below the stock location of each store in `codes`."""
        for code in codes:
            if code in self._located:
                continue
            root = (await self.get(code)).stock_location_id
            async for page in self.client.search_read_all(
                "stock.location", [("id", "child_of", root)], ["id"], page_size=self.page_size
            ):
                for record in page:
                    self._store_locations[record["id"]] = code
            self._located.add(code)
        return self._store_locations
