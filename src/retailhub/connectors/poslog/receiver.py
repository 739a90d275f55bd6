"""The hub's answer to a POSLog journal POSTed by a store server, free of any web framework.

The API layer mounts it (`POST /pos/poslog`, body `application/xml`) and sends back what it
returns. The same rules as the drop folder: the good transactions are published in one bus
transaction and the failed ones are named; a journal where every transaction failed, or that
is not POSLog at all, publishes nothing and is refused, so the store server keeps it and an
operator fixes it. Re-sending a journal is harmless: its event ids are the same.

- 202 Accepted: `{"published", "control_transactions_skipped", "cancelled_returns", "failures"}`
  (failures may list transactions that did not map, each with sequence number and field);
- 422 problem+json: every transaction failed (`errors`: one per transaction and field);
- 400 problem+json: the body is not POSLog XML (malformed, a DTD, another root element).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from retailhub.bus.port import EventBus
from retailhub.canonical.product import UnitOfMeasure
from retailhub.connectors.poslog.intake import poslog_intake, publish_intake
from retailhub.connectors.poslog.records import TransactionFailure
from retailhub.connectors.poslog.safe_xml import PoslogSyntaxError

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class PoslogReceipt:
    """The HTTP answer to one journal: status, media type and JSON body."""

    status: int
    content_type: str
    body: dict[str, Any]


async def receive_poslog(
    bus: EventBus,
    xml: bytes,
    *,
    store_timezone: tzinfo = UTC,
    weight_unit: UnitOfMeasure | None = None,
) -> PoslogReceipt:
    """Publish what a POSTed journal holds and say what happened, transaction by transaction.

    Mapping runs in a worker thread, so a day's journal does not stall the API's event loop.
    """
    try:
        intake = await asyncio.to_thread(
            poslog_intake, xml, store_timezone=store_timezone, weight_unit=weight_unit
        )
    except PoslogSyntaxError as error:
        return _problem(
            400, "Not a POSLog journal", str(error), [{"path": "$", "reason": str(error)}]
        )
    failures = [_failure(f) for f in intake.failures]
    if intake.rejected:
        return _problem(
            422,
            "No transaction in the journal could be mapped",
            f"{len(failures)} transactions failed",
            [{"path": f"{f['sequence']}/{f['field']}", "reason": f["reason"]} for f in failures],
        )
    await publish_intake(bus, intake.events)
    return PoslogReceipt(
        202,
        "application/json",
        {
            "published": len(intake.events),
            "control_transactions_skipped": intake.control_transactions_skipped,
            "cancelled_returns": intake.cancelled_returns,
            "failures": failures,
        },
    )


def _failure(failure: TransactionFailure) -> dict[str, Any]:
    return {
        "store": failure.store,
        "workstation": failure.workstation,
        "sequence": failure.sequence,
        "field": failure.field,
        "reason": failure.reason,
    }


def _problem(status: int, title: str, detail: str, errors: list[dict[str, Any]]) -> PoslogReceipt:
    return PoslogReceipt(
        status,
        PROBLEM_JSON,
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "errors": errors,
        },
    )
