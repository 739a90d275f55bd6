"""RoutedErp over in-memory ERPs: the shadow never holds up or changes the primary, a full or
closed shadow queue records what it skipped, lookups by key never mistake a shadow copy for
the document, and reads merge the ERPs as documented."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retailhub.flows.erp_routing import (
    InMemoryShadowRecorder,
    RoutedErp,
    ShadowOutcome,
    ShadowQueue,
    ShadowRecord,
    load_plan,
)

from .fakes import DAY, ErpDown, FakeErp
from .helpers import cash_sale, store_return

BELGIAN = [({"location": ["BRU*"]}, "be")]
DRAIN_S = 5.0


class Estate:
    """Three fake ERPs: the Dutch one the default, Brussels routed to the Belgian one, and a
    cloud ERP that is only ever a shadow."""

    def __init__(
        self, shadow: str | None, *, capacity: int = 10, timeout_s: float = 5.0, lanes: int = 2
    ) -> None:
        self.nl = FakeErp("nl", ["A", "B"])
        self.be = FakeErp("be", ["B", "C"], surcharge=Decimal("0.50"))
        self.cloud = FakeErp("cloud", ["A", "B", "C"])
        self.recorder = InMemoryShadowRecorder()
        plan = load_plan("nl", BELGIAN, shadow=shadow, systems=["nl", "be", "cloud"])
        queue = ShadowQueue(self.recorder, lanes=lanes, capacity=capacity, timeout_s=timeout_s)
        erps = {"nl": self.nl, "be": self.be, "cloud": self.cloud}
        self.erp = RoutedErp(erps, plan, shadow=queue)

    async def drained(self) -> None:
        assert await self.erp.shadow.drain(DRAIN_S)


async def test_the_primary_returns_before_its_shadow_copy_is_made() -> None:
    estate = Estate("cloud")
    estate.cloud.gate.clear()
    try:
        posting = await estate.erp.post_sale_order(cash_sale("S-1", "AMS01"), "S-1")
        assert posting.system == "nl"
        assert estate.recorder.records == []
        assert estate.cloud.posted == {}
        estate.cloud.gate.set()
        await estate.drained()
        assert [r.outcome for r in estate.recorder.records] == [ShadowOutcome.MATCHED]
        assert "S-1" in estate.cloud.posted
    finally:
        await estate.erp.close()


async def test_a_shadow_that_does_not_answer_in_time_is_recorded_as_failed() -> None:
    estate = Estate("cloud", timeout_s=0.05)
    estate.cloud.gate.clear()
    try:
        await estate.erp.post_sale_order(cash_sale("S-2", "AMS01"), "S-2")
        await estate.drained()
    finally:
        await estate.erp.close()
    [finding] = estate.recorder.records
    assert finding.outcome is ShadowOutcome.FAILED
    assert finding.error == "no answer within 0.05 s"


async def test_a_full_shadow_queue_skips_copies_and_says_so() -> None:
    estate = Estate("cloud", capacity=1, lanes=1)
    estate.cloud.gate.clear()
    try:
        for n in range(4):
            await estate.erp.post_sale_order(cash_sale(f"S-3{n}", "AMS01"), f"S-3{n}")
        estate.cloud.gate.set()
        await estate.drained()
    finally:
        await estate.erp.close()
    outcomes = [r.outcome for r in estate.recorder.records]
    assert len(outcomes) == 4
    assert ShadowOutcome.SKIPPED in outcomes
    assert outcomes.count(ShadowOutcome.MATCHED) <= 2
    skipped = estate.recorder.with_outcome(ShadowOutcome.SKIPPED)[0]
    assert skipped.error == "shadow queue full (1 waiting)"
    assert len(estate.nl.posted) == 4


async def test_a_closed_shadow_skips_and_a_broken_recorder_stops_nothing() -> None:
    class Flaky(InMemoryShadowRecorder):
        def __init__(self) -> None:
            super().__init__()
            self.failures = 1

        async def record(self, entry: ShadowRecord) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            await super().record(entry)

    recorder = Flaky()
    nl, cloud = FakeErp("nl"), FakeErp("cloud")
    plan = load_plan("nl", [], shadow="cloud")
    erp = RoutedErp({"nl": nl, "cloud": cloud}, plan, shadow=ShadowQueue(recorder, lanes=1))
    await erp.post_sale_order(cash_sale("S-4", "AMS01"), "S-4")
    await erp.post_sale_order(cash_sale("S-5", "AMS01"), "S-5")
    await erp.close()
    await erp.post_sale_order(cash_sale("S-6", "AMS01"), "S-6")
    assert [(r.key, r.outcome) for r in recorder.records] == [
        ("S-5", ShadowOutcome.MATCHED),
        ("S-6", ShadowOutcome.SKIPPED),
    ]
    assert set(cloud.posted) == {"S-4", "S-5"}


async def test_a_shadow_failure_is_a_finding_and_the_shadow_gets_the_same_key() -> None:
    estate = Estate("cloud")
    estate.cloud.down = True
    try:
        sale = cash_sale("S-7", "BRU01")
        posting = await estate.erp.post_sale_order(sale, "S-7")
        await estate.drained()
        estate.cloud.down = False
        await estate.erp.post_sale_order(sale, "S-7")
        await estate.drained()
    finally:
        await estate.erp.close()
    assert posting.system == "be"
    assert [(r.outcome, r.error) for r in estate.recorder.records] == [
        (ShadowOutcome.FAILED, "ErpDown: cloud is down"),
        (ShadowOutcome.DIFFERED, None),
    ]
    [difference] = estate.recorder.records[1].differences
    assert (difference.field, difference.primary, difference.shadow) == (
        "amount",
        "3.00 EUR",
        "2.50 EUR",
    )
    assert estate.cloud.posted["S-7"].key == "S-7"


async def test_lookups_never_take_a_shadow_copy_for_the_document() -> None:
    estate = Estate("be")
    try:
        await estate.erp.post_sale_order(cash_sale("S-NL", "AMS01"), "S-NL")
        await estate.erp.post_sale_order(cash_sale("S-BE", "BRU01"), "S-BE")
        await estate.drained()
        assert set(estate.be.posted) == {"S-NL", "S-BE"}
        found = await estate.erp.find_posting("S-NL")
        assert found is not None
        assert found.system == "nl"

        estate.nl.down = True
        with pytest.raises(ErpDown):
            await estate.erp.find_posting("S-NL")
        with pytest.raises(ErpDown):
            await estate.erp.void_credit_note("S-NL")
        belgian = await estate.erp.find_posting("S-BE")
        assert belgian is not None
        assert belgian.system == "be"

        estate.nl.down = False
        del estate.nl.posted["S-NL"]
        assert await estate.erp.find_posting("S-NL") is None
    finally:
        await estate.erp.close()


async def test_a_credit_note_is_voided_where_it_was_issued() -> None:
    estate = Estate("cloud")
    sale = cash_sale("S-8", "BRU01")
    try:
        await estate.erp.post_credit_note(store_return("R-8", sale, "BRU01"), "R-8")
        await estate.erp.void_credit_note("R-8")
        await estate.erp.void_credit_note("R-NONE")
        await estate.drained()
    finally:
        await estate.erp.close()
    assert estate.be.posted["R-8"].status == "cancel"
    assert estate.cloud.posted["R-8"].status == "cancel"
    assert "R-8" not in estate.nl.posted
    assert [r.operation.value for r in estate.recorder.for_key("R-8")] == [
        "post_credit_note",
        "void_credit_note",
    ]


async def test_a_sale_order_is_cancelled_where_it_was_posted_and_in_its_shadow() -> None:
    estate = Estate("cloud")
    try:
        await estate.erp.post_sale_order(cash_sale("S-11", "BRU01"), "S-11")
        await estate.erp.post_credit_note(
            store_return("R-11", cash_sale("S-11", "BRU01"), "BRU01"), "R-11"
        )
        cancelled = await estate.erp.cancel_sale_order("S-11")
        again = await estate.erp.cancel_sale_order("S-11")
        assert await estate.erp.cancel_sale_order("S-NONE") is None
        assert await estate.erp.cancel_sale_order("R-11") is None
        await estate.drained()
    finally:
        await estate.erp.close()
    assert cancelled is not None
    assert (cancelled.system, cancelled.status) == ("be", "cancel")
    assert again == cancelled, "a repeat changes nothing and answers the same posting"
    assert estate.be.posted["S-11"].status == "cancel"
    assert estate.cloud.posted["S-11"].status == "cancel"
    assert estate.be.posted["R-11"].status == "posted"
    assert "S-11" not in estate.nl.posted
    assert [r.operation.value for r in estate.recorder.for_key("S-11")] == [
        "post_sale_order",
        "cancel_sale_order",
        "cancel_sale_order",
    ]
    differing = {tuple(d.field for d in r.differences) for r in estate.recorder.for_key("S-11")}
    assert differing == {("amount",)}, "the Belgian surcharge only: both agree it is cancelled"


async def test_the_routed_breaker_is_the_worst_of_the_routed_erps_not_the_shadow() -> None:
    estate = Estate("cloud")
    try:
        assert estate.erp.circuit_state() == "closed"
        estate.cloud.breaker = "open"
        assert estate.erp.circuit_state() == "closed"
        estate.be.breaker = "half_open"
        assert estate.erp.circuit_state() == "half_open"
        estate.nl.breaker = "open"
        assert estate.erp.circuit_state() == "open"
    finally:
        await estate.erp.close()


async def test_postings_and_stock_come_from_the_erp_that_owns_the_location() -> None:
    estate = Estate("be")
    try:
        nl_sale = await estate.erp.post_sale_order(cash_sale("S-9", "AMS01"), "S-9")
        be_sale = await estate.erp.post_sale_order(cash_sale("S-10", "BRU01"), "S-10")
        await estate.erp.adjust_stock("A", "BRU01", Decimal(4), "K-1")
        estate.nl.stock["A", "BRU01"] = Decimal(99)
        await estate.erp.adjust_stock("A", "AMS01", Decimal(2), "K-2")
        await estate.erp.adjust_stock("A", "AMS01", Decimal(2), "K-2")
        await estate.drained()
        assert sorted(p.key for p in await estate.erp.postings(DAY)) == ["S-10", "S-9"]
        assert await estate.erp.postings(DAY, "AMS01") == [nl_sale]
        assert await estate.erp.postings(DAY, "BRU01") == [be_sale]
        levels = {(lv.location, lv.on_hand, lv.source) for lv in await estate.erp.stock_levels()}
        assert levels == {("BRU01", Decimal(4), "be"), ("AMS01", Decimal(2), "nl")}
        brussels = await estate.erp.stock_levels("BRU01")
        assert [(lv.on_hand, lv.source) for lv in brussels] == [(Decimal(4), "be")]
    finally:
        await estate.erp.close()


async def test_item_master_prices_and_controls_merge_in_precedence_order() -> None:
    estate = Estate(None)
    products = [(p.sku, p.title) async for p in estate.erp.products()]
    assert products == [("A", "A from nl"), ("B", "B from nl"), ("C", "C from be")]
    prices = {p.sku: str(p.list_price) for p in await estate.erp.prices()}
    assert prices == {"A": "1 EUR", "B": "1 EUR", "C": "1.50 EUR"}
    controls = await estate.erp.pricing_controls(["C", "A", "C", "Z"])
    assert [c.sku for c in controls] == ["A", "C"]
    await estate.erp.close()


async def test_an_item_changed_only_in_a_later_erp_is_read_as_the_earlier_one_holds_it() -> None:
    estate = Estate(None)
    since = datetime(2026, 6, 1, tzinfo=UTC)
    estate.be.product_written.update({"B": since, "C": since})
    changed = {p.sku: p.title async for p in estate.erp.products(changed_since=since)}
    assert changed == {"B": "B from nl", "C": "C from be"}
    estate.nl.product_written["A"] = since
    changed = {p.sku: p.title async for p in estate.erp.products(changed_since=since)}
    assert changed == {"A": "A from nl", "B": "B from nl", "C": "C from be"}
    nothing_since = datetime(2026, 7, 1, tzinfo=UTC)
    assert [p async for p in estate.erp.products(changed_since=nothing_since)] == []
    await estate.erp.close()


def test_a_plan_naming_an_erp_that_was_not_built_is_refused() -> None:
    plan = load_plan("nl", BELGIAN, shadow="cloud")
    with pytest.raises(ValueError, match="routing names ERPs that are not built: be, cloud"):
        RoutedErp({"nl": FakeErp("nl")}, plan)
