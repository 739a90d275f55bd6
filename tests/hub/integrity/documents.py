"""The documents a plan sends: till sales, web orders placed on the Shopify emulator, returns
of some of an order's lines received at a store, promotion versions authored in the CRM, and
profile edits made in the products themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp

from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.money import sum_money
from retailhub.canonical.order import Order, Tender, TenderType
from retailhub.canonical.promotion import Eligibility, Promotion, PromotionStatus, Reward
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.ports import CommercePort, CrmPort, LoyaltyPort
from retailhub.demo.shoppers import order_for
from retailhub.sandbox.seed import Estate, EstateCustomer
from retailhub.sandbox.shopify.emulator import DEFAULT_ACCESS_TOKEN

from .world import World

ORDER_CREATED = "retail.order.created.v1"
RETURN_RECEIVED = "retail.return.received.v1"
PROMOTION_AUTHORED = "retail.promotion.authored.v1"
SHOP_SOURCE = "/shopify/integrity-shop"
STORES = ("AMS01", "RTM02", "UTR03")


def each_skus(estate: Estate, *, campaign: bool) -> list[str]:
    """SKUs sold by the each with a web and a store price, in or outside the winter campaign."""
    eligible = set(estate.campaign.eligibility.skus)
    found = []
    for product in estate.products:
        if (product.sku in eligible) != campaign or product.unit_of_measure.value != "each":
            continue
        try:
            estate.price(product.sku, Channel.WEB)
            estate.price(product.sku, Channel.STORE)
        except KeyError:
            continue
        found.append(product.sku)
    return found


def till_sale(
    estate: Estate,
    order_id: str,
    buyer: EstateCustomer | None,
    basket: Sequence[tuple[str, int]],
    store: str,
    at: datetime,
) -> Order:
    """A completed sale at a store's till, by a member with their card or by nobody known."""
    return order_for(estate, order_id, buyer, basket, placed_at=at, store=store)


async def place_web_order(
    world: World, buyer: EstateCustomer, basket: Sequence[tuple[str, int]]
) -> Order:
    """A paid order placed on the Shopify emulator, as the storefront does; read back through
    the commerce port as the canonical order the hub hears of."""
    commerce: Any = world.commerce
    variants = await commerce.variants([sku for sku, _ in basket])
    body = {
        "order": {
            "email": buyer.golden.emails[0],
            "processed_at": world.trading_day.isoformat(),
            "financial_status": "paid",
            "line_items": [
                {"variant_id": variants[sku].variant_id, "quantity": quantity}
                for sku, quantity in basket
            ],
        }
    }
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.post(
            f"{world.urls['shopify']}/admin/api/2024-10/orders.json",
            json=body,
            headers={"X-Shopify-Access-Token": DEFAULT_ACCESS_TOKEN},
        ) as response,
    ):
        if response.status != 201:
            raise RuntimeError(f"the web shop refused the order: {await response.text()}")
        created = await response.json()
    order = await world.commerce.get_order(f"SHOPIFY-ORDER-{created['order']['id']}")
    assert order is not None
    return order


def order_event(order: Order, *, copy: int = 0) -> CloudEvent:
    """The order's `retail.order.created.v1` as its channel's intake publishes it; `copy` > 0 is
    the same order in another journal (another event id)."""
    source = SHOP_SOURCE if order.channel is Channel.WEB else f"/pos/{order.location}"
    suffix = f"/copy-{copy}" if copy else ""
    return to_event(order, ORDER_CREATED, source, id=f"{order.order_id}/created{suffix}")


def goods_back(
    order: Order,
    return_id: str,
    quantities: Sequence[tuple[str, int]],
    store: str,
) -> Return:
    """Goods of `order` received at `store`: (line id, quantity) each, refunded at the line's
    price; the till pays a store sale out by card, the web shop refunds a web order."""
    sold = {line.line_id: line for line in order.lines}
    lines = [
        ReturnLine(
            line_id=str(n),
            original_line_id=line_id,
            sku=sold[line_id].sku,
            quantity=Decimal(quantity),
            refund_amount=(
                sold[line_id].net * (Decimal(quantity) / sold[line_id].quantity)
            ).rounded(),
        )
        for n, (line_id, quantity) in enumerate(quantities, 1)
    ]
    total = sum_money((line.refund_amount for line in lines), order.currency)
    at_till = order.channel is Channel.STORE
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=Channel.STORE,
        initiated_location=store,
        received_channel=Channel.STORE,
        received_location=store,
        loyalty_card=order.loyalty_card,
        currency=order.currency,
        lines=lines,
        refund_tenders=[Tender(type=TenderType.CARD, amount=total)] if at_till else [],
        refund_total=total,
        status=ReturnStatus.REFUNDED if at_till else ReturnStatus.RECEIVED,
        created_at=order.placed_at.astimezone(UTC) + timedelta(hours=3),
    )


