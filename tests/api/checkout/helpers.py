"""Checkout API test helpers: the emulated platform, members one per test, API keys, request
bodies and faults."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from retailhub.api.clients import add_client, parse_scopes
from retailhub.api.services import ApiServices
from retailhub.canonical.base import Channel
from retailhub.connectors.ports import LoyaltyPort
from retailhub.sandbox.seed import Estate, EstateCustomer

STORE = "AMS01"


def estate_text(url: str) -> str:
    """An estate of one system, the Open Loyalty emulator, whose breaker resets fast."""
    return f"""
name = "checkout-api-test"

[systems.openloyalty]
product = "openloyalty"
base_url = "{url}"
secrets = {{ api_token = "RETAILHUB_OPENLOYALTY_API_TOKEN" }}
options = {{ store_code = "DEFAULT" }}
resilience = {{ timeout_s = 2.0, max_attempts = 1, breaker_threshold = 3, breaker_reset_s = 0.2 }}
"""


@dataclass
class World:
    """The running emulator, its estate and the loyalty port on it."""

    estate: Estate
    url: str
    loyalty: LoyaltyPort
    _members: Iterator[EstateCustomer] = field(init=False)

    def __post_init__(self) -> None:
        rich = [c for c in self.estate.customers if c.points_balance >= 1000 and not c.conflicts]
        self._members = iter(rich)

    def member(self) -> EstateCustomer:
        """A member no other test has used, with at least 1,000 points."""
        return next(self._members)

    def campaign_sku(self) -> str:
        """A SKU of the winter campaign."""
        return sorted(self.estate.campaign.eligibility.skus or ())[0]

    def quote_body(self, member: EstateCustomer, quantity: str = "2") -> dict[str, Any]:
        """A store basket of one campaign SKU for the member, as a till sends it."""
        sku = self.campaign_sku()
        price = self.estate.price(sku, Channel.STORE).selling_price
        return {
            "member": {"card": member.card_number},
            "channel": "store",
            "location": STORE,
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": quantity, "unit_price": str(price.amount)}],
        }


async def issue_key(services: ApiServices, name: str, scopes: str) -> dict[str, str]:
    """Authorization headers of a new client holding `scopes`."""
    async with services.bus.transaction() as transaction:
        issued = await add_client(transaction, name, parse_scopes(scopes), rate_per_second=1000)
    return {"Authorization": f"Bearer {issued.key}"}


async def set_faults(url: str, faults: dict[str, Any] | None) -> None:
    """Inject faults on the emulator (None clears them)."""
    async with aiohttp.ClientSession() as session:
        if faults is None:
            async with session.delete(f"{url}/_sandbox/faults") as response:
                assert response.status < 300
        else:
            async with session.put(f"{url}/_sandbox/faults", json=faults) as response:
                assert response.status < 300, await response.text()


async def until_platform_answers(world: World) -> None:
    """Wait (bounded) until the loyalty port answers again after a fault is cleared."""
    deadline = asyncio.get_running_loop().time() + 10
    member_id = world.estate.customers[0].account.member_id
    while True:
        try:
            await world.loyalty.find_member(member_id=member_id)
            return
        except Exception:
            assert asyncio.get_running_loop().time() < deadline, "the platform never came back"
            await asyncio.sleep(0.05)
