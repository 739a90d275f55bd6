#!/usr/bin/env python3
"""Set up retailhub in ./.venv and run its main job or its whole test suite.

Usage:
    python3 dev.py demo [ARGS...]   set up, then run `retailhub demo` on the embedded default
    python3 dev.py test [ARGS...]   set up, then run ruff, mypy and pytest (ARGS go to pytest)
    python3 dev.py setup            set up only

Needs only Python 3.11+ and the package registry; everything else is installed into .venv.
The install is repeated only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".retailhub-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _pyproject_digest() -> str:
    """Hash of pyproject.toml: the install is redone only when it changes."""
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def setup() -> None:
    """Create .venv and install retailhub with its dev extras, once per pyproject change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"retailhub needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = _pyproject_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("Installing retailhub and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def run(*argv: str) -> int:
    """Run a command from .venv in the project root and return its exit code."""
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=ROOT).returncode


def test(pytest_args: list[str]) -> int:
    """Lint, type-check and run the whole test suite; the first failure decides the exit code."""
    for step in (
        ("ruff", "check", "src", "tests", "bench", "dev.py"),
        ("ruff", "format", "--check", "src", "tests", "bench", "dev.py"),
        ("mypy",),
    ):
        print(f"==> {' '.join(step)}", flush=True)
        code = run(*step)
        if code:
            return code
    print("==> pytest", flush=True)
    return run("pytest", *pytest_args)


def main() -> int:
    """Dispatch `setup`, `demo` or `test`."""
    if len(sys.argv) < 2 or sys.argv[1] not in {"setup", "demo", "test"}:
        print(__doc__)
        return 2
    setup()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "demo":
        return run("retailhub", "demo", *rest)
    if command == "test":
        return test(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