def online_request(goods: Return) -> Return:
    """The same goods as a return the shopper started on the web shop, not yet received."""
    return Return.model_validate(
        {
            **goods.model_dump(),
            "return_id": f"{goods.return_id}-RMA",
            "initiated_channel": Channel.WEB,
            "initiated_location": None,
            "received_channel": None,
            "received_location": None,
            "refund_tenders": [],
            "status": ReturnStatus.REQUESTED,
        }
    )


def received_event(goods: Return, *, copy: int = 0) -> CloudEvent:
    """The return's `retail.return.received.v1` as the store's POSLog intake publishes it;
    `copy` > 0 is the same receipt in a second file (another event id)."""
    suffix = f"/copy-{copy}" if copy else ""
    return to_event(
        goods,
        RETURN_RECEIVED,
        f"/pos/{goods.received_location}",
        id=f"{goods.return_id}/received{suffix}",
    )


def promotion_version(
    promotion_id: str,
    version: int,
    skus: Sequence[str],
    *,
    points: bool,
    amount: int,
    cancelled: bool,
) -> Promotion:
    """A promotion version as a marketer authors it in the CRM: bonus points (loyalty and the
    tills) or a percentage off (web shop and tills), or the promotion cancelled."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    reward = (
        {"type": "bonus_points", "points": amount}
        if points
        else {"type": "percent_off", "percent": str(amount)}
    )
    return Promotion(
        promotion_id=promotion_id,
        version=version,
        name=f"Integrity {promotion_id}",
        description=f"{promotion_id} v{version}",
        source="hubspot",
        channels=[Channel.WEB, Channel.STORE],
        eligibility=Eligibility(skus=list(skus)),
        reward=Reward.model_validate(reward),
        valid_from=today - timedelta(days=1),
        valid_to=today + timedelta(days=30),
        status=PromotionStatus.CANCELLED if cancelled else PromotionStatus.DRAFT,
    )


def authored_event(promotion: Promotion) -> CloudEvent:
    """The CRM's `retail.promotion.authored.v1` of one version."""
    return to_event(promotion, PROMOTION_AUTHORED, "/crm/hubspot", id=f"authored:{promotion.key}")


def external_id(customer: EstateCustomer, system: str) -> str:
    """The customer's id in `system` as the estate seeded it."""
    view = {"hubspot": customer.crm_view, "shopify": customer.shop_view}.get(system)
    return (view or customer.loyalty_view).identities[system]


async def edit_profile(
    crm: CrmPort,
    commerce: CommercePort,
    loyalty: LoyaltyPort,
    system: str,
    system_id: str,
    values: dict[str, str],
) -> None:
    """A person changes `given_name`, `family_name` or `phone` in the product itself, not
    through the hub, as a service agent, a shopper or a store clerk would."""
    if system == "hubspot":
        names = {"given_name": "firstname", "family_name": "lastname", "phone": "phone"}
        hubspot: Any = crm
        await hubspot.client.update("contacts", system_id, {names[k]: v for k, v in values.items()})
    elif system == "shopify":
        names = {"given_name": "first_name", "family_name": "last_name", "phone": "phone"}
        shop: Any = commerce
        body = {"id": int(system_id), **{names[k]: v for k, v in values.items()}}
        await shop.client.update_customer(int(system_id), body)
    else:
        names = {"given_name": "firstName", "family_name": "lastName", "phone": "phone"}
        platform: Any = loyalty
        client = platform.client
        body = {"customer": {names[k]: v for k, v in values.items()}}
        await client.put(client.path("member", system_id), body)
