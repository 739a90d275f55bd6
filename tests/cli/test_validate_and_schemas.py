"""The `retailhub validate` and `retailhub schemas` commands, run as a user runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "retailhub" / "samples"


def retailhub(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "retailhub.cli", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_valid_documents_exit_zero() -> None:
    result = retailhub("validate", "order", str(SAMPLES / "canonical" / "web-order-us.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid order" in result.stdout


def test_invalid_document_prints_each_fault_with_its_path_and_exits_one() -> None:
    bad = SAMPLES / "invalid" / "store-order-does-not-add-up.json"
    result = retailhub("validate", "order", str(bad))
    assert result.returncode == 1
    assert "$.lines[0].quantity: a fractional quantity needs a weighed unit of measure" in (
        result.stdout
    )
    assert "$.totals.grand_total: grand total 8.52 EUR does not add up" in result.stdout


def test_malformed_json_is_invalid_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "kind": "order",\n  "order_id": \n}\n')
    result = retailhub("validate", "order", str(broken))
    assert result.returncode == 1
    assert "malformed JSON at line 4, column 1" in result.stdout


def test_unreadable_file_exits_two_even_when_others_are_valid(tmp_path: Path) -> None:
    good = SAMPLES / "canonical" / "web-order-us.json"
    result = retailhub("validate", "order", str(good), str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_unknown_kind_exits_two() -> None:
    result = retailhub("validate", "basket", str(SAMPLES / "canonical" / "web-order-us.json"))
    assert result.returncode == 2
    assert "unknown kind 'basket'" in result.stderr


def test_events_are_validated_from_standard_input_including_arrays() -> None:
    event = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/pos/AMS01",
        "type": "com.example.till.opened",
        "time": "2026-11-27T08:00:00",
    }
    result = retailhub(
        "validate", "event", "-", stdin=orjson.dumps([event, {**event, "time": None}])
    )
    assert result.returncode == 1
    assert "$[0].time:" in result.stdout
    assert "$[1]" not in result.stdout


@pytest.mark.parametrize("kind", ["order", "customer", "product", "return"])
def test_shipped_samples_validate_by_kind(kind: str) -> None:
    files = [
        str(p)
        for p in (SAMPLES / "canonical").glob("*.json")
        if orjson.loads(p.read_bytes())["kind"] == kind
    ]
    assert files
    result = retailhub("validate", kind, *files)
    assert result.returncode == 0, result.stdout


def test_schemas_check_passes_on_the_committed_registry() -> None:
    result = retailhub("schemas", "check")
    assert result.returncode == 0, result.stderr


def test_schemas_check_and_export_refuse_a_breaking_change(tmp_path: Path) -> None:
    registry = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", registry)
    order = registry / "models" / "order" / "v1.json"
    schema = orjson.loads(order.read_bytes())
    schema["properties"]["till_colour"] = {"type": "string"}
    order.write_bytes(orjson.dumps(schema))
    checked = retailhub("schemas", "check", "--dir", str(registry))
    assert checked.returncode == 1
    assert "BREAKING" in checked.stderr
    assert "till_colour: field removed" in checked.stderr
    exported = retailhub("schemas", "export", "--dir", str(registry))
    assert exported.returncode == 1
    assert "till_colour" in orjson.loads(order.read_bytes())["properties"]


def test_schemas_export_writes_a_fresh_registry(tmp_path: Path) -> None:
    registry = tmp_path / "schemas"
    assert retailhub("schemas", "check", "--dir", str(registry)).returncode == 1
    assert retailhub("schemas", "export", "--dir", str(registry)).returncode == 0
    assert retailhub("schemas", "check", "--dir", str(registry)).returncode == 0
    assert (registry / "events" / "retail.order.created.v1.json").exists()


def test_samples_show_the_model_at_work() -> None:
    result = retailhub("samples")
    assert result.returncode == 0, result.stderr
    assert "retail.order.created.v1" in result.stdout
    assert "does not add up" in result.stdout


def test_every_command_has_help() -> None:
    for command in (
        ["--help"],
        ["validate", "--help"],
        ["schemas", "--help"],
        ["samples", "--help"],
        ["demo", "--help"],
    ):
        result = retailhub(*command)
        assert result.returncode == 0
        assert "Usage" in result.stdout
