"""`retailhub clients` as an operator runs it, and `retailhub serve` refusing a taken port (the
server at work is tested end to end in test_serve_end_to_end.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retailhub.cli.clients import app as clients_app

runner = CliRunner()


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh embedded hub home for the commands."""
    monkeypatch.setenv("RETAILHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RETAILHUB_BUS", "sqlite")
    monkeypatch.delenv("RETAILHUB_DATABASE_URL", raising=False)
    return {**os.environ}


def test_add_prints_the_key_once_and_list_shows_no_key(hub_env: dict[str, str]) -> None:
    added = runner.invoke(clients_app, ["add", "pos-ams01", "--scopes", "pos,read", "--rate", "5"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert key.startswith("rhk_")
    listed = runner.invoke(clients_app, ["list"])
    assert listed.exit_code == 0
    assert "pos-ams01" in listed.stdout
    assert "pos,read" in listed.stdout
    assert key.split("_")[-1] not in listed.stdout


def test_revoke_hides_the_client_unless_all(hub_env: dict[str, str]) -> None:
    runner.invoke(clients_app, ["add", "old-till", "--scopes", "pos"])
    revoked = runner.invoke(clients_app, ["revoke", "old-till"])
    assert revoked.exit_code == 0
    assert "old-till" not in runner.invoke(clients_app, ["list"]).stdout
    assert "old-till" in runner.invoke(clients_app, ["list", "--all"]).stdout
    again = runner.invoke(clients_app, ["add", "old-till", "--scopes", "pos"])
    assert again.exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--scopes", "pos,cashier"], "unknown scope 'cashier'"),
        (["add", "bad name!", "--scopes", "pos"], "client name"),
        (["revoke", "nobody"], "no active client"),
    ],
)
def test_bad_input_is_a_clear_error_and_exit_2(
    hub_env: dict[str, str], args: list[str], message: str
) -> None:
    result = runner.invoke(clients_app, args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_second_active_client_of_one_name_is_refused(hub_env: dict[str, str]) -> None:
    runner.invoke(clients_app, ["add", "web-shop", "--scopes", "commerce"])
    result = runner.invoke(clients_app, ["add", "web-shop", "--scopes", "commerce"])
    assert result.exit_code == 2
    assert "already named" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVE = "from retailhub.cli.serve import serve; import typer; typer.run(serve)"


def test_serve_on_a_taken_port_exits_2_with_a_message(hub_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", SERVE, "--port", str(port)],
            env=hub_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert "could not serve" in result.stderr
