"""POSLog intake over the real embedded bus: events per document, dedupe on re-delivery, and
failures named by sequence number and field."""

from __future__ import annotations

from datetime import date

import pytest
from pos_feed_journals import journal, sale, sale_without_price, sign_on

from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import validate_event
from retailhub.canonical.returns import Return, ReturnStatus
from retailhub.connectors.poslog import PoslogSyntaxError, canonical_to_poslog
from retailhub.connectors.poslog.intake import (
    ORDER_CANCELLED,
    ORDER_CREATED,
    RETURN_RECEIVED,
    poslog_intake,
    publish_intake,
)
from retailhub.sandbox.poslog import TillSimulator
from retailhub.sandbox.seed import Estate

DAY = date(2026, 11, 27)


def test_each_document_becomes_one_catalogued_event_keyed_by_its_id() -> None:
    intake = poslog_intake(journal(sign_on(1), sale(2), sale(3, status="Canceled")))

    assert [e.type for e in intake.events] == [ORDER_CREATED, ORDER_CANCELLED]
    assert intake.control_transactions_skipped == 1
    assert not intake.failures
    for event in intake.events:
        _, order = validate_event(event.to_json())
        assert order is not None
        assert event.source == "/pos/AMS01"
        assert event.subject == event.partitionkey == order.order_id  # type: ignore[attr-defined]
        assert event.id == f"{event.subject}/{event.type}"


def test_reading_a_file_twice_gives_byte_identical_events() -> None:
    xml = journal(sale(2), sale(3))

    assert [e.to_json() for e in poslog_intake(xml).events] == [
        e.to_json() for e in poslog_intake(xml).events
    ]


def test_returns_are_received_events(estate: Estate) -> None:
    tills = TillSimulator(estate, seed=3)
    tills.run("UTR03", 40, DAY)
    run = next(r for r in (tills.run("UTR03", 40, DAY) for _ in range(5)) if r.returns)

    types = [e.type for e in poslog_intake(run.poslog).events]

    assert types.count(RETURN_RECEIVED) == run.returns
    assert types.count(ORDER_CREATED) == run.sales
    assert types.count(ORDER_CANCELLED) == run.cancelled


async def test_publishing_and_re_delivering_a_file_records_each_event_once(bus: SqliteBus) -> None:
    xml = journal(sale(2), sale(3), sale(4))

    first = await publish_intake(bus, poslog_intake(xml).events)
    again = await publish_intake(bus, poslog_intake(xml).events)

    assert first == again
    logged = await bus.tail(after=0, limit=100)
    assert len(logged) == 3
    assert {e.event.subject for e in logged} == {
        "POS-AMS01-20261127-1-2",
        "POS-AMS01-20261127-1-3",
        "POS-AMS01-20261127-1-4",
    }


async def test_a_file_with_a_bad_basket_publishes_the_good_ones_and_names_the_bad(
    bus: SqliteBus,
) -> None:
    intake = poslog_intake(journal(sale(2), sale_without_price(3), sale(4)))

    await publish_intake(bus, intake.events)

    assert len(await bus.tail(after=0, limit=100)) == 2
    assert not intake.rejected
    (failure,) = intake.failures
    assert failure.sequence == "3"
    assert failure.field == "LineItem[1]/Sale/RegularSalesUnitPrice"


def test_a_file_where_every_basket_fails_is_rejected() -> None:
    intake = poslog_intake(journal(sale_without_price(3), sale_without_price(4)))

    assert intake.rejected
    assert [f.sequence for f in intake.failures] == ["3", "4"]


def test_a_file_that_is_not_poslog_raises() -> None:
    with pytest.raises(PoslogSyntaxError):
        poslog_intake(b"<POSLog><Transaction>")


def test_a_cancelled_return_is_counted_not_published(estate: Estate) -> None:
    tills = TillSimulator(estate, seed=5)
    returned = next(
        d for _ in range(10) for d in tills.run("EIN05", 30, DAY).documents if isinstance(d, Return)
    )
    abandoned = returned.model_copy(update={"status": ReturnStatus.CANCELLED})

    intake = poslog_intake(canonical_to_poslog([abandoned]))

    assert intake.events == ()
    assert intake.cancelled_returns == 1
    assert not intake.rejected
