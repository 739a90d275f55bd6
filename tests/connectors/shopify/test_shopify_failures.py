"""How the Shopify connector meets Shopify's refusals, its rate limit and a failing shop: 4xx
as clear errors, 429 waited out as Retry-After says, and the breaker tripping and recovering."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from shopify_sandbox import connect, emulator_from

from retailhub.canonical.customer import Customer
from retailhub.connectors.http import RequestRefused, SystemFailure
from retailhub.connectors.shopify.client import CALL_LIMIT_HEADER, refusal_reasons
from retailhub.connectors.shopify.connector import ShopifyConnector
from retailhub.resilience import BreakerState, ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.seed import Estate
from retailhub.sandbox.shopify import ShopifyEmulator

TRIPPING = ResiliencePolicy(timeout_s=2.0, max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2)


async def set_faults(emulator: ShopifyEmulator, **faults: object) -> None:
    """Inject faults through the emulator's control route, as `retailhub sandbox fault` does."""
    async with aiohttp.ClientSession() as session:
        method = "PUT" if faults else "DELETE"
        async with session.request(
            method, f"{emulator.url}/_sandbox/faults", json=faults or None
        ) as answer:
            assert answer.status == 200


async def test_a_wrong_access_token_is_refused_with_shopifys_401(
    emulator: ShopifyEmulator,
) -> None:
    assert emulator.url is not None
    shop = ShopifyConnector(emulator.url, "shpat_wrong", TRIPPING)
    with pytest.raises(RequestRefused) as refused:
        await shop.get_order("SHOPIFY-ORDER-1")
    assert refused.value.status == 401
    assert refusal_reasons(refused.value)[0].startswith("[API] Invalid API key or access token")
    assert shop.resilient.breaker_state is BreakerState.CLOSED
    await shop.close()


async def test_a_taken_email_is_refused_with_the_field_and_reason(
    connector: ShopifyConnector, small_estate: Estate
) -> None:
    taken = small_estate.customers[0].shop_view.primary_email
    body = {"first_name": "Ann", "email": taken}
    with pytest.raises(RequestRefused) as refused:
        await connector.client.create_customer(body)
    assert refused.value.status == 422
    assert refused.value.body == {"errors": {"email": ["has already been taken"]}}
    assert refusal_reasons(refused.value) == ["email: has already been taken"]


async def test_a_missing_resource_is_shopifys_404(connector: ShopifyConnector) -> None:
    with pytest.raises(RequestRefused) as refused:
        await connector.client.update_customer(1, {"first_name": "Nobody"})
    assert refused.value.status == 404
    assert refused.value.body == {"errors": "Not Found"}
    assert await connector.client.price_rule(1) is None


async def test_a_missing_root_and_a_blank_price_rule_are_refused(
    connector: ShopifyConnector,
) -> None:
    with pytest.raises(RequestRefused) as missing:
        await connector.client.http.request(
            "POST", connector.client.path("customers"), json={"first_name": "Ann"}
        )
    assert missing.value.status == 400
    assert missing.value.body == {"errors": {"customer": "Required parameter missing or invalid"}}
    with pytest.raises(RequestRefused) as blank:
        await connector.client.create_price_rule({"title": "Half off", "value": "50"})
    assert blank.value.status == 422
    assert "starts_at: can't be blank" in refusal_reasons(blank.value)


async def test_a_cursor_with_filters_is_refused_as_shopify_does(
    connector: ShopifyConnector,
) -> None:
    first = await connector.client.http.request(
        "GET", connector.client.path("products"), params={"limit": 5}
    )
    assert 'rel="next"' in first.headers["Link"]
    with pytest.raises(RequestRefused) as refused:
        await connector.client.http.request(
            "GET",
            connector.client.path("products"),
            params={"page_info": "e30", "limit": 5, "vendor": "retailhub"},
        )
    assert refused.value.status == 400


async def test_a_customer_without_identity_or_email_is_created_not_guessed(
    connector: ShopifyConnector,
) -> None:
    nameless = Customer(customer_id="CUST-WALKIN", given_name="Walk-in")
    assert (await connector.upsert_customer(nameless)).isdigit()


async def test_429_is_waited_out_as_retry_after_says(
    seeded_state: Path, tmp_path: Path, small_estate: Estate
) -> None:
    emulator = emulator_from(seeded_state, tmp_path, bucket_size=2, leak_rate=5.0)
    await emulator.start()
    shop = connect(emulator)
    skus = [p.sku for p in small_estate.products[:6]]
    levels = [await shop.inventory_levels([sku], "WEB") for sku in skus]
    assert [len(found) for found in levels] == [1] * len(skus)
    assert emulator.bucket.throttled > 0
    answer = await shop.client.http.request("GET", shop.client.path("locations"))
    assert answer.headers[CALL_LIMIT_HEADER].endswith("/2")
    await shop.close()
    await emulator.stop()


async def test_the_throttle_answer_is_shopifys(seeded_state: Path, tmp_path: Path) -> None:
    emulator = emulator_from(seeded_state, tmp_path, bucket_size=1, leak_rate=0.5)
    url = await emulator.start()
    headers = {"X-Shopify-Access-Token": emulator.access_token}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{url}/admin/api/2024-10/locations.json") as answer:
            assert answer.status == 200
        async with session.get(f"{url}/admin/api/2024-10/locations.json") as answer:
            assert answer.status == 429
            assert float(answer.headers["Retry-After"]) > 0
            assert (await answer.json())["errors"].startswith("Exceeded 2 calls per second")
    await emulator.stop()


async def test_errors_trip_the_breaker_which_recovers_once_cleared(
    emulator: ShopifyEmulator,
) -> None:
    shop = connect(emulator, TRIPPING)
    await set_faults(emulator, error_rate=1.0)
    for _ in range(2):
        with pytest.raises(SystemFailure) as failure:
            await shop.get_order("SHOPIFY-ORDER-1")
        assert failure.value.status == 500
    with pytest.raises(SystemUnavailable):
        await shop.get_order("SHOPIFY-ORDER-1")
    assert shop.resilient.breaker_state is BreakerState.OPEN
    await set_faults(emulator)
    assert await recovered(shop)
    assert shop.resilient.breaker_state.value == BreakerState.CLOSED.value
    await shop.close()


async def test_a_shop_that_is_down_trips_the_breaker_too(emulator: ShopifyEmulator) -> None:
    shop = connect(emulator, TRIPPING)
    await set_faults(emulator, down=True)
    for _ in range(2):
        with pytest.raises(SystemFailure):
            await shop.location_ids()
    with pytest.raises(SystemUnavailable):
        await shop.location_ids()
    await set_faults(emulator)
    assert await recovered(shop)
    await shop.close()


async def recovered(shop: ShopifyConnector, attempts: int = 50) -> bool:
    """Call until the breaker lets calls through again (bounded: 50 tries, 50 ms apart)."""
    for _ in range(attempts):
        try:
            await shop.get_order("SHOPIFY-ORDER-1")
        except SystemUnavailable:
            await asyncio.sleep(0.05)
        else:
            return True
    return False
