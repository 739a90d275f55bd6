"""`retailhub serve` end to end: the command in a process of its own on a free loopback port,
over the sandbox emulators (in this test's process, on free ports) and an embedded hub in a
temporary RETAILHUB_HOME. A client made with `retailhub clients add` quotes, reserves and
captures loyalty points over real HTTP with Idempotency-Key, reads an order published to the
hub's bus as it settles in every system, and /readyz lists each connector's breaker."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.cli.clients import app as clients_app
from retailhub.config import SQLITE_FILE
from retailhub.demo.sandbox_process import free_ports
from retailhub.estate import SANDBOX_ESTATE
from retailhub.sandbox.runner import SANDBOX_PORTS, Sandbox, load_emulators
from retailhub.sandbox.seed import Estate, EstateCustomer, build_estate

pytestmark = pytest.mark.asyncio(loop_scope="module")
CUSTOMERS = 40
WAIT_S = 60.0
RETAILHUB = Path(sys.executable).with_name("retailhub")


@dataclass
class Served:
    """The running `retailhub serve`: its address, the hub's home and the sandbox's estate."""

    base_url: str
    home: Path
    estate: Estate
    key: str


def sandbox_estate_file(urls: dict[str, str], folder: Path) -> Path:
    """The shipped sandbox estate with each system on the port its emulator took."""
    text = (resources.files("retailhub") / "estates" / SANDBOX_ESTATE).read_text()
    for system, default in SANDBOX_PORTS.items():
        text = text.replace(f"http://127.0.0.1:{default}", urls[system])
    path = folder / "estate.toml"
    path.write_text(text)
    return path


async def until_up(base_url: str, process: asyncio.subprocess.Process) -> None:
    """Poll /healthz (bounded in time) until the server answers."""
    deadline = time.monotonic() + WAIT_S
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                raise AssertionError(f"serve exited {process.returncode}")
            assert time.monotonic() < deadline, "serve did not start"
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Served]:
    """The emulators on free ports, a client added by the CLI, and `retailhub serve` running."""
    folder = tmp_path_factory.mktemp("serve")
    full = await asyncio.to_thread(build_estate, 42)
    estate = dataclasses.replace(full, customers=full.customers[:CUSTOMERS])
    factories = load_emulators()
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), folder / "sandbox")
    for emulator in sandbox.emulators.values():
        emulator.load(estate)
    urls = await sandbox.start()
    home = folder / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RETAILHUB_")},
        "RETAILHUB_HOME": str(home),
        "RETAILHUB_BUS": "sqlite",
        "RETAILHUB_ESTATE": str(sandbox_estate_file(urls, folder)),
    }
    added = await asyncio.to_thread(
        CliRunner().invoke, clients_app, ["add", "till-e2e", "--scopes", "pos,read"], env=env
    )
    assert added.exit_code == 0, added.output
    (port,) = free_ports(1)
    log = (folder / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(RETAILHUB), "serve", "--port", str(port), env=env, stdout=log, stderr=log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await until_up(base_url, process)
        yield Served(base_url, home, estate, added.stdout.strip())
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
        assert "retailhub stopped" in (folder / "serve.log").read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
        await sandbox.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the served hub, authenticated as the client the CLI added."""
    headers = {"Authorization": f"Bearer {served.key}"}
    async with httpx.AsyncClient(base_url=served.base_url, headers=headers, timeout=10) as client:
        yield client


def plain_members(estate: Estate) -> list[EstateCustomer]:
    """Members every system knows alike, with points to spend."""
    return [c for c in estate.customers if not c.conflicts and c.points_balance >= 300]


async def test_readyz_lists_every_connectors_breaker(api: httpx.AsyncClient) -> None:
    answer = await api.get("/readyz")
    assert answer.status_code == 200
    ready = answer.json()
    assert (ready["status"], ready["bus"]["ok"], ready["database"]["ok"]) == ("ready", True, True)
    assert ready["systems"] == {
        name: {"breaker": "closed"} for name in ("shopify", "odoo", "hubspot", "openloyalty", "pos")
    }


