"""Canonical -> ARTS POSLog 6.0 and back gives the same documents; the id scheme is stable."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest
from poslog_samples import ALL_SAMPLES, FUTURA

from retailhub.canonical.order import Order
from retailhub.connectors.poslog import (
    PosDocumentKey,
    canonical_to_poslog,
    parse_pos_document_id,
    pos_document_id,
    poslog_to_canonical,
)

ARTS = "{http://www.nrf-arts.org/IXRetail/namespace/}"


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda p: p.name)
def test_render_then_read_gives_the_same_documents(sample: Path) -> None:
    original = poslog_to_canonical(sample.read_bytes())
    written = canonical_to_poslog(original.documents)
    again = poslog_to_canonical(written)
    assert again.failures == ()
    assert again.documents == original.documents


def test_render_writes_standard_arts_elements_for_a_vendor_dialect() -> None:
    root = ElementTree.fromstring(
        canonical_to_poslog(poslog_to_canonical(FUTURA.read_bytes()).documents)
    )
    assert root.tag == f"{ARTS}POSLog"
    sale, cancelled, returned = root.findall(f"{ARTS}Transaction")
    assert sale.findtext(f"{ARTS}RetailStoreID") == "2104"
    assert sale.find(f"{ARTS}BusinessUnit") is None
    assert sale.findtext(f"{ARTS}CurrencyCode") == "EUR"
    first_sale = sale.find(f"{ARTS}RetailTransaction/{ARTS}LineItem/{ARTS}Sale")
    assert first_sale is not None
    assert first_sale.findtext(f"{ARTS}ItemID") == "8712001004179"
    totals = {t.get("TotalType"): t.text for t in sale.iter(f"{ARTS}Total")}
    assert totals == {
        "TransactionGrandAmount": "50.940",
        "TransactionTaxAmount": "8.490",
        "TransactionRoundingAmount": "0.010",
    }
    cancelled_body = cancelled.find(f"{ARTS}RetailTransaction")
    assert cancelled_body is not None
    assert cancelled_body.get("TransactionStatus") == "Canceled"
    link = returned.find(
        f"{ARTS}RetailTransaction/{ARTS}LineItem/{ARTS}Return/{ARTS}TransactionLink"
    )
    assert link is not None
    assert link.get("ReasonCode") == "Return"
    assert link.findtext(f"{ARTS}SequenceNumber") == "4712"


def test_an_order_without_a_till_is_not_poslog() -> None:
    sale = poslog_to_canonical(FUTURA.read_bytes()).orders[0]
    web_order = Order.model_validate({**sale.model_dump(), "pos": None, "channel": "web"})
    with pytest.raises(ValueError, match="has no POS reference"):
        canonical_to_poslog([web_order])


def test_document_id_drops_padding_and_reads_back() -> None:
    key = PosDocumentKey("NO-0412", date(2026, 11, 21), "03", "000814")
    document_id = pos_document_id(key)
    assert document_id == "POS-NO-0412-20261121-3-814"
    assert parse_pos_document_id(document_id) == PosDocumentKey(
        "NO-0412", date(2026, 11, 21), "3", "814"
    )


@pytest.mark.parametrize("other", ["SO-1001", "POS-9-2017-1-2", "POS-9-20171341-1-2"])
def test_other_ids_are_not_pos_ids(other: str) -> None:
    assert parse_pos_document_id(other) is None
