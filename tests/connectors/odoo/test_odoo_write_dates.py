"""Contract: the Odoo emulator stamps `write_date` as Odoo's ORM does — on every quant a stock
move changes (inventory adjustments, deliveries, their returns) and on every written pricelist
rule or variant — compares datetimes in domains, and deletes a quant as Odoo does for a stock
manager: counted to zero and applied first. The connector reads the stock and prices changed
since a moment from those stamps. The emulator and the connector run on the test's clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from odoo_documents import sale
from odoo_sandbox import FAST

from retailhub.canonical.base import Channel
from retailhub.connectors.odoo.connector import OdooConnector, OdooCredentials
from retailhub.connectors.odoo.fields import odoo_datetime
from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator
from retailhub.sandbox.seed import Estate

MORNING = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SOLD = ("SKU-10000", "SKU-10002")


class Clock:
    """A clock the test moves by hand, shared by the emulator and the connector."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MORNING)


@pytest.fixture
async def emulator(
    tmp_path: Path, estate: Estate, seeded_state: Path, clock: Clock
) -> AsyncIterator[OdooEmulator]:
    """A running Odoo emulator on the test's clock, with its own copy of the seeded state."""
    odoo = OdooEmulator(tmp_path, clock=clock)
    shutil.copy(seeded_state, odoo.state_path)
    odoo.load(estate)
    await odoo.start()
    yield odoo
    await odoo.stop()


@pytest.fixture
async def odoo(emulator: OdooEmulator, clock: Clock) -> AsyncIterator[OdooConnector]:
    """The connector under test, on the same clock as the emulator."""
    assert emulator.url is not None
    credentials = OdooCredentials(SANDBOX_API_KEY, SANDBOX_DATABASE)
    connector = OdooConnector(emulator.url, credentials, FAST, clock=clock)
    yield connector
    await connector.close()


async def written_after(odoo: OdooConnector, model: str, moment: datetime) -> set[int]:
    """Ids of the records written strictly after a moment (`>` on `write_date`)."""
    found = await odoo.client.search_read(
        model, [("write_date", ">", odoo_datetime(moment))], ["id"]
    )
    return {record["id"] for record in found}


async def variant_id(odoo: OdooConnector, sku: str) -> int:
    [record] = await odoo.client.search_read(
        "product.product", [("default_code", "=", sku)], ["id"]
    )
    return int(record["id"])


async def quants_of(odoo: OdooConnector, sku: str, store: str) -> list[dict[str, Any]]:
    root = (await odoo.stores.get(store)).stock_location_id
    return await odoo.client.search_read(
        "stock.quant",
        [("product_id", "=", await variant_id(odoo, sku)), ("location_id", "child_of", root)],
        ["quantity", "write_date"],
    )


async def test_every_stock_move_stamps_the_quants_it_changes(
    odoo: OdooConnector, emulator: OdooEmulator, clock: Clock
) -> None:
    start = clock.now
    adjusted = clock.tick()
    await odoo.adjust_stock(SOLD[0], "AMS01", Decimal(4), "count-1")
    [counted] = await quants_of(odoo, SOLD[0], "AMS01")
    assert counted["write_date"] == odoo_datetime(adjusted)
    assert await written_after(odoo, "stock.quant", start) == {counted["id"]}

    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.url}{CONTROL_PREFIX}delivery", json={"on_confirm": True}),
    ):
        pass
    delivered = clock.tick()
    await odoo.post_sale_order(sale("D-1", [(sku, "1", "2.19") for sku in SOLD]), "order:D-1")
    sold = [quant for sku in SOLD for quant in await quants_of(odoo, sku, "AMS01")]
    assert {quant["write_date"] for quant in sold} == {odoo_datetime(delivered)}
    assert await written_after(odoo, "stock.quant", adjusted) == {q["id"] for q in sold}

    returned = clock.tick()
    await odoo.cancel_sale_order("order:D-1")
    back = [quant for sku in SOLD for quant in await quants_of(odoo, sku, "AMS01")]
    assert {quant["write_date"] for quant in back} == {odoo_datetime(returned)}
    assert not await written_after(odoo, "stock.quant", returned), "`>` is strict"


async def test_written_pricelist_rules_and_variants_are_stamped(
    odoo: OdooConnector, clock: Clock
) -> None:
    start = clock.now
    [rule] = await odoo.client.search_read("product.pricelist.item", [], ["id"], limit=1)
    variant = await variant_id(odoo, "SKU-10005")
    written = clock.tick()
    await odoo.client.write("product.pricelist.item", [rule["id"]], {"fixed_price": 0.99})
    await odoo.client.write("product.product", [variant], {"list_price": 9.99})

    assert await written_after(odoo, "product.pricelist.item", start) == {rule["id"]}
    assert await written_after(odoo, "product.product", start) == {variant}
    assert not await written_after(odoo, "product.product", written)


