"""Several writes in one trip: on the SQLite bus each statement is a hop to its writer thread,
and a refund's writes hold the hub's one write lock meanwhile; batched, they make one hop.

PostgreSQL (and any transaction without a writer thread) runs them one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retailhub.bus.port import Transaction
from retailhub.flows.storage import is_postgres

Statement = tuple[str, Sequence[Any]]
"""One SQL statement and its parameters, in the transaction's parameter style."""


async def execute_all(transaction: Transaction, statements: Sequence[Statement]) -> None:
    """Run the statements in order inside the transaction, in one hop where the bus allows."""
    if not statements:
        return
    first, rest = statements[0], statements[1:]
    await transaction.execute(*first)  # opens the transaction if it is opened lazily
    runner = getattr(transaction.connection, "run", None)
    if not rest:
        return
    if is_postgres(transaction) or runner is None:
        for statement, parameters in rest:
            await transaction.execute(statement, parameters)
        return

    def write(connection: Any) -> None:
        for statement, parameters in rest:
            connection.execute(statement, parameters)

    await runner(write)