async def test_a_till_quotes_reserves_and_captures_over_http(
    api: httpx.AsyncClient, served: Served
) -> None:
    member = plain_members(served.estate)[0]
    sku = served.estate.products[0].sku
    price = served.estate.price(sku, Channel.STORE).selling_price.amount
    basket = {
        "member": {"card": member.card_number},
        "channel": "store",
        "location": "AMS01",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": "1", "unit_price": str(price)}],
    }
    redemptions = "/v1/checkout/loyalty/redemptions"
    reserve = {"member": {"card": member.card_number}, "points": 250, "sale_id": "AMS01-E2E-1"}

    quote = await api.post(
        "/v1/checkout/loyalty/quote", json=basket, headers={"Idempotency-Key": "e2e-q-1"}
    )
    reserved = await api.post(redemptions, json=reserve, headers={"Idempotency-Key": "e2e-r-1"})
    retried = await api.post(redemptions, json=reserve, headers={"Idempotency-Key": "e2e-r-1"})
    url = f"{redemptions}/{reserved.json()['redemption_id']}"
    captured = await api.post(f"{url}/capture", headers={"Idempotency-Key": "e2e-c-1"})
    after = await api.post(
        "/v1/checkout/loyalty/quote", json=basket, headers={"Idempotency-Key": "e2e-q-2"}
    )

    assert quote.status_code == 200, quote.text
    assert (quote.json()["balance"], quote.json()["degraded"]) == (member.points_balance, False)
    assert reserved.status_code == 201, reserved.text
    assert reserved.json()["state"] == "reserved"
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == reserved.json()
    assert captured.status_code == 200, captured.text
    assert captured.json()["state"] == "captured"
    assert (await api.get(url)).json()["state"] == "captured"
    assert after.json()["balance"] == member.points_balance - 250


def web_order(estate: Estate, order_id: str, buyer: EstateCustomer) -> Order:
    """A completed web order of one item at its web price, VAT included, paid by card, placed
    during the campaign."""
    sku = estate.products[1].sku
    price = estate.price(sku, Channel.WEB).selling_price
    rate = estate.vat_rate(sku) / 100
    tax = Money(amount=(price.amount * rate / (1 + rate)).quantize(Decimal("0.01")), currency="EUR")
    line = OrderLine(
        line_id="1",
        sku=sku,
        title=estate.product(sku).title,
        quantity=Decimal(1),
        unit_price=price,
        extended_amount=price,
        tax_lines=[TaxLine(name=f"VAT {estate.vat_rate(sku)}%", rate=rate, amount=tax)],
    )
    start = estate.campaign.valid_from.astimezone(UTC)
    return Order(
        order_id=order_id,
        channel=Channel.WEB,
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime(start.year, start.month, start.day, 12, tzinfo=UTC) + timedelta(days=2),
        lines=[line],
        tenders=[Tender(type=TenderType.CARD, amount=line.net)],
        totals=Totals(tax_total=line.tax_total, grand_total=line.net),
        customer_id=buyer.golden.customer_id,
        email=buyer.golden.emails[0],
    )


async def test_an_order_published_to_the_bus_is_read_as_it_settles(
    api: httpx.AsyncClient, served: Served
) -> None:
    order = web_order(served.estate, "E2E-WEB-1", plain_members(served.estate)[1])
    path = f"/v1/orders/{order.order_id}"
    unknown = await api.get(path)
    async with SqliteBus(served.home / SQLITE_FILE) as bus:
        await bus.publish_one(to_event(order, "retail.order.created.v1", "/shopify/e2e-shop"))
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = await api.get(path)
        status: dict[str, Any] = answer.json()
        if answer.status_code == 200 and status["settled"]:
            break
        assert time.monotonic() < deadline, f"order did not settle: {answer.text}"
        await asyncio.sleep(0.2)

    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert status["order_id"] == order.order_id
    assert status["failed"] == []
    assert {name: s["outcome"] for name, s in status["systems"].items()} == {
        "erp": "done",
        "stock": "done",
        "loyalty": "done",
        "crm": "done",
    }
    assert status["systems"]["loyalty"]["points"] > 0
