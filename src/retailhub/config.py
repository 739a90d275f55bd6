"""Settings from the environment: where the hub keeps its state and which engines it runs on.

`RETAILHUB_HOME` (default `./.retailhub`) holds the embedded SQLite file; `RETAILHUB_BUS` picks
the backend (sqlite, postgres, nats); `RETAILHUB_DATABASE_URL` and `RETAILHUB_NATS_URL` say where
the scale-out services are. The estate file (systems, policies, routes) comes later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

BusBackend = Literal["sqlite", "postgres", "nats"]
BUS_BACKENDS: tuple[BusBackend, ...] = ("sqlite", "postgres", "nats")
SQLITE_FILE = "retailhub.sqlite"


class ConfigError(ValueError):
    """A setting that is missing or wrong, named so an operator can fix the environment."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the hub keeps its state and which engines it runs on."""

    home: Path
    bus: BusBackend
    database_url: str | None
    nats_url: str | None

    @property
    def sqlite_path(self) -> Path:
        """The embedded SQLite file: `sqlite:///path` from the database URL, else under home."""
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.home / SQLITE_FILE


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the given mapping); ConfigError if invalid."""
    env = os.environ if environ is None else environ
    backend = env.get("RETAILHUB_BUS", "sqlite").strip().lower() or "sqlite"
    if backend not in BUS_BACKENDS:
        raise ConfigError(
            f"RETAILHUB_BUS={backend!r} is not a bus backend; use one of {', '.join(BUS_BACKENDS)}"
        )
    return Settings(
        home=Path(env.get("RETAILHUB_HOME") or ".retailhub"),
        bus=backend,
        database_url=env.get("RETAILHUB_DATABASE_URL") or None,
        nats_url=env.get("RETAILHUB_NATS_URL") or None,
    )
