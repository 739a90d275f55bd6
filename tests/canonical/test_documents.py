"""Every canonical kind: realistic documents that validate, round-trip through JSON and match
their own JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from retailhub.canonical.customer import ConsentChannel, Customer
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.kinds import DOCUMENT_KINDS, parse_document
from retailhub.canonical.loyalty import LoyaltyTransaction, ledger_balance
from retailhub.canonical.money import Money
from retailhub.canonical.order import Order
from retailhub.canonical.promotion import Promotion
from retailhub.canonical.returns import Return

Doc = dict[str, Any]


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def jpy(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "JPY"}


def eu_store_order() -> Doc:
    """A Dutch supermarket receipt: VAT included, a weighed item, a promotion discount, cash with
    change and the 0.05 cash rounding Dutch tills apply."""
    return {
        "kind": "order",
        "order_id": "NL-AMS01-20261127-0003-0815",
        "channel": "store",
        "location": "AMS01",
        "loyalty_card": "6280001234567",
        "currency": "EUR",
        "prices_include_tax": True,
        "placed_at": "2026-11-27T17:05:43+01:00",
        "status": "completed",
        "pos": {
            "store": "AMS01",
            "workstation": "3",
            "sequence": "0815",
            "business_day": "2026-11-27",
            "operator": "204",
        },
        "lines": [
            {
                "line_id": "1",
                "sku": "100512",
                "gtin": "8712345000011",
                "title": "Bananen, per kg",
                "quantity": "1.235",
                "unit_of_measure": "kg",
                "unit_price": eur("1.99"),
                "extended_amount": eur("2.46"),
                "tax_lines": [{"name": "BTW 9%", "rate": "0.09", "amount": eur("0.20")}],
            },
            {
                "line_id": "2",
                "sku": "300118",
                "title": "Douwe Egberts koffie 500 g",
                "quantity": "2",
                "unit_price": eur("5.49"),
                "discounts": [
                    {
                        "amount": eur("2.20"),
                        "promotion_id": "PROMO-COFFEE-20",
                        "promotion_version": 3,
                        "description": "20% korting",
                    }
                ],
                "tax_lines": [{"name": "BTW 9%", "rate": "0.09", "amount": eur("0.72")}],
                "loyalty_points_earned": 18,
            },
            {
                "line_id": "3",
                "gtin": "4006381333931",
                "title": "Stabilo Boss highlighter",
                "quantity": "1",
                "unit_price": eur("3.95"),
                "tax_lines": [{"name": "BTW 21%", "rate": "0.21", "amount": eur("0.69")}],
            },
        ],
        "tenders": [{"type": "cash", "amount": eur("20.00")}],
        "change_given": eur("4.80"),
        "totals": {
            "discount_total": eur("2.20"),
            "tax_total": eur("1.61"),
            "rounding": eur("0.01"),
            "grand_total": eur("15.20"),
        },
    }


def us_web_order() -> Doc:
    """A New York web order: sales tax added on top, shipping (taxed too), a discount code, card."""
    return {
        "kind": "order",
        "order_id": "WEB-2026-004711",
        "external_ids": {"shopify": 5501234567890},
        "channel": "web",
        "location": "WEB-US",
        "customer_id": "CUST-000913",
        "customer_ids": {"shopify": "7311122233", "hubspot": "8812"},
        "email": "jordan.lee@mail.example.com",
        "currency": "USD",
        "prices_include_tax": False,
        "placed_at": "2026-11-28T08:12:55-05:00",
        "status": "completed",
        "lines": [
            {
                "line_id": "14088117469",
                "sku": "RUN-PEG41-M-10",
                "title": "Pegasus 41 running shoe, men's 10",
                "quantity": "1",
                "unit_price": usd("89.99"),
                "tax_lines": [{"name": "NY sales tax", "rate": "0.08875", "amount": usd("7.99")}],
            },
            {
                "line_id": "14088117470",
                "sku": "SOCK-RUN-3PK",
                "gtin": "036000291452",
                "title": "Running socks",
                "quantity": "3",
                "unit_price": usd("12.00"),
                "discounts": [{"amount": usd("5.00"), "code": "SOCKS5"}],
                "tax_lines": [{"name": "NY sales tax", "rate": "0.08875", "amount": usd("2.75")}],
            },
        ],
        "tenders": [{"type": "card", "amount": usd("140.39"), "reference": "visa •••• 4242"}],
        "totals": {
            "discount_total": usd("5.00"),
            "tax_total": usd("11.45"),
            "shipping": usd("7.95"),
            "grand_total": usd("140.39"),
        },
    }


def jp_app_order() -> Doc:
    """A Tokyo app order: yen have no minor unit, an order-level coupon, part paid in points."""
    return {
        "kind": "order",
        "order_id": "APP-JP-778812",
        "channel": "app",
        "location": "APP-JP",
        "customer_id": "CUST-JP-0042",
        "loyalty_card": "9990001112223",
        "currency": "JPY",
        "prices_include_tax": True,
        "placed_at": "2026-12-01T12:30:00+09:00",
        "lines": [
            {
                "line_id": "1",
                "sku": "TEA-MATCHA-100",
                "gtin": "4901234567894",
                "quantity": "2",
                "unit_price": jpy("1980"),
                "tax_lines": [{"name": "消費税 10%", "rate": "0.10", "amount": jpy("315")}],
            }
        ],
        "order_discounts": [
            {"amount": jpy("500"), "promotion_id": "WELCOME-500", "promotion_version": 1}
        ],
        "tenders": [
            {"type": "loyalty_points", "amount": jpy("300"), "points": 300},
            {"type": "card", "amount": jpy("3160"), "reference": "jcb •••• 0005"},
        ],
        "totals": {
            "discount_total": jpy("500"),
            "tax_total": jpy("315"),
            "grand_total": jpy("3460"),
        },
    }


def cancelled_marketplace_order() -> Doc:
    """A marketplace order cancelled before payment: no tenders, nothing to cover."""
    return {
        "kind": "order",
        "order_id": "AMZ-302-1234567-7654321",
        "external_ids": {"amazon": "302-1234567-7654321"},
        "channel": "marketplace",
        "currency": "GBP",
        "prices_include_tax": True,
        "placed_at": "2026-11-29T21:00:00Z",
        "status": "cancelled",
        "lines": [
            {
                "line_id": "1",
                "sku": "KETTLE-STEEL",
                "quantity": "1",
                "unit_price": {"amount": "34.99", "currency": "GBP"},
            }
        ],
        "totals": {
            "tax_total": {"amount": "5.83", "currency": "GBP"},
            "grand_total": {"amount": "34.99", "currency": "GBP"},
        },
    }


def bought_online_returned_in_store() -> Doc:
    """One pair of socks from the web order comes back at a Manhattan store and is refunded."""
    return {
        "kind": "return",
        "return_id": "RET-WEB-2026-004711-1",
        "external_ids": {"shopify": "99120331"},
        "original_order_id": "WEB-2026-004711",
        "initiated_channel": "web",
        "received_channel": "store",
        "received_location": "NYC05",
        "customer_id": "CUST-000913",
        "currency": "USD",
        "lines": [
            {
                "line_id": "1",
                "original_line_id": "14088117470",
                "sku": "SOCK-RUN-3PK",
                "gtin": "036000291452",
                "quantity": "1",
                "refund_amount": usd("11.25"),
                "tax_lines": [{"name": "NY sales tax", "rate": "0.08875", "amount": usd("0.92")}],
                "reason": "size_or_fit",
                "condition": "resaleable",
                "restock": True,
            }
        ],
        "refund_tenders": [{"type": "card", "amount": usd("11.25"), "reference": "visa •••• 4242"}],
        "refund_total": usd("11.25"),
        "status": "refunded",
        "created_at": "2026-12-02T16:40:00-05:00",
    }


def receiptless_store_return() -> Doc:
    """A defective item brought back without a receipt: store credit, not back on the shelf."""
    return {
        "kind": "return",
        "return_id": "RET-AMS01-20261203-0007",
        "initiated_channel": "store",
        "initiated_location": "AMS01",
        "received_channel": "store",
        "received_location": "AMS01",
        "loyalty_card": "6280001234567",
        "currency": "EUR",
        "lines": [
            {
                "line_id": "1",
                "gtin": "4006381333931",
                "quantity": "1",
                "refund_amount": eur("3.95"),
                "reason": "defective",
                "condition": "defective",
                "restock": False,
            }
        ],
        "refund_tenders": [
            {"type": "store_credit", "amount": eur("3.95"), "reference": "SC-88121"}
        ],
        "refund_total": eur("3.95"),
        "status": "refunded",
        "created_at": "2026-12-03T11:02:00+01:00",
    }


def customer() -> Doc:
    return {
        "kind": "customer",
        "customer_id": "CUST-000913",
        "identities": {"shopify": 7311122233, "hubspot": "8812", "openloyalty": "m-5521"},
        "loyalty_cards": ["9990001112223"],
        "given_name": "Jordan",
        "family_name": "Lee",
        "emails": ["jordan.lee@mail.example.com", "j.lee@work.example.org"],
        "phones": ["+12125550143"],
        "addresses": [
            {
                "kind": "shipping",
                "lines": ["350 5th Ave", "Apt 12B"],
                "city": "New York",
                "region": "NY",
                "postal_code": "10118",
                "country": "US",
            },
            {"kind": "billing", "lines": ["PO Box 77"], "city": "Hoboken", "country": "US"},
        ],
        "birth_date": "1990-04-17",
        "consents": [
            {
                "channel": "email",
                "granted": True,
                "at": "2025-01-10T09:00:00Z",
                "source": "shopify",
            },
            {
                "channel": "email",
                "granted": False,
                "at": "2026-06-01T09:00:00Z",
                "source": "hubspot",
            },
            {
                "channel": "sms",
                "granted": True,
                "at": "2026-02-14T18:00:00-05:00",
                "source": "shopify",
            },
        ],
        "loyalty": {"member_id": "m-5521", "tier": "silver"},
        "updated_at": "2026-11-28T08:13:00-05:00",
    }


def weighed_product() -> Doc:
    return {
        "kind": "product",
        "sku": "100512",
        "gtins": ["8712345000011", "4712345678900"],
        "title": "Bananen, per kg",
        "hierarchy": ["Food", "Fresh", "Fruit"],
        "brand": "Chiquita",
        "unit_of_measure": "kg",
        "attributes": {"origin": "CR", "organic": "false"},
        "status": "active",
        "external_ids": {"odoo": 4411},
    }


def discontinued_product() -> Doc:
    return {
        "kind": "product",
        "sku": "RUN-PEG40-M-10",
        "title": "Pegasus 40 running shoe, men's 10",
        "status": "discontinued",
    }


def store_sale_price() -> Doc:
    return {
        "kind": "price",
        "sku": "300118",
        "channel": "store",
        "store": "AMS01",
        "list_price": eur("5.49"),
        "sale_price": eur("4.39"),
        "tax_included": True,
        "valid_from": "2026-11-25T00:00:00+01:00",
        "valid_to": "2026-12-02T00:00:00+01:00",
    }


def web_zone_price() -> Doc:
    return {
        "kind": "price",
        "sku": "RUN-PEG41-M-10",
        "channel": "web",
        "zone": "US-EAST",
        "list_price": usd("89.99"),
        "tax_included": False,
        "valid_from": "2026-11-01T00:00:00-05:00",
    }


def percent_off_promotion() -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "PROMO-COFFEE-20",
        "version": 3,
        "name": "20% off coffee",
        "description": "All coffee 20% off for loyalty members",
        "source": "hubspot",
        "channels": ["store", "app"],
        "stores": ["AMS01", "AMS02"],
        "eligibility": {
            "hierarchy_nodes": [["Food", "Coffee & Tea", "Coffee"]],
            "customer_tiers": ["silver", "gold"],
        },
        "reward": {"type": "percent_off", "percent": "20"},
        "valid_from": "2026-11-20T00:00:00+01:00",
        "valid_to": "2026-12-01T00:00:00+01:00",
        "stackable": False,
        "priority": 5,
        "pricing_controls": {"price_floor": eur("2.99"), "minimum_margin_percent": "15"},
        "status": "active",
        "external_ids": {"hubspot": "campaign-77"},
    }


def fixed_price_promotion() -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "PROMO-HIGHLIGHTER-1",
        "version": 1,
        "name": "Highlighter now 2.99",
        "source": "odoo",
        "channels": ["store", "web"],
        "eligibility": {"skus": ["200871"]},
        "reward": {"type": "fixed_price", "amount": eur("2.99")},
        "valid_from": "2026-12-01T00:00:00+01:00",
        "valid_to": "2026-12-15T00:00:00+01:00",
        "pricing_controls": {"price_floor": eur("2.49")},
    }


def bonus_points_promotion() -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "XMAS-BONUS",
        "version": 1,
        "name": "50 bonus points on gift sets",
        "source": "openloyalty",
        "channels": ["store", "web", "app"],
        "eligibility": {"hierarchy_nodes": [["Non-food", "Gift sets"]], "minimum_spend": eur("10")},
        "reward": {"type": "bonus_points", "points": 50},
        "valid_from": "2026-12-01T00:00:00Z",
        "valid_to": "2026-12-24T23:59:59Z",
        "stackable": True,
        "status": "active",
    }


def multiplier_promotion() -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "GOLD-DOUBLE",
        "version": 2,
        "name": "Double points for gold members",
        "source": "openloyalty",
        "channels": ["store"],
        "eligibility": {"customer_tiers": ["gold"], "customer_segments": ["lapsed-90d"]},
        "reward": {"type": "points_multiplier", "multiplier": "2"},
        "valid_from": "2026-12-05T00:00:00+01:00",
        "valid_to": "2026-12-06T00:00:00+01:00",
        "stackable": True,
        "priority": 1,
    }


def amount_off_promotion() -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "SHOES-10",
        "version": 1,
        "name": "$10 off running shoes",
        "source": "shopify",
        "channels": ["web"],
        "eligibility": {"hierarchy_nodes": [["Sport", "Running", "Shoes"]]},
        "reward": {"type": "amount_off", "amount": usd("10.00")},
        "valid_from": "2026-11-27T00:00:00-05:00",
        "valid_to": "2026-12-01T00:00:00-05:00",
    }


def store_inventory() -> Doc:
    """A store that sold stock not yet booked in: on hand is negative; available is computed."""
    return {
        "kind": "inventory",
        "sku": "200871",
        "location": "AMS01",
        "on_hand": "-2",
        "reserved": "0",
        "as_of": "2026-11-27T17:06:00+01:00",
        "source": "odoo",
        "sequence": 91824,
    }


def warehouse_inventory() -> Doc:
    return {
        "kind": "inventory",
        "sku": "100512",
        "location": "DC-NORTH",
        "on_hand": "1250.500",
        "reserved": "310.250",
        "available": "940.250",
        "as_of": "2026-11-27T06:00:00Z",
        "source": "odoo",
        "sequence": 0,
    }


def loyalty_account() -> Doc:
    return {
        "kind": "loyalty_account",
        "member_id": "m-5521",
        "customer_id": "CUST-000913",
        "card_numbers": ["9990001112223"],
        "tier": "silver",
        "points_balance": 2480,
        "pending_points": 140,
        "status": "active",
        "updated_at": "2026-11-28T08:13:00-05:00",
        "external_ids": {"openloyalty": "5b1bbc6f-0a2f-4b8a-9f5e-0c4e2d1f7a10"},
    }


def loyalty_transactions() -> list[Doc]:
    """A member's ledger: earn on a sale, spend on the next, give back for a return, fix, expire."""
    common = {"kind": "loyalty_transaction", "member_id": "m-5521"}
    return [
        {
            **common,
            "transaction_id": "LT-1",
            "type": "accrual",
            "points": 140,
            "order_id": "WEB-2026-004711",
            "occurred_at": "2026-11-28T08:13:00-05:00",
        },
        {
            **common,
            "transaction_id": "LT-2",
            "type": "accrual",
            "points": 50,
            "order_id": "WEB-2026-004711",
            "promotion_id": "XMAS-BONUS",
            "promotion_version": 1,
            "occurred_at": "2026-11-28T08:13:01-05:00",
        },
        {
            **common,
            "transaction_id": "LT-3",
            "type": "redemption",
            "points": -300,
            "order_id": "APP-JP-778812",
            "occurred_at": "2026-12-01T12:30:00+09:00",
        },
        {
            **common,
            "transaction_id": "LT-4",
            "type": "reversal",
            "points": -12,
            "return_id": "RET-WEB-2026-004711-1",
            "reverses": "LT-1",
            "occurred_at": "2026-12-02T16:41:00-05:00",
        },
        {
            **common,
            "transaction_id": "LT-5",
            "type": "adjustment",
            "points": 25,
            "reason": "goodwill: late delivery complaint, case 4471",
            "occurred_at": "2026-12-03T10:00:00Z",
        },
        {
            **common,
            "transaction_id": "LT-6",
            "type": "expiry",
            "points": -100,
            "reason": "points from 2024 expired",
            "occurred_at": "2027-01-01T00:00:00Z",
        },
    ]


