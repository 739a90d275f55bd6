"""Structured logs (structlog) on standard error, so command output on stdout stays clean JSON;
or in a file, for commands that draw a live view in the terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog


def configure_logging(level: int = logging.INFO, *, path: Path | None = None) -> None:
    """Send structured log lines at `level` and above to stderr, or to the file at `path`
    (opened at its first line, so the command may create the file's folder first)."""
    factory: Callable[..., Any]
    if path is None:
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        handler = logging.FileHandler(path, delay=True, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        for previous in list(root.handlers):
            root.removeHandler(previous)
        root.addHandler(handler)
        root.setLevel(level)
        factory = structlog.stdlib.LoggerFactory()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
