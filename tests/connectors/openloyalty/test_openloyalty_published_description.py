"""The emulator and the connector checked against retailhub's own transcription of Open Loyalty's
documentation (openloyalty_api_shapes.json; its `$comment` and `x-written-from` name the pages it
was written from, and Open Loyalty's documentation is the authority): every emulated route is a
documented operation, calls authenticate and page as documented, and the bodies exchanged match
the transcribed shapes, including the official getting-started example."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from openloyalty_helpers import SaleBuilder, campaign_sku

from retailhub.connectors.openloyalty import OpenLoyaltyConnector, mapping
from retailhub.sandbox.openloyalty import SANDBOX_TOKEN, OpenLoyaltyEmulator
from retailhub.sandbox.seed import Estate

DESCRIPTION = orjson.loads((Path(__file__).parent / "openloyalty_api_shapes.json").read_bytes())
SCHEMAS = DESCRIPTION["$defs"]
DOCUMENTED = {(op["method"], op["path"]) for op in DESCRIPTION["x-documented-operations"]}

RENAMED = {
    "/{storeCode}/earningRule/{rule}": "/{storeCode}/earningRule/{earningRule}",
}
"""Emulated path -> the same operation as the documentation writes it, where they differ."""

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 date-times, checked here since jsonschema needs an extra package for them."""
    if not isinstance(value, str):
        return True
    if RFC3339.fullmatch(value) is None:
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def valid(instance: Any, schema_name: str) -> None:
    """Raise when `instance` breaks the transcription's definition `schema_name`."""
    schema = {**DESCRIPTION, "$ref": f"#/$defs/{schema_name}"}
    Draft202012Validator(schema, format_checker=FORMATS).validate(instance)


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


def test_the_transcription_is_ours_and_a_valid_schema() -> None:
    Draft202012Validator.check_schema(DESCRIPTION)
    assert "retailhub's own transcription" in DESCRIPTION["$comment"].lower()
    assert "authority" in DESCRIPTION["$comment"]
    official = ("https://help.openloyalty.io/", "https://docs.openloyalty.io/")
    assert DESCRIPTION["x-written-from"]
    assert all(page.startswith(official) for page in DESCRIPTION["x-written-from"])
    for operation in DESCRIPTION["x-documented-operations"]:
        assert operation["docs"].startswith(official), operation
        assert isinstance(operation["checked"], bool), operation
    assert len(DOCUMENTED) == len(DESCRIPTION["x-documented-operations"])


def test_every_emulated_path_is_a_documented_operation(emulator: OpenLoyaltyEmulator) -> None:
    routes = {
        (route.method, route.resource.canonical.removeprefix("/api"))
        for route in emulator.app().router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert len(routes) == 24
    for method, path in sorted(routes):
        assert (method, RENAMED.get(path, path)) in DOCUMENTED, (method, path)


def test_the_client_authenticates_and_pages_as_described() -> None:
    auth = DESCRIPTION["x-auth"]
    assert auth["permanentToken"] == {"in": "header", "name": "X-AUTH-TOKEN"}
    assert auth["jwt"]["scheme"] == "bearer"
    paging = DESCRIPTION["x-paging"]
    assert (paging["page"], paging["perPage"]) == ("page", "perPage")


async def test_members_pages_match_the_member_schema(emulator: OpenLoyaltyEmulator) -> None:
    first = await get(emulator, "/member", page="1", perPage="100")
    second = await get(emulator, "/member", page="2", perPage="100")
    valid(first, "List")
    assert first["total"] == {"all": 10_000, "filtered": 10_000}
    assert len(first["items"]) == len(second["items"]) == 100
    assert not {m["memberId"] for m in first["items"]} & {m["memberId"] for m in second["items"]}
    for member in first["items"]:
        valid(member, "Member")
        assert set(SCHEMAS["Member"]["properties"]) - set(member) <= {"phone"}
    one = await get(emulator, f"/member/{first['items'][0]['memberId']}")
    valid(one, "Member")


async def test_rules_and_tiers_match_their_schemas(emulator: OpenLoyaltyEmulator) -> None:
    rules = await get(emulator, "/earningRule")
    valid(rules, "List")
    assert len(rules["items"]) == 2
    for rule in rules["items"]:
        valid(rule, "EarningRule")
        assert rule["earningRuleId"]
    tiers = await get(emulator, "/tier")
    valid(tiers, "List")
    assert tiers["items"]
    for tier in tiers["items"]:
        valid(tier, "Tier")


async def test_what_the_connector_sends_matches_the_described_bodies(
    estate: Estate, sale: SaleBuilder
) -> None:
    order = sale(estate.customers[50], [(campaign_sku(estate), 2)], order_id="ORD-50")
    valid(mapping.order_to_transaction(order), "TransactionRequest")
    valid(mapping.promotion_to_earning_rule(estate.campaign), "EarningRuleRequest")
    valid(mapping.points_transfer_body("m-1", 5, "why", "t-1"), "PointsTransferRequest")


async def test_a_points_transfer_as_described_is_accepted(
    emulator: OpenLoyaltyEmulator, estate: Estate
) -> None:
    member = estate.customers[51].account.member_id
    body = mapping.points_transfer_body(member, 5, "x", "schema-transfer-51")
    valid(body, "PointsTransferRequest")
    status, answer = await post(emulator, "/points/add", body)
    assert status == 200
    assert answer["transferId"] == "schema-transfer-51"
    transfers = await get(emulator, "/points/transfer", member=member)
    valid(transfers, "List")
    for transfer in transfers["items"]:
        valid(transfer, "PointsTransfer")
    added = await get(emulator, "/points/transfer/schema-transfer-51")
    valid(added, "PointsTransfer")
    assert (added["type"], added["value"]) == ("adding", 5)


def test_the_check_has_teeth() -> None:
    with pytest.raises(ValidationError, match="'memberId' is a required property"):
        valid({"active": True}, "Member")
    with pytest.raises(ValidationError, match="is not a 'date-time'"):
        valid(
            {
                "header": {
                    "documentNumber": "X",
                    "documentType": "sell",
                    "purchasedAt": "2026-12-01T10:00:00",
                },
                "items": [],
            },
            "Transaction",
        )
    with pytest.raises(ValidationError, match="'startAt' is a required property"):
        valid(
            {"name": "n", "type": "points", "active": True, "allTimeActive": False}, "EarningRule"
        )


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
    valid(body, "TransactionRequest")
    status, answer = await post(emulator, "/transaction", body)
    assert status == 200
    registered = await get(emulator, f"/transaction/{answer['transactionId']}")
    valid(registered, "TransactionAnswer")
    assert registered["header"]["documentNumber"] == "12345"
    transfers = await get(emulator, "/points/transfer", transactionId=answer["transactionId"])
    for transfer in transfers["items"]:
        valid(transfer, "PointsTransfer")
    assert sum(t["value"] for t in transfers["items"]) == 500 + 50
    status, again = await post(emulator, "/transaction", body)
    assert status == 400
    valid(again, "Error")
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
    valid(answer, "Error")
    assert answer["code"] == 400
    assert answer["errors"][0]["path"] == path
