"""Bad input: one broken transaction is reported and the others still map; unreadable files and
entity-expansion attacks are refused with a clear error."""

from __future__ import annotations

import pytest
from poslog_samples import VISMA

from retailhub.connectors.poslog import PoslogSyntaxError, TransactionFailure, poslog_to_canonical

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<POSLog xmlns="http://www.nrf-arts.org/IXRetail/namespace/"><Transaction>
<RetailStoreID>&lol9;</RetailStoreID></Transaction></POSLog>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE POSLog [<!ENTITY store SYSTEM "file:///etc/passwd">]>
<POSLog><Transaction><RetailStoreID>&store;</RetailStoreID></Transaction></POSLog>
"""

SALE_GRAND_TOTAL = b'<nrf:Total TotalType="TransactionGrandAmount">252.20</nrf:Total>'
BREAD_AMOUNT = b"<nrf:ExtendedAmount>42.50</nrf:ExtendedAmount>"


def _visma(old: bytes, new: bytes, count: int = 1) -> bytes:
    original = VISMA.read_bytes()
    assert old in original
    return original.replace(old, new, count)


def _only_failure(xml: bytes) -> TransactionFailure:
    translation = poslog_to_canonical(xml)
    fields = {failure.field for failure in translation.failures}
    assert len({f.sequence for f in translation.failures}) == 1, fields
    return translation.failures[0]


def test_a_sale_that_does_not_add_up_is_reported_and_the_returns_still_map() -> None:
    translation = poslog_to_canonical(
        _visma(SALE_GRAND_TOTAL, SALE_GRAND_TOTAL.replace(b"252.20", b"262.20"))
    )
    assert translation.orders == []
    assert [r.return_id for r in translation.returns] == [
        "POS-NO-0412-20261121-3-815",
        "POS-NO-0412-20261121-3-816",
    ]
    assert translation.control_transactions_skipped == 2
    failure = translation.failures[0]
    assert (failure.store, failure.workstation, failure.sequence) == ("NO-0412", "03", "000814")
    assert failure.field == "$.totals.grand_total"
    assert "does not add up" in failure.reason
    assert str(failure).startswith("transaction 000814 (store NO-0412, workstation 03): ")


def test_an_amount_that_is_not_a_number_names_the_line_and_field() -> None:
    failure = _only_failure(_visma(BREAD_AMOUNT, b"<nrf:ExtendedAmount>42,50</nrf:ExtendedAmount>"))
    assert (failure.sequence, failure.field) == ("000814", "LineItem[3]/Sale/ExtendedAmount")
    assert failure.reason == "'42,50' is not a decimal number"


def test_a_transaction_without_a_store_is_reported() -> None:
    header = b"<nrf:WorkstationID>03</nrf:WorkstationID>\n    <nrf:SequenceNumber>000816"
    failure = _only_failure(
        _visma(b"<nrf:RetailStoreID>NO-0412</nrf:RetailStoreID>\n    " + header, header)
    )
    assert (failure.store, failure.sequence, failure.field) == (None, "000816", "RetailStoreID")


def test_loyalty_points_tender_without_points_is_reported() -> None:
    failure = _only_failure(
        _visma(b"<nrf:PointsRedeemed>522</nrf:PointsRedeemed>", b"<nrf:Note>522</nrf:Note>")
    )
    assert failure.field == "LineItem[7]/Tender/LoyaltyRedemption/PointsRedeemed"


def test_an_unknown_unit_of_measure_is_reported() -> None:
    failure = _only_failure(
        _visma(
            b'<nrf:Quantity UnitOfMeasureCode="EA">2</nrf:Quantity>',
            b'<nrf:Quantity UnitOfMeasureCode="BOX">2</nrf:Quantity>',
        )
    )
    assert failure.field == "LineItem[1]/Sale/Quantity/@UnitOfMeasureCode"


def test_an_exchange_is_reported_not_half_mapped() -> None:
    xml = _visma(BREAD_AMOUNT, b"<nrf:ExtendedAmount>-42.50</nrf:ExtendedAmount>").replace(
        b'<nrf:Quantity UnitOfMeasureCode="EA">1</nrf:Quantity>\n        </nrf:Sale>\n      </nrf:LineItem>\n      <nrf:LineItem EntryMethod="Scanned">\n        <nrf:SequenceNumber>4',
        b'<nrf:Quantity UnitOfMeasureCode="EA">-1</nrf:Quantity>\n        </nrf:Sale>\n      </nrf:LineItem>\n      <nrf:LineItem EntryMethod="Scanned">\n        <nrf:SequenceNumber>4',
    )
    failure = _only_failure(xml)
    assert (failure.sequence, failure.field) == ("000814", "LineItem[3]")
    assert "exchange" in failure.reason


def test_a_return_that_takes_a_payment_is_reported() -> None:
    failure = _only_failure(
        _visma(
            b'TenderType="CreditDebit" TypeCode="Refund"',
            b'TenderType="CreditDebit" TypeCode="Sale"',
        )
    )
    assert (failure.sequence, failure.field) == ("000815", "LineItem[2]/Tender")


def test_malformed_xml_gives_line_and_column() -> None:
    xml = b"<POSLog>\n<Transaction>\n<RetailStoreID>9</RetailStoreID>\n</POSLog>\n"
    with pytest.raises(PoslogSyntaxError, match=r"malformed POSLog XML at line 4, column 3"):
        poslog_to_canonical(xml)


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(PoslogSyntaxError, match="billion laughs") as refused:
        poslog_to_canonical(BILLION_LAUGHS)
    assert "refused" in str(refused.value)


def test_external_entities_are_refused() -> None:
    with pytest.raises(PoslogSyntaxError, match="refused"):
        poslog_to_canonical(EXTERNAL_ENTITY)


def test_a_file_that_is_not_poslog_is_refused() -> None:
    with pytest.raises(PoslogSyntaxError, match="root element is 'Order'"):
        poslog_to_canonical(b"<Order><Id>1</Id></Order>")


def test_a_transaction_without_currency_is_reported() -> None:
    xml = b"""<POSLog xmlns="http://www.nrf-arts.org/IXRetail/namespace/"><Transaction>
    <RetailStoreID>1</RetailStoreID><WorkstationID>1</WorkstationID>
    <SequenceNumber>7</SequenceNumber><BusinessDayDate>2026-01-02</BusinessDayDate>
    <RetailTransaction><Total TotalType="TransactionGrandAmount">1.00</Total></RetailTransaction>
    </Transaction></POSLog>"""
    failure = _only_failure(xml)
    assert (failure.sequence, failure.field) == ("7", "CurrencyCode")
