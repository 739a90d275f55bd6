"""The hub survives SIGKILL at any moment: a worker is killed at random points while orders
flow and again while return sagas run, restarted each time, and in the end every order and
every return is in every system exactly once in effect — one ERP sale order, one loyalty
accrual and one CRM note per order, one credit note and one points reversal per return, and
stock moved once each way."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from retailhub.bootstrap import Connectors, build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.order import Order
from retailhub.config import SQLITE_FILE
from retailhub.demo.returns import brought_back
from retailhub.demo.sandbox_process import RunningSandbox, sandbox_processes
from retailhub.demo.shoppers import Shoppers
from retailhub.estate import Secrets
from retailhub.flows.order_to_cash.decisions import order_note_key
from retailhub.flows.order_to_cash.events import ORDER_CREATED
from retailhub.flows.order_to_cash.status import TABLE
from retailhub.flows.returns.status import RETURNS_TABLE, create_status_tables
from retailhub.flows.returns.status import SYSTEMS_TABLE as RETURN_SYSTEMS_TABLE
from retailhub.sandbox.runner import SANDBOX_PORTS
from retailhub.sandbox.seed import build_estate

pytestmark = pytest.mark.asyncio(loop_scope="module")

WORKER = Path(__file__).with_name("hub_worker.py")
ORDERS = 60
RETURNS = 10
KILLS = 3
RETURN_RECEIVED = "retail.return.received.v1"
SETTLE_S = 90.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSandbox]:
    """The five emulators in processes of their own."""
    async with sandbox_processes(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


def start_worker(estate_file: Path, home: Path) -> subprocess.Popen[bytes]:
    """A hub worker process on the shared home."""
    (home / "ready").unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(estate_file), str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_ready(worker: subprocess.Popen[bytes], home: Path) -> None:
    """Until the worker has opened the hub (bounded)."""
    deadline = time.monotonic() + 60
    while not (home / "ready").exists():
        if worker.poll() is not None:
            raise AssertionError(
                f"worker exited: {worker.stderr.read().decode() if worker.stderr else ''}"
            )
        assert time.monotonic() < deadline, "worker did not open the hub"
        await asyncio.sleep(0.1)


async def settled_orders(bus: SqliteBus) -> int:
    """Orders every one of the four systems has settled."""
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all(
            f"SELECT order_id FROM {TABLE} WHERE outcome != 'pending'"
            " GROUP BY order_id HAVING COUNT(*) = 4"
        )
    return len(rows)


async def points_recorded(bus: SqliteBus) -> dict[str, int]:
    """The points the loyalty platform answered for each order's one registration."""
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all(
            f"SELECT order_id, COALESCE(points, 0) FROM {TABLE} WHERE system = 'loyalty'"
        )
    return {order_id: int(points) for order_id, points in rows}


async def crm_noted(bus: SqliteBus) -> dict[str, bool]:
    """Whether the CRM subscription put the order's note on a contact (orders of unknown
    shoppers are skipped)."""
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all(
            f"SELECT order_id, outcome FROM {TABLE} WHERE system = 'crm'"
        )
    return {order_id: outcome == "done" for order_id, outcome in rows}


async def notes_under(connectors: Connectors, key: str) -> int:
    """How many notes the CRM holds under a key."""
    crm: Any = connectors.crm
    page = await crm.client.search(
        "notes",
        [[{"propertyName": "retailhub_note_key", "operator": "EQ", "value": key}]],
        ["retailhub_note_key"],
    )
    return int(page.get("total", len(page.get("results") or [])))


async def on_hand(connectors: Connectors, orders: list[Order]) -> Counter[tuple[str, str]]:
    """Stock on hand of every SKU the orders sold, where they sold it."""
    levels: Counter[tuple[str, str]] = Counter()
    for location in {order.location or "WEB" for order in orders}:
        for level in await connectors.erps["odoo"].stock_levels(location):
            levels[(location, level.sku)] = level.on_hand  # type: ignore[assignment]
    return levels


async def kill_repeatedly(
    worker: subprocess.Popen[bytes], estate_file: Path, home: Path, dice: random.Random, kills: int
) -> subprocess.Popen[bytes]:
    """SIGKILL the worker `kills` times at random moments, restarting it each time."""
    for _ in range(kills):
        await asyncio.sleep(dice.uniform(0.2, 2.0))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker(estate_file, home)
        await wait_ready(worker, home)
    return worker


