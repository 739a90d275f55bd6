"""The lines a return put back on the shelf, recorded one by one as the ERP confirms each, so a
compensation takes back exactly what was restocked, even after a step that failed half-way."""

from __future__ import annotations

from decimal import Decimal

from retailhub.bus.port import Transaction
from retailhub.flows.returns.decisions import RestockLine
from retailhub.flows.storage import placeholders

RESTOCKED_TABLE = "returns_restocked"
RESTOCKED_DDL = f"""
CREATE TABLE IF NOT EXISTS {RESTOCKED_TABLE} (
    return_id TEXT NOT NULL,
    line_id   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    quantity  TEXT NOT NULL,
    location  TEXT NOT NULL,
    PRIMARY KEY (return_id, line_id)
)
"""


async def create_restocked_table(transaction: Transaction) -> None:
    """Create the restocked-lines table if it is missing (idempotent, SQLite and PostgreSQL)."""
    await transaction.execute(RESTOCKED_DDL)


async def record_restocked(transaction: Transaction, return_id: str, line: RestockLine) -> None:
    """Remember that one line of a return is back on hand (safe to repeat)."""
    marks = ", ".join(placeholders(transaction, 5))
    await transaction.execute(
        f"INSERT INTO {RESTOCKED_TABLE} (return_id, line_id, sku, quantity, location)"
        f" VALUES ({marks}) ON CONFLICT (return_id, line_id) DO NOTHING",
        (return_id, line.line_id, line.sku, str(line.quantity), line.location),
    )


async def restocked_lines(transaction: Transaction, return_id: str) -> list[RestockLine]:
    """The lines of a return recorded as restocked."""
    (mark,) = placeholders(transaction, 1)
    rows = await transaction.fetch_all(
        f"SELECT line_id, sku, quantity, location FROM {RESTOCKED_TABLE}"
        f" WHERE return_id = {mark} ORDER BY line_id",
        (return_id,),
    )
    return [RestockLine(r[0], r[1], Decimal(r[2]), r[3]) for r in rows]
