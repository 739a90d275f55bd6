"""Retail identifiers: GTIN check digits and normalisation, SKUs, location codes, external ids."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from retailhub.canonical.identifiers import (
    ExternalIds,
    Gtin,
    LocationCode,
    Sku,
    gtin_check_digit,
    is_valid_gtin,
    normalise_gtin,
)

GTIN = TypeAdapter(Gtin)
SKU = TypeAdapter(Sku)
LOCATION = TypeAdapter(LocationCode)
EXTERNAL_IDS = TypeAdapter(ExternalIds)

KNOWN_GTINS = [
    "4006381333931",  # GTIN-13, Stabilo Boss highlighter
    "036000291452",  # GTIN-12 (UPC-A)
    "96385074",  # GTIN-8
    "00012345600012",  # GTIN-14
    "8710398526724",  # GTIN-13
    "5901234123457",  # GS1's own example
    "10614141000415",  # GTIN-14 of a case
]


@st.composite
def gtin_bodies(draw: st.DrawFn) -> str:
    """The digits of a GTIN-8, -12, -13 or -14 before the check digit."""
    length = draw(st.sampled_from([7, 11, 12, 13]))
    return "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length, max_size=length)))


@st.composite
def valid_gtins(draw: st.DrawFn) -> str:
    body = draw(gtin_bodies())
    return body + str(gtin_check_digit(body))


# -- check digits -------------------------------------------------------------------------------


@given(gtin_bodies())
def test_appending_the_check_digit_makes_a_valid_gtin(body: str) -> None:
    digit = gtin_check_digit(body)
    assert 0 <= digit <= 9
    assert is_valid_gtin(body + str(digit))


@given(valid_gtins())
def test_normalising_pads_to_gtin_14_and_is_idempotent(code: str) -> None:
    normalised = normalise_gtin(code)
    assert len(normalised) == 14
    assert normalised.lstrip("0") == code.lstrip("0")
    assert normalised.endswith(code)
    assert normalise_gtin(normalised) == normalised
    assert GTIN.validate_python(code) == normalised


@given(valid_gtins(), st.data())
def test_changing_any_single_digit_breaks_the_check_digit(code: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(code) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    mistyped = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_gtin(mistyped)


@given(valid_gtins())
def test_every_other_check_digit_is_refused_with_the_expected_one(code: str) -> None:
    expected = code[-1]
    for wrong in "0123456789":
        if wrong == expected:
            continue
        with pytest.raises(ValueError, match=f"check digit {wrong}, expected {expected}"):
            normalise_gtin(code[:-1] + wrong)


@pytest.mark.parametrize("code", KNOWN_GTINS)
def test_known_real_gtins_pass(code: str) -> None:
    assert is_valid_gtin(code)
    assert normalise_gtin(code) == code.zfill(14)


def test_check_digit_examples() -> None:
    assert gtin_check_digit("400638133393") == 1
    assert gtin_check_digit("03600029145") == 2
    assert gtin_check_digit("9638507") == 4
    assert gtin_check_digit("0001234560001") == 2


def test_wrong_check_digit_message_gives_the_expected_digit() -> None:
    with pytest.raises(ValueError, match="GTIN '4006381333932' has check digit 2, expected 1"):
        normalise_gtin("4006381333932")
    with pytest.raises(ValidationError, match="expected 1"):
        GTIN.validate_python("4006381333932")


@pytest.mark.parametrize(
    "code", ["40063813339A1", "4006381-333931", "", "   ", "+4006381333931", "4006381333931.0"]
)
def test_non_digits_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="digits only"):
        normalise_gtin(code)


def test_non_ascii_digits_are_refused() -> None:
    arabic_indic = "٤٠٠٦٣٨١٣٣٣٩٣١"
    assert arabic_indic.isdigit()
    with pytest.raises(ValueError, match="digits only"):
        normalise_gtin(arabic_indic)


@pytest.mark.parametrize("length", [1, 7, 9, 10, 11])
def test_lengths_other_than_8_12_13_14_are_refused(length: int) -> None:
    body = "1234567890123"[: length - 1]
    code = body + str(gtin_check_digit(body))
    with pytest.raises(ValueError, match=f"has {length} digits; a GTIN has 8, 12, 13 or 14"):
        normalise_gtin(code)


def test_codes_padded_beyond_14_digits_are_read_when_the_padding_is_zeros() -> None:
    assert normalise_gtin("0004006381333931") == "04006381333931"
    with pytest.raises(ValueError, match="15 digits"):
        normalise_gtin("140063813339310")


def test_surrounding_whitespace_is_trimmed() -> None:
    assert normalise_gtin(" 4006381333931\n") == "04006381333931"


def test_gtin_type_accepts_an_integer_and_refuses_other_types() -> None:
    assert GTIN.validate_python(4006381333931) == "04006381333931"
    assert GTIN.validate_python(96385074) == "00000096385074"
    for bad in (True, 4.006381333931e12, None, ["4006381333931"]):
        with pytest.raises(ValidationError):
            GTIN.validate_python(bad)


def test_an_integer_gtin_that_lost_its_leading_zero_is_refused_not_misread() -> None:
    # 036000291452 as a JSON number is 36000291452: 11 digits, which is no GTIN.
    with pytest.raises(ValidationError, match="11 digits"):
        GTIN.validate_python(36000291452)


# -- SKU ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sku"),
    [("100234", "100234"), ("  IPOD2008RED  ", "IPOD2008RED"), ("A B-1/2", "A B-1/2"), (42, "42")],
)
def test_skus_are_trimmed(raw: object, sku: str) -> None:
    assert SKU.validate_python(raw) == sku


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_skus_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        SKU.validate_python(raw)


@pytest.mark.parametrize("raw", ["AB\tC", "AB\x00C", "A\nB", "AB\x7f", "\x1bX"])
def test_skus_with_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        SKU.validate_python(raw)


def test_skus_are_at_most_64_characters() -> None:
    assert SKU.validate_python("S" * 64) == "S" * 64
    with pytest.raises(ValidationError, match="at most 64"):
        SKU.validate_python("S" * 65)


@pytest.mark.parametrize("raw", [None, 1.5, True, ["A"]])
def test_skus_must_be_strings(raw: object) -> None:
    with pytest.raises(ValidationError):
        SKU.validate_python(raw)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=60))
def test_any_printable_sku_is_kept_trimmed(raw: str) -> None:
    assume(raw.strip())
    assert SKU.validate_python(raw) == raw.strip()


# -- location codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [("S001", "S001"), ("WEB", "WEB"), ("DC-NORTH", "DC-NORTH"), ("eu.web_1", "eu.web_1"),
     (" AMS01 ", "AMS01"), (42, "42")],
)  # fmt: skip
def test_location_codes(raw: object, code: str) -> None:
    assert LOCATION.validate_python(raw) == code


@pytest.mark.parametrize("raw", ["", " ", "-S1", ".S1", "_S1", "S 1", "AMS/01", "ÄMS", "S1\n2"])
def test_bad_location_codes_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="letters, digits"):
        LOCATION.validate_python(raw)


def test_location_codes_are_at_most_32_characters() -> None:
    assert LOCATION.validate_python("L" * 32) == "L" * 32
    with pytest.raises(ValidationError, match="at most 32"):
        LOCATION.validate_python("L" * 33)


# -- external ids -------------------------------------------------------------------------------


def test_external_ids_coerce_integers_to_strings() -> None:
    ids = EXTERNAL_IDS.validate_python({"shopify": 450789469, "odoo": " 8812 ", "hub-spot_2": "51"})
    assert ids == {"shopify": "450789469", "odoo": "8812", "hub-spot_2": "51"}


@pytest.mark.parametrize(
    "system", ["Shopify", "1shop", "shop ify", "", "shop.ify", "_shop", "s" * 33]
)
def test_external_ids_refuse_bad_system_names(system: str) -> None:
    with pytest.raises(ValidationError):
        EXTERNAL_IDS.validate_python({system: "1"})


def test_bad_system_name_message_names_the_system() -> None:
    with pytest.raises(ValidationError, match="system name 'Shopify' must be lower-case"):
        EXTERNAL_IDS.validate_python({"Shopify": "1"})


@pytest.mark.parametrize("value", ["", "   ", None, 1.5, True, "x" * 129])
def test_external_ids_refuse_empty_or_non_text_ids(value: object) -> None:
    with pytest.raises(ValidationError):
        EXTERNAL_IDS.validate_python({"shopify": value})
