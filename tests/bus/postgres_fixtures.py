"""A throwaway PostgreSQL database per test module and a fresh schema per test.

The database is created from the test server (`services.require_postgres`) and dropped, with
every connection to it, when the module is done.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from services import require_postgres


def database_url(server_url: str, database: str) -> str:
    """The server URL pointed at another database on the same server."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def throwaway_database() -> Iterator[str]:
    """Create `retailhub_test_<random>`, yield its URL, then drop it."""
    server_url = require_postgres()
    name = f"retailhub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def new_schema() -> str:
    """A schema name no other test uses."""
    return f"bus_{uuid.uuid4().hex[:12]}"
