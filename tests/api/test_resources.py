"""Returns, customers and promotions over HTTP: start a return, read each projection, 404s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from retailhub.api.services import ApiServices
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.order import Order
from retailhub.flows.returns.claims import create_claims_table
from retailhub.flows.returns.ledger import create_ledger_table, keep_order

from .conftest import issue_key
from .helpers import events_of


@pytest.fixture
def web_return(samples: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(
        (samples / "canonical" / "return-web-order-in-store.json").read_bytes()
    )
    document.update(status="requested", received_channel=None, received_location=None)
    return document


@pytest.fixture
async def sold(services: ApiServices, samples: Path) -> Order:
    order = Order.model_validate_json((samples / "canonical" / "web-order-us.json").read_bytes())
    async with services.bus.transaction() as transaction:
        await create_ledger_table(transaction)
        await create_claims_table(transaction)
        await keep_order(transaction, order)
    return order


async def test_a_return_started_online_is_accepted_and_published(
    api: httpx.AsyncClient,
    services: ApiServices,
    bus: SqliteBus,
    sold: Order,
    web_return: dict[str, Any],
) -> None:
    headers = {
        "X-API-Key": await issue_key(services, "service-desk", "service"),
        "Idempotency-Key": "ret-1",
    }
    answer = await api.post("/v1/returns", json=web_return, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["return_id"] == "RET-WEB-1001-1"
    assert answer.headers["location"] == "/v1/returns/RET-WEB-1001-1"
    (event,) = await events_of(bus, ["retail.return.requested.v1"])
    assert event.subject == "RET-WEB-1001-1"
    again = await api.post("/v1/returns", json=web_return, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await events_of(bus, ["retail.return.requested.v1"])) == 1


async def test_a_return_over_what_was_bought_names_the_line(
    api: httpx.AsyncClient, services: ApiServices, sold: Order, web_return: dict[str, Any]
) -> None:
    web_return["lines"][0]["quantity"] = "5"
    headers = {
        "X-API-Key": await issue_key(services, "web-shop", "commerce"),
        "Idempotency-Key": "ret-2",
    }
    answer = await api.post("/v1/returns", json=web_return, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(e["path"].startswith("$.lines[0]") for e in answer.json()["errors"])


async def test_an_invalid_return_document_lists_every_fault(
    api: httpx.AsyncClient, services: ApiServices, web_return: dict[str, Any]
) -> None:
    web_return["refund_total"] = {"amount": "1.00", "currency": "USD"}
    del web_return["return_id"]
    headers = {
        "X-API-Key": await issue_key(services, "web-shop", "commerce"),
        "Idempotency-Key": "ret-3",
    }
    answer = await api.post("/v1/returns", json=web_return, headers=headers)
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json()["errors"]}
    assert "$.return_id" in paths


async def test_reading_a_return_a_customer_and_a_promotion_unknown_is_404(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    headers = {"X-API-Key": await issue_key(services, "reporting", "read")}
    for path, slug in (
        ("/v1/returns/RET-NONE", "unknown-return"),
        ("/v1/customers/CUST-NONE", "unknown-customer"),
        ("/v1/customers/123?system=shopify", "unknown-customer"),
        ("/v1/promotions/PROMO-NONE", "unknown-promotion"),
    ):
        answer = await api.get(path, headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["type"] == f"urn:retailhub:problem:{slug}"


async def test_a_pos_client_may_not_start_returns_online(
    api: httpx.AsyncClient, services: ApiServices, web_return: dict[str, Any]
) -> None:
    headers = {
        "X-API-Key": await issue_key(services, "till", "pos"),
        "Idempotency-Key": "ret-4",
    }
    assert (await api.post("/v1/returns", json=web_return, headers=headers)).status_code == 403
