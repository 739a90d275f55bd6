"""The till simulator: journals that map back to the very documents rung up, with zero
failures, for any seed; and its emulator routes delivering to a drop folder and a hub URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, OrderStatus, TenderType
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.canonical.returns import Return
from retailhub.connectors.poslog import poslog_to_canonical
from retailhub.connectors.poslog.dropfolder import PoslogDropFolder
from retailhub.connectors.poslog.feed import PoslogFeedConnector
from retailhub.sandbox.poslog import PoslogEmulator, TillSimulator
from retailhub.sandbox.seed import CET, Estate

DAY = date(2026, 11, 27)
STORES = ("AMS01", "RTM02", "UTR03", "DHG04", "EIN05")


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32), store=st.sampled_from(STORES))
def test_journals_map_back_to_the_documents_rung_up(estate: Estate, seed: int, store: str) -> None:
    tills = TillSimulator(estate, seed=seed)
    runs = [tills.run(store, 30, DAY) for _ in range(2)]

    for run in runs:
        translation = poslog_to_canonical(run.poslog)
        assert translation.failures == ()
        assert translation.control_transactions_skipped == run.control_transactions > 0
        assert list(translation.documents) == list(run.documents)
        for document in translation.documents:
            assert type(document).model_validate(document.model_dump(mode="json")) == document


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_baskets_look_like_a_dutch_store_day(estate: Estate, seed: int) -> None:
    tills = TillSimulator(estate, seed=seed)
    documents = [d for _ in range(2) for d in tills.run("DHG04", 40, DAY).documents]
    sales = [d for d in documents if isinstance(d, Order)]
    returns = [d for d in documents if isinstance(d, Return)]
    sold_ids = {o.order_id for o in sales if o.status is OrderStatus.COMPLETED}

    for order in sales:
        assert order.prices_include_tax
        assert order.currency == "EUR"
        for line in order.lines:
            product = estate.product_by_gtin(line.gtin or "")
            assert product.sku == line.sku
            assert line.unit_of_measure is product.unit_of_measure
            if line.unit_of_measure is UnitOfMeasure.KG:
                assert line.quantity.as_tuple().exponent == -3  # grams, as the scale prints
                assert Decimal("0.150") <= line.quantity <= Decimal("2.500")
        if order.loyalty_card is not None:
            estate.customer_by_card(order.loyalty_card)
        if any(t.type is TenderType.CASH for t in order.tenders):
            assert order.totals.grand_total.amount % Decimal("0.05") == 0
    for document in returns:
        assert document.original_order_id in sold_ids


def test_a_day_at_the_tills_has_every_kind_of_basket(estate: Estate) -> None:
    tills = TillSimulator(estate, seed=11)
    documents = [d for _ in range(3) for d in tills.run("AMS01", 60, DAY).documents]
    sales = [d for d in documents if isinstance(d, Order)]
    lines = [line for order in sales for line in order.lines]

    assert any(o.status is OrderStatus.CANCELLED for o in sales)
    assert any(o.totals.rounding is not None and o.change_given is not None for o in sales)
    assert any(t.type is TenderType.LOYALTY_POINTS for o in sales for t in o.tenders)
    assert any(o.loyalty_card is not None for o in sales)
    assert any(line.unit_of_measure is UnitOfMeasure.KG for line in lines)
    assert any(isinstance(d, Return) for d in documents)


def test_the_same_seed_rings_up_the_same_journal(estate: Estate) -> None:
    first = TillSimulator(estate, seed=9).run("EIN05", 30, DAY)
    again = TillSimulator(estate, seed=9).run("EIN05", 30, DAY)

    assert first.poslog == again.poslog


def test_only_the_estates_stores_have_tills(estate: Estate) -> None:
    with pytest.raises(ValueError, match="WEB"):
        TillSimulator(estate).run("WEB", 1, DAY)


@pytest.fixture
async def hub_inbox() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A stand-in for the hub's POSLog receiver on loopback, keeping what it is sent."""
    received: list[bytes] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=202)

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/poslog", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/poslog", received
    await runner.cleanup()


async def _post(url: str, body: object) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.json()


