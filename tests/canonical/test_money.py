"""Money: exact Decimal arithmetic in one currency, rounding to the minor unit, never a float."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from retailhub.canonical.money import (
    CurrencyMismatchError,
    Money,
    Rounding,
    minor_unit,
    minor_units,
    sum_money,
)

CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "KRW", "BHD", "KWD", "CLF"]
HALF_MODES = [Rounding.HALF_EVEN, Rounding.HALF_UP, Rounding.HALF_DOWN]

currencies = st.sampled_from(CURRENCIES)


@st.composite
def amounts(draw: st.DrawFn, places: int | None = None) -> Decimal:
    """Amounts a till or a web shop could send: up to a billion, up to six decimal places."""
    scale = draw(st.integers(0, 6)) if places is None else places
    value: Decimal = draw(
        st.decimals(min_value=-(10**9), max_value=10**9, places=scale, allow_nan=False)
    )
    return value


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money.of(draw(amounts()), currency or draw(currencies))


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    currency = draw(currencies)
    return [draw(money(currency)) for _ in range(count)]


# -- arithmetic ---------------------------------------------------------------------------------


@given(same_currency(2))
def test_addition_is_commutative_and_exact(pair: list[Money]) -> None:
    a, b = pair
    assert a + b == b + a
    assert (a + b).amount == a.amount + b.amount
    assert (a + b).currency == a.currency


@given(same_currency(3))
def test_addition_is_associative_exactly(triple: list[Money]) -> None:
    a, b, c = triple
    assert (a + b) + c == a + (b + c)


@given(money())
def test_an_amount_plus_its_negation_is_zero(a: Money) -> None:
    zero = Money.zero(a.currency)
    assert a + (-a) == zero
    assert a - a == zero
    assert (a + (-a)).is_zero()
    assert a + zero == a


@given(same_currency(2))
def test_subtraction_undoes_addition(pair: list[Money]) -> None:
    a, b = pair
    assert (a + b) - b == a


@given(money(), st.integers(-1000, 1000))
def test_multiplying_by_an_int_is_repeated_addition(a: Money, factor: int) -> None:
    assert (a * factor).amount == a.amount * factor
    assert factor * a == a * factor


def test_sum_money_of_nothing_is_zero_in_the_currency() -> None:
    assert sum_money([], "JPY") == Money.zero("JPY")
    assert sum_money([Money.of("1.10", "EUR"), Money.of("2.20", "EUR")], "EUR") == Money.of(
        "3.30", "EUR"
    )


@pytest.mark.parametrize("factor", [1.5, "2", None])
def test_money_is_multiplied_only_by_int_or_decimal(factor: object) -> None:
    with pytest.raises(TypeError):
        _ = Money.of("1.00", "EUR") * factor


# -- mixed currencies ---------------------------------------------------------------------------


@st.composite
def two_currencies(draw: st.DrawFn) -> tuple[Money, Money]:
    first, second = draw(st.lists(currencies, min_size=2, max_size=2, unique=True))
    return draw(money(first)), draw(money(second))


@given(two_currencies())
def test_mixed_currencies_are_refused_for_arithmetic_and_ordering(
    pair: tuple[Money, Money],
) -> None:
    a, b = pair
    operations = [
        lambda: a + b,
        lambda: a - b,
        lambda: a < b,
        lambda: a <= b,
        lambda: a > b,
        lambda: a >= b,
        lambda: sum_money([a, b], a.currency),
    ]
    for operation in operations:
        with pytest.raises(CurrencyMismatchError, match=f"{a.currency}|{b.currency}"):
            operation()
    assert a != b


def test_mixed_currency_message_names_both_currencies() -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR and USD"):
        _ = Money.of("1", "EUR") + Money.of("1", "USD")


def test_equal_amounts_in_different_currencies_are_not_equal() -> None:
    assert Money.of("10", "EUR") != Money.of("10", "USD")
    assert Money.of("10.0", "EUR") == Money.of("10.00", "EUR")
    assert hash(Money.of("10.0", "EUR")) == hash(Money.of("10.00", "EUR"))


# -- rounding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "EUR", "0.12"),
        ("0.135", "EUR", "0.14"),
        ("0.145", "EUR", "0.14"),
        ("-0.125", "EUR", "-0.12"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1.0005", "BHD", "1.000"),
        ("1.0015", "BHD", "1.002"),
        ("19.999", "USD", "20.00"),
    ],
)
def test_rounding_is_half_even_by_default(amount: str, currency: str, expected: str) -> None:
    rounded = Money.of(amount, currency).rounded()
    assert rounded == Money.of(expected, currency)
    assert str(rounded.amount) == expected


@pytest.mark.parametrize(
    ("mode", "positive", "negative"),
    [
        (Rounding.HALF_EVEN, "0.12", "-0.12"),
        (Rounding.HALF_UP, "0.13", "-0.13"),
        (Rounding.HALF_DOWN, "0.12", "-0.12"),
        (Rounding.UP, "0.13", "-0.13"),
        (Rounding.DOWN, "0.12", "-0.12"),
    ],
)
def test_other_rounding_modes_are_honoured(mode: Rounding, positive: str, negative: str) -> None:
    assert Money.of("0.125", "EUR").rounded(mode).amount == Decimal(positive)
    assert Money.of("-0.125", "EUR").rounded(mode).amount == Decimal(negative)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (Rounding.HALF_EVEN, "0.12"),
        (Rounding.HALF_UP, "0.12"),
        (Rounding.HALF_DOWN, "0.12"),
        (Rounding.UP, "0.13"),
        (Rounding.DOWN, "0.12"),
    ],
)
def test_up_and_down_round_away_from_and_towards_zero(mode: Rounding, expected: str) -> None:
    assert Money.of("0.1201", "EUR").rounded(mode).amount == Decimal(expected)


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("EUR", 2), ("BHD", 3), ("CLF", 4)])
def test_minor_units_per_currency(currency: str, places: int) -> None:
    assert minor_units(currency) == places
    assert minor_unit(currency) == Decimal(1).scaleb(-places)
    assert Money.of("1", currency).minor_unit == minor_unit(currency)


@given(money(), st.sampled_from(list(Rounding)))
def test_rounded_amount_is_a_whole_number_of_minor_units(a: Money, mode: Rounding) -> None:
    rounded = a.rounded(mode)
    assert rounded.currency == a.currency
    assert rounded.amount.as_tuple().exponent == -minor_units(a.currency)
    assert rounded.is_whole_minor_units()
    assert (rounded.amount / rounded.minor_unit) % 1 == 0


@given(money(), st.sampled_from(list(Rounding)))
def test_rounding_is_idempotent(a: Money, mode: Rounding) -> None:
    once = a.rounded(mode)
    assert once.rounded(mode) == once
    assert once.rounded() == once


@given(money(), st.sampled_from(HALF_MODES))
def test_half_modes_move_at_most_half_a_minor_unit(a: Money, mode: Rounding) -> None:
    assert abs((a.rounded(mode) - a).amount) <= a.minor_unit / 2


@given(money())
def test_up_moves_away_from_zero_and_down_towards_it_by_less_than_a_unit(a: Money) -> None:
    up, down = a.rounded(Rounding.UP), a.rounded(Rounding.DOWN)
    assert abs(up.amount) >= abs(a.amount)
    assert abs(down.amount) <= abs(a.amount)
    assert abs((up - a).amount) < a.minor_unit
    assert abs((down - a).amount) < a.minor_unit


@given(money())
def test_amounts_already_in_minor_units_are_left_alone(a: Money) -> None:
    whole = Money.of(a.amount.quantize(a.minor_unit), a.currency)
    assert whole.rounded() == whole
    assert whole.is_whole_minor_units()


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1.02", "1.00"),
        ("1.03", "1.05"),
        ("1.07", "1.05"),
        ("1.08", "1.10"),
        ("1.025", "1.00"),
        ("1.075", "1.10"),
        ("12.57", "12.55"),
        ("-12.58", "-12.60"),
    ],
)
def test_cash_rounding_to_five_cents(amount: str, expected: str) -> None:
    rounded = Money.of(amount, "CHF").rounded_to(Decimal("0.05"))
    assert rounded == Money.of(expected, "CHF")
    assert rounded.is_whole_minor_units()


@given(money("EUR"), st.sampled_from(["0.05", "0.10", "0.50", "1"]))
def test_cash_rounding_lands_on_the_increment_and_moves_at_most_half_of_it(
    a: Money, increment: str
) -> None:
    step = Decimal(increment)
    rounded = a.rounded_to(step)
    assert rounded.amount % step == 0
    assert abs((rounded - a).amount) <= step / 2
    assert rounded.rounded_to(step) == rounded


def test_rounding_increment_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Money.of("1.00", "EUR").rounded_to(Decimal(0))


# -- allocation ---------------------------------------------------------------------------------


@given(money(), st.lists(st.integers(0, 1000).map(Decimal), min_size=1, max_size=12))
def test_allocation_never_loses_or_makes_a_minor_unit(a: Money, weights: list[Decimal]) -> None:
    if sum(weights) == 0:
        return
    shares = a.allocate(weights)
    assert len(shares) == len(weights)
    assert sum_money(shares, a.currency) == a.rounded()
    total = a.rounded().amount
    for share, weight in zip(shares, weights, strict=True):
        assert share.is_whole_minor_units()
        assert abs(share.amount - total * weight / sum(weights)) < a.minor_unit


@given(money(), st.integers(1, 15))
def test_equal_weights_give_shares_at_most_one_minor_unit_apart(a: Money, parts: int) -> None:
    shares = a.allocate([Decimal(1)] * parts)
    assert sum_money(shares, a.currency) == a.rounded()
    assert max(shares).amount - min(shares).amount <= a.minor_unit


@given(money(), st.lists(st.integers(1, 100).map(Decimal), min_size=1, max_size=8))
def test_allocating_a_negative_amount_mirrors_the_positive_one(
    a: Money, weights: list[Decimal]
) -> None:
    # A refund allocated to lines must mirror how the sale was allocated, cent for cent.
    assert (-a).allocate(weights) == [-share for share in a.allocate(weights)]


def test_allocation_examples() -> None:
    assert Money.of("100", "EUR").allocate([Decimal(1)] * 3) == [
        Money.of("33.34", "EUR"),
        Money.of("33.33", "EUR"),
        Money.of("33.33", "EUR"),
    ]
    assert Money.of("0.10", "EUR").allocate([Decimal(1), Decimal(2)]) == [
        Money.of("0.03", "EUR"),
        Money.of("0.07", "EUR"),
    ]
    assert Money.of("-0.10", "EUR").allocate([Decimal(1), Decimal(2)]) == [
        Money.of("-0.03", "EUR"),
        Money.of("-0.07", "EUR"),
    ]
    assert Money.of("1000", "JPY").allocate([Decimal(1)] * 3) == [
        Money.of("334", "JPY"),
        Money.of("333", "JPY"),
        Money.of("333", "JPY"),
    ]


@pytest.mark.parametrize("weights", [[], [Decimal(0), Decimal(0)], [Decimal(1), Decimal(-1)]])
def test_allocation_refuses_weights_that_cannot_split(weights: list[Decimal]) -> None:
    with pytest.raises(ValueError, match="weights"):
        Money.of("10.00", "EUR").allocate(weights)


# -- never a float ------------------------------------------------------------------------------


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused_everywhere(value: float) -> None:
    with pytest.raises(ValueError, match=r"float|decimal"):
        Money.of(value, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"float|decimal"):
        Money(amount=value, currency="EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"float|decimal"):
        Money.model_validate({"amount": value, "currency": "EUR"})


@pytest.mark.parametrize("number", ["12.34", "0.1", "1e2", "-5.5", "12.0"])
def test_a_json_number_with_a_fraction_or_exponent_is_refused(number: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.model_validate_json(f'{{"amount": {number}, "currency": "EUR"}}')
    message = str(caught.value)
    assert "float" in message
    assert "decimal string" in message


def test_a_json_integer_is_an_exact_amount() -> None:
    assert Money.model_validate_json('{"amount": 12, "currency": "JPY"}') == Money.of(12, "JPY")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "twelve", "", True, None, [1]])
def test_non_amounts_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": bad, "currency": "EUR"})


@pytest.mark.parametrize("huge", ["1" + "0" * 18, "-1000000000000000000", "9" * 40])
def test_absurdly_large_amounts_are_refused_rather_than_crashing_rounding(huge: str) -> None:
    with pytest.raises(ValidationError, match="too large"):
        Money.model_validate({"amount": huge, "currency": "EUR"})


def test_the_largest_allowed_amount_still_rounds() -> None:
    largest = Money.of("999999999999999999.9999", "CLF")
    assert largest.rounded().amount == Decimal("999999999999999999.9999")


# -- currency codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["XYZ", "EURO", "E", "", "123", "BTC"])
def test_unknown_currency_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money.of("1.00", code)
    with pytest.raises(ValidationError, match="ISO 4217"):
        Money.model_validate({"amount": "1.00", "currency": code})


def test_currency_codes_are_read_in_any_case_and_stored_upper_case() -> None:
    assert Money.of("1", " eur ").currency == "EUR"
    assert Money.model_validate({"amount": "1", "currency": "jpy"}).currency == "JPY"


def test_currency_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        Money.model_validate({"amount": "1", "currency": 978})


# -- JSON ---------------------------------------------------------------------------------------


@given(money())
def test_json_writes_the_amount_as_a_string_and_round_trips_exactly(a: Money) -> None:
    raw = a.model_dump_json()
    data = json.loads(raw)
    assert isinstance(data["amount"], str)
    assert data == {"amount": format(a.amount, "f"), "currency": a.currency}
    back = Money.model_validate_json(raw)
    assert back == a
    assert back.amount.as_tuple() == a.amount.as_tuple()


def test_json_keeps_trailing_zeros() -> None:
    assert Money.of("19.90", "EUR").model_dump_json() == '{"amount":"19.90","currency":"EUR"}'
    assert Money.of("-0.50", "USD").model_dump(mode="json") == {
        "amount": "-0.50",
        "currency": "USD",
    }


def test_money_is_immutable_and_strict_about_fields() -> None:
    price = Money.of("1.00", "EUR")
    with pytest.raises(ValidationError):
        price.amount = Decimal(2)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Money.model_validate({"amount": "1", "currency": "EUR", "rate": "1.1"})


def test_str_shows_amount_and_currency() -> None:
    assert str(Money.of("1234.50", "EUR")) == "1234.50 EUR"