EXAMPLES: list[tuple[str, str, Callable[[], Doc]]] = [
    ("order", "eu store order", eu_store_order),
    ("order", "us web order", us_web_order),
    ("order", "jp app order", jp_app_order),
    ("order", "cancelled marketplace order", cancelled_marketplace_order),
    ("return", "bought online returned in store", bought_online_returned_in_store),
    ("return", "receipt-less store return", receiptless_store_return),
    ("customer", "customer", customer),
    ("product", "weighed product", weighed_product),
    ("product", "discontinued product", discontinued_product),
    ("price", "store sale price", store_sale_price),
    ("price", "web zone price", web_zone_price),
    ("promotion", "percent off", percent_off_promotion),
    ("promotion", "fixed price", fixed_price_promotion),
    ("promotion", "bonus points", bonus_points_promotion),
    ("promotion", "points multiplier", multiplier_promotion),
    ("promotion", "amount off", amount_off_promotion),
    ("inventory", "store inventory", store_inventory),
    ("inventory", "warehouse inventory", warehouse_inventory),
    ("loyalty_account", "loyalty account", loyalty_account),
    *[
        ("loyalty_transaction", f"loyalty {kind}", lambda i=i: loyalty_transactions()[i])
        for i, kind in enumerate(
            ["accrual", "bonus", "redemption", "reversal", "adjustment", "expiry"]
        )
    ],
]

