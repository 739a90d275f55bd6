"""`retailhub reconcile`: reconcile a business day on demand — the hub's record of orders and
returns against every ERP's postings and the loyalty ledger — as a table or JSON, optionally
repairing what the hub can re-drive.

Exit codes: 0 no discrepancies; 1 discrepancies found (also with `--repair`: run again to
confirm the repairs); 2 bad input or configuration (date, store, estate, secrets); 3 a system
could not be reached or refused, so the day could not be reconciled.

The command runs the reconciliation in this process without launching the workflow runtime:
DBOS recovers its executor's pending workflows at launch, and a second process on the hub's
system database would run the hub's own workflows beside it. The daily run is the hub's
scheduled workflow; this is the same comparison, recording and alerting, on demand.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from retailhub.bootstrap import build_bus, build_connectors, routed_erp
from retailhub.bus.port import BusError
from retailhub.canonical.errors import InvalidDocument
from retailhub.config import ConfigError, load_settings
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.estate import MissingSecret, Role, Secrets, load_estate
from retailhub.flows.alerts import BusAlertSink
from retailhub.flows.reconciliation import (
    Reconciliation,
    ReconciliationReport,
    RepairOutcome,
)
from retailhub.resilience import RetryableFailure, SystemUnavailable

EXIT_CLEAN = 0
EXIT_DISCREPANCIES = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


class _Unreachable(Exception):
    """A system failed or refused during the run."""


def _fail(message: str, code: int) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def parse_day(text: str) -> date:
    """The business day `--date` names; BadParameter says what a date looks like."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; give it as YYYY-MM-DD") from None


async def _reconcile(
    day: date, store: str | None, repair: bool
) -> tuple[ReconciliationReport, list[RepairOutcome]]:
    """Open the bus and the estate's ERPs and loyalty platform, run, repair when asked, close."""
    settings = load_settings()
    estate = load_estate()
    connectors = build_connectors(
        estate, Secrets.from_environment(sandbox=estate.name == "sandbox")
    )
    routing = estate.routing.get(Role.ERP)
    shadow = routing.shadow if routing is not None else None
    erps = {name: erp for name, erp in connectors.erps.items() if name != shadow}
    erp = routed_erp(estate, connectors.erps) if connectors.erps else None
    try:
        if connectors.loyalty is None or not erps:
            raise ConfigError("reconciliation needs the estate's ERP and loyalty systems")
        async with build_bus(settings) as bus:
            reconciliation = Reconciliation(
                bus, erps=erps, loyalty=connectors.loyalty, alerts=BusAlertSink(bus), erp=erp
            )
            await reconciliation.create_tables()
            try:
                report = await reconciliation.run(day, store)
                repairs = await reconciliation.repair_all(report) if repair else []
            except (SystemUnavailable, RetryableFailure, RequestRefused, MappingError) as error:
                raise _Unreachable(str(error)) from error
            return report, repairs
    finally:
        if erp is not None and erp not in connectors.erps.values():
            await erp.close()
        await connectors.close()


def _table(report: ReconciliationReport, repairs: list[RepairOutcome]) -> None:
    """The report as a Rich table, one row per discrepancy, and a summary line."""
    console = Console()
    scope = report.store or "all stores"
    checked = report.checked
    console.print(
        f"Reconciliation of {report.business_day.isoformat()}, {scope}: {checked.orders} orders,"
        f" {checked.returns} returns, {checked.postings} ERP postings, {checked.members}"
        " loyalty members checked",
        highlight=False,
    )
    if report.clean:
        console.print("discrepancies found by reconciliation: none", highlight=False)
        return
    repaired = {(r.discrepancy.kind, r.discrepancy.key): r for r in repairs}
    table = Table(show_lines=False)
    for column in ("store", "kind", "key", "expected", "found", "repair", "what"):
        table.add_column(column, overflow="fold")
    for d in report.discrepancies:
        outcome = repaired.get((d.kind, d.key))
        repair = d.repair.value if outcome is None else f"{d.repair.value}: {outcome.action}"
        table.add_row(
            d.store, d.kind.value, d.key, d.expected or "", d.found or "", repair, d.summary
        )
    console.print(table)
    console.print(
        f"discrepancies found by reconciliation: {len(report.discrepancies)}", highlight=False
    )


def _json(report: ReconciliationReport, repairs: list[RepairOutcome]) -> None:
    """The report as one JSON object on stdout, with the repairs when asked for."""
    data: dict[str, Any] = report.to_json()
    data["repairs"] = [r.to_json() for r in repairs]
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def reconcile(
    day: Annotated[
        str, typer.Option("--date", "-d", help="the business day to reconcile, as YYYY-MM-DD")
    ],
    store: Annotated[
        str | None, typer.Option("--store", "-s", help="one store's code (default: every store)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="re-drive every discrepancy the hub can repair")
    ] = False,
) -> None:
    """Reconcile a business day: orders and returns against ERP postings and the loyalty ledger.

    Exit 0 when nothing differs, 1 when discrepancies were found, 2 on bad input or
    configuration, 3 when a system could not be reached.
    """
    try:
        business_day = parse_day(day)
    except typer.BadParameter as error:
        raise _fail(f"--date: {error}", EXIT_BAD_INPUT) from None
    chosen = None if store is None else store.strip()
    if chosen == "":
        raise _fail("--store: give a store code such as AMS01", EXIT_BAD_INPUT)
    try:
        report, repairs = asyncio.run(_reconcile(business_day, chosen, repair))
    except (ConfigError, MissingSecret, BusError) as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except InvalidDocument as error:
        faults = "; ".join(f"{f.path}: {f.reason}" for f in error.faults)
        raise _fail(f"the estate file is not valid: {faults}", EXIT_BAD_INPUT) from None
    except _Unreachable as error:
        raise _fail(f"the day could not be reconciled: {error}", EXIT_UNREACHABLE) from None
    if as_json:
        _json(report, repairs)
    else:
        _table(report, repairs)
    raise typer.Exit(EXIT_CLEAN if report.clean else EXIT_DISCREPANCIES)
