"""Contract: Odoo's refusals read plainly, 429 Retry-After honoured, and the breaker tripping
under injected faults and closing again once they clear."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from odoo_documents import sale
from odoo_sandbox import connect

from retailhub.connectors.http import SystemFailure
from retailhub.connectors.odoo.client import OdooRefused
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.resilience import BreakerState, ResiliencePolicy, SystemUnavailable
from retailhub.sandbox.odoo import OdooEmulator

SLOW_BACKOFF = ResiliencePolicy(
    max_attempts=3, initial_backoff_s=30.0, max_backoff_s=30.0, breaker_threshold=50
)
"""Backoff so long that a test only finishes in time when Retry-After is honoured."""

TRIPPING = ResiliencePolicy(max_attempts=1, breaker_threshold=2, breaker_reset_s=0.2)


async def _control(emulator: OdooEmulator, method: str, route: str, body: Any = None) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emulator.url}/_sandbox/{route}", json=body) as response,
    ):
        response.raise_for_status()


async def test_a_bad_api_key_is_refused_once_and_named(emulator: OdooEmulator) -> None:
    connector = connect(emulator, api_key="not-the-key")
    try:
        with pytest.raises(OdooRefused) as refused:
            await connector.pricing_controls(["SKU-10000"])
    finally:
        await connector.close()

    assert refused.value.unauthorized
    assert refused.value.exception == "werkzeug.exceptions.Unauthorized"
    assert refused.value.message == "Invalid apikey"
    assert "product.product.search_read" in str(refused.value)
    assert emulator.faults.requests_served == 1
    assert connector.resilient.breaker_state is BreakerState.CLOSED


async def test_unknown_model_and_method_are_not_found(odoo: OdooConnector) -> None:
    with pytest.raises(OdooRefused) as no_model:
        await odoo.client.call("retail.basket", "search_read", domain=[])
    with pytest.raises(OdooRefused) as no_method:
        await odoo.client.call("sale.order", "action_teleport", ids=[1])

    assert no_model.value.status == no_method.value.status == 404
    assert no_model.value.message == "the model 'retail.basket' does not exist"
    assert no_method.value.message == "The method 'sale.order.action_teleport' does not exist"


async def test_validation_and_user_errors_are_refusals(odoo: OdooConnector) -> None:
    with pytest.raises(OdooRefused) as invalid:
        await odoo.client.create("sale.order", {"client_order_ref": "no-customer"})
    empty = await odoo.client.create("account.move", {"move_type": "out_refund", "partner_id": 1})
    with pytest.raises(OdooRefused) as refused:
        await odoo.client.act("account.move", "action_post", [empty])
    with pytest.raises(OdooRefused) as misbound:
        await odoo.client.call("sale.order", "create", ids=[1], vals_list=[{}])

    assert invalid.value.status == 422
    assert invalid.value.exception == "odoo.exceptions.ValidationError"
    assert "partner_id" in invalid.value.message
    assert refused.value.exception == "odoo.exceptions.UserError"
    assert refused.value.message == "You need to add a line before posting."
    assert misbound.value.status == 422
    assert misbound.value.message == "cannot call sale.order.create with ids"


async def test_an_invalid_domain_is_odoos_server_error(odoo: OdooConnector) -> None:
    with pytest.raises(SystemFailure) as failed:
        await odoo.client.search_read("sale.order", [("colour", "=", "red")], ["id"])

    assert failed.value.status == 500


async def test_429_retry_after_is_honoured(emulator: OdooEmulator) -> None:
    connector = connect(emulator, SLOW_BACKOFF)
    await _control(emulator, "PUT", "throttle", {"requests": 2, "retry_after_s": 0})
    try:
        async with asyncio.timeout(10):
            controls = await connector.pricing_controls(["SKU-10000"])
            posting = await connector.post_sale_order(
                sale("T-1", [("SKU-10000", "1", "2.19")]), "throttled"
            )
    finally:
        await connector.close()

    assert [c.sku for c in controls] == ["SKU-10000"]
    assert posting.status == "sale"


async def test_a_throttled_create_is_repeated_as_odoo_did_not_act(
    emulator: OdooEmulator, odoo: OdooConnector
) -> None:
    await _control(emulator, "PUT", "throttle", {"requests": 1, "retry_after_s": 0})

    created = await odoo.client.create("res.partner", {"name": "Throttled", "ref": "T-ONCE"})

    found = await odoo.client.search_read("res.partner", [("ref", "=", "T-ONCE")], ["id"])
    assert [p["id"] for p in found] == [created]


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"down": True}])
async def test_breaker_trips_under_faults_and_recovers(
    emulator: OdooEmulator, fault: dict[str, Any]
) -> None:
    connector = connect(emulator, TRIPPING)
    try:
        await _control(emulator, "PUT", "faults", fault)
        for _ in range(2):
            with pytest.raises(SystemFailure):
                await connector.pricing_controls(["SKU-10000"])
        served = emulator.faults.requests_served
        with pytest.raises(SystemUnavailable):
            await connector.pricing_controls(["SKU-10000"])
        assert connector.resilient.breaker_state is BreakerState.OPEN
        assert emulator.faults.requests_served == served

        await _control(emulator, "DELETE", "faults")
        await asyncio.sleep(0.3)
        controls = await connector.pricing_controls(["SKU-10000"])
    finally:
        await connector.close()

    assert [c.sku for c in controls] == ["SKU-10000"]
    assert connector.resilient.breaker_state is BreakerState.CLOSED


async def test_a_garbled_answer_is_a_system_failure(emulator: OdooEmulator) -> None:
    connector = connect(emulator, TRIPPING)
    await _control(emulator, "PUT", "faults", {"malformed": True})
    try:
        with pytest.raises(SystemFailure, match="malformed JSON"):
            await connector.pricing_controls(["SKU-10000"])
    finally:
        await connector.close()
