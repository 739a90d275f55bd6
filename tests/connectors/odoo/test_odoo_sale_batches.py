"""Contract: sales posted at the same time are written to the Odoo emulator together — one call
per step for the whole batch — each still once per key, each caller answered with its own
posting or its own failure, and a batch Odoo refuses posted one sale at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from odoo_documents import sale

from retailhub.canonical.order import Order, OrderStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import SystemFailure
from retailhub.connectors.odoo.connector import OdooConnector
from retailhub.connectors.ports import Posting
from retailhub.sandbox.odoo import OdooEmulator

SKUS = ("SKU-10000", "SKU-10003", "SKU-10004", "SKU-10010")


def sales(prefix: str, count: int, *, status: OrderStatus = OrderStatus.COMPLETED) -> list[Order]:
    """`count` sales of known items by two known customers and walk-ins, in two stores."""
    return [
        sale(
            f"{prefix}-{n}",
            [(SKUS[n % len(SKUS)], str(n % 3 + 1), "2.19")],
            location=("AMS01", "RTM02", "WEB")[n % 3],
            customer_id=(None, "CUST-00001", "CUST-00002")[n % 3],
            shipping="4.95" if n % 3 == 2 else None,
            status=status,
        )
        for n in range(count)
    ]


async def post_together(
    odoo: OdooConnector, orders: Sequence[Order]
) -> list[Posting | BaseException]:
    """Post every order at once, as the order-to-cash handlers do; each caller's answer."""
    return await asyncio.gather(
        *(odoo.post_sale_order(order, f"order:{order.order_id}") for order in orders),
        return_exceptions=True,
    )


async def orders_under(odoo: OdooConnector, keys: Sequence[str]) -> dict[str, list[str]]:
    """The states of the sale orders written under each key."""
    found: dict[str, list[str]] = {key: [] for key in keys}
    for record in await odoo.client.search_read(
        "sale.order", [("client_order_ref", "in", list(keys))], ["client_order_ref", "state"]
    ):
        found[record["client_order_ref"]].append(record["state"])
    return found


@pytest.fixture
async def warm(odoo: OdooConnector) -> OdooConnector:
    """A connector that has met the stores, items and customers `sales` uses."""
    for order in sales("WARM", 6):
        await odoo.post_sale_order(order, f"order:{order.order_id}")
    return odoo


async def test_concurrent_sales_are_written_together_in_four_calls(
    warm: OdooConnector, emulator: OdooEmulator
) -> None:
    orders = sales("B", 8)
    before = emulator.faults.requests_served

    postings = await post_together(warm, orders)

    assert emulator.faults.requests_served - before == 4
    keys = [f"order:{order.order_id}" for order in orders]
    assert all(isinstance(posting, Posting) for posting in postings)
    assert [p.key for p in postings if isinstance(p, Posting)] == keys
    assert [p.status for p in postings if isinstance(p, Posting)] == ["sale"] * 8
    assert [p.amount for p in postings if isinstance(p, Posting)] == [
        order.totals.grand_total for order in orders
    ]
    assert [p.location for p in postings if isinstance(p, Posting)] == [
        order.location for order in orders
    ]
    assert len({p.external_id for p in postings if isinstance(p, Posting)}) == 8
    assert await orders_under(warm, keys) == {key: ["sale"] for key in keys}


async def test_a_cold_batch_looks_up_items_and_customers_once_for_all_its_sales(
    odoo: OdooConnector, emulator: OdooEmulator
) -> None:
    orders = [
        *sales("C", 6),
        sale("C-NEW-1", [("SKU-10000", "1", "2.19")], customer_id="CUST-NEW"),
        sale("C-NEW-2", [("SKU-10004", "1", "8.29")], customer_id="CUST-NEW"),
    ]

    postings = await post_together(odoo, orders)

    # by key, warehouses, variants, partners found, partners created, create, confirm, read
    assert emulator.faults.requests_served == 8
    assert all(isinstance(p, Posting) and p.status == "sale" for p in postings)
    partners = await odoo.client.search_read("res.partner", [("ref", "=", "CUST-NEW")], ["id"])
    assert len(partners) == 1


async def test_replaying_a_batch_writes_nothing_new_and_answers_the_first_postings(
    warm: OdooConnector, emulator: OdooEmulator
) -> None:
    orders = sales("R", 8)
    first = await post_together(warm, orders)
    before = emulator.faults.requests_served

    again = await post_together(warm, orders)

    assert again == first
    assert emulator.faults.requests_served - before == 1
    keys = [f"order:{order.order_id}" for order in orders]
    assert await orders_under(warm, keys) == {key: ["sale"] for key in keys}


