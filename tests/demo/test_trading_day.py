"""A short trading day through the whole hub: every order taken is posted to every system
despite the loyalty and ERP outages, and the state stays behind for inspection."""

from __future__ import annotations

from pathlib import Path

from retailhub.demo.run import play_day, summary_table


async def test_a_short_day_posts_every_order_through_both_outages(tmp_path: Path) -> None:
    views: list[object] = []
    summary = await play_day(
        tmp_path / "day", minutes=0.5, orders_per_minute=120, show=views.append
    )
    assert summary.caught_up
    assert summary.orders > 20
    assert summary.store_orders + summary.web_orders == summary.orders
    assert summary.figures.fully_posted == summary.orders
    assert summary.figures.points_issued > 0
    assert summary.figures.dead == 0
    assert [line.split(" ", 1)[1] for line in summary.incidents] == [
        "loyalty platform down",
        "loyalty platform back",
        "ERP down",
        "ERP back",
    ]
    assert views, "the live view was never shown"
    assert (tmp_path / "day" / "hub" / "retailhub.sqlite").exists()
    assert summary_table(summary).row_count >= 6
