"""Customer sync end to end: the emulators over HTTP, the hub on a real SqliteBus. A person edits
a profile in one product; the golden record, the other products, the audit trail, echoes and
conflicts end as a retailer expects."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from retailhub.bus.postgres import PostgresBus
from retailhub.bus.sqlite import SqliteBus
from retailhub.flows.customers.audit import AuditKind, AuditRecord
from retailhub.flows.customers.events import profile_event
from retailhub.flows.customers.queries import customer_audit, open_conflicts
from services import require_postgres

from .sandbox_hub import (
    SYNCED_SYSTEMS,
    SyncWorld,
    dead_letters,
    disagreements,
    drain,
    edit,
    external_id,
    golden_of,
    onboard,
    read_profile,
    report,
    start_sync,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
CHANGING = (
    AuditKind.FIELD_CHANGED,
    AuditKind.PROPAGATED,
    AuditKind.CONFLICT_OPENED,
    AuditKind.CONFLICT_CLOSED,
)


async def audit_of(bus: SqliteBus, golden_id: str) -> list[AuditRecord]:
    async with bus.transaction() as transaction:
        return await customer_audit(transaction, golden_id)


def kinds(records: list[AuditRecord], kind: AuditKind) -> list[AuditRecord]:
    return [r for r in records if r.kind is kind]


async def test_onboarding_links_the_three_accounts_and_every_system_holds_the_golden_record(
    bus: SqliteBus, world: SyncWorld
) -> None:
    await start_sync(bus, world)
    customer = world.take()
    golden = await onboard(bus, world, customer)
    assert dict(golden.golden.identities) == {s: external_id(customer, s) for s in SYNCED_SYSTEMS}
    for system in SYNCED_SYSTEMS:
        profile = await read_profile(world, system, external_id(customer, system))
        assert disagreements(golden, profile, system) == {}, system
    assert await dead_letters(bus) == []


async def test_a_crm_edit_reaches_the_shop_and_the_loyalty_platform_and_its_echo_changes_nothing(
    bus: SqliteBus, world: SyncWorld
) -> None:
    await start_sync(bus, world)
    customer = world.take()
    golden_id = (await onboard(bus, world, customer)).golden.customer_id
    before = await audit_of(bus, golden_id)
    world.webhooks.bus = bus
    published = world.webhooks.published
    try:
        hubspot_id = external_id(customer, "hubspot")
        await edit(world, "hubspot", hubspot_id, given_name="Wilhelmina")
        cause = await report(bus, world, "hubspot", hubspot_id)
        await drain(bus)
        golden = await golden_of(bus, "hubspot", hubspot_id)
        assert golden.golden.customer.given_name == "Wilhelmina"
        assert golden.golden.lineage["given_name"].systems == ("hubspot",)
        for system in ("shopify", "openloyalty"):
            profile = await read_profile(world, system, external_id(customer, system))
            assert profile.given_name == "Wilhelmina", system
        # The loyalty platform's webhook, as a receiver would publish it; Shopify's came by itself.
        await report(bus, world, "openloyalty", external_id(customer, "openloyalty"))
        await wait_for_shop_echo(bus, world, published)
    finally:
        world.webhooks.bus = None
    records = (await audit_of(bus, golden_id))[len(before) :]
    changed = kinds(records, AuditKind.FIELD_CHANGED)
    assert [(r.field, r.old, r.new, r.system, r.event_id) for r in changed] == [
        ("given_name", customer.golden.given_name, "Wilhelmina", "hubspot", cause)
    ]
    sent = {(r.target, r.field) for r in kinds(records, AuditKind.PROPAGATED)}
    assert sent == {("shopify", "given_name"), ("openloyalty", "given_name")}
    delivered = {r.target: r.new for r in kinds(records, AuditKind.DELIVERED)}
    assert delivered == {s: external_id(customer, s) for s in ("shopify", "openloyalty")}
    # Each system's report of what the hub wrote is recognised (the CRM's own report echoes the
    # loyalty card the hub gave it at onboarding, the rest is the person's edit).
    echoed = {r.system: r.detail or "" for r in kinds(records, AuditKind.ECHO_SUPPRESSED)}
    assert "given_name" in echoed["shopify"]
    assert "given_name" in echoed["openloyalty"]
    assert all(r.event_id == cause for r in records if r.kind is not AuditKind.ECHO_SUPPRESSED)


async def wait_for_shop_echo(bus: SqliteBus, world: SyncWorld, published: int) -> None:
    """Drain until the Shopify emulator's webhook for the hub's write has been published."""
    for _ in range(100):
        await drain(bus)
        if world.webhooks.published > published:
            await drain(bus)
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the Shopify emulator sent no webhook for the hub's write")


async def test_a_shop_rename_right_after_a_crm_rename_is_surfaced_as_a_conflict(
    bus: SqliteBus, world: SyncWorld
) -> None:
    await start_sync(bus, world)
    customer = world.take()
    golden_id = (await onboard(bus, world, customer)).golden.customer_id
    hubspot_id, shopify_id = external_id(customer, "hubspot"), external_id(customer, "shopify")
    await edit(world, "hubspot", hubspot_id, family_name="van Oranje")
    await report(bus, world, "hubspot", hubspot_id)
    await drain(bus)
    # Shopify stamps changes to the second, often the CRM edit's: arrival tells which is later.
    await edit(world, "shopify", shopify_id, family_name="Oranje-Nassau")
    challenge = await report(bus, world, "shopify", shopify_id)
    await drain(bus)

    golden = await golden_of(bus, "shopify", shopify_id)
    assert golden.golden.customer.family_name == "van Oranje"
    async with bus.transaction() as transaction:
        (conflict,) = await open_conflicts(transaction, golden_id)
    assert (conflict.kind, conflict.field) == ("field", "family_name")
    assert (conflict.standing_system, conflict.standing) == ("hubspot", "van Oranje")
    assert (conflict.challenger_system, conflict.challenger) == ("shopify", "Oranje-Nassau")
    assert conflict.challenger_event == challenge
    # Nothing was overwritten: each side keeps its value until a person settles it.
    shop = await read_profile(world, "shopify", shopify_id)
    loyalty = await read_profile(world, "openloyalty", external_id(customer, "openloyalty"))
    assert (shop.family_name, loyalty.family_name) == ("Oranje-Nassau", "van Oranje")
    assert golden.as_json()["conflicts"][0]["challenger"]["value"] == "Oranje-Nassau"
    opened = kinds(await audit_of(bus, golden_id), AuditKind.CONFLICT_OPENED)
    assert [(r.field, r.event_id) for r in opened] == [("family_name", challenge)]

    # The CRM settles it (a steward re-types the name there): closed, and the shop corrected.
    await edit(world, "hubspot", hubspot_id, family_name="Oranje")
    settle = await report(bus, world, "hubspot", hubspot_id)
    await drain(bus)
    async with bus.transaction() as transaction:
        assert await open_conflicts(transaction, golden_id) == []
    closed = kinds(await audit_of(bus, golden_id), AuditKind.CONFLICT_CLOSED)
    assert [(r.field, r.event_id) for r in closed] == [("family_name", settle)]
    assert (await read_profile(world, "shopify", shopify_id)).family_name == "Oranje"


async def test_names_edited_in_the_three_systems_at_once_settle_with_the_conflict_kept_open(
    bus: SqliteBus, world: SyncWorld
) -> None:
    """The edits of a draw the convergence property found not settling: Open Loyalty's rename,
    stamped in the second of the CRM's, was taken for the older change and never surfaced."""
    await start_sync(bus, world)
    customer = world.take()
    golden_id = (await onboard(bus, world, customer)).golden.customer_id
    ids = {system: external_id(customer, system) for system in SYNCED_SYSTEMS}
    await edit(world, "hubspot", ids["hubspot"], given_name="Bas")
    await report(bus, world, "hubspot", ids["hubspot"])
    await drain(bus)
    crm_edit = (await read_profile(world, "hubspot", ids["hubspot"])).updated_at
    assert crm_edit is not None
    await edit(world, "shopify", ids["shopify"], family_name="de Jong")
    await report(bus, world, "shopify", ids["shopify"])
    await drain(bus)
    await edit(world, "openloyalty", ids["openloyalty"], given_name="Anouk")
    # As Open Loyalty stamps an edit made within the second of the CRM's (to the second).
    member = await read_profile(world, "openloyalty", ids["openloyalty"])
    same_second = member.model_copy(update={"updated_at": crm_edit.replace(microsecond=0)})
    challenge = profile_event("openloyalty", same_second)
    await bus.publish([challenge])
    await drain(bus)
    await edit(world, "hubspot", ids["hubspot"], family_name="Bakker")
    await report(bus, world, "hubspot", ids["hubspot"])
    await edit(world, "hubspot", ids["hubspot"], given_name="Bas")
    await report(bus, world, "hubspot", ids["hubspot"])
    await drain(bus)

    # Each system reports what it holds, twice: the second round changes nothing.
    for _ in range(2):
        before = [r for r in await audit_of(bus, golden_id) if r.kind in CHANGING]
        for system in SYNCED_SYSTEMS:
            await report(bus, world, system, ids[system])
        await drain(bus)
    assert [r for r in await audit_of(bus, golden_id) if r.kind in CHANGING] == before
    golden = await golden_of(bus, "hubspot", ids["hubspot"])
    assert (golden.golden.customer.given_name, golden.golden.customer.family_name) == (
        "Bas",
        "Bakker",
    )
    async with bus.transaction() as transaction:
        (conflict,) = await open_conflicts(transaction, golden_id)
    assert (conflict.field, conflict.standing, conflict.challenger) == (
        "given_name",
        "Bas",
        "Anouk",
    )
    assert conflict.challenger_event == challenge.id
    for system in SYNCED_SYSTEMS:
        profile = await read_profile(world, system, ids[system])
        assert disagreements(golden, profile, system) == {}, system
    assert (await read_profile(world, "openloyalty", ids["openloyalty"])).given_name == "Anouk"
    assert await dead_letters(bus) == []