CASES = [pytest.param(kind, build, id=name) for kind, name, build in EXAMPLES]


def parse(kind: str, raw: Doc) -> BaseModel:
    return parse_document(kind, json.dumps(raw).encode())


def test_every_document_kind_has_examples() -> None:
    assert {kind for kind, _, _ in EXAMPLES} == set(DOCUMENT_KINDS)
    assert set(DOCUMENT_KINDS) == {
        "order",
        "return",
        "customer",
        "product",
        "price",
        "promotion",
        "inventory",
        "loyalty_account",
        "loyalty_transaction",
    }


@pytest.mark.parametrize(("kind", "build"), CASES)
def test_example_round_trips_through_json(kind: str, build: Callable[[], Doc]) -> None:
    model = DOCUMENT_KINDS[kind]
    document = parse(kind, build())
    assert type(document) is model
    raw = document.model_dump_json()
    assert model.model_validate_json(raw) == document
    assert parse_document(kind, raw.encode()) == document
    assert parse_document(kind, raw) == document
    assert model.model_validate_json(model.model_validate_json(raw).model_dump_json()) == document
    assert model.model_validate(document.model_dump()) == document


@pytest.mark.parametrize(("kind", "build"), CASES)
def test_example_json_carries_its_kind(kind: str, build: Callable[[], Doc]) -> None:
    raw = build()
    raw.pop("kind")
    document = parse(kind, raw)
    assert json.loads(document.model_dump_json())["kind"] == kind
    assert document.model_dump()["kind"] == kind


