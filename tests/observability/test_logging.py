"""The hub's log lines go to stderr by default, or to a file for commands with a live view."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from retailhub.observability.logging import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and structlog back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configured = structlog.get_config()
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(**configured)


def test_a_log_file_is_created_at_its_first_line_in_a_folder_made_later(
    tmp_path: Path, restore_logging: None
) -> None:
    home = tmp_path / "demo"
    configure_logging(path=home / "hub.log")
    home.mkdir()
    assert not (home / "hub.log").exists()

    structlog.get_logger("retailhub.test").warning("payload fault tolerated", path="$.x")
    structlog.get_logger("retailhub.test").debug("below the level")

    text = (home / "hub.log").read_text(encoding="utf-8")
    assert "payload fault tolerated" in text
    assert "path=$.x" in text
    assert "warning" in text
    assert "below the level" not in text


def test_by_default_log_lines_go_to_stderr(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging()
    structlog.get_logger("retailhub.test").warning("breaker opened", system="odoo")
    captured = capsys.readouterr()
    assert "breaker opened" in captured.err
    assert "system=odoo" in captured.err
    assert captured.out == ""
