"""The emulator takes many records per call as Odoo does over JSON-2: `create` with a list of
value dicts (`@api.model_create_multi`) answering their ids in order, `read` and record actions
over several ids, `in` domains — each call one transaction, all of it or none."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from retailhub.sandbox.faults import CONTROL_PREFIX
from retailhub.sandbox.odoo import SANDBOX_API_KEY, OdooEmulator

FIELDS = ["client_order_ref", "state", "amount_total"]


async def _call(emulator: OdooEmulator, model: str, method: str, **body: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.url}/json/2/{model}/{method}",
            json=body,
            headers={"Authorization": f"bearer {SANDBOX_API_KEY}"},
        ) as response,
    ):
        return response.status, await response.json()


async def _ok(emulator: OdooEmulator, model: str, method: str, **body: Any) -> Any:
    status, answer = await _call(emulator, model, method, **body)
    assert status == 200, answer
    return answer


async def _variant(emulator: OdooEmulator, sku: str) -> int:
    [found] = await _ok(
        emulator,
        "product.product",
        "search_read",
        domain=[["default_code", "=", sku]],
        fields=["id"],
    )
    return int(found["id"])


async def _quotation(emulator: OdooEmulator, ref: str, product_id: int, quantity: int) -> Any:
    partner = await _ok(emulator, "res.partner", "create", vals_list=[{"name": ref, "ref": ref}])
    line = {"product_id": product_id, "product_uom_qty": quantity, "price_unit": 2.5}
    return {"partner_id": partner[0], "client_order_ref": ref, "order_line": [[0, 0, line]]}


@pytest.fixture
async def variant(emulator: OdooEmulator) -> int:
    """The variant every test sells (stocked at the first store)."""
    return await _variant(emulator, "SKU-10000")


async def test_create_takes_a_list_and_answers_the_ids_in_order(
    emulator: OdooEmulator, variant: int
) -> None:
    refs = ["batch:1", "batch:2", "batch:3"]
    values = [await _quotation(emulator, ref, variant, n + 1) for n, ref in enumerate(refs)]

    ids = await _ok(emulator, "sale.order", "create", vals_list=values)
    read = await _ok(emulator, "sale.order", "read", ids=list(reversed(ids)), fields=FIELDS)
    found = await _ok(
        emulator,
        "sale.order",
        "search_read",
        domain=[["client_order_ref", "in", refs]],
        fields=FIELDS,
        order="id",
    )

    assert len(ids) == len(set(ids)) == 3
    assert [r["client_order_ref"] for r in read] == list(reversed(refs))
    assert [r["id"] for r in read] == list(reversed(ids))
    assert [(r["id"], r["client_order_ref"]) for r in found] == list(zip(ids, refs, strict=True))
    assert [r["amount_total"] for r in found] == [2.5, 5.0, 7.5]
    assert {r["state"] for r in found} == {"draft"}


async def test_a_create_with_one_refused_record_writes_none(
    emulator: OdooEmulator, variant: int
) -> None:
    good = await _quotation(emulator, "batch:good", variant, 1)
    bad = await _quotation(emulator, "batch:bad", variant + 1_000_000, 1)

    status, error = await _call(emulator, "sale.order", "create", vals_list=[good, bad])
    found = await _ok(
        emulator,
        "sale.order",
        "search_read",
        domain=[["client_order_ref", "in", ["batch:good", "batch:bad"]]],
        fields=["id"],
    )

    assert status == 422
    assert error["name"] == "odoo.exceptions.ValidationError"
    assert "does not exist" in error["message"]
    assert found == []


async def test_action_confirm_over_several_ids_confirms_and_delivers_each(
    emulator: OdooEmulator, variant: int
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{emulator.url}{CONTROL_PREFIX}delivery", json={"on_confirm": True}) as put,
    ):
        assert put.status == 200
    values = [await _quotation(emulator, f"deliver:{n}", variant, n) for n in (1, 2, 4)]
    ids = await _ok(emulator, "sale.order", "create", vals_list=values)

    await _ok(emulator, "sale.order", "action_confirm", ids=ids)
    orders = await _ok(emulator, "sale.order", "read", ids=ids, fields=["name", "state"])
    moves = await _ok(
        emulator,
        "stock.move",
        "search_read",
        domain=[["reference", "in", [o["name"] for o in orders]]],
        fields=["reference", "product_uom_qty", "state"],
    )

    assert [o["state"] for o in orders] == ["sale"] * 3
    delivered = {m["reference"]: m["product_uom_qty"] for m in moves if m["state"] == "done"}
    assert delivered == {o["name"]: float(n) for o, n in zip(orders, (1, 2, 4), strict=True)}


async def test_action_confirm_refusing_one_order_confirms_none(
    emulator: OdooEmulator, variant: int
) -> None:
    values = [await _quotation(emulator, f"confirm:{n}", variant, 1) for n in range(3)]
    ids = await _ok(emulator, "sale.order", "create", vals_list=values)
    await _ok(emulator, "sale.order", "action_cancel", ids=[ids[1]])

    status, error = await _call(emulator, "sale.order", "action_confirm", ids=ids)
    states = await _ok(emulator, "sale.order", "read", ids=ids, fields=["state"])

    assert status == 422
    assert error["name"] == "odoo.exceptions.UserError"
    assert [s["state"] for s in states] == ["draft", "cancel", "draft"]
