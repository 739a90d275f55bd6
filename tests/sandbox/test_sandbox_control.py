"""The emulator base: control routes (validated, problem+json), status, loopback only, and a
SQLite state seeded once per estate seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from retailhub.sandbox.faults import Faults
from retailhub.sandbox.seed import Estate, build_estate

from .echo import EchoEmulator


async def call(method: str, url: str, body: bytes | None = None) -> tuple[int, str, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body) as answer,
    ):
        return answer.status, answer.content_type, await answer.json(content_type=None)


async def test_bad_fault_settings_get_problem_json_naming_each_field(echo: EchoEmulator) -> None:
    body = b'{"latency_ms": -1, "error_rate": 2, "down": "yes", "slow_after": 1.5, "colour": "red"}'
    status, content_type, problem = await call("PUT", f"{echo.url}/_sandbox/faults", body)
    assert status == 400
    assert content_type == "application/problem+json"
    assert problem["status"] == 400
    assert {e["path"] for e in problem["errors"]} == {
        "$.latency_ms",
        "$.error_rate",
        "$.down",
        "$.slow_after",
        "$.colour",
    }
    assert echo.faults.faults == Faults()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"down"'])
async def test_a_body_that_is_not_an_object_is_refused_at_the_root(
    echo: EchoEmulator, body: bytes
) -> None:
    status, content_type, problem = await call("PUT", f"{echo.url}/_sandbox/faults", body)
    assert (status, content_type) == (400, "application/problem+json")
    assert [e["path"] for e in problem["errors"]] == ["$"]


async def test_put_changes_only_the_fields_given_and_delete_clears_all(
    echo: EchoEmulator,
) -> None:
    url = f"{echo.url}/_sandbox/faults"
    await call("PUT", url, b'{"latency_ms": 10}')
    status, _, faults = await call("PUT", url, b'{"error_rate": 0.25, "slow_after": 3}')
    assert status == 200
    assert faults == {**Faults().to_json(), "latency_ms": 10, "error_rate": 0.25, "slow_after": 3}
    assert (await call("GET", url))[2] == faults
    assert (await call("PUT", url, b'{"slow_after": null}'))[2]["slow_after"] is None
    assert (await call("DELETE", url))[2] == Faults().to_json()


async def test_status_reports_system_requests_served_and_faults(echo: EchoEmulator) -> None:
    for _ in range(3):
        await call("GET", f"{echo.url}/echo/hi")
    await call("PUT", f"{echo.url}/_sandbox/faults", b'{"malformed": true}')
    status, _, report = await call("GET", f"{echo.url}/_sandbox/status")
    assert status == 200
    assert report == {
        "system": "echo",
        "requests_served": 3,
        "faults": {**Faults().to_json(), "malformed": True},
    }


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
async def test_an_emulator_listens_on_loopback_only(tmp_path: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await EchoEmulator(tmp_path).start(host)


async def test_state_is_seeded_once_and_serves_the_estate(tmp_path: Path, estate: Estate) -> None:
    emulator = EchoEmulator(tmp_path)
    assert emulator.seeded_with() is None
    emulator.load(estate)
    emulator.load(estate)
    assert emulator.seeded_with() == 42
    assert emulator.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert emulator.db.execute("SELECT count(*) FROM product").fetchone()[0] == 50
    url = await emulator.start()
    assert emulator.port
    assert url == emulator.url == f"http://127.0.0.1:{emulator.port}"
    sku = estate.products[0].sku
    _, _, answer = await call("GET", f"{emulator.url}/products/{sku}")
    assert answer == {"product": {"sku": sku, "title": estate.products[0].title}}
    status, _, _ = await call("GET", f"{emulator.url}/products/NOPE")
    assert status == 404
    await emulator.stop()
    assert emulator.port is None

    reopened = EchoEmulator(tmp_path)
    assert reopened.seeded_with() == 42
    reopened.close_state()


def test_state_from_another_seed_is_replaced(tmp_path: Path, estate: Estate) -> None:
    emulator = EchoEmulator(tmp_path)
    emulator.load(estate)
    emulator.db.execute("INSERT INTO product (sku, title) VALUES ('EXTRA', 'left over')")
    emulator.db.commit()
    other = build_estate(7, year=estate.year)
    emulator.load(other)
    assert emulator.seeded_with() == 7
    skus = {row["sku"] for row in emulator.db.execute("SELECT sku FROM product")}
    assert skus == {p.sku for p in other.products[:50]}
    emulator.close_state()