async def test_a_crm_contact_with_another_email_is_the_same_person_by_phone_and_family_name(
    bus: SqliteBus, world: SyncWorld
) -> None:
    await start_sync(bus, world)
    customer = world.take("crm_other_email")
    for system in ("openloyalty", "shopify", "hubspot"):
        await report(bus, world, system, external_id(customer, system))
        await drain(bus)
    golden = await golden_of(bus, "hubspot", external_id(customer, "hubspot"))
    assert dict(golden.golden.identities) == {s: external_id(customer, s) for s in SYNCED_SYSTEMS}
    assert customer.crm_view.emails[0] in golden.golden.customer.emails
    crm = await read_profile(world, "hubspot", external_id(customer, "hubspot"))
    assert crm.loyalty_cards == [customer.card_number]
    assert crm.customer_id == golden.golden.customer_id


async def test_profiles_are_merged_by_loyalty_card_and_by_email(
    bus: SqliteBus, world: SyncWorld
) -> None:
    await start_sync(bus, world)
    customer = world.take()
    member_id = external_id(customer, "openloyalty")
    await report(bus, world, "openloyalty", member_id)
    await drain(bus)
    first = (await golden_of(bus, "openloyalty", member_id)).golden.customer_id
    # Someone in the CRM gives the contact another email and the card: the same person by card.
    hubspot_id = external_id(customer, "hubspot")
    desk = f"desk.{customer.golden.customer_id.lower()}@example.org"
    await edit(world, "hubspot", hubspot_id, email=desk, loyalty_card=customer.card_number)
    await report(bus, world, "hubspot", hubspot_id)
    await drain(bus)
    # The web shop's account, with the loyalty platform's email: the same person by email.
    await report(bus, world, "shopify", external_id(customer, "shopify"))
    await drain(bus)
    golden = await golden_of(bus, "shopify", external_id(customer, "shopify"))
    assert golden.golden.customer_id == first
    assert dict(golden.golden.identities) == {
        "openloyalty": member_id,
        "hubspot": hubspot_id,
        "shopify": external_id(customer, "shopify"),
    }
    async with bus.transaction() as transaction:
        assert await open_conflicts(transaction) == []
    assert await dead_letters(bus) == []


async def test_on_postgresql_three_reports_at_once_make_one_golden_customer(
    world: SyncWorld,
) -> None:
    url = require_postgres()
    schema = f"customers_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresBus(url, schema=schema, pool_size=4, poll_interval=0.02) as bus:
            await start_sync(bus, world)
            customer = world.take()
            # The three reports arrive together, on three ordering keys handled concurrently.
            golden = await onboard(bus, world, customer)
            assert dict(golden.golden.identities) == {
                s: external_id(customer, s) for s in SYNCED_SYSTEMS
            }
            hubspot_id = external_id(customer, "hubspot")
            await edit(world, "hubspot", hubspot_id, given_name="Maxima")
            await report(bus, world, "hubspot", hubspot_id)
            await drain(bus)
            for system in SYNCED_SYSTEMS:
                profile = await read_profile(world, system, external_id(customer, system))
                assert profile.given_name == "Maxima", system
            async with bus.transaction() as transaction:
                records = await customer_audit(transaction, golden.golden.customer_id)
                assert await open_conflicts(transaction) == []
            changed = [r.field for r in kinds(records, AuditKind.FIELD_CHANGED) if r.field]
            assert "given_name" in changed
            assert await dead_letters(bus) == []
    finally:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
