"""The emulator and the connector checked against Open Loyalty's published API description (the
vendored third-party fragment; its `x-vendored` field names the source and licence) and the official reference's examples, with the
renames of the newer official reference named where the two disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from jsonschema import Draft202012Validator
from openloyalty_helpers import SaleBuilder, campaign_sku

from retailhub.connectors.openloyalty import OpenLoyaltyConnector, mapping
from retailhub.sandbox.openloyalty import SANDBOX_TOKEN, OpenLoyaltyEmulator
from retailhub.sandbox.seed import Estate

FRAGMENT = orjson.loads((Path(__file__).parent / "openloyalty_openapi_fragment.json").read_bytes())
SCHEMAS = FRAGMENT["components"]["schemas"]

RENAMED = {
    "/{storeCode}/member": "/{storeCode}/customer",
    "/{storeCode}/member/{member}": "/{storeCode}/customer/{customer}",
    "/{storeCode}/tier": "/{storeCode}/level",
    "/{storeCode}/points/add": "/{storeCode}/points/transfer/add",
    "/{storeCode}/points/spend": "/{storeCode}/points/transfer/spend",
    "/{storeCode}/earningRule/{rule}": "/{storeCode}/earningRule/{earningRule}",
}
"""Emulated path (newer official naming) -> the same operation in the third-party description."""
ONLY_IN_THE_OFFICIAL_REFERENCE = {
    "/{storeCode}/points/block",
    "/{storeCode}/points/transfer/{transfer}",
    "/{storeCode}/points/transfer/{transfer}/unblock",
}


def valid(instance: Any, schema_name: str) -> None:
    """Raise when `instance` breaks the fragment's schema `schema_name`."""
    schema = SCHEMAS[schema_name]
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator(schema, format_checker=checker).validate(instance)


async def get(emulator: OpenLoyaltyEmulator, path: str, **params: str) -> Any:
    headers = {"X-AUTH-TOKEN": SANDBOX_TOKEN}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{emulator.url}/api/DEFAULT{path}", params=params) as answer,
    ):
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def post(emulator: OpenLoyaltyEmulator, path: str, body: Any) -> tuple[int, Any]:
    headers = {"X-AUTH-TOKEN": SANDBOX_TOKEN}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{emulator.url}/api/DEFAULT{path}", json=body) as answer,
    ):
        return answer.status, await answer.json()


def test_every_emulated_path_is_a_documented_operation(emulator: OpenLoyaltyEmulator) -> None:
    documented = set(FRAGMENT["paths"])
    routes = {
        route.resource.canonical.removeprefix("/api")
        for route in emulator.app().router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
    }
    assert len(routes) == 14
    for path in sorted(routes - ONLY_IN_THE_OFFICIAL_REFERENCE):
        assert RENAMED.get(path, path) in documented, path


def test_the_client_authenticates_and_pages_as_described() -> None:
    schemes = FRAGMENT["components"]["securitySchemes"]
    assert schemes["permanentToken"] == {"type": "apiKey", "in": "header", "name": "X-AUTH-TOKEN"}
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    parameters = FRAGMENT["components"]["parameters"]
    assert {parameters["Page"]["name"], parameters["PerPage"]["name"]} == {"page", "perPage"}


async def test_members_pages_match_the_member_schema(emulator: OpenLoyaltyEmulator) -> None:
    first = await get(emulator, "/member", page="1", perPage="100")
    second = await get(emulator, "/member", page="2", perPage="100")
    assert first["total"] == {"all": 10_000, "filtered": 10_000}
    assert len(first["items"]) == len(second["items"]) == 100
    assert not {m["memberId"] for m in first["items"]} & {m["memberId"] for m in second["items"]}
    for member in first["items"]:
        valid(member, "Customer")
        assert set(SCHEMAS["Customer"]["properties"]) - set(member) <= {"customerId", "phone"}


async def test_rules_and_tiers_match_their_schemas(emulator: OpenLoyaltyEmulator) -> None:
    rules = await get(emulator, "/earningRule")
    assert len(rules["items"]) == 2
    for rule in rules["items"]:
        valid(rule, "EarningRule")
    for tier in (await get(emulator, "/tier"))["items"]:
        valid(tier, "Level")


async def test_what_the_connector_sends_matches_the_described_bodies(
    estate: Estate, sale: SaleBuilder
) -> None:
    order = sale(estate.customers[50], [(campaign_sku(estate), 2)], order_id="ORD-50")
    body = mapping.order_to_transaction(order)["transaction"]
    valid({"items": body["items"], "customerData": body["customerData"]}, "Transaction")
    rule = mapping.promotion_to_earning_rule(estate.campaign)["earningRule"]
    valid(rule, "EarningRule")


async def test_a_points_transfer_as_described_is_accepted(
    emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    transfer = {"customer": estate.customers[51].account.member_id, "points": 5, "comment": "x"}
    valid(transfer, "PointsTransfer")
    status, answer = await post(emulator, "/points/add", {"transfer": transfer})
    assert status == 200
    assert answer["transferId"]


async def test_the_official_getting_started_transaction_is_accepted(
    emulator: OpenLoyaltyEmulator, estate: Estate, loyalty: OpenLoyaltyConnector
) -> None:
    """The shape of help.openloyalty.io's "Add Transaction" example (bare `sku` code, header
    with documentType/documentNumber/purchasePlace/purchasedAt/labels, customerData.email)."""
    member = estate.customers[52]
    body = {
        "transaction": {
            "items": [
                {
                    "sku": campaign_sku(estate),
                    "name": "Restaurant",
                    "quantity": 1,
                    "grossValue": 500,
                    "category": "dine",
                }
            ],
            "header": {
                "documentType": "sell",
                "documentNumber": "12345",
                "purchasePlace": "onsite",
                "purchasedAt": "2026-12-01T00:00:00+01:00",
                "labels": [],
            },
            "customerData": {"email": member.emails[0]},
        }
    }
    status, answer = await post(emulator, "/transaction", body)
    assert status == 200
    transfers = await get(emulator, "/points/transfer", transactionId=answer["transactionId"])
    assert sum(t["value"] for t in transfers["items"]) == 500 + 50
    status, again = await post(emulator, "/transaction", body)
    assert status == 400
    assert again["errors"][0]["path"] == "transaction.header.documentNumber"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "transaction"),
        ({"transaction": {"header": {}}}, "transaction.header.documentNumber"),
        (
            {
                "transaction": {
                    "header": {
                        "documentNumber": "X",
                        "documentType": "sell",
                        "purchasedAt": "2026-12-01T10:00:00",
                    },
                    "items": [{"sku": {"code": "A"}, "name": "a", "quantity": 1, "grossValue": 1}],
                }
            },
            "transaction.header.purchasedAt",
        ),
    ],
)
async def test_a_bad_transaction_is_refused_naming_the_field(
    emulator: OpenLoyaltyEmulator, body: Any, path: str
) -> None:
    status, answer = await post(emulator, "/transaction", body)
    assert status == 400
    assert answer["code"] == 400
    assert answer["errors"][0]["path"] == path
