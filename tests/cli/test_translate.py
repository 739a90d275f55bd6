"""`retailhub translate` and `retailhub render` on the vendors' real payloads, as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "retailhub" / "samples"
SHOPIFY = SAMPLES / "shopify"
POSLOG = SAMPLES / "poslog"


def retailhub(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "retailhub.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    ("fmt", "file", "kinds"),
    [
        ("shopify-order", "order.json", ["order"]),
        ("shopify-refund", "refund.json", ["return"]),
        ("shopify-customer", "customer.json", ["customer"]),
        ("shopify-product", "product.json", ["product"] * 4),
    ],
)
def test_shopify_fixtures_translate_to_canonical(fmt: str, file: str, kinds: list[str]) -> None:
    result = retailhub("translate", fmt, str(SHOPIFY / file))
    assert result.returncode == 0, result.stderr.decode()
    documents = orjson.loads(result.stdout)
    assert [d["kind"] for d in documents] == kinds


def test_every_wrapping_of_a_shopify_resource_is_accepted() -> None:
    order = orjson.loads((SHOPIFY / "order.json").read_bytes())["order"]
    for payload in ({"order": order}, {"orders": [order, order]}, order, [order]):
        result = retailhub("translate", "shopify-order", "-", stdin=orjson.dumps(payload))
        assert result.returncode == 0, result.stderr.decode()
        assert {d["order_id"] for d in orjson.loads(result.stdout)} == {"SHOPIFY-ORDER-450789469"}


def test_a_faulty_shopify_resource_is_named_and_the_others_still_print() -> None:
    order = orjson.loads((SHOPIFY / "order.json").read_bytes())["order"]
    broken = {**order, "id": 1234, "line_items": [{**order["line_items"][0], "price": None}]}
    result = retailhub("translate", "shopify-order", "-", stdin=orjson.dumps([order, broken]))
    assert result.returncode == 1
    assert len(orjson.loads(result.stdout)) == 1
    assert re.search(rb"order 1234: \$\.line_items\[0\]\.price", result.stderr)


def test_inventory_levels_need_the_sku_of_their_inventory_item() -> None:
    level = str(SHOPIFY / "inventory_level.json")
    unknown = retailhub("translate", "shopify-inventory-level", level)
    assert unknown.returncode == 1
    assert b"no SKU is known for inventory item 808950810" in unknown.stderr
    known = retailhub("translate", "shopify-inventory-level", level, "--sku", "808950810=IPOD2008")
    assert known.returncode == 0
    [document] = orjson.loads(known.stdout)
    assert (document["kind"], document["sku"], document["available"]) == (
        "inventory",
        "IPOD2008",
        "6",
    )


def test_poslog_retail_transactions_become_orders_and_control_ones_are_counted() -> None:
    result = retailhub("translate", "poslog", str(POSLOG / "ncr-acs-51tx.xml"))
    assert result.returncode == 0, result.stderr.decode()
    documents = orjson.loads(result.stdout)
    assert len(documents) == 42
    assert {d["kind"] for d in documents} <= {"order", "return"}
    assert b"skipped 9 control transaction(s)" in result.stderr


def test_a_broken_poslog_transaction_is_named_while_the_others_map() -> None:
    xml = (POSLOG / "ncr-acs-51tx.xml").read_bytes()
    broken = xml.replace(
        b"<CurrencyCode>USD</CurrencyCode>", b"<CurrencyCode>XXX</CurrencyCode>", 1
    )
    assert broken != xml
    result = retailhub("translate", "poslog", "-", stdin=broken)
    assert result.returncode == 1
    assert b"failed: transaction " in result.stderr
    assert 0 < len(orjson.loads(result.stdout)) < 43


@pytest.mark.parametrize("fmt", ["poslog", "shopify-order"])
def test_unparseable_files_exit_two(fmt: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"<POSLog><Transaction>" if fmt == "poslog" else b'{"order": ')
    result = retailhub("translate", fmt, str(garbage))
    assert result.returncode == 2
    assert b"error:" in result.stderr


def test_a_missing_file_exits_two(tmp_path: Path) -> None:
    result = retailhub("translate", "poslog", str(tmp_path / "missing.xml"))
    assert result.returncode == 2
    assert b"cannot read" in result.stderr


def test_render_poslog_round_trips_through_translate() -> None:
    translated = retailhub("translate", "poslog", str(POSLOG / "ncr-acs-51tx.xml"))
    rendered = retailhub("render", "poslog", "-", stdin=translated.stdout)
    assert rendered.returncode == 0, rendered.stderr.decode()
    again = retailhub("translate", "poslog", "-", stdin=rendered.stdout)
    assert again.returncode == 0, again.stderr.decode()
    assert orjson.loads(again.stdout) == orjson.loads(translated.stdout)


def test_render_shopify_customer_round_trips() -> None:
    translated = retailhub("translate", "shopify-customer", str(SHOPIFY / "customer.json"))
    rendered = retailhub("render", "shopify-customer", "-", stdin=translated.stdout)
    assert rendered.returncode == 0, rendered.stderr.decode()
    again = retailhub("translate", "shopify-customer", "-", stdin=rendered.stdout)
    [before], [after] = orjson.loads(translated.stdout), orjson.loads(again.stdout)
    assert after.pop("updated_at") is None  # Shopify stamps its own time on a write
    assert after == {k: v for k, v in before.items() if k != "updated_at"}


def test_render_refuses_invalid_documents_and_the_wrong_kind() -> None:
    product = retailhub("translate", "shopify-product", str(SHOPIFY / "product.json")).stdout
    wrong = retailhub("render", "poslog", "-", stdin=product)
    assert wrong.returncode == 1
    assert b"poslog renders Order or Return" in wrong.stderr
    bad = orjson.loads(product)
    bad[0]["gtins"] = ["123"]
    invalid = retailhub("render", "shopify-product", "-", stdin=orjson.dumps(bad))
    assert invalid.returncode == 1
    assert b"$.gtins[0]" in invalid.stderr
