"""RoutedErp against two Odoo emulators over HTTP: Belgian stores post to the Belgian ERP and
everything else to the Dutch one, repeats stay on one ERP, and shadow mode copies to a second
ERP without touching the primary's outcome, recording failures and differences."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retailhub.flows.erp_routing import RoutedErp, ShadowOperation, ShadowOutcome
from retailhub.flows.erp_routing.shadow import FieldDifference

from .conftest import connect
from .helpers import DRAIN_S, TRADING_DAY, Erps, recorded, store_return, store_sale


async def drained(erp: RoutedErp) -> None:
    assert await erp.shadow.drain(DRAIN_S), "shadow copies still queued"


async def test_a_sale_at_a_belgian_store_goes_to_the_belgian_erp(erps: Erps) -> None:
    erp = erps.routed()
    nl, be = erps.connectors["odoo_nl"], erps.connectors["odoo_be"]
    try:
        brussels = await erp.post_sale_order(store_sale(erps.estate, "S-BRU-1", "BRU01"), "S-BRU-1")
        amsterdam = await erp.post_sale_order(
            store_sale(erps.estate, "S-AMS-1", "AMS01"), "S-AMS-1"
        )

        assert (brussels.system, brussels.location) == ("odoo_be", "BRU01")
        assert (amsterdam.system, amsterdam.location) == ("odoo_nl", "AMS01")
        assert await be.find_posting("S-BRU-1") is not None
        assert await nl.find_posting("S-BRU-1") is None
        assert await be.find_posting("S-AMS-1") is None
        assert await erp.find_posting("S-BRU-1") == brussels
        assert await erp.find_posting("S-NOWHERE") is None
        assert recorded(erp).records == []
    finally:
        await erp.close()


async def test_a_repeat_is_idempotent_on_the_chosen_erp(erps: Erps) -> None:
    erp = erps.routed()
    order = store_sale(erps.estate, "S-BRU-2", "BRU01", quantity=2)
    try:
        first = await erp.post_sale_order(order, order.order_id)
        again = await erp.post_sale_order(order, order.order_id)
        assert again == first
        day = TRADING_DAY.date()
        in_belgium = [p for p in await erp.postings(day, "BRU01") if p.key == order.order_id]
        assert in_belgium == [first]
        everywhere = [p for p in await erp.postings(day) if p.key == order.order_id]
        assert everywhere == [first]
        assert await erp.postings(day, "AMS01") == []
    finally:
        await erp.close()


async def test_credit_notes_and_stock_follow_the_store(erps: Erps) -> None:
    erp = erps.routed()
    sale = store_sale(erps.estate, "S-ANT-1", "ANT02")
    sku = sale.lines[0].sku
    assert sku is not None
    try:
        await erp.post_sale_order(sale, sale.order_id)
        note = await erp.post_credit_note(store_return("R-ANT-1", sale, "ANT02"), "R-ANT-1")
        assert (note.system, note.status) == ("odoo_be", "posted")
        await erp.void_credit_note("R-ANT-1")
        voided = await erps.connectors["odoo_be"].find_posting("R-ANT-1")
        assert voided is not None
        assert voided.status == "cancel"
        await erp.void_credit_note("R-NEVER-ISSUED")

        await erp.adjust_stock(sku, "ANT02", Decimal(5), "restock:R-ANT-1")
        await erp.adjust_stock(sku, "ANT02", Decimal(5), "restock:R-ANT-1")
        antwerp = [level for level in await erp.stock_levels("ANT02") if level.sku == sku]
        assert [(level.on_hand, level.source) for level in antwerp] == [(Decimal(5), "odoo_be")]
        everywhere = await erp.stock_levels()
        assert {level.source for level in everywhere if level.location == "ANT02"} == {"odoo_be"}
        assert {level.source for level in everywhere if level.location == "AMS01"} == {"odoo_nl"}
    finally:
        await erp.close()


async def test_reads_merge_the_erps_in_precedence_order(erps: Erps) -> None:
    erp = erps.routed()
    skus = [product.sku for product in erps.estate.products[:3]]
    try:
        products = [product async for product in erp.products()]
        assert len({p.sku for p in products}) == len(products) == len(erps.estate.products)
        prices = await erp.prices(skus)
        assert len(prices) == len(await erps.connectors["odoo_nl"].prices(skus))
        controls = await erp.pricing_controls([*skus, skus[0], "NO-SUCH-SKU"])
        assert [control.sku for control in controls] == skus
    finally:
        await erp.close()


async def test_shadow_mode_posts_to_both_erps_and_records_a_match(erps: Erps) -> None:
    erp = erps.routed(shadow="odoo_be")
    order = store_sale(erps.estate, "S-AMS-2", "AMS01")
    try:
        primary = await erp.post_sale_order(order, order.order_id)
        await drained(erp)
        copy = await erps.connectors["odoo_be"].find_posting(order.order_id)
        assert copy is not None
        assert copy.amount == primary.amount
        [finding] = recorded(erp).for_key(order.order_id)
        assert (finding.operation, finding.outcome) == (
            ShadowOperation.POST_SALE_ORDER,
            ShadowOutcome.MATCHED,
        )
        assert (finding.primary_system, finding.shadow_system) == ("odoo_nl", "odoo_be")
        assert await erp.find_posting(order.order_id) == primary
        day = TRADING_DAY.date()
        assert [p for p in await erp.postings(day) if p.key == order.order_id] == [primary]

        belgian = store_sale(erps.estate, "S-BRU-3", "BRU01")
        await erp.post_sale_order(belgian, belgian.order_id)
        await drained(erp)
        assert recorded(erp).for_key(belgian.order_id) == [], "the shadow is its primary"
    finally:
        await erp.close()


async def test_a_primary_success_stands_when_the_shadow_is_down(erps: Erps) -> None:
    erp = erps.routed(shadow="odoo_be")
    order = store_sale(erps.estate, "S-AMS-3", "AMS01")
    await erps.set_down("odoo_be", True)
    try:
        posting = await erp.post_sale_order(order, order.order_id)
        await drained(erp)
        assert (posting.system, posting.status) == ("odoo_nl", "sale")
        [finding] = recorded(erp).for_key(order.order_id)
        assert finding.outcome is ShadowOutcome.FAILED
        assert finding.error
    finally:
        await erps.set_down("odoo_be", False)
        await erp.close()
    assert await erps.connectors["odoo_be"].find_posting(order.order_id) is None


async def test_differences_are_recorded_when_the_shadow_disagrees(erps: Erps) -> None:
    erp = erps.routed(shadow="odoo_be")
    migrated = store_sale(erps.estate, "S-AMS-4", "AMS01", quantity=3)
    await erps.connectors["odoo_be"].post_sale_order(migrated, migrated.order_id)
    order = store_sale(erps.estate, "S-AMS-4", "AMS01", quantity=1)
    try:
        primary = await erp.post_sale_order(order, order.order_id)
        await drained(erp)
    finally:
        await erp.close()
    [finding] = recorded(erp).for_key(order.order_id)
    assert finding.outcome is ShadowOutcome.DIFFERED
    price = erps.unit_price()
    assert finding.differences == (
        FieldDifference("amount", str(primary.amount), str((price * 3).rounded())),
    )


async def test_a_shadow_set_up_in_another_time_zone_differs_on_the_business_day(
    erps: Erps,
) -> None:
    erp = erps.routed(shadow="odoo_be")
    erp.erps["odoo_be"] = london = connect(
        "odoo_be", erps.emulators["odoo_be"], timezone="Europe/London"
    )
    late = datetime(TRADING_DAY.year, 3, 14, 23, 30, tzinfo=UTC)
    order = store_sale(erps.estate, "S-AMS-5", "AMS01", placed_at=late)
    try:
        primary = await erp.post_sale_order(order, order.order_id)
        await drained(erp)
    finally:
        await erp.close()
        await london.close()
    [finding] = recorded(erp).for_key(order.order_id)
    assert primary.business_day is not None
    assert finding.differences == (
        FieldDifference("business_day", primary.business_day.isoformat(), "2026-03-14"),
    )
    assert primary.business_day.isoformat() == "2026-03-15"


@pytest.mark.parametrize("operation", ["void", "adjust"])
async def test_voids_and_stock_moves_are_copied_to_the_shadow(erps: Erps, operation: str) -> None:
    erp = erps.routed(shadow="odoo_be")
    sale = store_sale(erps.estate, f"S-AMS-6{operation}", "AMS01")
    sku = sale.lines[0].sku
    assert sku is not None
    key = f"R-AMS-6{operation}"
    try:
        await erp.post_sale_order(sale, sale.order_id)
        if operation == "void":
            await erp.post_credit_note(store_return(key, sale, "AMS01"), key)
            await erp.void_credit_note(key)
        else:
            await erp.adjust_stock(sku, "AMS01", Decimal(-1), key)
        await drained(erp)
    finally:
        await erp.close()
    outcomes = [(r.operation, r.outcome) for r in recorded(erp).for_key(key)]
    if operation == "void":
        assert outcomes == [
            (ShadowOperation.POST_CREDIT_NOTE, ShadowOutcome.MATCHED),
            (ShadowOperation.VOID_CREDIT_NOTE, ShadowOutcome.MATCHED),
        ]
        note = await erps.connectors["odoo_be"].find_posting(key)
        assert note is not None
        assert note.status == "cancel"
    else:
        assert outcomes == [(ShadowOperation.ADJUST_STOCK, ShadowOutcome.MATCHED)]
