"""SQL on the hub's own database, shared by the flows' projections and stores.

Flows keep their state in the bus's database through `Transaction` (a handler's
`context.transaction` or `bus.transaction()`), so a projection row commits exactly with the
event that produced it. The backends differ in parameter style only: PostgreSQL takes `$n`,
the SQLite-based ones (SQLite bus, NATS state file) take `?`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


def is_postgres(reader: object) -> bool:
    """True when `reader` (a transaction or connection) speaks PostgreSQL's `$n` parameters."""
    return "postgres" in type(reader).__module__


def placeholders(reader: object, count: int, start: int = 1) -> list[str]:
    """`count` parameter markers in `reader`'s style, numbered from `start` on PostgreSQL."""
    if is_postgres(reader):
        return [f"${n}" for n in range(start, start + count)]
    return ["?"] * count


class Reader(Protocol):
    """Anything that runs a query: a bus `Transaction`, or a test's adapter."""

    async def fetch_all(
        self, statement: str, parameters: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]: ...