async def test_deleting_a_quant_counts_it_to_zero_first(
    odoo: OdooConnector, estate: Estate
) -> None:
    level = next(level for level in estate.inventory if level.on_hand > 0 and not level.reserved)
    [quant] = await quants_of(odoo, level.sku, level.location)

    assert await odoo.client.call("stock.quant", "unlink", ids=[quant["id"]]) is True

    assert await quants_of(odoo, level.sku, level.location) == []
    assert level.sku not in {held.sku for held in await odoo.stock_levels(level.location)}
    [move] = await odoo.client.search_read(
        "stock.move",
        [("product_id", "=", await variant_id(odoo, level.sku)), ("is_inventory", "=", True)],
        ["product_uom_qty", "location_id", "state"],
    )
    assert Decimal(str(move["product_uom_qty"])) == level.on_hand
    assert move["location_id"][0] == (await odoo.stores.get(level.location)).stock_location_id
    assert move["state"] == "done"


async def test_deleting_a_pricelist_rule(odoo: OdooConnector) -> None:
    [rule] = await odoo.client.search_read("product.pricelist.item", [], ["id"], limit=1)

    await odoo.client.call("product.pricelist.item", "unlink", ids=[rule["id"]])

    assert not await odoo.client.search_read(
        "product.pricelist.item", [("id", "=", rule["id"])], ["id"]
    )


async def test_stock_changed_since_holds_whole_levels_of_the_items_that_moved(
    odoo: OdooConnector, clock: Clock
) -> None:
    since = clock.now
    moved = clock.tick()
    await odoo.adjust_stock(SOLD[0], "AMS01", Decimal(4), "count-2")
    everywhere = {(level.sku, level.location): level for level in await odoo.stock_levels()}

    changed = await odoo.stock_levels(changed_since=since)

    assert {level.sku for level in changed} == {SOLD[0]}
    assert {level.location for level in changed} == {
        location for sku, location in everywhere if sku == SOLD[0]
    }
    assert all(level == everywhere[level.sku, level.location] for level in changed)
    assert [level.location for level in await odoo.stock_levels("AMS01", since)] == ["AMS01"]
    assert await odoo.stock_levels("UTR03", changed_since=since) == [], "nothing moved there"
    # Odoo stamps whole seconds: a moment within the change's second still finds it.
    assert await odoo.stock_levels(changed_since=moved + timedelta(milliseconds=500))
    assert await odoo.stock_levels(changed_since=clock.tick()) == []


async def test_a_deleted_quant_is_not_a_change_only_a_full_read_shows_it_gone(
    odoo: OdooConnector, estate: Estate, clock: Clock
) -> None:
    level = next(level for level in estate.inventory if level.on_hand > 0 and not level.reserved)
    [quant] = await quants_of(odoo, level.sku, level.location)
    since = clock.tick()
    await odoo.client.call("stock.quant", "unlink", ids=[quant["id"]])

    assert await odoo.stock_levels(changed_since=since) == []
    assert (level.sku, level.location) not in {
        (held.sku, held.location) for held in await odoo.stock_levels()
    }


async def test_prices_changed_since_follow_variants_and_their_rules(
    odoo: OdooConnector, estate: Estate, clock: Clock
) -> None:
    on_sale = [p.sku for p in estate.products if estate.price(p.sku, Channel.WEB).sale_price]
    resaled, scheduled = on_sale[:2]
    relisted = next(
        p.sku
        for p in estate.products
        if not any(
            estate.price(p.sku, channel).sale_price for channel in (Channel.STORE, Channel.WEB)
        )
    )
    [web_list] = await odoo.client.search_read(
        "product.pricelist", [("name", "=", odoo.settings.pricelists[Channel.WEB])], ["id"]
    )
    [rule] = await odoo.client.search_read(
        "product.pricelist.item",
        [
            ("pricelist_id", "=", web_list["id"]),
            ("product_id", "=", await variant_id(odoo, resaled)),
        ],
        ["fixed_price"],
    )
    cheaper = Decimal(str(rule["fixed_price"])) - Decimal("0.10")
    since = clock.now
    clock.tick()
    await odoo.client.write(
        "product.product", [await variant_id(odoo, relisted)], {"list_price": 9.99}
    )
    await odoo.client.write("product.pricelist.item", [rule["id"]], {"fixed_price": float(cheaper)})

    changed = {(p.sku, p.channel): p for p in await odoo.prices(changed_since=since)}

    assert set(changed) == {
        (sku, channel) for sku in (relisted, resaled) for channel in odoo.settings.pricelists
    }
    assert {p.list_price.amount for p in changed.values() if p.sku == relisted} == {Decimal("9.99")}
    sale_price = changed[resaled, Channel.WEB].sale_price
    assert sale_price is not None
    assert sale_price.amount == cheaper
    assert {p.sku for p in await odoo.prices([relisted], changed_since=since)} == {relisted}
    assert await odoo.prices(changed_since=clock.tick()) == []

    # A sale that starts later is a change when it starts, though nothing is written then.
    await odoo.client.create(
        "product.pricelist.item",
        {
            "pricelist_id": web_list["id"],
            "applied_on": "0_product_variant",
            "product_id": await variant_id(odoo, scheduled),
            "compute_price": "fixed",
            "fixed_price": 0.5,
            "date_start": odoo_datetime(clock.now + timedelta(hours=1)),
        },
    )
    quiet = clock.tick()
    assert await odoo.prices(changed_since=quiet) == []
    clock.tick(3600)
    started = {p.channel: p for p in await odoo.prices(changed_since=quiet)}
    assert started[Channel.WEB].sku == scheduled
    assert started[Channel.WEB].sale_price is not None
    assert started[Channel.WEB].sale_price.amount == Decimal("0.5")
