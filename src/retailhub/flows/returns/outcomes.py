"""What a refund that went through did in each system, as the status projection records it."""

from __future__ import annotations

from retailhub.canonical.returns import Return
from retailhub.flows.returns.booking import Booked
from retailhub.flows.returns.calls import Attempted
from retailhub.flows.returns.decisions import platform_refund
from retailhub.flows.returns.receiving import Claimed
from retailhub.flows.returns.status import Outcome, SystemOutcome


def refund_outcomes(
    document: Return,
    claimed: Claimed,
    booked: Booked,
    refund: Attempted[str],
    closed: Attempted[str],
) -> list[SystemOutcome]:
    """Every system's outcome for a refund that went through: guard, booking, platform, CRM."""
    return [
        guard_outcome(claimed),
        *booked_outcomes(document, booked, refund),
        crm_outcome(closed),
    ]


def booked_outcomes(
    document: Return, booked: Booked, refund: Attempted[str]
) -> list[SystemOutcome]:
    """The outcome in the ERP, loyalty, stock and commerce of a refund that went through."""
    points = booked.points.value
    reversed_ = -sum(r.points for r in points.transactions if r.points < 0) if points else 0
    restocked = booked.stock.value or ()
    where = ", ".join(sorted({line.location for line in restocked}))
    return [
        SystemOutcome(
            "erp", Outcome.DONE, booked.credit.value, detail=f"credit note {document.refund_total}"
        ),
        SystemOutcome(
            "loyalty",
            Outcome.DONE if points and points.member_id else Outcome.SKIPPED,
            points.member_id if points and points.member_id else None,
            points.points if points else None,
            f"{reversed_} points reversed, {document.points_refunded()} re-credited"
            if points and points.member_id
            else "no loyalty member on the sale",
        ),
        SystemOutcome(
            "stock",
            Outcome.DONE if restocked else Outcome.SKIPPED,
            detail=f"restocked at {where}" if restocked else "nothing goes back on the shelf",
        ),
        SystemOutcome(
            "commerce",
            Outcome.DONE if refund.value else Outcome.SKIPPED,
            refund.value,
            detail=f"refunded {platform_refund(document).refund_total}"
            if refund.value
            else "not owed by the platform",
        ),
    ]


def guard_outcome(claimed: Claimed) -> SystemOutcome:
    """The guard claimed the quantities (for the online request named, if any)."""
    return SystemOutcome("guard", Outcome.DONE, claimed.request_id, detail="quantities claimed")


def crm_outcome(closed: Attempted[str]) -> SystemOutcome:
    """The case closed, or why not."""
    return SystemOutcome(
        "crm",
        Outcome.DONE if closed.ok else Outcome.FAILED,
        closed.value,
        detail="case closed" if closed.ok else closed.error,
    )
