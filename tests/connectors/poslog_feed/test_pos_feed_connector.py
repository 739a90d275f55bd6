"""The POS feed connector against the store server emulator over real HTTP on loopback: items,
prices and promotion versions sent once however often repeated, read back for drift reports,
refusals made plain, and the breaker tripping under injected faults and recovering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest

from retailhub.canonical.base import Channel
from retailhub.canonical.money import Money
from retailhub.canonical.price import Price
from retailhub.canonical.promotion import Promotion, Reward, RewardType
from retailhub.connectors.http import RequestRefused, SystemFailure
from retailhub.connectors.poslog.feed import PoslogFeedConnector
from retailhub.resilience import BreakerState, ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.poslog import PoslogEmulator
from retailhub.sandbox.seed import CET, Estate

FAST = ResiliencePolicy(
    timeout_s=2.0,
    max_attempts=2,
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    breaker_threshold=3,
    breaker_reset_s=0.2,
)


@pytest.fixture
async def pos(store_server: PoslogEmulator) -> AsyncIterator[PoslogFeedConnector]:
    assert store_server.url is not None
    connector = PoslogFeedConnector(store_server.url, "head-office-key", FAST)
    yield connector
    await connector.close()


def breaker(pos: PoslogFeedConnector) -> BreakerState:
    """The connector's breaker state as of its last call."""
    return pos.resilient.breaker_state


def count(server: PoslogEmulator, table: str) -> int:
    (rows,) = server.db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(rows)


def price_cut(estate: Estate, sku: str, store: str | None, euros: str) -> Price:
    return Price(
        sku=sku,
        channel=Channel.STORE,
        store=store,
        list_price=estate.price(sku, Channel.STORE).list_price,
        sale_price=Money.of(euros, "EUR"),
        valid_from=datetime(2026, 12, 1, tzinfo=CET),
        valid_to=datetime(2026, 12, 8, tzinfo=CET),
    )


