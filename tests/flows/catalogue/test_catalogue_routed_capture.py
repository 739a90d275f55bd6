"""Change capture over routed ERPs (two Odoo emulators over HTTP): reading only what changed
keeps the routing's precedence — a price changed in an ERP further down is not published over
the price of the ERP that owns the SKU, and stock changed in an ERP that does not own the
store is not published either."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.connectors.odoo.connector import OdooConnector, OdooCredentials
from retailhub.flows.catalogue import CatalogueSettings, ErpChangeCapture
from retailhub.flows.catalogue.events import PRICE_CHANGED
from retailhub.flows.erp_routing import RoutedErp, load_plan
from retailhub.resilience import ResiliencePolicy
from retailhub.sandbox.odoo import SANDBOX_API_KEY, SANDBOX_DATABASE, OdooEmulator
from retailhub.sandbox.seed import Estate, build_estate

from .helpers import small_estate

pytestmark = pytest.mark.asyncio(loop_scope="module")

SYSTEMS = ("odoo_nl", "odoo_be")
POLICY = ResiliencePolicy(timeout_s=5.0, max_attempts=2, breaker_threshold=50)


@pytest.fixture(scope="module")
def estate() -> Estate:
    return small_estate(build_estate(42), 20)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, estate: Estate) -> Path:
    """The ERPs' state seeded once (both hold the same items, prices and stores)."""
    seeded = OdooEmulator(tmp_path_factory.mktemp("routed-template"))
    seeded.load(estate)
    seeded.close_state()
    return seeded.state_path


@pytest_asyncio.fixture(loop_scope="module")
async def erps(tmp_path: Path, template: Path) -> AsyncIterator[dict[str, OdooConnector]]:
    """Both ERPs running from copies of the template, with a connector to each."""
    emulators, connectors = [], {}
    try:
        for system in SYSTEMS:
            emulator = OdooEmulator(tmp_path / system)
            emulator.state_path.parent.mkdir(parents=True)
            shutil.copy(template, emulator.state_path)
            await emulator.start()
            emulators.append(emulator)
            assert emulator.url is not None
            credentials = OdooCredentials(SANDBOX_API_KEY, SANDBOX_DATABASE)
            connectors[system] = OdooConnector(emulator.url, credentials, POLICY)
            connectors[system].name = system
        yield connectors
    finally:
        for connector in connectors.values():
            await connector.close()
        for emulator in emulators:
            await emulator.stop()


async def variant_id(erp: OdooConnector, sku: str) -> int:
    [record] = await erp.client.search_read("product.product", [("default_code", "=", sku)], ["id"])
    return int(record["id"])


async def test_changes_in_an_erp_that_does_not_own_them_publish_nothing(
    bus: SqliteBus, erps: dict[str, OdooConnector], estate: Estate
) -> None:
    plan = load_plan("odoo_nl", [({"location": ["BRU*"]}, "odoo_be")], systems=list(erps))
    routed = RoutedErp(dict(erps), plan)
    capture = ErpChangeCapture(bus, routed, CatalogueSettings())
    assert not (await capture.baseline()).errors
    dutch, belgian = erps["odoo_nl"], erps["odoo_be"]
    sku = estate.products[3].sku

    await belgian.client.write(
        "product.product", [await variant_id(belgian, sku)], {"list_price": 1.11}
    )
    await belgian.adjust_stock(sku, "AMS01", Decimal(3), "routed-test:1")
    shadowed = await capture.poll_once()

    assert not shadowed.errors
    assert shadowed.read["prices"] == 2, "the SKU is read again from every ERP"
    assert shadowed.published["prices"] == 0, "the Dutch ERP's price still holds"
    assert shadowed.published["inventory"] == 0, "AMS01's stock is the Dutch ERP's"

    await dutch.client.write(
        "product.product", [await variant_id(dutch, sku)], {"list_price": 2.22}
    )
    await dutch.adjust_stock(sku, "AMS01", Decimal(3), "routed-test:2")
    owned = await capture.poll_once()

    assert (owned.published["prices"], owned.published["inventory"]) == (2, 1)
    events = await bus.tail(types=[PRICE_CHANGED], key=sku)
    assert {e.event.data["channel"] for e in events} == {
        c.value for c in (Channel.STORE, Channel.WEB)
    }
    assert {e.event.data["list_price"]["amount"] for e in events} == {"2.22"}
