"""`retailhub events`, `dlq` and `replay` against the embedded bus, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from retailhub.bus.port import HandlerContext, RetryPolicy
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.cloudevents import CloudEvent, new_event
from retailhub.canonical.kinds import parse_document

ROOT = Path(__file__).resolve().parents[2]
ORDER = ROOT / "src" / "retailhub" / "samples" / "canonical" / "web-order-us.json"
ONE_ATTEMPT = RetryPolicy(max_attempts=1, initial_backoff=timedelta(milliseconds=1))


def retailhub(
    home: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line with its state in `home`."""
    env = {**os.environ, "RETAILHUB_HOME": str(home), "RETAILHUB_BUS": "sqlite", "COLUMNS": "200"}
    env.pop("RETAILHUB_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "retailhub.cli", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def order_event(order_id: str) -> CloudEvent:
    document = parse_document("order", ORDER.read_bytes()).model_copy(update={"order_id": order_id})
    return to_event(document, "retail.order.created.v1", "/tests")


def test_publish_accepts_an_array_and_json_lines_and_tail_reads_them(tmp_path: Path) -> None:
    events = [order_event(f"WEB-{n}").to_dict() for n in range(3)]
    array = retailhub(tmp_path, "events", "publish", "-", stdin=orjson.dumps(events))
    assert array.returncode == 0, array.stderr
    assert "published 3 event(s) at positions 1..3" in array.stdout
    lines = b"\n".join(orjson.dumps(order_event(f"WEB-{n}").to_dict()) for n in range(3, 5))
    jsonl = retailhub(tmp_path, "events", "publish", "-", stdin=lines)
    assert "published 2 event(s)" in jsonl.stdout
    tailed = retailhub(tmp_path, "events", "tail", "--key", "WEB-4")
    [entry] = [orjson.loads(line) for line in tailed.stdout.splitlines()]
    assert entry["position"] == 5
    assert entry["event"]["subject"] == "WEB-4"


def test_an_invalid_event_publishes_nothing_and_names_each_fault(tmp_path: Path) -> None:
    good = order_event("WEB-1").to_dict()
    bad = {**good, "id": "", "data": {**good["data"], "currency": "EURO"}}
    result = retailhub(tmp_path, "events", "publish", "-", stdin=orjson.dumps([good, bad]))
    assert result.returncode == 1
    assert "event 1: $.id" in result.stderr
    assert "nothing was published" in result.stderr
    assert retailhub(tmp_path, "events", "tail").stdout == ""


def test_malformed_json_lines_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    result = retailhub(tmp_path, "events", "publish", "-", stdin=b'{"a": 1}\n{"b": \n')
    assert result.returncode == 1
    assert "line 2: $: malformed JSON" in result.stderr
    missing = retailhub(tmp_path, "events", "publish", str(tmp_path / "none.json"))
    assert missing.returncode == 2


async def _dead_letters(home: Path) -> None:
    """Record events for a subscription whose handler fails, until they are dead-lettered."""

    async def refuse(event: CloudEvent, context: HandlerContext) -> None:
        raise RuntimeError(f"ERP refused {event.subject}")

    async with SqliteBus(home / "retailhub.sqlite", poll_interval=0.005) as bus:
        await bus.subscribe("erp-orders", ["retail.order.*"], refuse, retry=ONE_ATTEMPT)
        await bus.publish([order_event("WEB-1"), order_event("WEB-2"), order_event("WEB-1")])
        for _ in range(2000):
            if len(await bus.dead_letters()) == 2:
                break
            await asyncio.sleep(0.005)
        await bus.unsubscribe("erp-orders")


def test_dead_letters_can_be_listed_shown_retried_and_skipped(tmp_path: Path) -> None:
    asyncio.run(_dead_letters(tmp_path))
    listed = retailhub(tmp_path, "dlq", "list", "--json")
    held = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert [(h["position"], h["key"]) for h in held] == [(1, "WEB-1"), (2, "WEB-2")]
    shown = orjson.loads(retailhub(tmp_path, "dlq", "show", "erp-orders", "1").stdout)
    assert "ERP refused WEB-1" in shown["error"]
    assert shown["attempts"][0]["outcome"] == "failed"
    assert shown["event"]["data"]["order_id"] == "WEB-1"
    dry = retailhub(tmp_path, "dlq", "retry", "--key", "WEB-1", "--dry-run")
    assert "1 dead letter(s) would retry" in dry.stdout
    assert "1 parked event(s) wait behind them" in dry.stdout
    skipped = retailhub(tmp_path, "dlq", "skip", "-s", "erp-orders", "-p", "2")
    assert "1 dead letter(s) skipped" in skipped.stdout
    remaining = retailhub(tmp_path, "dlq", "list", "--json").stdout.splitlines()
    assert [orjson.loads(line)["position"] for line in remaining] == [1]


def test_dlq_commands_refuse_unclear_selections(tmp_path: Path) -> None:
    assert retailhub(tmp_path, "dlq", "retry").returncode == 2
    assert retailhub(tmp_path, "dlq", "skip", "--position", "3").returncode == 2
    missing = retailhub(tmp_path, "dlq", "show", "erp-orders", "99")
    assert missing.returncode == 1
    assert "unknown subscription 'erp-orders'" in missing.stderr


def test_replay_refuses_unknown_subscriptions_bad_starts_and_out_of_range(tmp_path: Path) -> None:
    asyncio.run(_dead_letters(tmp_path))
    unknown = retailhub(tmp_path, "replay", "-s", "nope", "--from", "1")
    assert unknown.returncode == 1
    assert "unknown subscription 'nope'" in unknown.stderr
    garbled = retailhub(tmp_path, "replay", "-s", "erp-orders", "--from", "yesterday")
    assert garbled.returncode == 2
    beyond = retailhub(tmp_path, "replay", "-s", "erp-orders", "--from", "999")
    assert beyond.returncode == 1
    assert "outside the retained log" in beyond.stderr
    planned = retailhub(tmp_path, "replay", "-s", "erp-orders", "--from", "1", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "would replay" in planned.stdout


@pytest.mark.parametrize("command", [["events", "--help"], ["dlq", "--help"], ["replay", "--help"]])
def test_bus_commands_have_help(tmp_path: Path, command: list[str]) -> None:
    assert retailhub(tmp_path, *command).returncode == 0


def test_a_non_retail_event_is_published_as_an_envelope(tmp_path: Path) -> None:
    event = new_event("com.example.till.opened", "/pos/AMS01", {"till": 3})
    result = retailhub(tmp_path, "events", "publish", "-", stdin=event.to_json())
    assert result.returncode == 0, result.stderr
