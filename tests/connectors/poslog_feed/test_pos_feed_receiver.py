"""The hub's answer to a POSTed POSLog journal: accepted with failures named, or refused."""

from __future__ import annotations

from pos_feed_journals import journal, sale, sale_without_price, sign_on

from retailhub.bus.sqlite import SqliteBus
from retailhub.connectors.poslog.receiver import receive_poslog


async def test_a_journal_is_accepted_and_its_bad_basket_named(bus: SqliteBus) -> None:
    receipt = await receive_poslog(bus, journal(sign_on(1), sale(2), sale_without_price(3)))

    assert receipt.status == 202
    assert receipt.body["published"] == 1
    assert receipt.body["control_transactions_skipped"] == 1
    (failure,) = receipt.body["failures"]
    assert failure["sequence"] == "3"
    assert failure["field"] == "LineItem[1]/Sale/RegularSalesUnitPrice"


async def test_sending_a_journal_twice_publishes_it_once(bus: SqliteBus) -> None:
    xml = journal(sale(2), sale(3))

    await receive_poslog(bus, xml)
    again = await receive_poslog(bus, xml)

    assert again.status == 202
    assert len(await bus.tail(after=0, limit=100)) == 2


async def test_a_journal_where_everything_failed_is_refused(bus: SqliteBus) -> None:
    receipt = await receive_poslog(bus, journal(sale_without_price(4)))

    assert receipt.status == 422
    assert receipt.content_type == "application/problem+json"
    assert receipt.body["errors"][0]["path"] == "4/LineItem[1]/Sale/RegularSalesUnitPrice"
    assert await bus.tail(after=0, limit=100) == []


async def test_a_body_that_is_not_poslog_is_refused(bus: SqliteBus) -> None:
    billion_laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><POSLog>&lol;</POSLog>'
    )

    receipt = await receive_poslog(bus, billion_laughs)

    assert receipt.status == 400
    assert "DTD" in receipt.body["detail"]
