"""Validation of a promotion version, the saga's first step: stale, rejected, or a plan to publish.

The ERP is asked first (eligible SKUs, their pricing controls), outside any transaction; then,
in one bus transaction, the version is compared with what the hub already holds — later
versions (stale), other live promotions (overlap), its own live predecessor (superseded) — and
its row is written. Writing the row `publishing` in the same transaction that checked for
overlaps means two promotions validated at once cannot both pass against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from retailhub.bus.port import EventBus
from retailhub.canonical.promotion import Promotion, PromotionStatus
from retailhub.connectors.ports import ErpPort
from retailhub.flows.alerts import Alert, record_alert
from retailhub.flows.promotions.rules import (
    channel_reasons,
    overlap_reasons,
    pricing_reasons,
    target_systems,
)
from retailhub.flows.promotions.store import (
    LIVE,
    VersionState,
    create_promotion_tables,
    live_promotions,
    record_version,
    versions_of,
)

REJECTED_ALERT = "promotion_publishing.rejected"

PUBLISH = "publish"
WITHDRAW = "withdraw"
REJECTED = "rejected"
STALE = "stale"


@dataclass(frozen=True)
class Plan:
    """What validation decided for a version: publish it (to `targets`, retiring what the live
    predecessor had elsewhere), withdraw the promotion (a cancelled version), or nothing."""

    decision: str
    targets: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    previous_version: int | None = None
    previous_targets: tuple[str, ...] = ()
    latest_version: int | None = None

    @property
    def retire(self) -> tuple[str, ...]:
        """Systems the predecessor was published to that this version no longer targets."""
        return tuple(t for t in self.previous_targets if t not in self.targets)


@dataclass(frozen=True)
class ValidationSettings:
    """The hub's own pricing rule: the lowest gross margin any promotion may leave, if any."""

    minimum_margin_percent: Decimal | None = None
    reasons_in_alert: int = 20


async def eligible_skus(erp: ErpPort, promotion: Promotion) -> list[str]:
    """The SKUs the promotion applies to: those it names, those under its hierarchy nodes, or
    the whole item master for a basket-wide offer (both read from the ERP)."""
    eligibility = promotion.eligibility
    skus = set(eligibility.skus)
    if eligibility.hierarchy_nodes or not eligibility.targets_items:
        async for product in erp.products():
            if not eligibility.targets_items or any(
                product.in_hierarchy(node) for node in eligibility.hierarchy_nodes
            ):
                skus.add(product.sku)
    return sorted(skus)


def _rejection_alert(promotion: Promotion, reasons: list[str], shown: int) -> Alert:
    more = f"\n... and {len(reasons) - shown} more" if len(reasons) > shown else ""
    return Alert(
        REJECTED_ALERT,
        promotion.key,
        f"promotion {promotion.promotion_id} v{promotion.version} ({promotion.name}) rejected:"
        f" {len(reasons)} reason(s), first: {reasons[0]}",
        "\n".join(reasons[:shown]) + more,
    )


async def validate(
    bus: EventBus,
    erp: ErpPort,
    promotion: Promotion,
    workflow_id: str,
    settings: ValidationSettings,
) -> Plan:
    """Decide what to do with a promotion version and record it (rejection with its alert)."""
    cancelled = promotion.status is PromotionStatus.CANCELLED
    skus = [] if cancelled else await eligible_skus(erp, promotion)
    controls = await erp.pricing_controls(skus) if skus else []
    async with bus.transaction() as transaction:
        await create_promotion_tables(transaction)
        versions = await versions_of(transaction, promotion.promotion_id)
        latest = max((v.version for v in versions), default=None)
        previous = next(
            (v for v in versions if v.version < promotion.version and v.state in LIVE), None
        )
        previous_version = None if previous is None else previous.version
        previous_targets = () if previous is None else previous.targets
        if latest is not None and latest > promotion.version:
            reason = f"version {latest} of this promotion arrived first"
            await record_version(
                transaction,
                promotion,
                state=VersionState.STALE,
                skus=skus,
                targets=(),
                reasons=[reason],
                workflow_id=workflow_id,
            )
            return Plan(STALE, reasons=(reason,), latest_version=latest)
        if cancelled:
            await record_version(
                transaction,
                promotion,
                state=VersionState.PUBLISHING,
                skus=(),
                targets=(),
                reasons=["cancelled by its author"],
                workflow_id=workflow_id,
            )
            return Plan(
                WITHDRAW, previous_version=previous_version, previous_targets=previous_targets
            )
        reasons = [
            *channel_reasons(promotion),
            *pricing_reasons(
                promotion,
                skus,
                controls,
                minimum_margin_percent=settings.minimum_margin_percent,
            ),
            *overlap_reasons(promotion, skus, await live_promotions(transaction)),
        ]
        targets = target_systems(promotion)
        state = VersionState.REJECTED if reasons else VersionState.PUBLISHING
        await record_version(
            transaction,
            promotion,
            state=state,
            skus=skus,
            targets=targets,
            reasons=reasons,
            workflow_id=workflow_id,
        )
        if reasons:
            await record_alert(
                transaction, _rejection_alert(promotion, reasons, settings.reasons_in_alert)
            )
            return Plan(REJECTED, reasons=tuple(reasons))
        return Plan(
            PUBLISH,
            targets=targets,
            skus=tuple(skus),
            previous_version=previous_version,
            previous_targets=previous_targets,
        )
