"""The promotion publishing saga: validate, publish to each system, read back and measure drift.

One saga per promotion version (workflow `promotion_publishing:<id>:v<version>`), in coarse
durable steps:

1. `validate` — stale, rejected (every reason recorded, an alert, nothing published), a
   cancellation (withdraw the live version), or a plan: the target systems, and the live
   predecessor this version supersedes. When the ERP cannot be asked for good, the version
   is recorded failed (`record_unvalidated`) and the saga raises its alert.
2. `publish:<target>` for `commerce`, `pos`, `loyalty` as the plan names them, each
   compensated by withdrawing the promotion from that system. On the web shop a price rule
   belongs to one version, so the predecessor's rule is withdrawn just before the new one is
   put (the POS feed and the loyalty platform replace a version with the next).
3. `retire:<target>` — the predecessor's systems this version no longer runs in.
4. `read_back` — every system's copy compared field by field with what was sent; drift and
   accuracy recorded, the version `published`, its predecessor `superseded`, and
   `retail.promotion.published.v1` published in the same transaction; an alert on drift.

When a system refuses for good, `record_failure` withdraws the promotion from every system no
compensation will reach (the one that failed, and those still holding the predecessor), then
the saga compensates the systems it published to and raises its alert: a failed version
leaves the promotion out of every channel, never half published.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.promotion import Promotion, PromotionStatus
from retailhub.connectors.errors import MappingError
from retailhub.connectors.http import RequestRefused
from retailhub.connectors.ports import ErpPort
from retailhub.flows.alerts import Alert, record_alert, resolve_alert
from retailhub.flows.promotions.channels import PromotionChannels
from retailhub.flows.promotions.drift import ChannelCheck, accuracy
from retailhub.flows.promotions.rules import COMMERCE, as_sent
from retailhub.flows.promotions.store import (
    ChannelState,
    VersionState,
    create_promotion_tables,
    record_channel,
    record_check,
    record_version,
    set_channels_state,
    set_version_state,
)
from retailhub.flows.promotions.validation import (
    PUBLISH,
    WITHDRAW,
    Plan,
    ValidationSettings,
    validate,
)
from retailhub.flows.sagas import AlertSink, Saga, SagaSteps, StepRetry
from retailhub.flows.sagas.saga import DEFAULT_COMPENSATION_RETRY, SagaAborted

SAGA_NAME = "promotion_publishing"
PUBLISHED_EVENT = "retail.promotion.published.v1"
DRIFT_ALERT = "promotion_publishing.drift"
WITHDRAWAL_ALERT = "promotion_publishing.withdrawal"
REFUSALS: tuple[type[Exception], ...] = (MappingError, RequestRefused)
"""Errors a system answers that repeating the call cannot change: not retried."""


@dataclass(frozen=True)
class PublishingSettings:
    """How promotions are validated and published: the hub's margin rule, the events' source,
    and the retries of publishing steps and of their compensations."""

    validation: ValidationSettings = field(default_factory=ValidationSettings)
    source: str = "/retailhub/promotions"
    validation_retry: StepRetry = field(
        default_factory=lambda: StepRetry(max_attempts=6, give_up_on=REFUSALS)
    )
    """About a minute for the ERP to answer: a version that cannot be validated fails for good."""
    step_retry: StepRetry = field(
        default_factory=lambda: StepRetry(max_attempts=5, give_up_on=REFUSALS)
    )
    """About fifteen seconds for a system to take a version before the others are withdrawn."""
    compensation_retry: StepRetry = DEFAULT_COMPENSATION_RETRY


@dataclass(frozen=True)
class PublicationResult:
    """How a version's saga ended, as its workflow result: its state, accuracy and reasons."""

    promotion_id: str
    version: int
    state: VersionState
    accuracy: Decimal | None = None
    reasons: tuple[str, ...] = ()


def as_published(promotion: Promotion) -> Promotion:
    """The version as systems get it: active (a draft submitted for publishing goes live in its
    window), unless its author cancelled it."""
    if promotion.status is PromotionStatus.CANCELLED:
        return promotion
    return promotion.model_copy(update={"status": PromotionStatus.ACTIVE})


def drift_alert(promotion: Promotion, checks: Iterable[ChannelCheck], score: Decimal) -> Alert:
    """The operator alert for a promotion whose systems hold something else than was sent."""
    rows = [d for check in checks for d in check.drift]
    detail = "\n".join(
        f"{d.target} {d.field}: expected {d.expected}, found {d.found}" for d in rows
    )
    first = rows[0] if rows else None
    where = f"; first: {first.target} {first.field}" if first else ""
    return Alert(
        DRIFT_ALERT,
        promotion.promotion_id,
        f"promotion {promotion.promotion_id} v{promotion.version} drifted: accuracy {score} %"
        f", {len(rows)} field(s) differ{where}",
        detail,
    )


