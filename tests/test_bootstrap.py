"""The composition root wires every system of the sandbox estate to its emulator."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from retailhub.bootstrap import build_connectors
from retailhub.estate import Role, Secrets, SystemSettings, load_estate, parse_estate
from retailhub.sandbox.runner import Sandbox, load_emulators
from retailhub.sandbox.seed import build_estate

ESTATE_FILE = Path(__file__).resolve().parents[1] / "src/retailhub/estates/sandbox.toml"


@pytest.fixture
async def sandbox_urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    """All five emulators running on free loopback ports."""
    factories = load_emulators()
    sandbox = Sandbox(factories, dict.fromkeys(factories, 0), tmp_path_factory.mktemp("estate"))
    urls = await sandbox.start()
    yield urls
    await sandbox.stop()


def test_every_role_has_an_emulator() -> None:
    assert set(load_emulators()) == {"shopify", "odoo", "hubspot", "openloyalty", "poslog"}


async def test_the_sandbox_estate_reaches_every_system(sandbox_urls: dict[str, str]) -> None:
    text = ESTATE_FILE.read_text()
    for system, url in sandbox_urls.items():
        port = {"shopify": 8701, "odoo": 8702, "hubspot": 8703, "openloyalty": 8704}.get(
            system, 8705
        )
        text = re.sub(rf"http://127\.0\.0\.1:{port}\b", url, text)
    estate = parse_estate(text)
    seed = build_estate()
    customer = seed.customers[0]
    connectors = build_connectors(estate, Secrets.from_environment(sandbox=True))
    try:
        assert connectors.crm is not None
        assert connectors.loyalty is not None
        assert connectors.commerce is not None
        assert connectors.pos is not None
        stock = await connectors.erps["odoo"].stock_levels("AMS01")
        assert len(stock) >= 2000
        contact = await connectors.crm.find_contact(customer.crm_view.emails[0])
        assert contact is not None
        member = await connectors.loyalty.find_member(card=customer.card_number)
        assert member is not None
        assert member.points_balance == customer.points_balance
        assert await connectors.commerce.get_order("SHOPIFY-ORDER-1") is None
        assert await connectors.pos.get_promotion("NO-SUCH-PROMOTION") is None
        assert set(connectors.all()) == {"odoo", "hubspot", "openloyalty", "shopify", "pos"}
    finally:
        await connectors.close()


def test_an_unknown_option_is_refused_naming_the_system() -> None:
    estate = load_estate()
    hubspot = estate.systems["hubspot"]
    odd = SystemSettings(**{**hubspot.model_dump(), "options": {"colour": "blue"}})
    changed = estate.model_copy(update={"systems": {**estate.systems, "hubspot": odd}})
    with pytest.raises(ValueError, match="'hubspot' has options its connector does not take"):
        build_connectors(changed, Secrets.from_environment(sandbox=True))


def test_a_second_crm_is_refused() -> None:
    estate = load_estate()
    systems = {**estate.systems, "crm2": estate.systems["hubspot"]}
    changed = estate.model_copy(update={"systems": systems})
    assert len(changed.systems_in(Role.CRM)) == 2
    with pytest.raises(ValueError, match="names 2 crm systems"):
        build_connectors(changed, Secrets.from_environment(sandbox=True))


ESTATE_FILE = Path(__file__).resolve().parents[1] / "src/retailhub/estates/sandbox.toml"


def test_the_estate_sets_the_checkout_policy_and_refuses_bad_figures_by_path() -> None:
    from datetime import timedelta

    from retailhub.bootstrap import checkout_policy
    from retailhub.canonical.errors import InvalidDocument

    text = ESTATE_FILE.read_text()
    chosen = checkout_policy(
        parse_estate(
            text + "\n[checkout]\nmax_offline_points_per_sale = 200\nreservation_ttl_minutes = 5\n"
        )
    )
    assert chosen.max_offline_points_per_sale == 200
    assert chosen.reservation_ttl == timedelta(minutes=5)
    assert chosen.max_offline_points_per_member_per_day == 1000
    with pytest.raises(InvalidDocument) as refused:
        parse_estate(text + "\n[checkout]\nloyalty_budget_s = -1\n")
    assert refused.value.faults[0].path == "$.checkout.loyalty_budget_s"


def test_the_estate_sets_customer_sync_rules_and_names_a_bad_one() -> None:
    from retailhub.bootstrap import customer_sync_rules
    from retailhub.canonical.errors import InvalidDocument

    text = ESTATE_FILE.read_text()
    rules = customer_sync_rules(
        parse_estate(text + '\n[customer_sync]\nmatch = [{ key = "email" }]\n')
    )
    assert [rule.key for rule in rules.match.rules][:1] == ["email"]
    with pytest.raises(InvalidDocument) as refused:
        customer_sync_rules(parse_estate(text + '\n[customer_sync]\nmatch = [{ key = "shoe" }]\n'))
    assert refused.value.faults[0].path == "$.customer_sync.match[0].key"
    assert "must be one of" in refused.value.faults[0].reason
