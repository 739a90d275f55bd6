"""Reaching the PostgreSQL and NATS servers the scale-out tests need.

Without a server the tests skip with a reason; with RETAILHUB_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get(
    "RETAILHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("RETAILHUB_TEST_NATS_URL", "nats://127.0.0.1:4222")


def services_required() -> bool:
    """True when a missing service must fail the run rather than skip (CI sets it)."""
    return os.environ.get("RETAILHUB_REQUIRE_SERVICES", "") not in {"", "0", "false", "no"}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when services are required) unless `name` listens on host:port."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{message} and RETAILHUB_REQUIRE_SERVICES is set")
    pytest.skip(message)


def require_postgres() -> str:
    """The PostgreSQL URL to test against, once the server is known to listen."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


def require_nats() -> str:
    """The NATS URL to test against, once the server is known to listen."""
    require_service("NATS", "127.0.0.1", 4222)
    return NATS_URL