async def test_the_tills_route_drops_journals_that_the_watcher_publishes(
    store_server: PoslogEmulator, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    url = f"{store_server.url}/_sandbox/tills/run"

    status, first = await _post(
        url, {"store": "AMS01", "count": 30, "drop_folder": str(drop), "business_day": "2026-11-27"}
    )
    _, second = await _post(
        url, {"store": "AMS01", "count": 30, "drop_folder": str(drop), "business_day": "2026-11-27"}
    )

    assert status == 201
    assert not list(drop.glob("*.tmp"))
    assert set(first["document_ids"]).isdisjoint(second["document_ids"])
    async with SqliteBus(tmp_path / "bus.sqlite3") as bus:
        outcomes = await PoslogDropFolder(drop, bus).scan_once()
        assert [o.failures for o in outcomes] == [(), ()]
        logged = await bus.tail(after=0, limit=1000)
    assert len(logged) == first["transactions"] + second["transactions"]


async def test_the_tills_push_journals_to_the_configured_hub(
    store_server: PoslogEmulator, hub_inbox: tuple[str, list[bytes]]
) -> None:
    hub_url, received = hub_inbox
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{store_server.url}/_sandbox/tills/config", json={"hub_url": hub_url}
        ) as response:
            assert response.status == 200
        status, run = await _post(
            f"{store_server.url}/_sandbox/tills/run", {"store": "RTM02", "count": 5}
        )
        async with session.get(
            f"{store_server.url}/_sandbox/tills/files/{run['file']}"
        ) as response:
            journal = await response.read()

    assert status == 201
    assert run["deliveries"] == [{"target": hub_url, "ok": True, "status": 202}]
    assert received == [journal]
    assert len(poslog_to_canonical(journal).documents) == 5


async def test_a_bad_till_run_is_refused_naming_the_field(store_server: PoslogEmulator) -> None:
    status, body = await _post(
        f"{store_server.url}/_sandbox/tills/run", {"store": "AMS01", "count": 0}
    )

    assert status == 400
    assert body["error"]["details"][0]["field"] == "$.count"


def test_live_store_promotions_take_money_off_and_still_map_back(estate: Estate) -> None:
    food_week = Promotion(
        promotion_id="food-week",
        version=1,
        name="Food week",
        source="erp",
        channels=[Channel.STORE],
        stores=["UTR03"],
        eligibility=Eligibility(hierarchy_nodes=[["Food"]]),
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(15)),
        valid_from=datetime(2026, 11, 23, tzinfo=CET),
        valid_to=datetime(2026, 11, 30, tzinfo=CET),
        status=PromotionStatus.ACTIVE,
    )
    tills = TillSimulator(estate, seed=4, promotions=[food_week])
    runs = [tills.run("UTR03", 40, DAY) for _ in range(3)]
    orders = [d for run in runs for d in run.documents if isinstance(d, Order)]
    discounted = [line for order in orders for line in order.lines if line.discounts]

    assert discounted
    for line in discounted:
        assert estate.product(line.sku or "").hierarchy[0] == "Food"
        assert line.discounts[0].promotion_id == "food-week"
    for run in runs:
        translation = poslog_to_canonical(run.poslog)
        assert translation.failures == ()
        assert list(translation.documents) == list(run.documents)
    elsewhere = TillSimulator(estate, seed=4, promotions=[food_week]).run("AMS01", 40, DAY)
    assert not any(
        line.discounts for d in elsewhere.documents if isinstance(d, Order) for line in d.lines
    )


async def test_the_tills_apply_what_head_office_published(store_server: PoslogEmulator) -> None:
    assert store_server.url is not None
    pos = PoslogFeedConnector(store_server.url, "head-office-key")
    try:
        await pos.publish_promotion(
            Promotion(
                promotion_id="drinks-deal",
                version=1,
                name="Drinks deal",
                source="erp",
                channels=[Channel.STORE],
                eligibility=Eligibility(hierarchy_nodes=[["Drinks"], ["Household"]]),
                reward=Reward(type=RewardType.AMOUNT_OFF, amount=Money.of("0.25", "EUR")),
                valid_from=datetime(2026, 11, 1, tzinfo=CET),
                valid_to=datetime(2026, 12, 1, tzinfo=CET),
                status=PromotionStatus.ACTIVE,
            )
        )
    finally:
        await pos.close()
    status, run = await _post(
        f"{store_server.url}/_sandbox/tills/run",
        {"store": "DHG04", "count": 60, "business_day": "2026-11-27"},
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{store_server.url}/_sandbox/tills/files/{run['file']}") as response,
    ):
        translation = poslog_to_canonical(await response.read())

    assert status == 201
    assert translation.failures == ()
    promoted = {
        discount.promotion_id
        for order in translation.orders
        for line in order.lines
        for discount in line.discounts
    }
    assert promoted == {"drinks-deal"}
