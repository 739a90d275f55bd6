"""Every rule of the canonical model: a document that breaks it is refused by `parse_document` with
a fault whose JSON path names the field and whose reason a person can act on."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retailhub.canonical.errors import Fault, InvalidDocument
from retailhub.canonical.kinds import parse_document
from retailhub.canonical.money import Money, minor_unit
from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return, returnable_faults

Doc = dict[str, Any]
Path = tuple[str | int, ...]

JARGON = (
    "Value error",
    "Assertion failed",
    "pydantic",
    "Traceback",
    "[type=",
    "InvalidOperation",
    "errors.pydantic.dev",
    "validator",
    "model_",
)


# -- helpers ------------------------------------------------------------------------------------


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def usd(amount: str) -> dict[str, str]:
    return money(amount, "USD")


def changed(doc: Doc, path: Path, value: Any) -> Doc:
    """A copy of `doc` with the value at `path` replaced (or added)."""
    result = copy.deepcopy(doc)
    target = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result


def removed(doc: Doc, *paths: Path) -> Doc:
    """A copy of `doc` without the values at `paths`."""
    result = copy.deepcopy(doc)
    for path in paths:
        target = result
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return result


def faults_of(kind: str, doc: Doc) -> list[Fault]:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(kind, json.dumps(doc).encode())
    assert caught.value.faults, "an invalid document must carry at least one fault"
    for fault in caught.value.faults:
        assert_plain(fault.reason)
        assert fault.path.startswith("$")
    return caught.value.faults


def fault_at(kind: str, doc: Doc, path: str, *words: str) -> str:
    """Assert `doc` is refused with a fault at exactly `path` whose reason holds `words`."""
    faults = faults_of(kind, doc)
    reasons = [fault.reason for fault in faults if fault.path == path]
    assert reasons, f"no fault at {path}; faults were: {faults}"
    for word in words:
        assert any(word in reason for reason in reasons), f"{word!r} not in {reasons}"
    return reasons[0]


def assert_plain(reason: str) -> None:
    assert reason.strip(), "a fault needs a reason"
    assert "\n" not in reason
    assert len(reason) < 300
    for jargon in JARGON:
        assert jargon not in reason, f"jargon {jargon!r} in {reason!r}"


def accepted(kind: str, doc: Doc) -> Any:
    return parse_document(kind, json.dumps(doc).encode())


# -- documents to break -------------------------------------------------------------------------


def eu_order() -> Doc:
    """Amsterdam till receipt, VAT included: 0.736 kg cheese 8.80 + 3 highlighters 5.67 less one
    free (1.89) = 12.58, cash-rounded +0.02 to 12.60; 20.00 cash, 7.40 change."""
    return {
        "kind": "order",
        "order_id": "NL-AMS01-0042-1187",
        "channel": "store",
        "location": "AMS01",
        "currency": "EUR",
        "prices_include_tax": True,
        "placed_at": "2026-11-27T10:42:17+01:00",
        "pos": {
            "store": "AMS01",
            "workstation": "3",
            "sequence": "1187",
            "business_day": "2026-11-27",
        },
        "lines": [
            {
                "line_id": "1",
                "sku": "100234",
                "quantity": "0.736",
                "unit_of_measure": "kg",
                "unit_price": money("11.95"),
                "extended_amount": money("8.80"),
                "tax_lines": [{"name": "BTW 9%", "rate": "0.09", "amount": money("0.73")}],
            },
            {
                "line_id": "2",
                "sku": "200871",
                "gtin": "4006381333931",
                "quantity": "3",
                "unit_price": money("1.89"),
                "discounts": [
                    {"amount": money("1.89"), "promotion_id": "PROMO-3FOR2", "promotion_version": 2}
                ],
                "tax_lines": [{"name": "BTW 21%", "rate": "0.21", "amount": money("0.66")}],
            },
        ],
        "tenders": [{"type": "cash", "amount": money("20.00")}],
        "change_given": money("7.40"),
        "totals": {
            "discount_total": money("1.89"),
            "tax_total": money("1.39"),
            "rounding": money("0.02"),
            "grand_total": money("12.60"),
        },
    }


def us_order() -> Doc:
    """US web order, tax on top: 2 x 24.50 + (15.00 - 3.00) = 61.00, tax 4.88, shipping 5.99,
    grand total 71.87 paid by card."""
    return {
        "kind": "order",
        "order_id": "WEB-1001",
        "channel": "web",
        "location": "WEB",
        "currency": "USD",
        "prices_include_tax": False,
        "placed_at": "2026-11-27T09:15:02-05:00",
        "lines": [
            {
                "line_id": "A",
                "sku": "MUG-BLUE",
                "quantity": "2",
                "unit_price": usd("24.50"),
                "tax_lines": [{"name": "State tax", "rate": "0.08", "amount": usd("3.92")}],
            },
            {
                "line_id": "B",
                "sku": "TEA-GREEN",
                "quantity": "1",
                "unit_price": usd("15.00"),
                "discounts": [{"amount": usd("3.00"), "code": "TEA3"}],
                "tax_lines": [{"name": "State tax", "rate": "0.08", "amount": usd("0.96")}],
            },
        ],
        "tenders": [{"type": "card", "amount": usd("71.87"), "reference": "•••• 4242"}],
        "totals": {
            "discount_total": usd("3.00"),
            "tax_total": usd("4.88"),
            "shipping": usd("5.99"),
            "grand_total": usd("71.87"),
        },
    }


def one_line_order(currency: str, price: str, stated: str | None = None) -> Doc:
    """The smallest tax-exclusive order in `currency`: one item at `price`, no tax, no tenders."""
    return {
        "order_id": f"ONE-{currency}",
        "channel": "web",
        "currency": currency,
        "prices_include_tax": False,
        "placed_at": "2026-11-27T09:00:00Z",
        "lines": [
            {"line_id": "1", "sku": "X", "quantity": "1", "unit_price": money(price, currency)}
        ],
        "totals": {
            "tax_total": money("0", currency),
            "grand_total": money(stated or price, currency),
        },
    }


def a_return() -> Doc:
    """One of the two mugs of the US order, brought back to a store and refunded to the card."""
    return {
        "kind": "return",
        "return_id": "RET-WEB-1001-1",
        "original_order_id": "WEB-1001",
        "initiated_channel": "web",
        "received_channel": "store",
        "received_location": "NYC05",
        "currency": "USD",
        "lines": [
            {
                "line_id": "1",
                "original_line_id": "A",
                "sku": "MUG-BLUE",
                "quantity": "1",
                "refund_amount": usd("26.46"),
                "reason": "damaged",
                "condition": "damaged",
                "restock": False,
            },
            {
                "line_id": "2",
                "original_line_id": "B",
                "sku": "TEA-GREEN",
                "quantity": "1",
                "refund_amount": usd("12.96"),
                "reason": "changed_mind",
            },
        ],
        "refund_tenders": [{"type": "card", "amount": usd("39.42")}],
        "refund_total": usd("39.42"),
        "status": "refunded",
        "created_at": "2026-12-01T10:00:00-05:00",
    }


def inventory() -> Doc:
    return {
        "kind": "inventory",
        "sku": "200871",
        "location": "AMS01",
        "on_hand": "48",
        "reserved": "6",
        "available": "42",
        "as_of": "2026-11-27T10:45:00+01:00",
        "source": "odoo",
        "sequence": 91823,
    }


def loyalty_transaction(type_: str = "accrual", points: int = 25, **fields: Any) -> Doc:
    return {
        "kind": "loyalty_transaction",
        "transaction_id": "LT-1",
        "member_id": "m-1",
        "type": type_,
        "points": points,
        "occurred_at": "2026-11-27T10:42:30+01:00",
        **fields,
    }


def loyalty_account() -> Doc:
    return {
        "kind": "loyalty_account",
        "member_id": "m-1",
        "points_balance": 1240,
        "pending_points": 25,
    }


def promotion(reward: Doc | None = None, **fields: Any) -> Doc:
    return {
        "kind": "promotion",
        "promotion_id": "PROMO-1",
        "version": 1,
        "name": "Highlighters 2.49",
        "source": "odoo",
        "channels": ["store", "web"],
        "eligibility": {"skus": ["200871"]},
        "reward": reward or {"type": "fixed_price", "amount": money("2.49")},
        "valid_from": "2026-12-01T00:00:00+01:00",
        "valid_to": "2026-12-15T00:00:00+01:00",
        "pricing_controls": {"price_floor": money("0.99")},
        **fields,
    }


def price() -> Doc:
    return {
        "kind": "price",
        "sku": "200871",
        "channel": "store",
        "store": "AMS01",
        "list_price": money("1.89"),
        "sale_price": money("1.49"),
        "valid_from": "2026-11-01T00:00:00+01:00",
        "valid_to": "2026-12-01T00:00:00+01:00",
    }


def product() -> Doc:
    return {
        "kind": "product",
        "sku": "200871",
        "gtins": ["4006381333931"],
        "title": "Stabilo Boss highlighter",
        "hierarchy": ["Non-food", "Stationery", "Markers"],
    }


def customer() -> Doc:
    return {
        "kind": "customer",
        "customer_id": "CUST-000731",
        "identities": {"hubspot": "51", "shopify": "207119551"},
        "emails": ["anna@example.nl"],
        "phones": ["+31612345678"],
        "addresses": [{"lines": ["Prinsengracht 263"], "city": "Amsterdam", "country": "NL"}],
        "consents": [{"channel": "email", "granted": True, "at": "2025-03-02T11:00:00Z", "source": "shopify"}],
        "loyalty": {"member_id": "m-1"},
    }  # fmt: skip


BASES: dict[str, Callable[[], Doc]] = {
    "order": eu_order,
    "return": a_return,
    "inventory": inventory,
    "loyalty_transaction": lambda: loyalty_transaction(order_id="O-1"),
    "loyalty_account": loyalty_account,
    "promotion": promotion,
    "price": price,
    "product": product,
    "customer": customer,
}


@pytest.mark.parametrize("kind", [*BASES, "us order"])
def test_the_documents_to_break_are_valid_to_begin_with(kind: str) -> None:
    if kind == "us order":
        accepted("order", us_order())
    else:
        accepted(kind, BASES[kind]())


# -- order: the grand total adds up -------------------------------------------------------------


@pytest.mark.parametrize("currency", ["EUR", "JPY", "BHD", "CLF"])
@pytest.mark.parametrize("direction", [1, -1])
def test_grand_total_off_by_exactly_one_minor_unit_is_accepted_and_recorded(
    currency: str, direction: int
) -> None:
    unit = minor_unit(currency)
    stated = Decimal(100) + direction * unit
    order = accepted("order", one_line_order(currency, "100", format(stated, "f")))
    assert isinstance(order, Order)
    assert order.rounding_difference == Money.of(direction * unit, currency)
    assert json.loads(order.model_dump_json())["rounding_difference"]["currency"] == currency


@pytest.mark.parametrize("currency", ["EUR", "JPY", "BHD"])
def test_grand_total_off_by_more_than_a_minor_unit_is_refused_with_both_figures(
    currency: str,
) -> None:
    stated = format(Decimal(100) + 2 * minor_unit(currency), "f")
    computed = format(Decimal(100).quantize(minor_unit(currency)), "f")
    reason = fault_at("order", one_line_order(currency, "100", stated), "$.totals.grand_total")
    assert "does not add up" in reason
    assert f"grand total {stated} {currency}" in reason
    assert reason.endswith(f"= {computed} {currency}")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["EUR", "JPY", "BHD"]), st.integers(-20, 20))
def test_only_differences_within_one_minor_unit_are_tolerated(currency: str, units: int) -> None:
    stated = format(Decimal(50) + units * minor_unit(currency), "f")
    doc = one_line_order(currency, "50", stated)
    if abs(units) <= 1:
        order = accepted("order", doc)
        assert order.rounding_difference == (
            None if units == 0 else Money.of(units * minor_unit(currency), currency)
        )
    else:
        fault_at("order", doc, "$.totals.grand_total", stated)


def test_eu_order_off_by_a_cent_is_accepted_and_still_covered_by_the_cash() -> None:
    order = accepted("order", changed(eu_order(), ("totals", "grand_total"), money("12.61")))
    assert order.rounding_difference == Money.of("0.01", "EUR")
    order = accepted("order", changed(eu_order(), ("totals", "grand_total"), money("12.59")))
    assert order.rounding_difference == Money.of("-0.01", "EUR")


def test_eu_order_off_by_two_cents_is_refused() -> None:
    doc = changed(eu_order(), ("totals", "grand_total"), money("12.62"))
    reason = fault_at("order", doc, "$.totals.grand_total", "12.62 EUR", "12.60 EUR")
    assert "+ tax" not in reason  # prices include VAT: tax is not added again


def test_the_rounding_difference_a_source_sends_is_replaced_by_the_hubs_own() -> None:
    doc = changed(eu_order(), ("rounding_difference",), money("5.00"))
    assert accepted("order", doc).rounding_difference is None


def test_cash_rounding_counts_towards_the_grand_total() -> None:
    doc = removed(eu_order(), ("totals", "rounding"))
    fault_at("order", doc, "$.totals.grand_total", "12.60 EUR", "12.58 EUR")


def test_tax_exclusive_orders_add_the_tax_total() -> None:
    without_tax = changed(us_order(), ("totals", "grand_total"), usd("66.99"))
    reason = fault_at("order", without_tax, "$.totals.grand_total", "66.99 USD", "71.87 USD")
    assert "+ tax" in reason


def test_tax_inclusive_orders_do_not_add_tax_again() -> None:
    as_if_inclusive = changed(us_order(), ("prices_include_tax",), True)
    fault_at("order", as_if_inclusive, "$.totals.grand_total", "71.87 USD", "66.99 USD")
    as_if_exclusive = changed(eu_order(), ("prices_include_tax",), False)
    fault_at("order", as_if_exclusive, "$.totals.grand_total", "12.60 EUR", "13.99 EUR")


def test_order_level_discounts_and_shipping_count() -> None:
    doc = changed(us_order(), ("order_discounts",), [{"amount": usd("5.00"), "code": "WELCOME5"}])
    fault_at("order", doc, "$.totals.grand_total", "71.87 USD", "66.87 USD")
    doc = removed(us_order(), ("totals", "shipping"))
    fault_at("order", doc, "$.totals.grand_total", "71.87 USD", "65.88 USD")


def test_tax_total_below_the_tax_on_the_lines_is_refused() -> None:
    doc = changed(eu_order(), ("totals", "tax_total"), money("1.00"))
    fault_at("order", doc, "$.totals.tax_total", "1.00 EUR", "1.39 EUR")


def test_tax_total_above_the_lines_is_accepted_for_tax_on_shipping() -> None:
    doc = changed(us_order(), ("totals", "tax_total"), usd("5.36"))
    doc = changed(doc, ("totals", "grand_total"), usd("72.35"))
    doc = changed(doc, ("tenders", 0, "amount"), usd("72.35"))
    accepted("order", doc)


def test_tax_total_may_differ_by_a_minor_unit_per_tax_line() -> None:
    accepted("order", changed(eu_order(), ("totals", "tax_total"), money("1.37")))
    fault_at(
        "order", changed(eu_order(), ("totals", "tax_total"), money("1.36")), "$.totals.tax_total"
    )


def test_discount_total_must_be_the_line_and_order_discounts() -> None:
    doc = changed(eu_order(), ("totals", "discount_total"), money("2.89"))
    fault_at("order", doc, "$.totals.discount_total", "2.89 EUR", "1.89 EUR")


# -- order: tenders -----------------------------------------------------------------------------


def test_tenders_minus_change_must_cover_the_grand_total() -> None:
    doc = changed(eu_order(), ("change_given",), money("8.40"))
    reason = fault_at("order", doc, "$.tenders", "20.00 EUR", "8.40 EUR", "11.60 EUR", "12.60 EUR")
    assert "do not cover" in reason
    doc = changed(us_order(), ("tenders", 0, "amount"), usd("70.00"))
    fault_at("order", doc, "$.tenders", "70.00 USD", "71.87 USD")


def test_tenders_short_by_one_minor_unit_are_tolerated() -> None:
    accepted("order", changed(eu_order(), ("change_given",), money("7.41")))


def test_split_tenders_are_added_up() -> None:
    doc = changed(
        us_order(),
        ("tenders",),
        [
            {"type": "gift_card", "amount": usd("50.00"), "reference": "GC-1"},
            {"type": "loyalty_points", "amount": usd("10.00"), "points": 1000},
            {"type": "card", "amount": usd("11.87")},
        ],
    )
    assert accepted("order", doc).points_spent() == 1000
    fault_at("order", changed(doc, ("tenders", 2, "amount"), usd("1.87")), "$.tenders", "61.87 USD")


def test_overpaying_without_change_is_accepted() -> None:
    accepted("order", changed(us_order(), ("tenders", 0, "amount"), usd("75.00")))


def test_change_above_what_was_tendered_is_refused() -> None:
    doc = changed(eu_order(), ("change_given",), money("25.00"))
    fault_at("order", doc, "$.change_given", "25.00 EUR", "20.00 EUR")


def test_negative_change_is_refused() -> None:
    doc = changed(eu_order(), ("change_given",), money("-7.40"))
    fault_at("order", doc, "$.change_given", "must not be negative")


@pytest.mark.parametrize("status", ["pending", "cancelled"])
def test_tenders_of_orders_not_completed_are_not_checked(status: str) -> None:
    doc = changed(us_order(), ("status",), status)
    accepted("order", changed(doc, ("tenders", 0, "amount"), usd("1.00")))


def test_a_loyalty_points_tender_must_say_how_many_points() -> None:
    doc = changed(us_order(), ("tenders", 0, "type"), "loyalty_points")
    fault_at("order", doc, "$.tenders[0].points", "how many points")


def test_only_a_loyalty_points_tender_spends_points() -> None:
    doc = changed(us_order(), ("tenders", 0, "points"), 500)
    fault_at("order", doc, "$.tenders[0].points", "only a loyalty points tender")


# -- order: one currency ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("lines", 0, "unit_price"), "$.lines[0].unit_price.currency"),
        (("lines", 0, "extended_amount"), "$.lines[0].extended_amount.currency"),
        (("lines", 1, "discounts", 0, "amount"), "$.lines[1].discounts[0].amount"),
        (("lines", 0, "tax_lines", 0, "amount"), "$.lines[0].tax_lines[0].amount"),
        (("tenders", 0, "amount"), "$.tenders[0].amount"),
        (("change_given",), "$.change_given"),
        (("totals", "discount_total"), "$.totals.discount_total"),
        (("totals", "tax_total"), "$.totals.tax_total"),
        (("totals", "rounding"), "$.totals.rounding"),
        (("totals", "grand_total"), "$.totals.grand_total"),
    ],
)
def test_every_amount_of_an_order_is_in_the_order_currency(where: Path, path: str) -> None:
    doc = changed(eu_order(), (*where, "currency"), "USD")
    reason = fault_at("order", doc, path, "USD", "EUR")
    assert reason == "amount is in USD but the document is in EUR"


def test_shipping_and_order_discounts_in_another_currency_are_refused() -> None:
    doc = changed(us_order(), ("totals", "shipping", "currency"), "CAD")
    fault_at("order", doc, "$.totals.shipping", "CAD", "USD")
    doc = changed(us_order(), ("order_discounts",), [{"amount": money("1.00")}])
    fault_at("order", doc, "$.order_discounts[0].amount", "EUR", "USD")


def test_an_unknown_order_currency_is_refused() -> None:
    fault_at("order", changed(eu_order(), ("currency",), "EURO"), "$.currency", "ISO 4217")


# -- order: lines -------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["2.5", "0.5", "3.01"])
def test_fractional_quantity_on_an_each_line_is_refused(quantity: str) -> None:
    doc = changed(eu_order(), ("lines", 1, "quantity"), quantity)
    fault_at("order", doc, "$.lines[1].quantity", "fractional", "weighed")


@pytest.mark.parametrize("unit", ["kg", "g", "l", "m"])
def test_fractional_quantity_is_fine_for_weighed_and_measured_units(unit: str) -> None:
    accepted("order", changed(eu_order(), ("lines", 0, "unit_of_measure"), unit))


def test_a_whole_quantity_written_with_decimals_is_fine_on_an_each_line() -> None:
    accepted("order", changed(eu_order(), ("lines", 1, "quantity"), "3.000"))


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_sold_quantity_must_be_positive(quantity: str) -> None:
    doc = changed(eu_order(), ("lines", 1, "quantity"), quantity)
    fault_at("order", doc, "$.lines[1].quantity", "positive")


def test_a_line_without_sku_and_gtin_is_refused() -> None:
    doc = removed(eu_order(), ("lines", 1, "sku"), ("lines", 1, "gtin"))
    fault_at("order", doc, "$.lines[1]", "sku or gtin")
    accepted("order", removed(eu_order(), ("lines", 1, "sku")))
    accepted("order", removed(eu_order(), ("lines", 1, "gtin")))


def test_duplicate_line_ids_are_refused() -> None:
    doc = changed(eu_order(), ("lines", 1, "line_id"), "1")
    fault_at("order", doc, "$.lines[1].line_id", "'1'", "twice")


def test_discounts_above_the_line_are_refused() -> None:
    doc = changed(eu_order(), ("lines", 1, "discounts", 0, "amount"), money("6.00"))
    fault_at("order", doc, "$.lines[1].discounts", "6.00 EUR", "5.67 EUR")


def test_a_discount_of_the_whole_line_is_fine() -> None:
    doc = changed(eu_order(), ("lines", 1, "discounts", 0, "amount"), money("5.67"))
    doc = changed(doc, ("totals", "discount_total"), money("5.67"))
    doc = changed(doc, ("totals", "grand_total"), money("8.82"))
    doc = changed(doc, ("change_given",), money("11.18"))
    accepted("order", doc)


def test_negative_unit_price_is_refused() -> None:
    doc = changed(eu_order(), ("lines", 1, "unit_price", "amount"), "-1.89")
    fault_at("order", doc, "$.lines[1].unit_price.amount", "must not be negative")


def test_extended_amount_must_be_quantity_times_unit_price() -> None:
    doc = changed(eu_order(), ("lines", 0, "extended_amount", "amount"), "8.90")
    fault_at("order", doc, "$.lines[0].extended_amount", "8.90 EUR", "0.736", "11.95 EUR", "8.80")


def test_extended_amount_may_be_rounded_differently_by_a_minor_unit() -> None:
    order = accepted(
        "order", changed(eu_order(), ("lines", 0, "extended_amount", "amount"), "8.81")
    )
    assert order.rounding_difference == Money.of("-0.01", "EUR")


def test_an_order_needs_a_line() -> None:
    fault_at("order", changed(eu_order(), ("lines",), []), "$.lines", "at least 1")


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("order_id",), "NL 42", "$.order_id"),
        (("order_id",), "", "$.order_id"),
        (("channel",), "catalogue", "$.channel"),
        (("status",), "shipped", "$.status"),
        (("placed_at",), "2026-11-27T10:42:17", "$.placed_at"),
        (("location",), "AMS 01", "$.location"),
        (("pos", "workstation"), "", "$.pos.workstation"),
        (("pos", "business_day"), "27/11/2026", "$.pos.business_day"),
        (("lines", 0, "line_id"), "", "$.lines[0].line_id"),
        (("lines", 0, "unit_of_measure"), "bushel", "$.lines[0].unit_of_measure"),
        (("lines", 0, "quantity"), 0.736, "$.lines[0].quantity"),
        (("lines", 0, "quantity"), "much", "$.lines[0].quantity"),
        (("lines", 0, "unit_price", "amount"), 11.95, "$.lines[0].unit_price.amount"),
        (("lines", 0, "loyalty_points_earned"), -5, "$.lines[0].loyalty_points_earned"),
        (("lines", 0, "tax_lines", 0, "name"), "", "$.lines[0].tax_lines[0].name"),
        (("lines", 1, "gtin"), "4006381333932", "$.lines[1].gtin"),
        (("lines", 1, "sku"), "  ", "$.lines[1].sku"),
        (("lines", 1, "discounts", 0, "promotion_version"), 0, "$.lines[1].discounts[0].promotion_version"),
        (("tenders", 0, "type"), "iou", "$.tenders[0].type"),
        (("tenders", 0, "points"), 0, "$.tenders[0].points"),
        (("external_ids",), {"Shopify": "1"}, "$.external_ids.Shopify"),
        (("lines", 0, "colour"), "yellow", "$.lines[0].colour"),
    ],
)  # fmt: skip
def test_order_field_rules(where: Path, value: Any, path: str) -> None:
    fault_at("order", changed(eu_order(), where, value), path)


def test_a_float_amount_is_refused_with_the_reason() -> None:
    doc = changed(eu_order(), ("lines", 1, "unit_price", "amount"), 1.89)
    fault_at("order", doc, "$.lines[1].unit_price.amount", "float", "decimal string")


def test_a_wrong_gtin_names_the_expected_check_digit() -> None:
    doc = changed(eu_order(), ("lines", 1, "gtin"), "4006381333932")
    fault_at("order", doc, "$.lines[1].gtin", "expected 1")


def test_an_absurd_quantity_is_a_fault_not_a_crash() -> None:
    doc = changed(eu_order(), ("lines", 1, "quantity"), "1" + "0" * 30)
    fault_at("order", doc, "$.lines[1].quantity", "too large")


@pytest.mark.parametrize("written", ["1e3", "1_000", "12,50", "0x10", "NaN"])
def test_an_amount_must_be_written_as_a_plain_decimal(written: str) -> None:
    doc = changed(eu_order(), ("lines", 1, "quantity"), written)
    fault_at("order", doc, "$.lines[1].quantity", "not a decimal amount")


def test_every_fault_is_reported_at_once() -> None:
    doc = changed(eu_order(), ("lines", 1, "line_id"), "1")
    doc = changed(doc, ("change_given",), money("30.00"))
    doc = changed(doc, ("totals", "tax_total"), money("0.10"))
    paths = {fault.path for fault in faults_of("order", doc)}
    assert {"$.lines[1].line_id", "$.change_given", "$.totals.tax_total", "$.tenders"} <= paths


def test_a_document_of_another_kind_is_refused_at_kind() -> None:
    fault_at("order", changed(eu_order(), ("kind",), "return"), "$.kind", "'order'", "'return'")


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document("order", b'{\n  "order_id": "X",\n  "lines": [,]\n}')
    [fault] = caught.value.faults
    assert fault.path == "$"
    assert "line 3" in fault.reason
    assert "column" in fault.reason


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document("order", b"[]")
    [fault] = caught.value.faults
    assert fault.path == "$"
    assert "must be a JSON object" in fault.reason


# -- returns ------------------------------------------------------------------------------------


def test_refund_total_must_be_the_sum_of_the_lines() -> None:
    doc = changed(a_return(), ("refund_total",), usd("45.00"))
    doc = changed(doc, ("refund_tenders", 0, "amount"), usd("45.00"))
    fault_at("return", doc, "$.refund_total", "45.00 USD", "39.42 USD")


def test_refund_total_may_differ_from_the_lines_by_a_minor_unit() -> None:
    doc = changed(a_return(), ("refund_total",), usd("39.43"))
    accepted("return", changed(doc, ("refund_tenders", 0, "amount"), usd("39.43")))


def test_refund_tenders_must_pay_out_the_refund_total() -> None:
    doc = changed(a_return(), ("refund_tenders", 0, "amount"), usd("30.00"))
    fault_at("return", doc, "$.refund_tenders", "30.00 USD", "39.42 USD")
    doc = changed(a_return(), ("refund_tenders", 0, "amount"), usd("50.00"))
    fault_at("return", doc, "$.refund_tenders", "50.00 USD", "39.42 USD")


def test_split_refund_tenders_are_added_up() -> None:
    tenders = [
        {"type": "card", "amount": usd("29.42")},
        {"type": "loyalty_points", "amount": usd("10.00"), "points": 1000},
    ]
    returned = accepted("return", changed(a_return(), ("refund_tenders",), tenders))
    assert isinstance(returned, Return)
    assert returned.points_refunded() == 1000


def test_a_requested_return_need_not_have_refund_tenders_yet() -> None:
    doc = changed(a_return(), ("status",), "requested")
    accepted("return", changed(doc, ("refund_tenders",), []))


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("refund_total", "currency"), "$.refund_total.currency"),
        (("lines", 1, "refund_amount", "currency"), "$.lines[1].refund_amount.currency"),
        (("refund_tenders", 0, "amount", "currency"), "$.refund_tenders[0].amount"),
    ],
)
def test_every_amount_of_a_return_is_in_its_currency(where: Path, path: str) -> None:
    fault_at("return", changed(a_return(), where, "EUR"), path, "EUR", "USD")


def test_return_lines_follow_the_line_rules() -> None:
    fault_at(
        "return", changed(a_return(), ("lines", 1, "line_id"), "1"), "$.lines[1].line_id", "twice"
    )
    no_item = removed(a_return(), ("lines", 0, "sku"))
    fault_at("return", no_item, "$.lines[0]", "sku or gtin")
    zero = changed(a_return(), ("lines", 1, "quantity"), "0")
    fault_at("return", zero, "$.lines[1].quantity", "positive")
    negative = changed(a_return(), ("lines", 0, "refund_amount", "amount"), "-26.46")
    fault_at("return", negative, "$.lines[0].refund_amount.amount", "must not be negative")


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("return_id",), "", "$.return_id"),
        (("initiated_channel",), "phone", "$.initiated_channel"),
        (("status",), "lost", "$.status"),
        (("created_at",), "2026-12-01T10:00:00", "$.created_at"),
        (("lines",), [], "$.lines"),
        (("lines", 0, "reason"), "bored", "$.lines[0].reason"),
        (("lines", 0, "condition"), "shiny", "$.lines[0].condition"),
        (("lines", 0, "line_id"), "", "$.lines[0].line_id"),
        (("received_location",), "NYC 05", "$.received_location"),
    ],
)  # fmt: skip
def test_return_field_rules(where: Path, value: Any, path: str) -> None:
    fault_at("return", changed(a_return(), where, value), path)


def test_goods_received_at_a_location_need_the_channel() -> None:
    doc = changed(removed(a_return(), ("received_channel",)), ("status",), "requested")
    fault_at("return", doc, "$.received_channel", "channel")


@pytest.mark.parametrize("status", ["received", "refunded"])
def test_a_received_or_refunded_return_says_where_it_came_in(status: str) -> None:
    doc = removed(a_return(), ("received_channel",), ("received_location",))
    fault_at("return", changed(doc, ("status",), status), "$.received_channel", status)


def test_a_requested_return_need_not_be_received_anywhere_yet() -> None:
    doc = removed(a_return(), ("received_channel",), ("received_location",))
    accepted("return", changed(doc, ("status",), "requested"))


def test_a_receiptless_return_is_a_valid_document() -> None:
    doc = removed(a_return(), ("original_order_id",), ("lines", 0, "original_line_id"))
    returned = accepted("return", doc)
    assert isinstance(returned, Return)
    assert returned.is_receiptless


# -- returns against the order: never more back than was bought ---------------------------------


def bought() -> Order:
    order = accepted("order", us_order())
    assert isinstance(order, Order)
    return order


def return_of(return_id: str, *lines: tuple[str, str], status: str = "received") -> Return:
    """A return of (original line, quantity) pairs, refunding one cent a line to keep it simple."""
    doc = {
        "return_id": return_id,
        "original_order_id": "WEB-1001",
        "initiated_channel": "store",
        "received_channel": "store",
        "currency": "USD",
        "lines": [
            {"line_id": str(i), "original_line_id": line, "sku": "X", "quantity": quantity,
             "unit_of_measure": "each" if Decimal(quantity) % 1 == 0 else "kg",
             "refund_amount": usd("0.01")}
            for i, (line, quantity) in enumerate(lines)
        ],
        "refund_total": usd(format(Decimal("0.01") * len(lines), "f")),
        "status": status,
        "created_at": "2026-12-01T10:00:00-05:00",
    }  # fmt: skip
    returned = accepted("return", doc)
    assert isinstance(returned, Return)
    return returned


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=6))
def test_quantities_across_several_returns_never_exceed_what_was_bought(asks: list[int]) -> None:
    order = bought()  # line A: 2 mugs
    accepted_so_far: list[Return] = []
    for n, quantity in enumerate(asks):
        new = return_of(f"R{n}", ("A", str(quantity)))
        faults = returnable_faults(order, accepted_so_far, new)
        already = sum(line.quantity for r in accepted_so_far for line in r.lines)
        if already + quantity <= 2:
            assert faults == []
            accepted_so_far.append(new)
        else:
            assert [f.path for f in faults] == ["$.lines[0].quantity"]
            assert "too many" in faults[0].reason
    assert sum(line.quantity for r in accepted_so_far for line in r.lines) <= 2


def test_too_many_back_names_what_was_bought_and_already_returned() -> None:
    order = bought()
    first = return_of("R1", ("A", "1"))
    second = return_of("R2", ("A", "2"))
    [fault] = returnable_faults(order, [first], second)
    assert fault.path == "$.lines[0].quantity"
    assert fault.reason == "2 bought on line A, 1 already returned: 2 more is too many"
    assert_plain(fault.reason)


def test_lines_of_one_return_for_the_same_original_line_are_added_up() -> None:
    [fault] = returnable_faults(bought(), [], return_of("R1", ("A", "1"), ("A", "2")))
    assert fault.path == "$.lines[1].quantity"


def test_a_duplicate_return_is_refused_with_its_reason() -> None:
    first = return_of("R1", ("A", "1"))
    assert returnable_faults(bought(), [first], first) == [
        Fault("$.return_id", "return R1 was already accepted")
    ]


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_refused_and_cancelled_returns_do_not_count(status: str) -> None:
    earlier = return_of("R1", ("A", "2"), status=status)
    assert returnable_faults(bought(), [earlier], return_of("R2", ("A", "2"))) == []


def test_a_return_against_an_order_must_name_lines_of_that_order() -> None:
    [fault] = returnable_faults(bought(), [], return_of("R1", ("Z", "1")))
    assert fault == Fault("$.lines[0].original_line_id", "order WEB-1001 has no line Z")
    doc = json.loads(return_of("R2", ("A", "1")).model_dump_json())
    del doc["lines"][0]["original_line_id"]
    [fault] = returnable_faults(bought(), [], Return.model_validate(doc))
    assert fault.path == "$.lines[0].original_line_id"
    assert "must name the line" in fault.reason


def test_a_return_is_checked_only_against_its_own_completed_order() -> None:
    receiptless = Return.model_validate(
        {**json.loads(return_of("R1", ("A", "1")).model_dump_json()), "original_order_id": None}
    )
    [fault] = returnable_faults(bought(), [], receiptless)
    assert fault == Fault("$.original_order_id", "this return is not for order WEB-1001")
    pending = accepted("order", changed(us_order(), ("status",), "pending"))
    [fault] = returnable_faults(pending, [], return_of("R2", ("A", "1")))
    assert fault == Fault("$.original_order_id", "order WEB-1001 is pending")


def test_weighed_goods_come_back_by_weight() -> None:
    order = accepted("order", changed(eu_order(), ("order_id",), "WEB-1001"))  # 0.736 kg on line 1
    first = return_of("R1", ("1", "0.5"))
    assert returnable_faults(order, [], first) == []
    [fault] = returnable_faults(order, [first], return_of("R2", ("1", "0.3")))
    assert fault.reason == "0.736 bought on line 1, 0.5 already returned: 0.3 more is too many"


# -- inventory ----------------------------------------------------------------------------------


def test_a_fractional_return_of_an_each_item_is_refused() -> None:
    doc = return_of("R1", ("1", "1")).model_dump(mode="json")
    doc["lines"][0]["quantity"] = "0.5"
    fault_at("return", doc, "$.lines[0].quantity", "weighed unit of measure")


def test_available_must_be_on_hand_minus_reserved() -> None:
    doc = changed(inventory(), ("available",), "40")
    fault_at("inventory", doc, "$.available", "available 40", "on hand 48", "reserved 6")


def test_available_is_compared_by_value_not_by_spelling() -> None:
    assert accepted("inventory", changed(inventory(), ("available",), "42.000")).available == 42


def test_negative_on_hand_is_fine_but_negative_reserved_is_not() -> None:
    doc = changed(changed(inventory(), ("on_hand",), "-3"), ("available",), "-9")
    accepted("inventory", doc)
    doc = changed(changed(inventory(), ("reserved",), "-1"), ("available",), "49")
    fault_at("inventory", doc, "$.reserved", "must not be negative")


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("sequence",), -1, "$.sequence"),
        (("sequence",), "next", "$.sequence"),
        (("source",), "Odoo ERP", "$.source"),
        (("location",), "", "$.location"),
        (("sku",), "", "$.sku"),
        (("on_hand",), 48.0, "$.on_hand"),
        (("as_of",), "2026-11-27T10:45:00", "$.as_of"),
    ],
)
def test_inventory_field_rules(where: Path, value: Any, path: str) -> None:
    fault_at("inventory", changed(inventory(), where, value), path)


# -- loyalty ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "points", "words"),
    [
        ("accrual", 0, "positive"),
        ("accrual", -10, "positive"),
        ("redemption", 0, "negative"),
        ("redemption", 100, "negative"),
        ("expiry", 0, "negative"),
        ("expiry", 50, "negative"),
        ("reversal", 0, "moves nothing"),
        ("adjustment", 0, "moves nothing"),
    ],
)
def test_points_carry_the_sign_of_their_type(type_: str, points: int, words: str) -> None:
    doc = loyalty_transaction(type_, points, order_id="O-1", return_id="R-1", reason="fix")
    fault_at("loyalty_transaction", doc, "$.points", words)


@pytest.mark.parametrize(
    ("type_", "points"),
    [("accrual", 10), ("redemption", -10), ("expiry", -10), ("reversal", -10), ("reversal", 10),
     ("adjustment", 10), ("adjustment", -10)],
)  # fmt: skip
def test_each_type_accepts_its_sign(type_: str, points: int) -> None:
    doc = loyalty_transaction(type_, points, order_id="O-1", return_id="R-1", reason="fix")
    assert accepted("loyalty_transaction", doc).points == points


@pytest.mark.parametrize("type_", ["accrual", "redemption"])
def test_accruals_and_redemptions_reference_their_order(type_: str) -> None:
    points = 10 if type_ == "accrual" else -10
    reason = fault_at("loyalty_transaction", loyalty_transaction(type_, points), "$.order_id")
    assert f"a loyalty {type_} must reference the order" in reason
    accepted("loyalty_transaction", loyalty_transaction(type_, points, order_id="O-1"))


def test_a_bonus_accrual_may_reference_only_its_promotion() -> None:
    accepted("loyalty_transaction", loyalty_transaction("accrual", 50, promotion_id="XMAS"))


def test_a_reversal_references_the_return_or_the_cancelled_order() -> None:
    doc = loyalty_transaction("reversal", -10)
    fault_at("loyalty_transaction", doc, "$.return_id", "return or cancelled order")
    accepted("loyalty_transaction", loyalty_transaction("reversal", -10, return_id="R-1"))
    accepted("loyalty_transaction", loyalty_transaction("reversal", -10, order_id="O-1"))


@pytest.mark.parametrize("reason", [None, ""])
def test_an_adjustment_gives_its_reason(reason: str | None) -> None:
    doc = loyalty_transaction("adjustment", 25, reason=reason)
    fault_at("loyalty_transaction", doc, "$.reason", "reason")


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("points",), 2.5, "$.points"),
        (("points",), "many", "$.points"),
        (("type",), "gift", "$.type"),
        (("member_id",), "", "$.member_id"),
        (("transaction_id",), "LT 1", "$.transaction_id"),
        (("promotion_version",), 0, "$.promotion_version"),
        (("occurred_at",), "yesterday", "$.occurred_at"),
    ],
)
def test_loyalty_transaction_field_rules(where: Path, value: Any, path: str) -> None:
    doc = changed(loyalty_transaction(order_id="O-1"), where, value)
    fault_at("loyalty_transaction", doc, path)


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("pending_points",), -1, "$.pending_points"),
        (("points_balance",), "lots", "$.points_balance"),
        (("status",), "gold", "$.status"),
        (("member_id",), "", "$.member_id"),
    ],
)
def test_loyalty_account_field_rules(where: Path, value: Any, path: str) -> None:
    fault_at("loyalty_account", changed(loyalty_account(), where, value), path)


# -- promotions ---------------------------------------------------------------------------------

REWARDS: dict[str, Doc] = {
    "percent_off": {"type": "percent_off", "percent": "20"},
    "amount_off": {"type": "amount_off", "amount": money("1.00")},
    "fixed_price": {"type": "fixed_price", "amount": money("2.49")},
    "buy_x_get_y": {"type": "buy_x_get_y", "buy_quantity": 2, "get_quantity": 1},
    "bonus_points": {"type": "bonus_points", "points": 50},
    "points_multiplier": {"type": "points_multiplier", "multiplier": "2"},
}
NEEDS = {
    "percent_off": ["percent"],
    "amount_off": ["amount"],
    "fixed_price": ["amount"],
    "buy_x_get_y": ["buy_quantity", "get_quantity"],
    "bonus_points": ["points"],
    "points_multiplier": ["multiplier"],
}
ANY_VALUE = {
    "percent": "10",
    "amount": money("1.00"),
    "buy_quantity": 1,
    "get_quantity": 1,
    "points": 10,
    "multiplier": "3",
}


@pytest.mark.parametrize("type_", REWARDS)
def test_every_reward_type_is_accepted_with_its_fields(type_: str) -> None:
    accepted("promotion", promotion(REWARDS[type_]))


@pytest.mark.parametrize(
    ("type_", "field"), [(t, f) for t, fields in NEEDS.items() for f in fields]
)
def test_a_reward_needs_the_fields_of_its_type(type_: str, field: str) -> None:
    reward = {k: v for k, v in REWARDS[type_].items() if k != field}
    reason = fault_at("promotion", promotion(reward), f"$.reward.{field}", type_, field)
    assert reason == f"a reward of type {type_} needs {field}"


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        (t, f)
        for t in NEEDS
        for f in ANY_VALUE
        if f not in NEEDS[t] and not (t == "buy_x_get_y" and f == "percent")
    ],
)
def test_a_reward_uses_no_fields_of_other_types(type_: str, field: str) -> None:
    reward = {**REWARDS[type_], field: ANY_VALUE[field]}
    fault_at("promotion", promotion(reward), f"$.reward.{field}", "does not use", field)


def test_buy_x_get_y_may_discount_the_free_items_by_a_percentage() -> None:
    accepted("promotion", promotion({**REWARDS["buy_x_get_y"], "percent": "50"}))


@pytest.mark.parametrize(
    ("reward", "path", "words"),
    [
        ({"type": "percent_off", "percent": "0"}, "$.reward.percent", "above 0"),
        ({"type": "percent_off", "percent": "100.01"}, "$.reward.percent", "at most 100"),
        ({"type": "percent_off", "percent": "-5"}, "$.reward.percent", "above 0"),
        ({"type": "amount_off", "amount": money("0")}, "$.reward.amount.amount", "positive"),
        ({"type": "fixed_price", "amount": money("-1")}, "$.reward.amount.amount", "positive"),
        ({"type": "points_multiplier", "multiplier": "1"}, "$.reward.multiplier", "above 1"),
        ({"type": "points_multiplier", "multiplier": "0.5"}, "$.reward.multiplier", "above 1"),
        ({"type": "bonus_points", "points": 0}, "$.reward.points", "greater than or equal to 1"),
        ({"type": "buy_x_get_y", "buy_quantity": 0, "get_quantity": 1}, "$.reward.buy_quantity", "1"),
        ({"type": "buy_x_get_y", "buy_quantity": 2, "get_quantity": 0}, "$.reward.get_quantity", "1"),
        ({"type": "free_lunch"}, "$.reward.type", "percent_off"),
    ],
)  # fmt: skip
def test_reward_values_must_make_sense(reward: Doc, path: str, words: str) -> None:
    fault_at("promotion", promotion(reward), path, words)


def test_a_full_percentage_is_fine() -> None:
    accepted("promotion", promotion({"type": "percent_off", "percent": "100"}))


def test_a_fixed_price_below_the_price_floor_is_refused() -> None:
    doc = promotion({"type": "fixed_price", "amount": money("0.89")})
    fault_at("promotion", doc, "$.reward.amount", "0.89 EUR", "0.99 EUR", "price floor")


def test_a_fixed_price_at_the_price_floor_is_fine() -> None:
    accepted("promotion", promotion({"type": "fixed_price", "amount": money("0.99")}))


def test_the_price_floor_must_be_in_the_reward_currency() -> None:
    doc = promotion({"type": "fixed_price", "amount": usd("2.49")})
    fault_at("promotion", doc, "$.pricing_controls.price_floor.currency", "EUR", "USD")


@pytest.mark.parametrize("valid_to", ["2026-11-30T00:00:00+01:00", "2026-12-01T00:00:00+01:00"])
def test_a_promotion_window_must_end_after_it_starts(valid_to: str) -> None:
    fault_at("promotion", promotion(valid_to=valid_to), "$.valid_to", "ends before it starts")


def test_window_ends_are_compared_as_instants_across_offsets() -> None:
    # 00:00+01:00 is 23:00Z the day before: the same instant as the start, so an empty window.
    doc = promotion(valid_to="2026-11-30T23:00:00Z")
    fault_at("promotion", doc, "$.valid_to")


@pytest.mark.parametrize("type_", ["amount_off", "fixed_price"])
def test_money_rewards_need_items_to_apply_to(type_: str) -> None:
    doc = promotion(REWARDS[type_], eligibility={"customer_tiers": ["gold"]})
    fault_at("promotion", doc, "$.eligibility", type_, "SKUs or hierarchy nodes")
    accepted(
        "promotion", promotion(REWARDS[type_], eligibility={"hierarchy_nodes": [["Non-food"]]})
    )


@pytest.mark.parametrize(
    ("where", "value", "path", "words"),
    [
        (("channels",), ["store", "store"], "$.channels", "twice"),
        (("channels",), [], "$.channels", "at least 1"),
        (("channels",), ["radio"], "$.channels[0]", "store"),
        (("version",), 0, "$.version", "1"),
        (("name",), "", "$.name", "at least 1"),
        (("name",), "n" * 256, "$.name", "at most 255"),
        (("source",), "HubSpot", "$.source", "lower-case"),
        (("stores",), ["AMS 01"], "$.stores[0]", "letters, digits"),
        (("status",), "live", "$.status", "draft"),
        (("promotion_id",), "PROMO 1", "$.promotion_id", "must not contain spaces"),
        (("valid_from",), "2026-12-01", "$.valid_from", "timezone"),
        (("eligibility", "skus"), ["ok", ""], "$.eligibility.skus[1]", "empty"),
    ],
)  # fmt: skip
def test_promotion_field_rules(where: Path, value: Any, path: str, words: str) -> None:
    fault_at("promotion", changed(promotion(), where, value), path, words)


# -- prices -------------------------------------------------------------------------------------


def test_a_sale_price_above_the_list_price_is_refused() -> None:
    doc = changed(price(), ("sale_price",), money("1.99"))
    fault_at("price", doc, "$.sale_price.amount", "1.99 EUR", "1.89 EUR")


def test_a_sale_price_equal_to_the_list_price_is_fine() -> None:
    accepted("price", changed(price(), ("sale_price",), money("1.89")))


def test_a_price_is_for_a_store_or_a_zone_not_both() -> None:
    doc = changed(price(), ("zone",), "NL-CITY")
    fault_at("price", doc, "$.zone", "store or to a zone, not both")
    accepted("price", removed(doc, ("store",)))
    accepted("price", removed(price(), ("store",)))


@pytest.mark.parametrize(
    ("where", "value", "path", "words"),
    [
        (("list_price", "amount"), "-1.89", "$.list_price.amount", "must not be negative"),
        (("sale_price", "amount"), "-1.49", "$.sale_price.amount", "must not be negative"),
        (("sale_price", "currency"), "USD", "$.sale_price.currency", "currency"),
        (("valid_to",), "2026-10-01T00:00:00+01:00", "$.valid_to", "ends before it starts"),
        (("valid_to",), "2026-11-01T00:00:00+01:00", "$.valid_to", "ends before it starts"),
        (("zone",), "", "$.zone", "at least 1"),
        (("store",), "AMS/01", "$.store", "letters, digits"),
        (("channel",), "fax", "$.channel", "store"),
        (("list_price", "amount"), 1.89, "$.list_price.amount", "float"),
    ],
)  # fmt: skip
def test_price_rules(where: Path, value: Any, path: str, words: str) -> None:
    fault_at("price", changed(price(), where, value), path, words)


# -- products -----------------------------------------------------------------------------------


def test_a_gtin_listed_twice_is_refused_even_when_written_differently() -> None:
    doc = changed(product(), ("gtins",), ["4006381333931", "04006381333931"])
    fault_at("product", doc, "$.gtins[1]", "04006381333931", "twice")


def test_an_empty_hierarchy_level_is_refused() -> None:
    doc = changed(product(), ("hierarchy",), ["Non-food", "  ", "Markers"])
    fault_at("product", doc, "$.hierarchy[1]", "must not be empty")


@pytest.mark.parametrize(
    ("where", "value", "path", "words"),
    [
        (("gtins",), ["4006381333930"], "$.gtins[0]", "expected 1"),
        (("gtins",), ["40063813"], "$.gtins[0]", "check digit"),
        (("title",), "", "$.title", "at least 1"),
        (("title",), "t" * 256, "$.title", "at most 255"),
        (("sku",), "A\tB", "$.sku", "control characters"),
        (("sku",), "", "$.sku", "must not be empty"),
        (("status",), "sold_out", "$.status", "active"),
        (("unit_of_measure",), "dozen", "$.unit_of_measure", "each"),
        (("attributes",), {"colour": 5}, "$.attributes.colour", "string"),
        (("external_ids",), {"odoo": ""}, "$.external_ids.odoo", "non-empty"),
    ],
)
def test_product_field_rules(where: Path, value: Any, path: str, words: str) -> None:
    fault_at("product", changed(product(), where, value), path, words)


# -- customers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "path", "words"),
    [
        (("emails",), ["anna@example.nl", "anna-at-example.nl"], "$.emails[1]", "not an email"),
        (("phones",), ["0612345678"], "$.phones[0]", "international"),
        (("phones",), ["+3161234"], "$.phones[0]", "not a valid phone number"),
        (("addresses", 0, "country"), "nl", "$.addresses[0].country", "pattern"),
        (("addresses", 0, "lines"), [], "$.addresses[0].lines", "at least 1"),
        (("addresses", 0, "lines"), ["a", "b", "c", "d", "e"], "$.addresses[0].lines", "at most 4"),
        (("addresses", 0, "city"), "", "$.addresses[0].city", "at least 1"),
        (("consents", 0, "source"), "Shop ify", "$.consents[0].source", "lower-case"),
        (("consents", 0, "at"), "2025-03-02T11:00:00", "$.consents[0].at", "timezone"),
        (("consents", 0, "channel"), "pigeon", "$.consents[0].channel", "email"),
        (("identities",), {"HubSpot": "51"}, "$.identities.HubSpot", "system name 'HubSpot'"),
        (("identities",), {"hubspot": " "}, "$.identities.hubspot", "non-empty"),
        (("loyalty", "member_id"), "", "$.loyalty.member_id", "at least 1"),
        (("customer_id",), "CUST 731", "$.customer_id", "must not contain spaces"),
        (("birth_date",), "17/04/1990", "$.birth_date", "date"),
    ],
)  # fmt: skip
def test_customer_field_rules(where: Path, value: Any, path: str, words: str) -> None:
    fault_at("customer", changed(customer(), where, value), path, words)
