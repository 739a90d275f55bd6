"""Money: a Decimal amount in an ISO 4217 currency; never a float, never two currencies mixed."""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

# ISO 4217 active codes and their minor units (exponent). Codes absent here are refused.
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}


class Rounding(StrEnum):
    """How an amount is brought to the currency's minor unit (or a cash increment)."""

    HALF_EVEN = "half_even"
    HALF_UP = "half_up"
    HALF_DOWN = "half_down"
    UP = "up"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        """The matching `decimal` rounding constant."""
        return _DECIMAL_MODES[self]


_DECIMAL_MODES = {
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    Rounding.UP: decimal.ROUND_UP,
    Rounding.DOWN: decimal.ROUND_DOWN,
}


class CurrencyMismatchError(ValueError):
    """Arithmetic or comparison between amounts in two currencies: the hub never converts silently."""


def minor_units(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, EUR 2, BHD 3)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code") from None


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency as a Decimal quantum (EUR -> 0.01, JPY -> 1)."""
    return Decimal(1).scaleb(-minor_units(currency))


_LARGEST_AMOUNT = Decimal(10) ** 18


_DECIMAL_STRING = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse_amount(value: Any) -> Decimal:
    """Accept a Decimal, an int or a decimal string; refuse floats, which cannot hold cents exactly."""
    if isinstance(value, bool):
        raise ValueError('an amount must be a decimal string such as "12.34", not a boolean')
    if isinstance(value, float):
        raise ValueError(
            f'an amount must be a decimal string such as "12.34", not the float {value!r}'
            " (floats cannot hold cents exactly)"
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_STRING.match(value.strip()):
            raise ValueError(f'{value!r} is not a decimal amount such as "12.34"')
        amount = Decimal(value.strip())
    else:
        raise ValueError(f"an amount must be a decimal string, not {type(value).__name__}")
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if abs(amount) >= _LARGEST_AMOUNT:
        # No retail figure comes near this; rounding bigger ones outgrows the decimal context.
        raise ValueError(
            f"{value!r} is too large for an amount (at most 18 digits before the point)"
        )
    return amount


def _parse_currency(value: Any) -> str:
    """Accept an ISO 4217 code in any case; store it upper-case."""
    if not isinstance(value, str):
        raise ValueError('a currency must be an ISO 4217 code such as "EUR"')
    code = value.strip().upper()
    minor_units(code)
    return code


Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "Decimal amount as a string",
        }
    ),
]
"""A Decimal amount, written in JSON as a string so no consumer reads it as a float."""

CurrencyCode = Annotated[
    str,
    BeforeValidator(_parse_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}),
]


class Money(BaseModel):
    """An amount in one currency. Arithmetic keeps full precision; `rounded()` applies the minor unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount
    currency: CurrencyCode

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Build money from an amount and a currency code (`Money.of("9.99", "EUR")`)."""
        return cls(amount=parse_amount(amount), currency=_parse_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in the given currency."""
        return cls.of(0, currency)

    @property
    def minor_unit(self) -> Decimal:
        """The currency's smallest unit (0.01 for EUR)."""
        return minor_unit(self.currency)

    def _same_currency(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {operation} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {operation} {self.currency} and {other.currency}: amounts in different"
                " currencies are never combined"
            )
        return other

    def __add__(self, other: object) -> Money:
        other = self._same_currency(other, "add")
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: object) -> Money:
        other = self._same_currency(other, "subtract")
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __abs__(self) -> Money:
        return Money(amount=abs(self.amount), currency=self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError(f"Money can only be multiplied by an int or a Decimal, not {factor!r}")
        return Money(amount=self.amount * factor, currency=self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: object) -> bool:
        return self.amount < self._same_currency(other, "compare").amount

    def __le__(self, other: object) -> bool:
        return self.amount <= self._same_currency(other, "compare").amount

    def __gt__(self, other: object) -> bool:
        return self.amount > self._same_currency(other, "compare").amount

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._same_currency(other, "compare").amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency}"

    def is_zero(self) -> bool:
        """True when the amount is exactly nothing."""
        return self.amount == 0

    def rounded(self, rounding: Rounding = Rounding.HALF_EVEN) -> Money:
        """The amount brought to the currency's minor unit (half-even unless told otherwise)."""
        return self.rounded_to(self.minor_unit, rounding)

    def rounded_to(self, increment: Decimal, rounding: Rounding = Rounding.HALF_EVEN) -> Money:
        """The amount brought to a multiple of `increment`, e.g. 0.05 for Swiss cash rounding."""
        if increment <= 0:
            raise ValueError("a rounding increment must be positive")
        units = (self.amount / increment).quantize(Decimal(1), rounding=rounding.decimal_mode)
        exponent = min(increment.as_tuple().exponent, 0)
        amount = (units * increment).quantize(Decimal(1).scaleb(int(exponent)))
        return Money(amount=amount, currency=self.currency)

    def is_whole_minor_units(self) -> bool:
        """True when the amount needs no rounding in its currency."""
        return self.amount == self.amount.quantize(self.minor_unit)

    def allocate(self, weights: list[Decimal]) -> list[Money]:
        """Split into shares proportional to `weights`, in minor units, with no cent lost or made."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("allocation needs non-negative weights that do not all equal zero")
        total = self.rounded()
        unit = self.minor_unit
        raw = [total.amount * w / sum(weights) for w in weights]
        shares = [r.quantize(unit, rounding=decimal.ROUND_DOWN) for r in raw]
        remainder = int((total.amount - sum(shares)) / unit)
        order = sorted(range(len(raw)), key=lambda i: abs(raw[i] - shares[i]), reverse=True)
        step = unit if remainder >= 0 else -unit
        for i in order[: abs(remainder)]:
            shares[i] += step
        return [Money(amount=s, currency=self.currency) for s in shares]


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Add amounts starting from zero in `currency`, so an empty list is a valid total."""
    total = Money.zero(currency)
    for amount in amounts:
        total += amount
    return total