async def test_quotations_left_unconfirmed_are_confirmed_together_by_the_retry(
    warm: OdooConnector, emulator: OdooEmulator
) -> None:
    pending = sales("Q", 5, status=OrderStatus.PENDING)
    quotations = await post_together(warm, pending)
    completed = [order.model_copy(update={"status": OrderStatus.COMPLETED}) for order in pending]
    before = emulator.faults.requests_served

    confirmed = await post_together(warm, completed)

    assert [p.status for p in quotations if isinstance(p, Posting)] == ["draft"] * 5
    assert [p.status for p in confirmed if isinstance(p, Posting)] == ["sale"] * 5
    assert [p.external_id for p in confirmed if isinstance(p, Posting)] == [
        p.external_id for p in quotations if isinstance(p, Posting)
    ]
    assert emulator.faults.requests_served - before == 3


async def test_a_sale_that_cannot_be_mapped_fails_alone_before_anything_is_written(
    warm: OdooConnector,
) -> None:
    orders = sales("M", 4)
    orders[1] = sale("M-UNKNOWN", [("SKU-10000", "1", "2.19"), ("SKU-99999", "1", "1.00")])
    orders[2] = sale("M-NOWHERE", [("SKU-10000", "1", "2.19")], location="NOWHERE")

    answers = await post_together(warm, orders)

    assert isinstance(answers[1], MappingError)
    assert answers[1].path == "$.lines[1]"
    assert isinstance(answers[2], MappingError)
    assert answers[2].path == "$.location"
    assert [isinstance(answers[n], Posting) for n in (0, 3)] == [True, True]
    keys = [f"order:{order.order_id}" for order in orders]
    assert await orders_under(warm, keys) == {
        keys[0]: ["sale"],
        keys[1]: [],
        keys[2]: [],
        keys[3]: ["sale"],
    }


async def test_a_key_twice_in_one_batch_is_written_once(warm: OdooConnector) -> None:
    order = sales("D", 1)[0]
    others = sales("E", 3)

    answers = await post_together(warm, [order, *others, order])

    assert answers[0] == answers[-1]
    assert await orders_under(warm, [f"order:{order.order_id}"]) == {
        f"order:{order.order_id}": ["sale"]
    }


async def test_a_batch_odoo_refuses_is_posted_one_by_one_so_the_bad_sale_fails_alone(
    warm: OdooConnector, emulator: OdooEmulator
) -> None:
    # The connector has cached SKU-10003's variant; Odoo then loses it, so the batch's create
    # names a variant that no longer exists and Odoo refuses the whole create.
    with emulator.db:
        emulator.db.execute("DELETE FROM product_product WHERE default_code = 'SKU-10003'")
    orders = [
        sale("F-1", [("SKU-10000", "1", "2.19")]),
        sale("F-2", [("SKU-10003", "1", "8.99")]),
        sale("F-3", [("SKU-10004", "2", "8.29")], customer_id="CUST-00001"),
        sale("F-4", [("SKU-10010", "1", "4.99")], location="WEB"),
    ]

    answers = await post_together(warm, orders)

    assert isinstance(answers[1], MappingError)
    assert "SKU-10003" in str(answers[1])
    assert [a.status for a in answers if isinstance(a, Posting)] == ["sale"] * 3
    keys = [f"order:{order.order_id}" for order in orders]
    assert await orders_under(warm, keys) == {
        keys[0]: ["sale"],
        keys[1]: [],
        keys[2]: ["sale"],
        keys[3]: ["sale"],
    }


async def test_a_confirmation_odoo_refuses_is_finished_one_by_one_without_writing_twice(
    warm: OdooConnector, emulator: OdooEmulator
) -> None:
    # Odoo fails the batch's confirmation because of one order (an error inside Odoo: 500):
    # the quotations are written, and each is then confirmed on its own.
    with emulator.db:
        emulator.db.execute(
            "CREATE TRIGGER refuse_g2 BEFORE UPDATE OF state ON sale_order"
            " WHEN NEW.state = 'sale' AND NEW.client_order_ref = 'order:G-2'"
            " BEGIN SELECT RAISE(ABORT, 'constraint failed'); END"
        )
    orders = sales("G", 4)
    keys = [f"order:{order.order_id}" for order in orders]

    answers = await post_together(warm, orders)
    stuck = await orders_under(warm, keys)
    with emulator.db:
        emulator.db.execute("DROP TRIGGER refuse_g2")
    retried = await warm.post_sale_order(orders[2], keys[2])

    assert isinstance(answers[2], SystemFailure)
    assert [a.status for a in answers if isinstance(a, Posting)] == ["sale"] * 3
    assert stuck == {keys[0]: ["sale"], keys[1]: ["sale"], keys[2]: ["draft"], keys[3]: ["sale"]}
    assert retried.status == "sale"
    assert await orders_under(warm, keys) == {key: ["sale"] for key in keys}
