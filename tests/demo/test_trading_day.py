"""A short trading day through the whole hub: every order taken is posted to every system
despite the loyalty and ERP outages, returns are refunded, the campaign is published
faithfully, reconciliation finds nothing, and the state stays behind for inspection."""

from __future__ import annotations

from pathlib import Path

from retailhub.demo.run import play_day, summary_table


async def test_a_short_day_trades_through_both_outages_and_reconciles_clean(
    tmp_path: Path,
) -> None:
    views: list[object] = []
    summary = await play_day(
        tmp_path / "day", minutes=0.75, orders_per_minute=120, show=views.append
    )
    tally = summary.tally
    assert summary.caught_up
    assert tally.orders > 40
    assert tally.by_channel["store"] > 0
    assert tally.by_channel["web"] > 0
    assert summary.orders.fully_posted == tally.orders
    assert summary.orders.points_issued > 0
    assert summary.orders.dead == 0
    assert tally.returns
    assert summary.returns.count("refunded") == len(tally.returns)
    assert summary.returns.points_reversed > 0
    assert summary.promotions_live == 1
    assert summary.promotion_accuracy == 100
    assert summary.discrepancies == ()
    assert [line.split(" ", 1)[1] for line in tally.incidents] == [
        "campaign authored in the CRM",
        "loyalty platform down",
        "loyalty platform back",
        "ERP down",
        "ERP back",
    ]
    assert views, "the live view was never shown"
    assert (tmp_path / "day" / "hub" / "retailhub.sqlite").exists()
    assert summary_table(summary).row_count >= 10
