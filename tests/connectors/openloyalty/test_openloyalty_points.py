"""Contract tests of the Open Loyalty connector against the emulator over loopback HTTP: points
earned by the rules on a sale, reversed by a return, and the ledger that adds up to the balance."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from openloyalty_helpers import BEFORE_CAMPAIGN, IN_CAMPAIGN, SaleBuilder, campaign_sku, plain_sku

from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import LoyaltyTransactionType, ledger_balance
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order, Tender, TenderType
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.canonical.returns import Return, ReturnLine
from retailhub.connectors.openloyalty import OpenLoyaltyConnector
from retailhub.sandbox.openloyalty import OpenLoyaltyEmulator
from retailhub.sandbox.seed import Estate


def base_points(order: Order) -> int:
    """The base rule's points: 1 per EUR of each line's net, rounded down per line."""
    floor = ROUND_FLOOR
    return sum(int(line.net.amount.to_integral_value(rounding=floor)) for line in order.lines)


async def balance(loyalty: OpenLoyaltyConnector, member_id: str) -> int:
    account = await loyalty.find_member(member_id=member_id)
    assert account is not None
    return account.points_balance


async def test_a_store_sale_earns_base_points_plus_the_bonus_on_campaign_units_only(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[3]
    order = sale(member, [(campaign_sku(estate), 2), (plain_sku(estate), 3)], order_id="ORD-1")
    before = await balance(loyalty, member.account.member_id)

    outcome = await loyalty.register_sale(order, key="order:ORD-1")

    assert outcome.member_id == member.account.member_id
    assert outcome.points == base_points(order) + 2 * 50
    assert all(row.type is LoyaltyTransactionType.ACCRUAL for row in outcome.transactions)
    assert {row.order_id for row in outcome.transactions} == {"ORD-1"}
    assert await balance(loyalty, member.account.member_id) == before + outcome.points


async def test_no_bonus_outside_the_campaign_window(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    order = sale(
        estate.customers[4], [(campaign_sku(estate), 2)], order_id="ORD-2", at=BEFORE_CAMPAIGN
    )
    outcome = await loyalty.register_sale(order, key="order:ORD-2")
    assert outcome.points == base_points(order)


async def test_a_web_only_bonus_is_earned_on_the_web_and_not_in_a_store(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    sku = plain_sku(estate, 1)
    await loyalty.put_campaign(
        Promotion(
            promotion_id="web-bonus",
            version=1,
            name="Web bonus",
            source="hub",
            channels=[Channel.WEB],
            eligibility=Eligibility(skus=[sku]),
            reward=Reward(type=RewardType.BONUS_POINTS, points=30),
            valid_from=IN_CAMPAIGN - timedelta(days=1),
            valid_to=IN_CAMPAIGN + timedelta(days=1),
            status=PromotionStatus.ACTIVE,
        )
    )
    member = estate.customers[5]
    in_store = sale(member, [(sku, 1)], order_id="ORD-3")
    online = sale(member, [(sku, 1)], order_id="ORD-4", channel=Channel.WEB, location="WEB")

    assert (await loyalty.register_sale(in_store, "k3")).points == base_points(in_store)
    assert (await loyalty.register_sale(online, "k4")).points == base_points(online) + 30


async def test_a_sale_matched_by_email_earns_for_that_member(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[6]
    order = sale(member, [(plain_sku(estate), 1)], order_id="ORD-5", by_email=True)
    outcome = await loyalty.register_sale(order, key="order:ORD-5")
    assert outcome.member_id == member.account.member_id


async def test_registering_a_sale_twice_accrues_once_and_answers_the_first(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[7]
    order = sale(member, [(campaign_sku(estate), 1)], order_id="ORD-6")
    before = await balance(loyalty, member.account.member_id)

    first = await loyalty.register_sale(order, key="order:ORD-6")
    again = await loyalty.register_sale(order, key="order:ORD-6")

    assert again == first
    assert await balance(loyalty, member.account.member_id) == before + first.points


async def test_a_sale_that_earns_is_answered_from_its_transfers_in_two_requests(
    loyalty: OpenLoyaltyConnector,
    emulator: OpenLoyaltyEmulator,
    estate: Estate,
    sale: SaleBuilder,
) -> None:
    member = estate.customers[8]
    order = sale(member, [(plain_sku(estate), 2)], order_id="ORD-7")
    before = emulator.faults.requests_served

    outcome = await loyalty.register_sale(order, key="order:ORD-7")

    assert emulator.faults.requests_served - before == 2
    assert outcome.member_id == member.account.member_id
    assert outcome.points == base_points(order) > 0


async def test_a_sale_of_an_unknown_card_reads_the_transaction_and_names_nobody(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    order = sale(estate.customers[9], [(plain_sku(estate), 1)], order_id="ORD-8")
    stranger = order.model_copy(update={"loyalty_card": "0000000000000"})

    outcome = await loyalty.register_sale(stranger, key="order:ORD-8")

    assert (outcome.member_id, outcome.points, outcome.transactions) == ("", 0, ())


def _return_of(order: Order, lines: list[tuple[str, int]], return_id: str) -> Return:
    by_line = {line.line_id: line for line in order.lines}
    return_lines = []
    for line_id, quantity in lines:
        sold = by_line[line_id]
        return_lines.append(
            ReturnLine(
                line_id=line_id,
                original_line_id=line_id,
                sku=sold.sku,
                quantity=Decimal(quantity),
                refund_amount=(sold.unit_price * Decimal(quantity)).rounded(),
            )
        )
    total = sum((line.refund_amount.amount for line in return_lines), Decimal(0))
    return Return(
        return_id=return_id,
        original_order_id=order.order_id,
        initiated_channel=Channel.STORE,
        received_channel=Channel.STORE,
        received_location="AMS01",
        loyalty_card=order.loyalty_card,
        currency="EUR",
        lines=return_lines,
        refund_total=Money.of(total, "EUR"),
        created_at=order.placed_at + timedelta(days=2),
    )


async def test_a_return_reverses_exactly_what_the_returned_units_earned(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[8]
    member_id = member.account.member_id
    order = sale(member, [(campaign_sku(estate), 2), (plain_sku(estate), 1)], order_id="ORD-7")
    opening = await balance(loyalty, member_id)
    earned = (await loyalty.register_sale(order, key="order:ORD-7")).points
    campaign_line = order.lines[0]
    line_base = int(campaign_line.net.amount.to_integral_value(rounding=ROUND_FLOOR))

    one_back = await loyalty.register_return(_return_of(order, [("1", 1)], "RET-1"), "ret:1")

    assert one_back.member_id == member_id
    assert one_back.points == -(line_base // 2 + 50)
    assert {row.type for row in one_back.transactions} == {LoyaltyTransactionType.REVERSAL}
    assert {row.return_id for row in one_back.transactions} == {"RET-1"}

    rest = await loyalty.register_return(_return_of(order, [("1", 1), ("2", 1)], "RET-2"), "r2")

    assert one_back.points + rest.points == -earned
    assert await balance(loyalty, member_id) == opening


async def test_a_return_paid_in_points_credits_those_points_back(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[9]
    order = sale(member, [(plain_sku(estate), 1)], order_id="ORD-8")
    earned = (await loyalty.register_sale(order, key="order:ORD-8")).points
    returned = _return_of(order, [("1", 1)], "RET-3")
    returned = returned.model_copy(
        update={
            "refund_tenders": [
                Tender(type=TenderType.LOYALTY_POINTS, amount=returned.refund_total, points=120)
            ]
        }
    )

    outcome = await loyalty.register_return(returned, "ret:3")
    again = await loyalty.register_return(returned, "ret:3")

    assert outcome.points == -earned + 120
    assert again.points == outcome.points
    adjustments = [r for r in outcome.transactions if r.type is LoyaltyTransactionType.ADJUSTMENT]
    assert [r.points for r in adjustments] == [120]


async def test_the_ledger_adds_up_to_the_balance_after_every_kind_of_movement(
    loyalty: OpenLoyaltyConnector, estate: Estate, sale: SaleBuilder
) -> None:
    member = estate.customers[10]
    member_id = member.account.member_id
    order = sale(member, [(campaign_sku(estate), 1), (plain_sku(estate), 2)], order_id="ORD-9")
    await loyalty.register_sale(order, key="order:ORD-9")
    await loyalty.register_return(_return_of(order, [("2", 1)], "RET-4"), "ret:4")
    await loyalty.add_points(member_id, 75, "goodwill for a late delivery", "goodwill:1")
    await loyalty.spend_points(member_id, 40, "coffee voucher", "voucher:1")
    await loyalty.block_points(member_id, 25, "basket:1")

    ledger = await loyalty.ledger(member_id)

    assert ledger_balance(ledger) == await balance(loyalty, member_id)
    assert ledger == sorted(ledger, key=lambda row: row.occurred_at)
    kinds = {row.type for row in ledger}
    assert {LoyaltyTransactionType.ACCRUAL, LoyaltyTransactionType.REVERSAL} <= kinds


async def test_the_ledger_pages_through_more_transfers_than_one_page_holds(
    loyalty: OpenLoyaltyConnector, estate: Estate
) -> None:
    member_id = estate.customers[11].account.member_id
    for n in range(55):
        await loyalty.add_points(member_id, 1, "stamp", f"stamp:{n}")
    ledger = await loyalty.ledger(member_id)
    assert len([row for row in ledger if row.reason == "stamp"]) == 55
    assert ledger_balance(ledger) == await balance(loyalty, member_id)
