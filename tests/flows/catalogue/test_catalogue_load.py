"""The bulk initial load against the sandbox emulators: progress per batch, every item in the
three targets, and a load killed mid-way that resumes from its checkpoint without sending a
completed batch again; the `retailhub catalogue` commands on top of it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailhub.bus.sqlite import SqliteBus
from retailhub.cli.catalogue import app
from retailhub.flows.catalogue import (
    ErpChangeCapture,
    LoadProgress,
    LoadState,
    LoadTargets,
    NothingToResume,
    catalogue_status,
    load_catalogue,
    load_progress,
)

from .helpers import (
    WAIT_S,
    World,
    estate_text,
    loyalty_item,
    pos_item,
    requests_served,
    set_faults,
    shopify_listing,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
BATCH = 40


def targets(world: World) -> LoadTargets:
    return LoadTargets(world.shopify, world.pos, world.loyalty)


def environment(world: World, home: Path) -> dict[str, str]:
    """The environment a `retailhub` process needs to reach this test's sandbox and hub DB."""
    estate = home / "estate.toml"
    estate.write_text(estate_text(world.urls))
    return {"RETAILHUB_HOME": str(home), "RETAILHUB_ESTATE": str(estate), "RETAILHUB_BUS": "sqlite"}


def loaded_batches(database: Path) -> list[tuple[int, int]]:
    """(batch, items) of every checkpointed batch, read as another process sees the file."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT batch, COUNT(*) FROM catalogue_load_items GROUP BY batch ORDER BY batch"
            ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [(int(batch), int(count)) for batch, count in rows]


async def test_load_reports_each_batch_and_fills_every_target(bus: SqliteBus, world: World) -> None:
    seen: list[tuple[int, int, int]] = []

    def progress(at: LoadProgress, skipped: int) -> None:
        seen.append((at.batches, at.items, skipped))

    done = await load_catalogue(
        bus, world.odoo, targets(world), batch_size=BATCH, on_progress=progress
    )
    total = len(world.estate.products)
    assert done.state is LoadState.DONE
    assert (done.batches, done.items) == (-(-total // BATCH), total)
    assert [items for _, items, _ in seen[:-1]] == list(range(BATCH, total + 1, BATCH))
    for product in (world.estate.products[0], world.estate.products[-1]):
        _, variants = await shopify_listing(world, product.sku)
        assert variants[0].gtins == product.gtins
        assert (await pos_item(world, product.sku)).hierarchy == product.hierarchy
        assert (await loyalty_item(world, product.sku))["name"] == product.title

    # The load baselined the capture: the poller finds no item to publish.
    report = await ErpChangeCapture(bus, world.odoo).poll_once()
    assert report.published["products"] == 0
    with pytest.raises(NothingToResume):
        await load_catalogue(bus, world.odoo, targets(world), resume=True)


async def test_a_killed_load_resumes_without_sending_completed_batches(
    world: World, tmp_path: Path
) -> None:
    env = {**os.environ, **environment(world, tmp_path)}
    database = tmp_path / "retailhub.sqlite"
    total = len(world.estate.products)
    await set_faults(world, "shopify", {"latency_ms": 40})
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from retailhub.cli.catalogue import app; app()",
            "load",
            "--batch",
            str(BATCH),
            "--json",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = time.monotonic() + WAIT_S
        while not await asyncio.to_thread(loaded_batches, database):
            assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no batch was checkpointed"
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        await set_faults(world, "shopify", None)

    before = await asyncio.to_thread(loaded_batches, database)
    assert 1 <= len(before) < -(-total // BATCH), "the kill came mid-load"
    assert all(count == BATCH for _, count in before)
    pos_requests = await requests_served(world, "poslog")
    skipped_seen: list[int] = []
    async with SqliteBus(database, poll_interval=0.02) as bus:
        async with bus.transaction() as transaction:
            killed = await load_progress(transaction)
        assert killed is not None
        assert killed.state is LoadState.RUNNING
        assert killed.batches == len(before)
        done = await load_catalogue(
            bus,
            world.odoo,
            targets(world),
            resume=True,
            on_progress=lambda _, skipped: skipped_seen.append(skipped),
        )
        status = await catalogue_status(bus)
    after = await asyncio.to_thread(loaded_batches, database)

    remaining = -(-(total - len(before) * BATCH) // BATCH)
    assert await requests_served(world, "poslog") - pos_requests == remaining
    assert skipped_seen[-1] == len(before) * BATCH
    assert after[: len(before)] == before, "completed batches are kept, not sent again"
    assert sum(count for _, count in after) == total
    assert [batch for batch, _ in after] == list(range(1, len(after) + 1))
    assert (done.state, done.items, done.batches) == (LoadState.DONE, total, len(after))
    assert status.load is not None
    assert status.load.finished
    assert status.applied == dict.fromkeys(
        ("commerce.products", "loyalty.products", "pos.items"), total
    )


async def test_the_load_command_reports_and_refuses_bad_input(world: World, tmp_path: Path) -> None:
    env = environment(world, tmp_path)
    runner = CliRunner()

    def invoke(*arguments: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(arguments), env=env)
        return result.exit_code, result.stdout, result.stderr

    code, _, errors = await asyncio.to_thread(invoke, "load", "--resume")
    assert code == 1
    assert "no unfinished catalogue load to resume" in errors
    code, _, errors = await asyncio.to_thread(invoke, "load", "--batch", "0")
    assert code == 2
    assert "--batch" in errors

    code, out, errors = await asyncio.to_thread(invoke, "load", "--batch", "120")
    assert code == 0, errors
    assert "loaded 240 items in 2 batches" in out
    code, out, _ = await asyncio.to_thread(invoke, "status", "--json")
    assert code == 0
    assert '"batches": 2' in out
    assert '"commerce.products": 240' in out
    code, out, _ = await asyncio.to_thread(invoke, "status")
    assert code == 0
    assert "load: done, 240 items in 2 batches" in out
    assert "pos.items: 240 applied, 0 refused as stale" in out


async def test_the_poll_command_publishes_what_changed_once(world: World, tmp_path: Path) -> None:
    env = environment(world, tmp_path)
    runner = CliRunner()

    def invoke(*arguments: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(arguments), env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = await asyncio.to_thread(invoke, "baseline")
    assert code == 0, out
    assert f"{len(world.estate.products)} products" in out
    sku = world.estate.products[100].sku
    found = await world.odoo.client.search_read(
        "product.product", [("default_code", "=", sku)], ["id"]
    )
    await world.odoo.client.write("product.product", [found[0]["id"]], {"name": "Polled by CLI"})
    code, out, errors = await asyncio.to_thread(invoke, "poll", "--once", "--json")
    assert code == 0, errors
    assert '"products": 1' in out
    async with SqliteBus(tmp_path / "retailhub.sqlite") as bus:
        (logged,) = await bus.tail(types=["retail.product.upserted.v1"])
    assert logged.event.subject == sku
    assert logged.event.extensions["changedfields"] == "title"
