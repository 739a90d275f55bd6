"""Booking a return in the systems, in parallel, and undoing that booking.

One saga step books the return everywhere it is independent of the rest: the ERP credit note,
the loyalty reversal and re-credit, the restock where the goods arrived, and the CRM case
(opened when no online request opened it already). The calls run at once, so the step takes
as long as the slowest system, and DBOS checkpoints one step rather than four. Each call's
answer is kept, success or failure, so the undo knows what to take back: everything done, and
whatever a failed call may have half-done (each call is keyed, so undoing "what was written
under this key" is safe when nothing was). A CRM failure does not stop the refund: the case is
retried when the refund closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from retailhub.canonical.order import Order
from retailhub.canonical.returns import Return
from retailhub.connectors.ports import CrmPort, ErpPort, LoyaltyPort, PointsOutcome
from retailhub.flows.order_to_cash.decisions import sale_key
from retailhub.flows.order_to_cash.loyalty import member_order
from retailhub.flows.returns.calls import Attempted, CallPolicy, attempt
from retailhub.flows.returns.crm import buyer_contact
from retailhub.flows.returns.decisions import RestockLine, case_opening_text, case_subject
from retailhub.flows.returns.status import Outcome, SystemOutcome

T = TypeVar("T")

BOOKED_SYSTEMS = ("erp", "loyalty", "stock")
"""The systems whose booking stops the refund when it fails, and is undone when it stops."""


@dataclass(frozen=True)
class Booked:
    """What booking did in each system (picklable, checkpointed as the step's result)."""

    credit: Attempted[str]
    points: Attempted[PointsOutcome]
    stock: Attempted[tuple[RestockLine, ...]]
    """The lines put back, also when a later line failed."""
    case: Attempted[str]

    def failures(self) -> list[str]:
        """`system: reason` for each booked system whose call failed for good."""
        parts: dict[str, Attempted[Any]] = {
            "erp": self.credit,
            "loyalty": self.points,
            "stock": self.stock,
        }
        return [f"{system}: {done.error}" for system, done in parts.items() if not done.ok]


@dataclass
class Booking:
    """The calls that book and unbook a return, over the ERP, loyalty and CRM ports."""

    erp: ErpPort
    loyalty: LoyaltyPort
    crm: CrmPort
    calls: CallPolicy

    async def _call(self, call: Callable[[], Awaitable[T]]) -> Attempted[T]:
        return await attempt(call, self.calls)

    async def book(
        self,
        document: Return,
        order: Order | None,
        lines: list[RestockLine],
        case: tuple[str | None, str],
        key: Callable[[str], str],
    ) -> Booked:
        """Credit note, points, restock and case, at once; each call's answer."""
        credit, points, stock, case_id = await asyncio.gather(
            self._call(lambda: self._credit_note(document, key("erp"))),
            self._points(document, order, key("loyalty")),
            self._restock(lines, key("restock")),
            self._call(lambda: self.case(document, order, case)),
        )
        return Booked(credit, points, stock, case_id)

    async def _credit_note(self, document: Return, key: str) -> str:
        return (await self.erp.post_credit_note(document, key)).external_id

    async def _points(
        self, document: Return, order: Order | None, key: str
    ) -> Attempted[PointsOutcome]:
        """Reverse what the returned lines earned (bonus included), re-credit points that paid.

        The sale is registered first, under order-to-cash's own key: a return can overtake its
        sale on the way to the platform (o2c.loyalty retrying through an outage), and a
        platform that does not know the sale reverses nothing for it. The platform keeps one
        sale per key, so this changes nothing when the sale is already there."""
        if not has_member(document, order):
            return Attempted(PointsOutcome("", 0))

        async def reverse() -> PointsOutcome:
            if order is not None:
                matched = await member_order(self.loyalty, order)
                if matched is not None:
                    await self.loyalty.register_sale(matched, sale_key(order.order_id))
            return await self.loyalty.register_return(document, key)

        return await self._call(reverse)

    async def _restock(
        self, lines: list[RestockLine], key: str
    ) -> Attempted[tuple[RestockLine, ...]]:
        """Each restocked line back on hand (keyed per line); the lines done, even on failure."""
        done: list[RestockLine] = []

        async def put_back() -> tuple[RestockLine, ...]:
            for line in lines:
                await self.erp.adjust_stock(
                    line.sku, line.location, line.quantity, f"{key}:{line.line_id}"
                )
                if line not in done:
                    done.append(line)
            return tuple(done)

        stocked = await self._call(put_back)
        return stocked if stocked.ok else Attempted(tuple(done), stocked.error, stocked.refused)

    async def case(
        self, document: Return, order: Order | None, case: tuple[str | None, str]
    ) -> str:
        """The return's case: the request's when there is one, else opened once per key."""
        case_id, key = case
        if case_id is not None:
            return case_id
        contact = await buyer_contact(self.crm, order)
        return await self.crm.open_case(
            contact, case_subject(document), case_opening_text(document), key
        )

    async def unbook(
        self, document: Return, booked: Booked, key: Callable[[str], str]
    ) -> list[SystemOutcome]:
        """Undo the booking in every system, at once; each system's outcome after the undo.

        Raises the first undo that failed, after trying them all, so the saga retries the
        compensation (every undo is safe to repeat) and, failing for good, needs an operator.
        """
        undos: dict[str, Awaitable[Any]] = {}
        if booked.credit.ok or not booked.credit.refused:
            undos["erp"] = self.erp.void_credit_note(key("erp"))
        member = booked.points.value.member_id if booked.points.value else ""
        if member or (not booked.points.ok and not booked.points.refused):
            undos["loyalty"] = self._cancel_points(document, booked.points, key("loyalty"))
        if booked.stock.value:
            undos["stock"] = self._unstock(booked.stock.value, key("restock"))
        results = await asyncio.gather(*undos.values(), return_exceptions=True)
        errors = dict(zip(undos, results, strict=True))
        parts: dict[str, Attempted[Any]] = {
            "erp": booked.credit,
            "loyalty": booked.points,
            "stock": booked.stock,
        }
        outcomes = [
            _after_undo(system, parts[system], system in undos, errors.get(system))
            for system in BOOKED_SYSTEMS
        ]
        failed = [e for e in results if isinstance(e, BaseException)]
        if failed:
            raise UndoFailed(outcomes, failed[0])
        return outcomes

    async def _cancel_points(
        self, document: Return, done: Attempted[PointsOutcome], key: str
    ) -> None:
        """Cancel the return's transfers; after a failed call, find them by registering again
        (the platform answers a repeated document with its first registration)."""
        outcome = done.value if done.ok else await self.loyalty.register_return(document, key)
        if outcome is None or not outcome.member_id:
            return
        for row in outcome.transactions:
            await self.loyalty.cancel_transfer(row.transaction_id)

    async def _unstock(self, lines: tuple[RestockLine, ...], key: str) -> None:
        """Take back off hand exactly the lines that were put back."""
        for line in lines:
            await self.erp.adjust_stock(
                line.sku, line.location, -line.quantity, f"{key}:{line.line_id}:undo"
            )


class UndoFailed(Exception):
    """Undoing a booking failed in some system: the outcomes after trying, and the first error."""

    def __init__(self, outcomes: list[SystemOutcome], error: BaseException) -> None:
        self.outcomes = outcomes
        super().__init__(f"{type(error).__name__}: {error}")


def _after_undo(
    system: str, done: Attempted[Any], tried: bool, error: BaseException | None
) -> SystemOutcome:
    """One system's outcome once its undo ran (or was not needed)."""
    if error is not None:
        failed = f"{done.error}; " if not done.ok else ""
        return SystemOutcome(
            system,
            Outcome.ATTENTION,
            detail=f"{failed}could not be undone: {type(error).__name__}: {error}",
        )
    if not done.ok:
        note = " (whatever it wrote was undone)" if tried else ""
        return SystemOutcome(system, Outcome.FAILED, detail=f"{done.error}{note}")
    if not tried:
        return SystemOutcome(system, Outcome.SKIPPED, detail="nothing to undo")
    return SystemOutcome(system, Outcome.REVERSED, detail="undone")


def has_member(document: Return, order: Order | None) -> bool:
    """True when the sale or the return names someone the loyalty platform may know."""
    if document.loyalty_card or document.points_refunded():
        return True
    return order is not None and bool(order.loyalty_card or order.email)
