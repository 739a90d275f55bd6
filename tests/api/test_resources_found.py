"""`GET /v1/customers/{id}` and `GET /v1/promotions/{id}` on real flow data: a golden record
built by customer sync's intake subscription from profile events on the bus, and a promotion's
versions, channels, drift and accuracy written by the promotion flow's store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from retailhub.api.services import ApiServices
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer
from retailhub.canonical.promotion import Eligibility, Promotion, PromotionStatus, Reward
from retailhub.flows.customers import CustomerSyncRules, profile_event
from retailhub.flows.customers.events import PROFILE_EVENTS
from retailhub.flows.customers.intake import INTAKE_SUBSCRIPTION, take_profile_changes
from retailhub.flows.customers.tables import create_customer_sync_tables
from retailhub.flows.promotions.drift import accuracy, compare
from retailhub.flows.promotions.store import (
    ChannelState,
    VersionState,
    create_promotion_tables,
    record_channel,
    record_check,
    record_version,
    set_channels_state,
    set_version_state,
)

from .conftest import issue_key

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROLES = {"hubspot": "crm", "shopify": "commerce", "openloyalty": "loyalty"}


async def reader(services: ApiServices) -> dict[str, str]:
    return {"X-API-Key": await issue_key(services, "service-desk", "service")}


async def subscribe_intake(bus: SqliteBus) -> None:
    """Customer sync's intake subscription as the flow wires it (no propagation: this test
    reads the golden record, not what reaches each system)."""
    async with bus.transaction() as transaction:
        await create_customer_sync_tables(transaction)
    await bus.subscribe(
        INTAKE_SUBSCRIPTION, PROFILE_EVENTS, take_profile_changes(bus, CustomerSyncRules(), ROLES)
    )


def profile(system: str, external_id: str, at: datetime, **values: Any) -> Customer:
    """A customer as `system` holds it, changed at `at`."""
    return Customer(
        customer_id=f"{system.upper()}-{external_id}",
        identities={system: external_id},
        updated_at=at,
        **values,
    )


async def until_answered(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], ready: Any
) -> dict[str, Any]:
    """GET `path` (bounded in time) until its JSON satisfies `ready`."""
    deadline = time.monotonic() + 20
    while True:
        answer = await api.get(path, headers=headers)
        if answer.status_code == 200 and ready(answer.json()):
            return answer.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"{path}: {answer.status_code} {answer.text}"
        await asyncio.sleep(0.05)


async def test_a_golden_customer_reads_with_lineage_and_its_open_conflict(
    api: httpx.AsyncClient, services: ApiServices, bus: SqliteBus
) -> None:
    await subscribe_intake(bus)
    email = "anna.jansen@example.nl"
    events = [
        profile_event(
            "shopify",
            profile("shopify", "6001", T0, given_name="Anna", family_name="Jansen", emails=[email]),
            created=True,
            event_id="shop-1",
        ),
        profile_event(
            "hubspot",
            profile(
                "hubspot",
                "501",
                T0 + timedelta(hours=1),
                given_name="Anne",
                family_name="Jansen",
                emails=[email],
                phones=["+31612345678"],
            ),
            event_id="crm-1",
        ),
        profile_event(
            "shopify",
            profile("shopify", "6001", T0 + timedelta(hours=2), given_name="Annie", emails=[email]),
            event_id="shop-2",
        ),
    ]
    for event in events:
        await bus.publish_one(event)
    headers = await reader(services)

    by_shop_id = await until_answered(
        api, "/v1/customers/6001?system=shopify", headers, lambda body: body["conflicts"]
    )
    golden_id = by_shop_id["customer"]["customer_id"]
    by_golden_id = (await api.get(f"/v1/customers/{golden_id}", headers=headers)).json()
    by_crm_id = (await api.get("/v1/customers/501?system=hubspot", headers=headers)).json()

    assert by_golden_id == by_shop_id == by_crm_id
    customer = by_golden_id["customer"]
    assert (customer["given_name"], customer["family_name"]) == ("Anne", "Jansen")
    assert customer["identities"] == {"shopify": "6001", "hubspot": "501"}
    assert customer["phones"] == ["+31612345678"]
    lineage = by_golden_id["lineage"]
    sources = {
        field: [(s["system"], s["event_id"]) for s in found] for field, found in lineage.items()
    }
    assert sources["given_name"] == [("hubspot", "crm-1")]
    assert sources["family_name"] == [("hubspot", "crm-1")], "agreeing, the CRM ranks first"
    assert sources["emails"] == [("shopify", "shop-1")], "the web shop leads emails"
    assert sources["phones"] == [("hubspot", "crm-1")]
    assert datetime.fromisoformat(lineage["phones"][0]["at"]) == T0 + timedelta(hours=1)
    (conflict,) = by_golden_id["conflicts"]
    assert conflict["field"] == "given_name"
    assert conflict["standing"] == {"system": "hubspot", "value": "Anne"}
    assert conflict["challenger"] == {"system": "shopify", "value": "Annie"}


def version(number: int, name: str) -> Promotion:
    """A 10%-off version of one promotion on the web and in stores."""
    return Promotion(
        promotion_id="PROMO-SPRING",
        version=number,
        name=name,
        source="hubspot",
        channels=[Channel.WEB, Channel.STORE],
        eligibility=Eligibility(skus=["SKU-10017", "SKU-10018"]),
        reward=Reward.model_validate({"type": "percent_off", "percent": "10"}),
        valid_from=T0,
        valid_to=T0 + timedelta(days=30),
        status=PromotionStatus.ACTIVE,
    )


async def test_a_promotion_reads_with_each_channel_its_drift_and_accuracy(
    api: httpx.AsyncClient, services: ApiServices, bus: SqliteBus
) -> None:
    first, second = version(1, "Spring 10%"), version(2, "Spring sale 10%")
    held_by_shop = second.model_copy(update={"name": "Spring sale"})
    checks = [compare("commerce", second, held_by_shop), compare("pos", second, second)]
    score = accuracy(checks)
    async with bus.transaction() as t:
        await create_promotion_tables(t)
        for authored in (first, second):
            await record_version(
                t,
                authored,
                state=VersionState.PUBLISHING,
                skus=authored.eligibility.skus,
                targets=("commerce", "pos"),
                reasons=(),
                workflow_id=f"promotion_publishing:{authored.key}",
            )
            for target, system in (("commerce", "shopify"), ("pos", "poslog")):
                await record_channel(
                    t,
                    authored.promotion_id,
                    authored.version,
                    target,
                    system=system,
                    state=ChannelState.PUBLISHED,
                    external_id=f"{system}-{authored.version}",
                )
        await set_version_state(t, "PROMO-SPRING", 1, VersionState.SUPERSEDED)
        await set_channels_state(t, "PROMO-SPRING", 1, ChannelState.SUPERSEDED, "by v2")
        await record_check(t, "PROMO-SPRING", 2, checks, score, T0 + timedelta(minutes=5))
        await set_version_state(t, "PROMO-SPRING", 2, VersionState.PUBLISHED)
    headers = {"X-API-Key": await issue_key(services, "web-shop", "commerce")}

    answer = await api.get("/v1/promotions/PROMO-SPRING", headers=headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["promotion_id"] == "PROMO-SPRING"
    assert body["versions"] == [
        {"version": 2, "state": "published"},
        {"version": 1, "state": "superseded"},
    ]
    latest = body["latest"]
    assert body["live"] == latest
    assert (latest["version"], latest["state"], latest["name"]) == (2, "published", second.name)
    assert Decimal(str(latest["accuracy"])) == score < 100
    assert datetime.fromisoformat(latest["checked_at"]) == T0 + timedelta(minutes=5)
    channels = {c["target"]: c for c in latest["channels"]}
    assert {t: (c["system"], c["state"], c["external_id"]) for t, c in channels.items()} == {
        "commerce": ("shopify", "published", "shopify-2"),
        "pos": ("poslog", "published", "poslog-2"),
    }
    assert channels["pos"]["matched"] == channels["pos"]["compared"] > 0
    assert channels["pos"]["accuracy"] == 100
    assert channels["commerce"]["matched"] == channels["commerce"]["compared"] - 1
    assert channels["commerce"]["accuracy"] < 100
    assert latest["drift"] == [
        {"target": "commerce", "field": "name", "expected": second.name, "found": "Spring sale"}
    ]