@pytest.mark.parametrize(("kind", "build"), CASES)
def test_json_schema_accepts_the_example(kind: str, build: Callable[[], Doc]) -> None:
    model = DOCUMENT_KINDS[kind]
    schema = model.model_json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    written = json.loads(parse(kind, build()).model_dump_json())
    assert [error.message for error in validator.iter_errors(written)] == []


@pytest.mark.parametrize(("kind", "build"), CASES)
def test_json_never_carries_a_float(kind: str, build: Callable[[], Doc]) -> None:
    written = parse(kind, build()).model_dump_json()
    assert json.loads(written, parse_float=Decimal) == json.loads(written)

    def floats(value: object) -> list[object]:
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return [value] if isinstance(value, float) else []

    assert floats(json.loads(written)) == []


def test_json_schema_refuses_a_float_amount() -> None:
    validator = Draft202012Validator(Order.model_json_schema())
    raw = eu_store_order()
    raw["lines"][0]["unit_price"]["amount"] = 1.99
    assert not validator.is_valid(raw)


def test_eu_store_order_adds_up_with_vat_included_and_cash_rounding() -> None:
    order = parse("order", eu_store_order())
    assert isinstance(order, Order)
    assert order.rounding_difference is None
    assert order.computed_grand_total() == order.totals.grand_total == Money.of("15.20", "EUR")
    assert order.lines[0].quantity == Decimal("1.235")
    assert order.lines[0].gross == Money.of("2.46", "EUR")
    assert order.lines[1].net == Money.of("8.78", "EUR")
    assert order.tendered - (order.change_given or Money.zero("EUR")) == order.totals.grand_total
    assert order.lines[2].gtin == "04006381333931"


