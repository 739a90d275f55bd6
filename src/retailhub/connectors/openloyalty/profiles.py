"""Member profiles, basket quotes, rewards and catalogue items as Open Loyalty bodies, as pure
functions.

Decisions:
- A member's profile is a Customer whose id is `OPENLOYALTY-MEMBER-<memberId>` (provisional
  until identity resolution links the golden record, as every system's own id is), with the
  member id in `identities` and `loyalty`, the card in `loyalty_cards`. Written back, a
  customer is `{"customer": {firstName, lastName, email, phone, loyaltyCardNumber}}`: its first
  email, phone and card; a field the customer lacks is left out, so the member keeps its value.
- A basket is quoted as a `sell` transaction without a document number: each line's gross
  value is quantity x unit price; the place is the store, or the web shop's place for a web
  basket. The quote's bonus is what rules other than the general spending rule give.
- A catalogue item is `{"product": {sku: {code}, name, category, categories, maker, active}}`:
  the category is the leaf of the merchandise hierarchy and `maker` the brand, the names Open
  Loyalty's transaction items give them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from retailhub.canonical.base import Channel
from retailhub.canonical.customer import Customer, LoyaltyMemberRef
from retailhub.canonical.product import Product, ProductStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.openloyalty.mapping import SYSTEM, wire_number
from retailhub.connectors.ports import BasketLine, RewardOffer

GENERAL_SPENDING = "points"
"""The rule type of the programme's base rate; every other rule that earns is a campaign."""


def customer_id(member_id: str) -> str:
    """The provisional canonical id of a member's profile."""
    return f"OPENLOYALTY-MEMBER-{member_id}"


def member_to_customer(member: Mapping[str, Any]) -> Customer:
    """A member as read from `GET /member/{id}`, as the customer profile it holds."""
    member_id = member.get("memberId")
    if not isinstance(member_id, str) or not member_id:
        raise MappingError("member", None, "$.memberId", "a member needs its memberId")
    level = member.get("currentLevel")
    tier = level.get("name") if isinstance(level, dict) else None
    card, email, phone = member.get("loyaltyCardNumber"), member.get("email"), member.get("phone")
    updated = member.get("updatedAt")
    try:
        return Customer(
            customer_id=customer_id(member_id),
            identities={SYSTEM: member_id},
            loyalty_cards=[card] if isinstance(card, str) and card else [],
            given_name=member.get("firstName") or None,
            family_name=member.get("lastName") or None,
            emails=[email] if isinstance(email, str) and email else [],
            phones=[phone] if isinstance(phone, str) and phone else [],
            loyalty=LoyaltyMemberRef(member_id=member_id, tier=tier),
            updated_at=datetime.fromisoformat(updated) if isinstance(updated, str) else None,
        )
    except (ValidationError, ValueError) as error:
        raise MappingError("member", member_id, "$", str(error)) from None


def customer_to_member(customer: Customer) -> dict[str, Any]:
    """The body of `POST /member` and `PUT /member/{id}` for a customer's profile."""
    fields = {
        "firstName": customer.given_name,
        "lastName": customer.family_name,
        "email": customer.primary_email,
        "phone": customer.phones[0] if customer.phones else None,
        "loyaltyCardNumber": customer.loyalty_cards[0] if customer.loyalty_cards else None,
    }
    return {"customer": {name: value for name, value in fields.items() if value is not None}}


def quote_transaction(
    lines: Sequence[BasketLine],
    place: str,
    at: datetime,
    customer_data: Mapping[str, str],
) -> dict[str, Any]:
    """The body of `POST /transaction/simulate` for a basket bought at `place` at `at`."""
    if not lines:
        raise MappingError("basket", None, "$.lines", "a quote needs at least one line")
    items = [
        {
            "sku": {"code": line.sku},
            "name": line.sku,
            "quantity": wire_number(line.quantity),
            "grossValue": wire_number(line.unit_price.amount * line.quantity),
        }
        for line in lines
    ]
    header = {"documentType": "sell", "purchasedAt": at.isoformat(), "purchasePlace": place}
    return {"transaction": {"header": header, "items": items, "customerData": dict(customer_data)}}


def quote_place(channel: Channel, location: str | None, web_place: str) -> str:
    """Where a quoted basket is bought: its store, or the web shop's place online."""
    if location:
        return location
    if channel is Channel.WEB:
        return web_place
    raise MappingError("basket", None, "$.location", f"a {channel.value} basket needs its store")


def simulated_points(answer: Mapping[str, Any]) -> tuple[int, int]:
    """(points in all, campaign bonus points) from a simulation's answer."""
    total = answer.get("points")
    if isinstance(total, bool) or not isinstance(total, int | float):
        raise MappingError("simulation", None, "$.points", f"points must be a number: {total!r}")
    bonus = 0
    for i, rule in enumerate(answer.get("earningRules") or []):
        points = rule.get("points") if isinstance(rule, dict) else None
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise MappingError(
                "simulation", None, f"$.earningRules[{i}].points", "points must be a number"
            )
        if rule.get("type") != GENERAL_SPENDING:
            bonus += int(points)
    return int(total), bonus


def reward_offer(reward: Mapping[str, Any]) -> RewardOffer:
    """A reward as listed by `GET /reward`."""
    reward_id, cost = reward.get("rewardId"), reward.get("costInPoints")
    if not isinstance(reward_id, str) or not reward_id:
        raise MappingError("reward", None, "$.rewardId", "a reward needs its id")
    if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
        raise MappingError("reward", reward_id, "$.costInPoints", f"not a cost: {cost!r}")
    return RewardOffer(reward_id, str(reward.get("name") or reward_id), int(cost))


def product_to_item(product: Product) -> dict[str, Any]:
    """The body of `PUT /product/{sku}` publishing an item to the programme's catalogue."""
    item: dict[str, Any] = {
        "sku": {"code": product.sku},
        "name": product.title,
        "categories": list(product.hierarchy),
        "active": product.status is ProductStatus.ACTIVE,
    }
    if product.hierarchy:
        item["category"] = product.hierarchy[-1]
    if product.brand:
        item["maker"] = product.brand
    return {"product": item}
