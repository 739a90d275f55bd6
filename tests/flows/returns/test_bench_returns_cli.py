"""`retailhub bench returns` as registered on the bench group: help, and bad options refused
with a message on stderr and a non-zero exit before any emulator starts."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from retailhub.cli.bench_returns import bench_returns

app = typer.Typer()
app.command("returns")(bench_returns)
app.command("other")(lambda: None)
runner = CliRunner()


def test_help_names_the_figures_and_options() -> None:
    result = runner.invoke(app, ["returns", "--help"])
    assert result.exit_code == 0
    for option in ("--json", "--sales", "--concurrency"):
        assert option in result.output


def test_a_bad_option_is_refused_on_stderr() -> None:
    result = runner.invoke(app, ["returns", "--sales", "0"])
    assert result.exit_code == 2
    assert "--sales" in result.stderr
    result = runner.invoke(app, ["returns", "--concurrency", "many"])
    assert result.exit_code == 2
    assert "--concurrency" in result.stderr
