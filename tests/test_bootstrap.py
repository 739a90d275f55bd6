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
