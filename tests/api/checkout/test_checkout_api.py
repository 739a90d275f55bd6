"""The checkout loyalty API through the hub's app (`create_app` with `checkout_router`) over a
real desk and the Open Loyalty emulator: quotes, reservations with Idempotency-Key, capture,
release, degraded answers, and refusals as problem+json."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from retailhub.api.checkout import checkout_router
from retailhub.api.problems import install_problem_handlers
from retailhub.api.services import ApiServices
from retailhub.flows.checkout import CheckoutDesk

from .helpers import World, issue_key, set_faults

pytestmark = pytest.mark.asyncio(loop_scope="module")

QUOTE = "/v1/checkout/loyalty/quote"
REDEMPTIONS = "/v1/checkout/loyalty/redemptions"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_till_gets_a_quote_with_points_as_integers_and_money_as_strings(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till-AMS01-03", "pos")
    member = world.member()
    body = world.quote_body(member, quantity="3")

    response = await api.post(QUOTE, json=body, headers=keyed(till, "q-1"))

    assert response.status_code == 200, response.text
    quote = response.json()
    assert quote["member_id"] == member.account.member_id
    assert quote["balance"] == member.points_balance
    assert quote["degraded"] is False
    assert quote["bonus_points"] == 3 * (world.estate.campaign.reward.points or 0)
    assert isinstance(quote["points_to_earn"], int)
    assert quote["points_to_earn"] > quote["bonus_points"]
    assert quote["max_redeemable"] == member.points_balance
    price = Decimal(body["lines"][0]["unit_price"])
    assert quote["basket_total"] == str((price * 3).quantize(Decimal("0.01")))
    assert all(isinstance(r["points_cost"], int) for r in quote["rewards"])


async def test_checkout_needs_the_pos_or_commerce_scope(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    reader = await issue_key(services, "dashboard", "read")
    web = await issue_key(services, "web-shop", "commerce")
    body = world.quote_body(world.member())

    refused = await api.post(QUOTE, json=body, headers=keyed(reader, "q-2"))
    served = await api.post(QUOTE, json=body, headers=keyed(web, "q-3"))

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert served.status_code == 200


async def test_a_bad_basket_is_refused_with_the_path_of_each_fault(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    body = world.quote_body(world.member())
    body["lines"][0]["quantity"] = "-1"
    body["location"] = None
    body["member"] = {}

    response = await api.post(QUOTE, json=body, headers=keyed(till, "q-4"))

    assert response.status_code == 422
    problem = response.json()
    paths = {fault["path"] for fault in problem["errors"]}
    assert any(path.startswith("$.member") for path in paths)
    assert any(path.startswith("$.lines[0]") for path in paths)


async def test_reserve_retry_capture_and_read_back(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    member = world.member()
    body = {"member": {"card": member.card_number}, "points": 250, "sale_id": "AMS01-T3-0001"}

    first = await api.post(REDEMPTIONS, json=body, headers=keyed(till, "r-1"))
    retried = await api.post(REDEMPTIONS, json=body, headers=keyed(till, "r-1"))

    assert first.status_code == 201, first.text
    assert retried.json()["redemption_id"] == first.json()["redemption_id"]
    redemption_id = first.json()["redemption_id"]
    assert first.json()["state"] == "reserved"
    account = await world.loyalty.find_member(member_id=member.account.member_id)
    assert account is not None
    assert account.points_balance == member.points_balance - 250
    captured = await api.post(
        f"{REDEMPTIONS}/{redemption_id}/capture", json={}, headers=keyed(till, "c-1")
    )
    assert captured.status_code == 200
    assert captured.json()["state"] == "captured"
    read = await api.get(f"{REDEMPTIONS}/{redemption_id}", headers=till)
    assert read.json()["state"] == "captured"
    assert read.json()["pending"] is False
    void = await api.post(
        f"{REDEMPTIONS}/{redemption_id}/release", json={}, headers=keyed(till, "v-1")
    )
    assert void.status_code == 409
    assert void.headers["content-type"].startswith("application/problem+json")


async def test_release_and_another_clients_redemption(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    web = await issue_key(services, "web", "commerce")
    member = world.member()
    body = {"member": {"card": member.card_number}, "points": 100, "sale_id": "AMS01-T3-0002"}
    reserved = (await api.post(REDEMPTIONS, json=body, headers=keyed(till, "r-2"))).json()

    stranger = await api.post(
        f"{REDEMPTIONS}/{reserved['redemption_id']}/release", json={}, headers=keyed(web, "v-2")
    )
    released = await api.post(
        f"{REDEMPTIONS}/{reserved['redemption_id']}/release", json={}, headers=keyed(till, "v-3")
    )

    assert stranger.status_code == 404
    assert released.json()["state"] == "released"
    account = await world.loyalty.find_member(member_id=member.account.member_id)
    assert account is not None
    assert account.points_balance == member.points_balance


async def test_unknown_member_and_too_many_points_are_problems(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    member = world.member()
    unknown = {**world.quote_body(member), "member": {"card": "0000000000000"}}
    too_many = {
        "member": {"card": member.card_number},
        "points": member.points_balance + 1,
        "sale_id": "S-1",
    }

    not_found = await api.post(QUOTE, json=unknown, headers=keyed(till, "q-5"))
    refused = await api.post(REDEMPTIONS, json=too_many, headers=keyed(till, "r-3"))

    assert not_found.status_code == 404
    assert not_found.json()["type"].endswith("member-not-found")
    assert [e["path"] for e in not_found.json()["errors"]] == ["$.member.card"]
    assert refused.status_code == 409
    assert "available" in refused.json()["detail"]


async def test_with_the_platform_down_the_till_is_answered_from_the_last_known_balance(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    member = world.member()
    ref = {"card": member.card_number}
    assert (
        await api.post(QUOTE, json=world.quote_body(member), headers=keyed(till, "q-6"))
    ).json()["degraded"] is False
    await set_faults(world.url, {"down": True})

    quote = await api.post(QUOTE, json=world.quote_body(member), headers=keyed(till, "q-7"))
    over = await api.post(
        REDEMPTIONS,
        json={"member": ref, "points": 401, "sale_id": "S-2"},
        headers=keyed(till, "r-4"),
    )
    within = await api.post(
        REDEMPTIONS,
        json={"member": ref, "points": 400, "sale_id": "S-3"},
        headers=keyed(till, "r-5"),
    )

    assert quote.status_code == 200
    assert quote.json()["degraded"] is True
    assert quote.json()["balance"] == member.points_balance
    assert quote.json()["points_to_earn"] is None
    assert quote.json()["max_redeemable"] == 400
    assert over.status_code == 409
    assert "per sale" in over.json()["detail"]
    assert within.status_code == 201
    assert within.json()["state"] == "offline_approved"
    assert within.json()["offline"] is True
    assert within.json()["pending"] is True


async def test_a_member_never_seen_while_the_platform_is_down_is_503_with_retry_after(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till", "pos")
    await set_faults(world.url, {"down": True})

    response = await api.post(
        QUOTE, json=world.quote_body(world.member()), headers=keyed(till, "q-8")
    )

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_same_key_reserves_once_even_without_the_replay_store(
    desk: CheckoutDesk, services: ApiServices, world: World
) -> None:
    """The router alone (no idempotency middleware): the desk itself keeps one reservation per
    client and key, and a reservation without a key is refused."""
    app = FastAPI()
    install_problem_handlers(app)
    app.state.services = services
    app.include_router(checkout_router(desk))
    till = await issue_key(services, "till", "pos")
    member = world.member()
    body = {"member": {"card": member.card_number}, "points": 120, "sale_id": "S-4"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        first = await client.post(REDEMPTIONS, json=body, headers=keyed(till, "r-6"))
        again = await client.post(REDEMPTIONS, json=body, headers=keyed(till, "r-6"))
        keyless = await client.post(REDEMPTIONS, json=body, headers=till)
        other = await client.post(
            REDEMPTIONS, json={**body, "points": 121}, headers=keyed(till, "r-6")
        )

    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert keyless.status_code == 400
    assert [e["path"] for e in keyless.json()["errors"]] == ["header.idempotency-key"]
    assert other.status_code == 422
    assert other.json()["type"] == "urn:retailhub:problem:checkout.idempotency-conflict"
    assert [e["path"] for e in other.json()["errors"]] == ["header.idempotency-key"]
    account = await world.loyalty.find_member(member_id=member.account.member_id)
    assert account is not None
    assert account.points_balance == member.points_balance - 120


async def empty_post(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], *, length: bool = True
) -> httpx.Response:
    """A POST with no body and no Content-Type, as tills send capture and release: with
    `Content-Length: 0`, or with no length at all."""
    request = api.build_request("POST", path, headers=headers)
    if not length:
        del request.headers["content-length"]
    assert "content-type" not in request.headers
    return await api.send(request)


async def test_a_till_captures_and_releases_with_empty_posts(
    api: httpx.AsyncClient, services: ApiServices, world: World
) -> None:
    till = await issue_key(services, "till-AMS01-04", "pos")
    member = world.member()
    ref = {"card": member.card_number}
    sold = await api.post(
        REDEMPTIONS,
        json={"member": ref, "points": 200, "sale_id": "AMS01-T4-0001"},
        headers=keyed(till, "r-7"),
    )
    voided = await api.post(
        REDEMPTIONS,
        json={"member": ref, "points": 150, "sale_id": "AMS01-T4-0002"},
        headers=keyed(till, "r-8"),
    )
    sold_url = f"{REDEMPTIONS}/{sold.json()['redemption_id']}"
    voided_url = f"{REDEMPTIONS}/{voided.json()['redemption_id']}"

    captured = await empty_post(api, f"{sold_url}/capture", keyed(till, "c-7"))
    replayed = await empty_post(api, f"{sold_url}/capture", keyed(till, "c-7"), length=False)
    reused = await api.post(f"{sold_url}/capture", json={}, headers=keyed(till, "c-7"))
    not_json = await api.post(
        f"{voided_url}/release",
        content=b"void",
        headers={**keyed(till, "v-8"), "Content-Type": "text/plain"},
    )
    released = await empty_post(api, f"{voided_url}/release", keyed(till, "v-8"), length=False)

    assert captured.status_code == 200, captured.text
    assert captured.json()["state"] == "captured"
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == captured.content
    assert reused.status_code == 422
    assert not_json.status_code == 415
    assert [e["path"] for e in not_json.json()["errors"]] == ["header.content-type"]
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "released"
    account = await world.loyalty.find_member(member_id=member.account.member_id)
    assert account is not None
    assert account.points_balance == member.points_balance - 200


async def test_checkout_refusals_name_the_place_at_fault(
    api: httpx.AsyncClient, services: ApiServices
) -> None:
    till = await issue_key(services, "till", "pos")
    long_id = await api.get(f"{REDEMPTIONS}/{'r' * 101}", headers=till)
    bad_reservation = await api.post(
        REDEMPTIONS,
        json={"member": {"card": "2612000000017"}, "points": "many", "sale_id": ""},
        headers=keyed(till, "r-9"),
    )
    empty_quote = await api.post(QUOTE, headers=keyed(till, "q-9"))
    keyless = await api.post(
        REDEMPTIONS, json={"member": {"card": "1"}, "points": 1, "sale_id": "S"}, headers=till
    )

    for answer, status, paths in (
        (long_id, 422, ["path.redemption_id"]),
        (bad_reservation, 422, ["$.points", "$.sale_id"]),
        (empty_quote, 422, ["$"]),
        (keyless, 400, ["header.idempotency-key"]),
    ):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert sorted(e["path"] for e in answer.json()["errors"]) == paths