def test_us_web_order_adds_tax_and_shipping_on_top() -> None:
    order = parse("order", us_web_order())
    assert isinstance(order, Order)
    lines = sum((line.net.amount for line in order.lines), Decimal(0))
    assert lines == Decimal("120.99")
    assert order.computed_grand_total() == Money.of("140.39", "USD")
    assert order.external_ids == {"shopify": "5501234567890"}


def test_jp_app_order_is_part_paid_in_points() -> None:
    order = parse("order", jp_app_order())
    assert isinstance(order, Order)
    assert order.points_spent() == 300
    assert order.totals.grand_total.amount.as_tuple().exponent == 0
    assert order.quantity_bought("1") == Decimal(2)
    assert order.quantity_bought("nope") == Decimal(0)


def test_returns_know_whether_they_have_a_receipt() -> None:
    boris = parse("return", bought_online_returned_in_store())
    receiptless = parse("return", receiptless_store_return())
    assert isinstance(boris, Return)
    assert isinstance(receiptless, Return)
    assert not boris.is_receiptless
    assert boris.initiated_channel != boris.received_channel
    assert receiptless.is_receiptless


def test_customer_contact_data_is_normalised() -> None:
    raw = customer()
    raw["emails"] = ["  Jordan.Lee@Mail.Example.COM "]
    raw["phones"] = ["+1 (212) 555-0143"]
    document = parse("customer", raw)
    assert isinstance(document, Customer)
    assert document.emails == ["jordan.lee@mail.example.com"]
    assert document.phones == ["+12125550143"]
    assert document.identities["shopify"] == "7311122233"
    assert document.primary_email == "jordan.lee@mail.example.com"
    assert not document.consent(ConsentChannel.EMAIL)  # withdrawn later
    assert document.consent(ConsentChannel.SMS)
    assert not document.consent(ConsentChannel.POST)  # never asked


def test_inventory_available_is_computed_when_absent() -> None:
    level = parse("inventory", store_inventory())
    assert isinstance(level, InventoryLevel)
    assert level.available == Decimal(-2)
    assert json.loads(level.model_dump_json())["available"] == "-2"


def test_promotion_key_is_id_and_version() -> None:
    promotion = parse("promotion", percent_off_promotion())
    assert isinstance(promotion, Promotion)
    assert promotion.key == "PROMO-COFFEE-20:v3"


def test_ledger_of_the_examples_adds_up() -> None:
    ledger: list[LoyaltyTransaction] = []
    for raw in loyalty_transactions():
        transaction = parse("loyalty_transaction", raw)
        assert isinstance(transaction, LoyaltyTransaction)
        ledger.append(transaction)
    assert ledger_balance(ledger) == 140 + 50 - 300 - 12 + 25 - 100