async def refunded_returns(bus: SqliteBus) -> dict[str, int]:
    """Returns refunded so far, with the points their loyalty step moved."""
    async with bus.transaction() as transaction:
        await create_status_tables(transaction)
        rows = await transaction.fetch_all(
            f"SELECT r.return_id, COALESCE(s.points, 0) FROM {RETURNS_TABLE} r"
            f" LEFT JOIN {RETURN_SYSTEMS_TABLE} s"
            " ON s.return_id = r.return_id AND s.system = 'loyalty'"
            " WHERE r.state = 'refunded'"
        )
    return {return_id: abs(int(points)) for return_id, points in rows}


async def wait_for(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Bounded wait until `condition` holds."""
    deadline = time.monotonic() + SETTLE_S
    while not await condition():
        assert time.monotonic() < deadline, f"{what} did not happen after the kills"
        await asyncio.sleep(0.2)


async def test_orders_and_returns_complete_exactly_once_through_repeated_kills(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    estate = build_estate(42)
    day = (estate.campaign.valid_from.astimezone(UTC) + timedelta(days=2)).replace(hour=12)
    shoppers = Shoppers(estate, seed=11)
    orders = [shoppers.order(f"KILL-{n:03d}", day) for n in range(ORDERS)]
    store_sales = [order for order in orders if order.location][:RETURNS]
    returns = [
        brought_back(sale, f"KILL-RET-{n:02d}", sale.location or "", day, paid_at_till=True)
        for n, sale in enumerate(store_sales)
    ]
    connectors = build_connectors(sandbox.estate, Secrets.from_environment(sandbox=True))
    before = await on_hand(connectors, orders)
    estate_file = tmp_path / "estate.toml"
    text = (Path(__file__).parents[2] / "src/retailhub/estates/sandbox.toml").read_text()
    for system, port in sandbox.ports.items():
        text = text.replace(f"127.0.0.1:{SANDBOX_PORTS[system]}", f"127.0.0.1:{port}")
    estate_file.write_text(text)
    home = tmp_path / "hub"
    home.mkdir()
    dice = random.Random(5)
    worker = start_worker(estate_file, home)
    await wait_ready(worker, home)
    try:
        async with SqliteBus(home / SQLITE_FILE, poll_interval=0.05) as bus:
            for start in range(0, ORDERS, 10):
                batch = orders[start : start + 10]
                await bus.publish([to_event(o, ORDER_CREATED, "/kill-test") for o in batch])
            worker = await kill_repeatedly(worker, estate_file, home, dice, KILLS)

            async def orders_settled() -> bool:
                return await settled_orders(bus) >= ORDERS

            await wait_for(orders_settled, "every order settling")
            await bus.publish([to_event(r, RETURN_RECEIVED, "/kill-test/tills") for r in returns])
            worker = await kill_repeatedly(worker, estate_file, home, dice, KILLS)

            async def returns_refunded() -> bool:
                return len(await refunded_returns(bus)) >= len(returns)

            await wait_for(returns_refunded, "every return being refunded")
            recorded = await points_recorded(bus)
            crm_done = await crm_noted(bus)
            reversed_points = await refunded_returns(bus)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    postings = Counter(p.key for p in await connectors.erps["odoo"].postings(day.date()))
    assert all(postings[order.order_id] == 1 for order in orders), postings
    for document in returns:
        assert postings[f"return_to_refund:{document.return_id}:erp"] == 1, postings
    assert connectors.loyalty is not None
    for order in orders:
        noted = 1 if crm_done[order.order_id] else 0
        assert await notes_under(connectors, order_note_key(order.order_id)) == noted
        if order.loyalty_card:
            member = await connectors.loyalty.find_member(card=order.loyalty_card)
            assert member is not None
            ledger = await connectors.loyalty.ledger(member.member_id)
            accruals = [r for r in ledger if r.order_id == order.order_id and r.points > 0]
            reasons = [row.reason for row in accruals]
            assert len(reasons) == len(set(reasons)), (order.order_id, accruals)
            assert sum(row.points for row in accruals) == recorded[order.order_id]
            for document in returns:
                if document.original_order_id == order.order_id:
                    reversal = [r for r in ledger if r.return_id == document.return_id]
                    assert sum(-r.points for r in reversal) == reversed_points[document.return_id]
    moved: Counter[tuple[str, str]] = Counter()
    for order in orders:
        for line in order.lines:
            assert line.sku is not None
            moved[(order.location or "WEB", line.sku)] += line.quantity  # type: ignore[assignment]
    for document in returns:
        for back in document.lines:
            assert back.sku is not None
            moved[(document.received_location or "", back.sku)] -= back.quantity  # type: ignore[assignment]
    after = await on_hand(connectors, orders)
    for place, quantity in moved.items():
        assert before[place] - after[place] == Decimal(quantity), place
    await connectors.close()
