"""Open Loyalty payloads <-> canonical, as pure functions, on payloads shaped as the platform
sends them (member with its extra profile fields, transfers of every kind, fractional points)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from retailhub.canonical.base import Channel
from retailhub.canonical.loyalty import LoyaltyTransactionType, MemberStatus
from retailhub.canonical.money import Money
from retailhub.canonical.order import Discount, Order, OrderLine, OrderStatus, Totals
from retailhub.canonical.promotion import (
    Eligibility,
    Promotion,
    PromotionStatus,
    Reward,
    RewardType,
)
from retailhub.canonical.returns import Return, ReturnLine
from retailhub.connectors.errors import MappingError
from retailhub.connectors.openloyalty import mapping

MEMBER: dict[str, Any] = {
    "memberId": "00000000-0000-474c-b092-b0dd880c07e1",
    "active": True,
    "firstName": "John",
    "lastName": "Doe",
    "gender": "male",
    "email": "user@oloy.com",
    "phone": "+48234234000",
    "birthDate": "1990-09-11T00:00:00+02:00",
    "address": {"street": "Bagno", "city": "Warszawa", "country": "PL"},
    "loyaltyCardNumber": "47834433524",
    "createdAt": "2018-09-13T16:37:33+02:00",
    "updatedAt": "2018-09-14T09:00:00+02:00",
    "levelId": "000096cf-32a3-43bd-9034-4df343e5fd93",
    "currentLevel": {"levelId": "000096cf-32a3-43bd-9034-4df343e5fd93", "name": "level0"},
    "agreement1": True,
    "activePoints": 206.9,
    "lockedPoints": 15,
    "blockedPoints": 0,
    "labels": [{"key": "segment", "value": "vip"}],
}


def transfer(**fields: Any) -> dict[str, Any]:
    return {
        "transferId": "cd470d77-a08e-4c62-9f47-da180524f683",
        "memberId": MEMBER["memberId"],
        "createdAt": "2018-09-13T16:37:33+02:00",
        "value": 6.9,
        "state": "active",
        "type": "adding",
        "comment": "General spending rule - 6.9",
        **fields,
    }


def test_a_member_becomes_an_account_with_whole_spendable_points() -> None:
    account = mapping.member_to_account(MEMBER)
    assert account.member_id == MEMBER["memberId"]
    assert account.card_numbers == ["47834433524"]
    assert account.tier == "level0"
    assert account.points_balance == 206
    assert account.pending_points == 15
    assert account.status is MemberStatus.ACTIVE
    assert account.updated_at == datetime(2018, 9, 14, 7, 0, tzinfo=UTC)
    assert account.external_ids == {"openloyalty": MEMBER["memberId"]}


def test_an_inactive_member_without_card_or_counters_is_a_blocked_empty_account() -> None:
    bare = {"memberId": "m-1", "active": False}
    account = mapping.member_to_account(bare)
    assert account.status is MemberStatus.BLOCKED
    assert (account.card_numbers, account.points_balance, account.tier) == ([], 0, None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**MEMBER, "memberId": None}, r"member \(without id\): \$\.memberId"),
        ({**MEMBER, "activePoints": "lots"}, r"member 00000000-.*: \$\.activePoints"),
        ({**MEMBER, "updatedAt": "yesterday"}, r"\$\.updatedAt: 'yesterday' is not a date-time"),
        ({**MEMBER, "lockedPoints": -3}, r"member 00000000-.*: \$"),
    ],
)
def test_a_faulty_member_names_its_id_and_field(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        mapping.member_to_account(payload)


def test_transfers_become_signed_ledger_rows_by_what_caused_them() -> None:
    sale = mapping.transfer_to_ledger_row(
        transfer(transactionId="t-1", transactionDocumentNumber="ORD-1")
    )
    back = mapping.transfer_to_ledger_row(
        transfer(type="spending", value=50, transactionId="t-2", transactionDocumentNumber="R-1")
    )
    manual = mapping.transfer_to_ledger_row(transfer(type="spending", value=40, comment="voucher"))
    held = mapping.transfer_to_ledger_row(transfer(type="blocked", value=25, comment="basket"))

    assert sale is not None
    assert (sale.type, sale.points, sale.order_id) == (LoyaltyTransactionType.ACCRUAL, 6, "ORD-1")
    assert back is not None
    assert (back.type, back.points, back.return_id) == (LoyaltyTransactionType.REVERSAL, -50, "R-1")
    assert manual is not None
    assert (manual.type, manual.points, manual.reason) == (
        LoyaltyTransactionType.ADJUSTMENT,
        -40,
        "voucher",
    )
    assert held is not None
    assert held.points == -25
    assert held.reason == "blocked for a sale in progress: basket"


@pytest.mark.parametrize("state", ["canceled", "pending", "expired"])
def test_transfers_that_move_no_spendable_points_are_no_ledger_rows(state: str) -> None:
    assert mapping.transfer_to_ledger_row(transfer(state=state)) is None


def test_a_transfer_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(MappingError, match=r"points transfer cd470d77-.*: \$\.type"):
        mapping.transfer_to_ledger_row(transfer(type="p2p_teleport"))


def order(**changes: Any) -> Order:
    lines = [
        OrderLine(
            line_id="1",
            sku="SKU-1",
            title="Gouda 500 g",
            quantity=Decimal(2),
            unit_price=Money.of("4.99", "EUR"),
            discounts=[Discount(amount=Money.of("1.00", "EUR"))],
        ),
        OrderLine(
            line_id="2",
            gtin="8799999000017",
            quantity=Decimal("0.750"),
            unit_of_measure="kg",
            unit_price=Money.of("12.00", "EUR"),
        ),
    ]
    document = Order(
        order_id="ORD-100",
        channel=Channel.STORE,
        location="UTR03",
        loyalty_card="2612000123450",
        currency="EUR",
        prices_include_tax=True,
        placed_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        lines=lines,
        totals=Totals(tax_total=Money.zero("EUR"), grand_total=Money.of("17.98", "EUR")),
    )
    return document.model_copy(update=changes)


def test_a_sale_becomes_a_sell_transaction_of_what_each_line_cost() -> None:
    body = mapping.order_to_transaction(order())["transaction"]
    assert body["header"] == {
        "documentNumber": "ORD-100",
        "documentType": "sell",
        "purchasedAt": "2026-12-01T10:00:00+00:00",
        "purchasePlace": "UTR03",
        "labels": [{"key": "channel", "value": "store"}],
    }
    assert body["items"] == [
        {
            "sku": {"code": "SKU-1"},
            "name": "Gouda 500 g",
            "quantity": 2.0,
            "grossValue": 8.98,
            "labels": [{"key": "lineId", "value": "1"}],
        },
        {
            "sku": {"code": "08799999000017"},
            "name": "08799999000017",
            "quantity": 0.75,
            "grossValue": 9.0,
            "labels": [{"key": "lineId", "value": "2"}],
        },
    ]
    assert body["customerData"] == {"loyaltyCardNumber": "2612000123450"}


def test_a_web_sale_without_a_location_is_placed_at_the_web_shop() -> None:
    web = order(channel=Channel.WEB, location=None, loyalty_card=None, email="a@example.com")
    body = mapping.order_to_transaction(web, web_place="WEBSHOP")["transaction"]
    assert body["header"]["purchasePlace"] == "WEBSHOP"
    assert body["customerData"] == {"email": "a@example.com"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": OrderStatus.PENDING}, "$.status"),
        ({"loyalty_card": None}, "$.loyalty_card"),
        ({"location": None}, "$.location"),
    ],
)
def test_a_sale_that_cannot_earn_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(MappingError, match=rf"order ORD-100: \{field}"):
        mapping.order_to_transaction(order(**changes))


def test_a_return_links_its_sale_and_a_receiptless_one_does_not() -> None:
    document = Return(
        return_id="RET-100",
        original_order_id="ORD-100",
        initiated_channel=Channel.WEB,
        received_channel=Channel.STORE,
        received_location="AMS01",
        loyalty_card="2612000123450",
        currency="EUR",
        lines=[
            ReturnLine(
                line_id="r1",
                original_line_id="1",
                sku="SKU-1",
                quantity=Decimal(1),
                refund_amount=Money.of("4.49", "EUR"),
            )
        ],
        refund_total=Money.of("4.49", "EUR"),
        created_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    )
    body = mapping.return_to_transaction(document)["transaction"]
    assert body["header"]["documentType"] == "return"
    assert body["header"]["documentNumber"] == "RET-100"
    assert body["header"]["linkedDocumentNumber"] == "ORD-100"
    assert body["header"]["purchasePlace"] == "AMS01"
    assert body["items"][0]["grossValue"] == 4.49
    assert body["items"][0]["labels"] == [{"key": "lineId", "value": "1"}]
    receiptless = mapping.return_to_transaction(
        document.model_copy(update={"original_order_id": None})
    )
    assert "linkedDocumentNumber" not in receiptless["transaction"]["header"]


def bonus(channels: list[Channel], stores: list[str] | None = None) -> Promotion:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    return Promotion(
        promotion_id="bonus",
        version=3,
        name="Bonus",
        source="hub",
        channels=channels,
        stores=stores or [],
        eligibility=Eligibility(skus=["SKU-1", "SKU-2"]),
        reward=Reward(type=RewardType.BONUS_POINTS, points=25),
        valid_from=start,
        valid_to=start + timedelta(days=14),
        status=PromotionStatus.ACTIVE,
    )


@pytest.mark.parametrize(
    ("promotion", "all_pos", "pos"),
    [
        (bonus([Channel.STORE, Channel.WEB]), True, []),
        (bonus([Channel.WEB]), False, ["WEB"]),
        (bonus([Channel.STORE], ["AMS01"]), False, ["AMS01"]),
        (bonus([Channel.STORE, Channel.WEB], ["RTM02"]), False, ["RTM02", "WEB"]),
        (bonus([Channel.STORE]), False, ["AMS01", "RTM02"]),
    ],
)
def test_a_promotion_round_trips_through_its_earning_rule(
    promotion: Promotion, all_pos: bool, pos: list[str]
) -> None:
    stores = ["AMS01", "RTM02"]
    rule = mapping.promotion_to_earning_rule(promotion, store_places=stores)["earningRule"]
    assert (rule["type"], rule["pointsAmount"]) == ("product_purchase", 25)
    assert (rule["allPos"], rule["pos"]) == (all_pos, pos)
    back = mapping.earning_rule_to_promotion({"earningRuleId": "r-1", **rule}, store_places=stores)
    assert back == promotion.model_copy(
        update={"source": "openloyalty", "external_ids": {"openloyalty": "r-1"}}
    )


@pytest.mark.parametrize(
    ("promotion", "field"),
    [
        (bonus([Channel.STORE]), "$.stores"),
        (bonus([Channel.APP]), "$.channels"),
        (
            bonus([Channel.WEB]).model_copy(
                update={"eligibility": Eligibility(hierarchy_nodes=[["Food", "Cheese"]])}
            ),
            "$.eligibility",
        ),
    ],
)
def test_a_promotion_no_earning_rule_can_carry_is_refused(promotion: Promotion, field: str) -> None:
    with pytest.raises(MappingError, match=rf"promotion bonus:v3: \{field}"):
        mapping.promotion_to_earning_rule(promotion)


def test_the_general_spending_rule_is_the_base_rate_not_a_promotion() -> None:
    rule = {
        "earningRuleId": "base",
        "name": "General spending rule",
        "type": "points",
        "active": True,
        "allTimeActive": True,
        "pointValue": 1,
    }
    assert mapping.earning_rule_to_promotion(rule) is None


def test_transfer_ids_follow_the_key() -> None:
    assert mapping.transfer_id("refund:1") == mapping.transfer_id("refund:1")
    assert mapping.transfer_id("refund:1") != mapping.transfer_id("refund:2")
