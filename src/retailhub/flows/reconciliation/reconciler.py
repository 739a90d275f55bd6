"""One reconciliation of a business day: read the hub's record, ask every ERP of the estate and
the loyalty platform, compare, record what was found, raise an alert per discrepancy.

The hub's database is read in a short transaction before any outbound call and written in
another after them, so no SQLite write lock is held across HTTP. Outbound calls per run: one
`postings(day)` per ERP (paged by the connector), one `find_posting` per ERP for each document
missing from the day's postings (a till sale dated by another day), one `find_member` per
cancelled order and return, one `ledger` per member met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol

from retailhub.bus.port import EventBus
from retailhub.canonical.loyalty import LoyaltyTransaction
from retailhub.canonical.order import Order, OrderStatus
from retailhub.connectors.ports import ErpPort, LoyaltyPort
from retailhub.flows.alerts import Alert
from retailhub.flows.reconciliation.compare import (
    ErpPosting,
    erp_discrepancies,
    loyalty_discrepancies,
    posting_key,
)
from retailhub.flows.reconciliation.discrepancies import (
    Checked,
    Discrepancy,
    ReconciliationReport,
)
from retailhub.flows.reconciliation.findings import (
    create_findings_table,
    note_repair,
    record_findings,
)
from retailhub.flows.reconciliation.ledger import (
    DocumentKind,
    Recorded,
    create_ledger_table,
    documents_by_id,
    documents_of_day,
)
from retailhub.flows.reconciliation.repair import RepairOutcome, RepairPorts, repair
from retailhub.flows.reconciliation.settings import ReconciliationSettings


class AlertRecorder(Protocol):
    """Where operator alerts go (`retailhub.flows.alerts.BusAlertSink`): one per kind and key."""

    async def record(self, alert: Alert) -> None:
        """Record an alert; raising it again updates it."""


def alert_of(discrepancy: Discrepancy) -> Alert:
    """The operator alert of a discrepancy: its kind, key, what differs and how it is repaired."""
    d = discrepancy
    detail = f"store {d.store}, business day {d.business_day.isoformat()}"
    if d.expected is not None or d.found is not None:
        detail += f"; expected {d.expected or '-'}, found {d.found or '-'}"
    detail += f"; repair: {d.repair.value}"
    return Alert(d.kind.alert_kind, d.key, d.summary, detail, needs_operator=d.needs_operator)


class Reconciliation:
    """Reconciles the hub's record of a day against the estate's ERPs and loyalty ledger."""

    def __init__(
        self,
        bus: EventBus,
        *,
        erps: Mapping[str, ErpPort],
        loyalty: LoyaltyPort,
        alerts: AlertRecorder,
        erp: ErpPort | None = None,
        settings: ReconciliationSettings | None = None,
    ) -> None:
        if not erps:
            raise ValueError("reconciliation needs at least one ERP")
        self.bus = bus
        self.erps = dict(erps)
        self.loyalty = loyalty
        self.alerts = alerts
        self.settings = settings or ReconciliationSettings()
        routed = erp if erp is not None else (next(iter(erps.values())) if len(erps) == 1 else None)
        self.repair_ports = RepairPorts(bus, self.erps, routed, loyalty, self.settings)

    async def create_tables(self) -> None:
        """Create the hub's record and the discrepancies table (idempotent)."""
        async with self.bus.transaction() as transaction:
            await create_ledger_table(transaction)
            await create_findings_table(transaction)

    async def run(self, business_day: date, store: str | None = None) -> ReconciliationReport:
        """Compare, then record what was found and raise its alerts: one whole run."""
        report = await self.compare(business_day, store)
        await self.record(report)
        return report

    async def compare(self, business_day: date, store: str | None = None) -> ReconciliationReport:
        """The discrepancies of a business day, for one store or all; records nothing."""
        async with self.bus.transaction() as transaction:
            rows = await documents_of_day(transaction, business_day, store)
        day_postings = await self._day_postings(business_day)
        in_scope = [
            p for p in day_postings if store is None or (p.posting.location or "?") == store
        ]
        by_key = _by_key(day_postings)
        credit_note_key = self.settings.credit_note_key
        for row in rows:
            key = posting_key(row, credit_note_key)
            if key not in by_key:
                by_key[key] = await self._find(key)
        expected = {posting_key(row, credit_note_key) for row in rows}
        stray = {p.posting.key for p in in_scope if p.posting.key not in expected}
        known_elsewhere = await self._known(stray)
        members, ledgers = await self._points(rows)
        found = erp_discrepancies(
            rows,
            by_key,
            in_scope,
            known_elsewhere,
            day=business_day,
            credit_note_key=credit_note_key,
            cent_per_discounted_line=self.settings.cent_per_discounted_line,
        )
        found += loyalty_discrepancies(rows, members, ledgers)
        found.sort(key=lambda d: (d.store, d.kind.value, d.key))
        stores = {row.store for row in rows} | {p.posting.location or "?" for p in in_scope}
        checked = Checked(
            orders=sum(1 for r in rows if r.kind is DocumentKind.ORDER),
            returns=sum(1 for r in rows if r.kind is DocumentKind.RETURN),
            postings=len(in_scope),
            members=len(ledgers),
        )
        return ReconciliationReport(
            business_day, store, tuple(sorted(stores)), checked, tuple(found)
        )

    async def record(self, report: ReconciliationReport) -> list[Discrepancy]:
        """Record the run's discrepancies, resolve those no longer found (and their alerts) and
        raise an alert per discrepancy; returns the resolved ones. Safe to repeat."""
        async with self.bus.transaction() as transaction:
            await create_findings_table(transaction)
            resolved = await record_findings(
                transaction, report.business_day, report.store, report.discrepancies
            )
        for discrepancy in report.discrepancies:
            await self.alerts.record(alert_of(discrepancy))
        return resolved

    async def repair(self, discrepancy: Discrepancy) -> RepairOutcome:
        """Repair one discrepancy by re-driving its flow, and note it on its record."""
        outcome = await repair(discrepancy, self.repair_ports)
        async with self.bus.transaction() as transaction:
            await create_findings_table(transaction)
            await note_repair(transaction, discrepancy, outcome.action)
        return outcome

    async def repair_all(self, report: ReconciliationReport) -> list[RepairOutcome]:
        """Repair every discrepancy of a report that the hub can re-drive."""
        return [await self.repair(d) for d in report.discrepancies if not d.needs_operator]

    async def _day_postings(self, business_day: date) -> list[ErpPosting]:
        """Every ERP's postings of the day, at every store (the store is filtered after, so an
        ERP that does not know a store is never asked about it)."""
        return [
            ErpPosting(name, posting)
            for name, erp in self.erps.items()
            for posting in await erp.postings(business_day)
        ]

    async def _find(self, key: str) -> list[ErpPosting]:
        """The postings under `key` in every ERP, whatever their day."""
        found = []
        for name, erp in self.erps.items():
            posting = await erp.find_posting(key)
            if posting is not None:
                found.append(ErpPosting(name, posting))
        return found

    async def _known(self, keys: set[str]) -> set[str]:
        """The keys among `keys` of a document the hub recorded (on another day or store)."""
        if not keys:
            return set()
        return_ids = {
            return_id
            for key in keys
            if (return_id := self.settings.return_of_credit_note(key)) is not None
        }
        async with self.bus.transaction() as transaction:
            orders = await documents_by_id(transaction, DocumentKind.ORDER, keys)
            returns = await documents_by_id(transaction, DocumentKind.RETURN, return_ids)
        known = set(orders)
        known |= {self.settings.credit_note_key(return_id) for return_id in returns}
        return known & keys

    async def _points(
        self, rows: Sequence[Recorded]
    ) -> tuple[dict[str, str], dict[str, list[LoyaltyTransaction]]]:
        """The member of each cancelled order and return of the day, and each member's ledger."""
        cancelled = [
            r
            for r in rows
            if r.kind is DocumentKind.ORDER and r.status == OrderStatus.CANCELLED.value
        ]
        returns = [r for r in rows if r.kind is DocumentKind.RETURN]
        originals: dict[str, Recorded] = {}
        wanted = {r.original_order_id for r in returns if r.original_order_id}
        if wanted:
            async with self.bus.transaction() as transaction:
                originals = await documents_by_id(transaction, DocumentKind.ORDER, wanted)
        members: dict[str, str] = {}
        for row in cancelled:
            member = await self._member_of_order(row.order)
            if member is not None:
                members[row.document_id] = member
        for row in returns:
            card = row.return_.loyalty_card
            member = None
            if card:
                account = await self.loyalty.find_member(card=card)
                member = None if account is None else account.member_id
            original = originals.get(row.original_order_id or "")
            if member is None and original is not None:
                member = await self._member_of_order(original.order)
            if member is not None:
                members[row.document_id] = member
        ledgers = {m: await self.loyalty.ledger(m) for m in sorted(set(members.values()))}
        return members, ledgers

    async def _member_of_order(self, order: Order) -> str | None:
        """The member an order earns for, found as order-to-cash finds them."""
        loyalty = self.loyalty
        account = None
        if order.loyalty_card:
            account = await loyalty.find_member(card=order.loyalty_card)
        member_id = order.customer_ids.get(loyalty.name)
        if account is None and member_id:
            account = await loyalty.find_member(member_id=member_id)
        if account is None and order.email:
            account = await loyalty.find_member(email=order.email)
        return None if account is None else account.member_id


def _by_key(postings: Sequence[ErpPosting]) -> dict[str, list[ErpPosting]]:
    """Postings grouped by the key they were written under."""
    grouped: dict[str, list[ErpPosting]] = {}
    for one in postings:
        grouped.setdefault(one.posting.key, []).append(one)
    return grouped
