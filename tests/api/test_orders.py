"""GET /v1/orders/{id}: the order-to-cash projection and the bus's held events, over HTTP."""

from __future__ import annotations

import httpx

from retailhub.api.services import ApiServices
from retailhub.flows.order_to_cash.status import Outcome, SystemStatus, record

from .conftest import issue_key


async def test_an_order_reports_each_system(api: httpx.AsyncClient, services: ApiServices) -> None:
    key = await issue_key(services, "service-desk", "service")
    async with services.bus.transaction() as transaction:
        await record(
            transaction, "ORD-1", SystemStatus("erp", Outcome.DONE, reference="SO/0042", attempts=1)
        )
        await record(
            transaction, "ORD-1", SystemStatus("loyalty", Outcome.DONE, points=120, attempts=2)
        )
    answer = await api.get("/v1/orders/ORD-1", headers={"X-API-Key": key})
    assert answer.status_code == 200
    body = answer.json()
    assert body["order_id"] == "ORD-1"
    assert body["settled"] is False
    assert body["systems"]["erp"]["outcome"] == "done"
    assert body["systems"]["erp"]["reference"] == "SO/0042"
    assert body["systems"]["loyalty"]["points"] == 120
    assert body["systems"]["stock"]["outcome"] == "pending"
    assert body["systems"]["crm"]["outcome"] == "pending"


async def test_an_order_no_system_reported_is_404(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    key = await issue_key(services, "reporting", "read")
    answer = await api.get("/v1/orders/ORD-404", headers={"X-API-Key": key})
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:retailhub:problem:unknown-order"


async def test_order_status_needs_a_key(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/orders/ORD-1")).status_code == 401
