"""Several writes of one refund step, run in order inside its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retailhub.bus.port import Transaction

Statement = tuple[str, Sequence[Any]]
"""One SQL statement and its parameters, in the transaction's parameter style."""


async def execute_all(transaction: Transaction, statements: Sequence[Statement]) -> None:
    """Run the statements in order inside the transaction (on SQLite each runs in place, as the
    open transaction already holds the write lock)."""
    for statement, parameters in statements:
        await transaction.execute(statement, parameters)
