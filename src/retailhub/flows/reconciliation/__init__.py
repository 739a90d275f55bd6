"""Reconciliation: orders and returns the hub recorded, per store and business day, against
every ERP's postings and the loyalty ledger; typed discrepancies, an operator alert for each,
and repairs that re-drive the flow that should have done the work. A durable workflow on DBOS,
run daily by a schedule and on demand (`retailhub reconcile`).

Modules: `ledger` (the hub's record, kept by the `reconciliation.ledger` subscription),
`compare` (pure comparisons), `discrepancies` (the typed findings and the report), `findings`
(what was found, kept until a re-run no longer finds it), `repair`, `reconciler` (one run),
`workflow` (DBOS workflows and the schedule) and `wiring` (`subscribe_reconciliation`). See
docs/flows-reconciliation.md.
"""

from retailhub.flows.reconciliation.discrepancies import (
    Checked,
    Discrepancy,
    DiscrepancyKind,
    ReconciliationReport,
    Repair,
)
from retailhub.flows.reconciliation.findings import Finding, finding, open_findings
from retailhub.flows.reconciliation.reconciler import AlertRecorder, Reconciliation, alert_of
from retailhub.flows.reconciliation.repair import RepairOutcome
from retailhub.flows.reconciliation.settings import ReconciliationSettings
from retailhub.flows.reconciliation.wiring import subscribe_reconciliation
from retailhub.flows.reconciliation.workflow import (
    ReconciliationRun,
    schedule_reconciliation,
    start_reconciliation,
    trigger_schedule,
)

__all__ = [
    "AlertRecorder",
    "Checked",
    "Discrepancy",
    "DiscrepancyKind",
    "Finding",
    "Reconciliation",
    "ReconciliationReport",
    "ReconciliationRun",
    "ReconciliationSettings",
    "Repair",
    "RepairOutcome",
    "alert_of",
    "finding",
    "open_findings",
    "schedule_reconciliation",
    "start_reconciliation",
    "subscribe_reconciliation",
    "trigger_schedule",
]