async def test_items_are_sent_once_and_read_back(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    renamed = [p.model_copy(update={"title": f"{p.title} (new pack)"}) for p in estate.products[:3]]
    batches = count(store_server, "idempotency")

    await pos.publish_items(renamed)
    await pos.publish_items(renamed)

    assert count(store_server, "idempotency") == batches + 1
    assert await pos.get_item(renamed[0].sku) == renamed[0]
    assert await pos.get_item("SKU-NOT-THERE") is None


async def test_a_large_item_file_goes_in_bounded_batches_and_pages_back(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    await pos.publish_items(estate.products[:1200])

    assert count(store_server, "idempotency") == 3
    skus = [record["ItemID"] async for record in pos.client.items(page_size=500)]
    assert len(skus) == len(estate.products)
    assert skus == sorted(p.sku for p in estate.products)


async def test_store_prices_are_kept_per_effective_time_and_web_prices_left_out(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    sku = estate.products[5].sku
    cut = price_cut(estate, sku, "AMS01", "0.10")
    web = estate.price(sku, Channel.WEB).model_copy(update={"valid_from": cut.valid_from})
    before = count(store_server, "price")

    await pos.publish_prices([cut, web])
    await pos.publish_prices([cut])
    await pos.publish_prices([cut.model_copy(update={"sale_price": Money.of("0.05", "EUR")})])

    assert count(store_server, "price") == before + 1
    held = await pos.store_prices(sku, "AMS01")
    assert [p.valid_from for p in held] == [
        estate.price(sku, Channel.STORE).valid_from,
        cut.valid_from,
    ]
    assert held[-1].sale_price == Money.of("0.05", "EUR")


async def test_a_promotion_version_is_published_once_and_read_back(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    winter = estate.campaign

    await pos.publish_promotion(winter)
    await pos.publish_promotion(winter)

    assert count(store_server, "promotion") == 1
    assert await pos.get_promotion(winter.promotion_id) == winter
    assert await pos.get_promotion("no-such-promotion") is None


async def test_a_new_version_supersedes_and_a_changed_old_version_is_refused(
    pos: PoslogFeedConnector, estate: Estate
) -> None:
    first = _percent_off(estate, version=1)
    await pos.publish_promotion(first)
    second = first.model_copy(
        update={"version": 2, "reward": Reward(type=RewardType.PERCENT_OFF, percent=Decimal(25))}
    )
    await pos.publish_promotion(second)

    assert await pos.get_promotion(first.promotion_id) == second
    with pytest.raises(RequestRefused) as refused:
        await pos.publish_promotion(first.model_copy(update={"name": "Edited after publishing"}))
    assert refused.value.status == 409
    assert refused.value.body["error"]["code"] == "VersionConflict"


async def test_requests_without_the_api_key_are_refused(store_server: PoslogEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{store_server.url}/pos/v1/items/SKU-10001") as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "Unauthorized"


async def test_an_invalid_price_change_is_refused_naming_the_field(
    pos: PoslogFeedConnector,
) -> None:
    with pytest.raises(RequestRefused) as refused:
        await pos.client.send_price_changes(
            [
                {
                    "ItemID": "SKU-10001",
                    "RegularSalesUnitPrice": "1,99",
                    "EffectiveDateTime": "2026-12-01T00:00:00+01:00",
                }
            ]
        )
    assert refused.value.status == 400
    (detail,) = refused.value.body["error"]["details"]
    assert detail["field"] == "$.PriceChanges[0].RegularSalesUnitPrice"


async def test_the_breaker_opens_under_server_errors_and_recovers(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    winter = estate.campaign
    store_server.faults.set(store_server.faults.faults.updated({"error_rate": 1.0}))
    seen: list[type[Exception]] = []
    for _ in range(FAST.breaker_threshold + 1):
        try:
            await pos.publish_promotion(winter)
        except (SystemFailure, SystemUnavailable) as error:
            seen.append(type(error))
            if isinstance(error, SystemUnavailable):
                break
    assert seen[0] is SystemFailure
    assert seen[-1] is SystemUnavailable
    assert breaker(pos) is BreakerState.OPEN

    store_server.faults.set(store_server.faults.faults.updated({"error_rate": 0.0}))
    for _ in range(100):
        await asyncio.sleep(FAST.breaker_reset_s / 4)
        try:
            await pos.publish_promotion(winter)
            break
        except SystemUnavailable:
            continue

    assert await pos.get_promotion(winter.promotion_id) == winter
    assert breaker(pos) is BreakerState.CLOSED


async def test_a_store_server_that_is_down_trips_the_breaker(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    store_server.faults.set(store_server.faults.faults.updated({"down": True}))
    failures = 0
    for _ in range(5):
        try:
            await pos.get_promotion("winter")
        except SystemFailure:
            failures += 1
        except SystemUnavailable:
            break
    assert failures >= 1
    assert breaker(pos) is BreakerState.OPEN


def _percent_off(estate: Estate, *, version: int) -> Promotion:
    return Promotion(
        promotion_id="cheese-week",
        version=version,
        name="Cheese week",
        source="erp",
        channels=[Channel.STORE],
        stores=["AMS01", "RTM02"],
        reward=Reward(type=RewardType.PERCENT_OFF, percent=Decimal(20)),
        valid_from=datetime(2026, 12, 1, tzinfo=CET),
        valid_to=datetime(2026, 12, 1, tzinfo=CET) + timedelta(days=7),
    )


async def test_the_store_server_starts_with_the_estates_items_and_store_prices(
    pos: PoslogFeedConnector, estate: Estate
) -> None:
    weighed = next(p for p in estate.products if p.unit_of_measure.value == "kg")
    national = estate.price(weighed.sku, Channel.STORE)

    assert await pos.get_item(weighed.sku) == weighed
    held = await pos.store_prices(weighed.sku)
    assert sorted(p.store or "" for p in held) == ["AMS01", "DHG04", "EIN05", "RTM02", "UTR03"]
    assert {p.model_copy(update={"store": None}) for p in held} == {national}


async def test_a_garbled_answer_is_a_system_failure(
    pos: PoslogFeedConnector, store_server: PoslogEmulator, estate: Estate
) -> None:
    store_server.faults.set(store_server.faults.faults.updated({"malformed": True}))

    with pytest.raises(SystemFailure, match="malformed JSON"):
        await pos.get_item(estate.products[0].sku)


async def test_an_idempotency_key_reused_for_another_batch_is_refused(
    store_server: PoslogEmulator,
) -> None:
    url = f"{store_server.url}/pos/v1/item-maintenance"
    headers = {"Authorization": "Bearer key", "Idempotency-Key": "items-reused"}
    item = {"ItemID": "SKU-10001", "Description": "Gouda"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"Items": [item]}, headers=headers) as first:
            assert first.status == 201
        async with session.post(url, json={"Items": [item, item]}, headers=headers) as second:
            assert second.status == 422
            assert (await second.json())["error"]["code"] == "IdempotencyKeyReused"
