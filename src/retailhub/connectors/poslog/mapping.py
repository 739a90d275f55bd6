"""POSLog -> canonical Orders and Returns: pure functions, one transaction at a time.

Each retail transaction becomes one document: a sale an `Order` (a cancelled basket an Order
with status `cancelled`, so it is recorded but never posted, accrued or counted), a return a
`Return`. Control transactions (sign-on, sign-off, no sale, till) are skipped and counted. A
transaction that cannot be mapped is reported with its keys, the field and the reason; the
others still map.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from pydantic import ValidationError

from retailhub.canonical.errors import faults_from_validation_error
from retailhub.canonical.order import Order
from retailhub.canonical.product import UnitOfMeasure
from retailhub.canonical.returns import Return
from retailhub.connectors.poslog.header import checked_currency
from retailhub.connectors.poslog.items import is_returned, live_items
from retailhub.connectors.poslog.parser import FieldError, parse_poslog
from retailhub.connectors.poslog.records import (
    ControlTransactionRecord,
    RetailTransactionRecord,
    TransactionFailure,
)
from retailhub.connectors.poslog.refunds import return_to_canonical
from retailhub.connectors.poslog.sales import sale_to_order


@dataclass(frozen=True)
class PoslogTranslation:
    """The canonical documents of a POSLog file in file order, what was skipped, what failed."""

    documents: tuple[Order | Return, ...]
    control_transactions_skipped: int
    failures: tuple[TransactionFailure, ...]

    @property
    def orders(self) -> list[Order]:
        """The sales and cancelled baskets."""
        return [d for d in self.documents if isinstance(d, Order)]

    @property
    def returns(self) -> list[Return]:
        """The returns."""
        return [d for d in self.documents if isinstance(d, Return)]


def poslog_to_canonical(
    xml: bytes,
    *,
    store_timezone: tzinfo = UTC,
    weight_unit: UnitOfMeasure | None = None,
) -> PoslogTranslation:
    """Translate a POSLog file; raises PoslogSyntaxError only when the file cannot be read at all.

    `store_timezone` places times written without an offset (NCR writes local time);
    `weight_unit` is the unit of weighed items whose quantity names none (default: pounds for
    US-dollar transactions, kilograms otherwise).
    """
    documents: list[Order | Return] = []
    failures: list[TransactionFailure] = []
    skipped = 0
    for parsed in parse_poslog(xml):
        if isinstance(parsed, ControlTransactionRecord):
            skipped += 1
        elif isinstance(parsed, TransactionFailure):
            failures.append(parsed)
        else:
            try:
                documents.append(
                    transaction_to_canonical(
                        parsed, store_timezone=store_timezone, weight_unit=weight_unit
                    )
                )
            except FieldError as error:
                failures.append(_failure(parsed, error.field, error.reason))
            except ValidationError as error:
                failures.extend(
                    _failure(parsed, fault.path, fault.reason)
                    for fault in faults_from_validation_error(error)
                )
            except (ArithmeticError, ValueError) as error:
                # Figures no till writes (amounts beyond Decimal's range, ...) fail this
                # transaction, never the whole file.
                failures.append(_failure(parsed, "Transaction", str(error)))
    return PoslogTranslation(tuple(documents), skipped, tuple(failures))


def transaction_to_canonical(
    record: RetailTransactionRecord,
    *,
    store_timezone: tzinfo = UTC,
    weight_unit: UnitOfMeasure | None = None,
) -> Order | Return:
    """Map one retail transaction: a return when goods come back, otherwise a sale."""
    checked_currency(record)
    items = live_items(record.items)
    returned = [i for i in items if is_returned(i)]
    sold = [i for i in items if not is_returned(i)]
    if returned and sold:
        raise FieldError(
            f"LineItem[{returned[0].line_number}]",
            "the transaction both sells and takes back goods (an exchange); not mapped yet",
        )
    if returned:
        return return_to_canonical(
            record, returned, store_timezone=store_timezone, weight_unit=weight_unit
        )
    return sale_to_order(record, sold, store_timezone=store_timezone, weight_unit=weight_unit)


def _failure(record: RetailTransactionRecord, field: str, reason: str) -> TransactionFailure:
    key = record.key
    return TransactionFailure(key.store, key.workstation, key.sequence, field, reason)