async def record_drift_alert(
    transaction: Transaction, promotion: Promotion, checks: list[ChannelCheck], score: Decimal
) -> None:
    """Raise the drift alert when a system differs, resolve it when all match again."""
    if score < Decimal(100):
        await record_alert(transaction, drift_alert(promotion, checks, score))
    else:
        await resolve_alert(transaction, DRIFT_ALERT, promotion.promotion_id)


class PromotionPublisher:
    """The saga's body and its steps' actions, over the hub's bus, the ERP and the channels."""

    def __init__(
        self,
        bus: EventBus,
        erp: ErpPort,
        channels: PromotionChannels,
        settings: PublishingSettings,
    ) -> None:
        self.bus, self.erp, self.channels, self.settings = bus, erp, channels, settings

    def saga(self, alerts: AlertSink) -> Saga[dict[str, Any], PublicationResult]:
        """The saga running this body, raising its alerts on `alerts`."""
        return Saga(
            SAGA_NAME,
            self.run,
            alerts,
            step_retry=self.settings.step_retry,
            compensation_retry=self.settings.compensation_retry,
        )

    async def run(self, steps: SagaSteps, payload: dict[str, Any]) -> PublicationResult:
        """Publish one promotion version (the body of the saga)."""
        promotion = as_published(Promotion.model_validate(payload))
        try:
            plan: Plan = await steps.step(
                "validate",
                partial(
                    validate,
                    self.bus,
                    self.erp,
                    promotion,
                    steps.workflow_id,
                    self.settings.validation,
                ),
                retry=self.settings.validation_retry,
            )
        except SagaAborted as aborted:
            await steps.step(
                "record_unvalidated",
                partial(self._record_unvalidated, promotion, steps.workflow_id, aborted),
            )
            raise
        if plan.decision not in (PUBLISH, WITHDRAW):
            return PublicationResult(
                promotion.promotion_id,
                promotion.version,
                VersionState(plan.decision),
                reasons=plan.reasons,
            )
        settled: list[str] = []
        external_ids: dict[str, str] = {}
        try:
            for target in plan.targets:
                external_ids[target] = await steps.step(
                    f"publish:{target}",
                    partial(self._publish, promotion, plan, target),
                    compensate=partial(self._compensate, promotion, target),
                )
                settled.append(target)
            for target in plan.retire:
                await steps.step(f"retire:{target}", partial(self._retire, promotion, plan, target))
                settled.append(target)
        except SagaAborted as aborted:
            await steps.step(
                "record_failure",
                partial(self._record_failure, promotion, plan, aborted, tuple(settled)),
            )
            raise
        if plan.decision == WITHDRAW:
            await steps.step("record_withdrawal", partial(self._record_withdrawal, promotion, plan))
            return PublicationResult(
                promotion.promotion_id, promotion.version, VersionState.WITHDRAWN
            )
        score: Decimal = await steps.step(
            "read_back", partial(self._read_back, promotion, plan, external_ids)
        )
        return PublicationResult(
            promotion.promotion_id, promotion.version, VersionState.PUBLISHED, score
        )

    async def _record_unvalidated(
        self, promotion: Promotion, workflow_id: str, aborted: SagaAborted
    ) -> None:
        """A version the ERP could not validate is recorded failed; nothing was touched, so a
        live predecessor stays."""
        async with self.bus.transaction() as transaction:
            await create_promotion_tables(transaction)
            await record_version(
                transaction,
                promotion,
                state=VersionState.FAILED,
                skus=(),
                targets=(),
                reasons=[aborted.reason],
                workflow_id=workflow_id,
            )

    async def _publish(self, promotion: Promotion, plan: Plan, target: str) -> str:
        if target == COMMERCE and COMMERCE in plan.previous_targets:
            await self.channels.withdraw(COMMERCE, promotion.promotion_id)
        external_id = await self.channels.publish(target, as_sent(promotion, target, plan.skus))
        async with self.bus.transaction() as transaction:
            await record_channel(
                transaction,
                promotion.promotion_id,
                promotion.version,
                target,
                system=self.channels.system(target),
                state=ChannelState.PUBLISHED,
                external_id=external_id,
            )
        return external_id

    async def _compensate(self, promotion: Promotion, target: str, _external_id: str) -> None:
        await self.channels.withdraw(target, promotion.promotion_id)
        async with self.bus.transaction() as transaction:
            await record_channel(
                transaction,
                promotion.promotion_id,
                promotion.version,
                target,
                system=self.channels.system(target),
                state=ChannelState.WITHDRAWN,
                detail="withdrawn: another system refused this version",
            )

    async def _retire(self, promotion: Promotion, plan: Plan, target: str) -> None:
        await self.channels.withdraw(target, promotion.promotion_id)
        if plan.previous_version is None:
            return
        why = (
            "cancelled by its author"
            if plan.decision == WITHDRAW
            else f"v{promotion.version} no longer runs there"
        )
        async with self.bus.transaction() as transaction:
            await record_channel(
                transaction,
                promotion.promotion_id,
                plan.previous_version,
                target,
                system=self.channels.system(target),
                state=ChannelState.WITHDRAWN,
                detail=f"withdrawn: {why}",
            )

    async def _record_failure(
        self, promotion: Promotion, plan: Plan, aborted: SagaAborted, settled: tuple[str, ...]
    ) -> tuple[str, ...]:
        """Withdraw from every system no compensation reaches; record the failure; the systems
        that could not be withdrawn from, which an operator must check."""
        failed_target = aborted.step.partition(":")[2]
        reach = dict.fromkeys((*plan.targets, *plan.previous_targets))
        stuck: dict[str, str] = {}
        for target in (t for t in reach if t not in settled):
            try:
                await self.channels.withdraw(target, promotion.promotion_id)
            except Exception as error:
                stuck[target] = f"{type(error).__name__}: {error}"
        pid, version = promotion.promotion_id, promotion.version
        detail = aborted.reason
        if failed_target in stuck:
            detail += f"; withdrawal failed: {stuck[failed_target]}"
        async with self.bus.transaction() as transaction:
            await set_version_state(
                transaction, pid, version, VersionState.FAILED, [aborted.reason]
            )
            if failed_target in plan.targets and aborted.step.startswith("publish:"):
                await record_channel(
                    transaction,
                    pid,
                    version,
                    failed_target,
                    system=self.channels.system(failed_target),
                    state=ChannelState.FAILED,
                    detail=detail,
                )
            if plan.previous_version is not None:
                await set_version_state(
                    transaction, pid, plan.previous_version, VersionState.WITHDRAWN
                )
                await set_channels_state(
                    transaction,
                    pid,
                    plan.previous_version,
                    ChannelState.WITHDRAWN,
                    f"withdrawn: v{version} failed at {aborted.step}",
                )
            if stuck:
                await record_alert(
                    transaction,
                    Alert(
                        WITHDRAWAL_ALERT,
                        promotion.key,
                        f"promotion {pid} v{version} failed and could not be withdrawn from"
                        f" {', '.join(sorted(stuck))}: check what those systems still hold",
                        "\n".join(f"{t}: {e}" for t, e in sorted(stuck.items())),
                        needs_operator=True,
                    ),
                )
        return tuple(sorted(stuck))

    async def _record_withdrawal(self, promotion: Promotion, plan: Plan) -> None:
        async with self.bus.transaction() as transaction:
            pid = promotion.promotion_id
            if plan.previous_version is not None:
                await set_version_state(
                    transaction, pid, plan.previous_version, VersionState.WITHDRAWN
                )
            await set_version_state(transaction, pid, promotion.version, VersionState.WITHDRAWN)

    async def _read_back(
        self, promotion: Promotion, plan: Plan, external_ids: dict[str, str]
    ) -> Decimal:
        checks = await self.channels.check_all(plan.targets, promotion, plan.skus)
        score = accuracy(checks)
        pid, version = promotion.promotion_id, promotion.version
        published = promotion.model_copy(
            update={
                "external_ids": {
                    **promotion.external_ids,
                    **{self.channels.system(t): i for t, i in external_ids.items()},
                }
            }
        )
        event = to_event(
            published, PUBLISHED_EVENT, self.settings.source, id=f"{promotion.key}:published"
        )
        async with self.bus.transaction() as transaction:
            await record_check(transaction, pid, version, checks, score, datetime.now(UTC))
            await set_version_state(transaction, pid, version, VersionState.PUBLISHED)
            if plan.previous_version is not None:
                await set_version_state(
                    transaction, pid, plan.previous_version, VersionState.SUPERSEDED
                )
                await set_channels_state(
                    transaction,
                    pid,
                    plan.previous_version,
                    ChannelState.SUPERSEDED,
                    f"superseded by v{version}",
                )
            await record_drift_alert(transaction, promotion, checks, score)
            await self.bus.publish([event], transaction=transaction)
        return score
