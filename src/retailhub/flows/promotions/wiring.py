"""Promotion publishing on the bus: each authored promotion version starts its saga, once.

The subscription `promotions.publishing` starts the saga for every `retail.promotion.authored.v1`
under the workflow id `promotion_publishing:<promotion id>:v<version>`, so a redelivered or
replayed event, or the same version authored twice, runs one saga. It then waits for the saga
to end, holding its promotion's turn on the bus: versions of one promotion are published one
after the other, in the order they were authored, while other promotions run alongside.

The saga is started outside the handler's context: its steps open transactions of their own on
the hub's database, which a bus refuses from inside a handler (that would wait on the handler's
own batch). The handler writes nothing itself, so it never holds the batch's write lock while
it waits.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from retailhub.bus.port import DEFAULT_RETRY, EventBus, HandlerContext, RetryPolicy
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.promotion import Promotion
from retailhub.connectors.ports import CommercePort, ErpPort, LoyaltyPort, PosPort
from retailhub.flows.alerts import create_alerts_table
from retailhub.flows.promotions.channels import PromotionChannels
from retailhub.flows.promotions.publishing import (
    PromotionPublisher,
    PublicationResult,
    PublishingSettings,
)
from retailhub.flows.promotions.store import create_promotion_tables
from retailhub.flows.sagas import (
    AlertSink,
    Saga,
    SagaOutcome,
    WorkflowRuntime,
    register_saga,
    start_saga,
)

SUBSCRIPTION = "promotions.publishing"
AUTHORED_EVENT = "retail.promotion.authored.v1"


async def publish_version(
    runtime: WorkflowRuntime,
    saga: Saga[dict[str, Any], PublicationResult],
    promotion: Promotion,
) -> SagaOutcome[PublicationResult]:
    """Start (once) the saga of one promotion version, in a context of its own, and await it."""

    async def start() -> SagaOutcome[PublicationResult]:
        handle = await start_saga(runtime, saga, promotion.key, promotion.model_dump(mode="json"))
        return await handle.get_result()

    return await asyncio.create_task(start(), context=contextvars.Context())


async def subscribe_promotion_publishing(
    bus: EventBus,
    runtime: WorkflowRuntime,
    *,
    erp: ErpPort,
    commerce: CommercePort,
    pos: PosPort,
    loyalty: LoyaltyPort,
    alerts: AlertSink,
    settings: PublishingSettings | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    concurrency: int = 8,
) -> list[str]:
    """Create the projection's tables, register the saga and subscribe; the subscription names."""
    async with bus.transaction() as transaction:
        await create_promotion_tables(transaction)
        await create_alerts_table(transaction)
    channels = PromotionChannels(commerce=commerce, pos=pos, loyalty=loyalty)
    saga = PromotionPublisher(bus, erp, channels, settings or PublishingSettings()).saga(alerts)
    register_saga(saga)

    async def start_publishing(event: CloudEvent, context: HandlerContext) -> None:
        await publish_version(runtime, saga, Promotion.model_validate(event.data))

    await bus.subscribe(
        SUBSCRIPTION, [AUTHORED_EVENT], start_publishing, retry=retry, concurrency=concurrency
    )
    return [SUBSCRIPTION]
