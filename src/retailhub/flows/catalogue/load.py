"""The bulk initial load: the whole item master into the commerce platform, the POS item file
and the loyalty catalogue, batch by batch, with a checkpoint in the hub's DB after each batch.

A batch is sent to the three targets at once (listings and loyalty items a few at a time, the
POS item file in one request) and then checkpointed in one hub transaction: its SKUs in
`catalogue_load_items`, the counters in `catalogue_load`, and each item as captured and as
applied at every target, so neither the poller nor the subscriptions send it again. A load
that stops (killed, a target down) resumes from its checkpoint with `resume=True`: the ERP is
read again from the start and every SKU already checkpointed is skipped, so no completed batch
is sent twice; the batch in flight when it stopped is sent again, which every target takes as
a repeat (listings are found by SKU, POS batches by content, loyalty items are PUT whole).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.product import Product
from retailhub.connectors.ports import CommercePort, ErpPort, LoyaltyPort, PosPort
from retailhub.flows.catalogue.capture import PRODUCTS, Captured, captured, remember
from retailhub.flows.catalogue.decisions import (
    listed_variants,
    listing_of,
    next_sequence,
    product_fingerprint,
)
from retailhub.flows.catalogue.events import micros
from retailhub.flows.catalogue.ledger import AppliedLedger
from retailhub.flows.catalogue.settings import CatalogueSettings
from retailhub.flows.catalogue.storage import create_catalogue_tables
from retailhub.flows.storage import placeholders

LOAD_ID = 1
"""One load at a time: a new load replaces the checkpoint of the previous one."""
TARGETS = ("commerce.products", "pos.items", "loyalty.products")
DEFAULT_BATCH = 200
MAX_BATCH = 500
"""A batch is one POS item-file request, which store servers take 500 items at most."""


class LoadState(StrEnum):
    """Where a load stands."""

    RUNNING = "running"
    STOPPED = "stopped"
    DONE = "done"


class NothingToResume(Exception):
    """`resume` asked for, but no load was started or the last one finished."""


@dataclass(frozen=True)
class LoadProgress:
    """A load's checkpoint: how many batches and items are done, and where it stands."""

    state: LoadState
    batch_size: int
    batches: int
    items: int
    started_at: datetime
    updated_at: datetime
    last_error: str | None = None

    @property
    def finished(self) -> bool:
        """True once every item of the ERP was sent."""
        return self.state is LoadState.DONE


@dataclass(frozen=True)
class LoadTargets:
    """The three systems the item master is loaded into."""

    commerce: CommercePort
    pos: PosPort
    loyalty: LoyaltyPort


ProgressCallback = Callable[[LoadProgress, int], None]
"""Called after each checkpoint with the progress and the items skipped as already loaded."""


async def load_catalogue(
    bus: EventBus,
    erp: ErpPort,
    targets: LoadTargets,
    *,
    settings: CatalogueSettings | None = None,
    batch_size: int = DEFAULT_BATCH,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    parallel: int = 8,
) -> LoadProgress:
    """Load the whole item master into the three targets and return the final checkpoint.

    Raises NothingToResume when `resume` finds no unfinished load, and re-raises a target's
    failure after recording it (the checkpoint stays at the last completed batch)."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} items, not {batch_size}")
    chosen = settings or CatalogueSettings()
    async with bus.transaction() as transaction:
        await create_catalogue_tables(transaction)
        progress, done = await _begin(transaction, batch_size, resume)
    skipped = 0
    batch: list[Product] = []
    try:
        async for product in erp.products():
            if product.sku in done:
                skipped += 1
                continue
            batch.append(product)
            done.add(product.sku)
            if len(batch) == progress.batch_size:
                progress = await _send(bus, targets, batch, progress, chosen, parallel)
                batch = []
                if on_progress:
                    on_progress(progress, skipped)
        if batch:
            progress = await _send(bus, targets, batch, progress, chosen, parallel)
        async with bus.transaction() as transaction:
            progress = await _save(transaction, progress, state=LoadState.DONE)
    except BaseException as error:
        async with bus.transaction() as transaction:
            await _save(transaction, progress, state=LoadState.STOPPED, error=_describe(error))
        raise
    if on_progress:
        on_progress(progress, skipped)
    return progress


async def load_progress(reader: Transaction) -> LoadProgress | None:
    """The checkpoint of the latest load, or None when none was ever started."""
    await create_catalogue_tables(reader)
    (p,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        "SELECT state, batch_size, batches, items, started_at, updated_at, last_error "
        f"FROM catalogue_load WHERE load_id = {p}",
        (LOAD_ID,),
    )
    if not rows:
        return None
    state, size, batches, items, started, updated, error = rows[0]
    return LoadProgress(
        LoadState(state),
        int(size),
        int(batches),
        int(items),
        datetime.fromisoformat(started),
        datetime.fromisoformat(updated),
        error,
    )


async def _begin(
    transaction: Transaction, batch_size: int, resume: bool
) -> tuple[LoadProgress, set[str]]:
    """The checkpoint to continue from and the SKUs already loaded; a fresh one unless resuming."""
    found = await load_progress(transaction)
    if resume:
        if found is None or found.finished:
            raise NothingToResume(
                "no unfinished catalogue load to resume; start one without --resume"
            )
        rows = await transaction.fetch_all("SELECT sku FROM catalogue_load_items")
        return await _save(transaction, found, state=LoadState.RUNNING), {r[0] for r in rows}
    await transaction.execute("DELETE FROM catalogue_load_items")
    now = datetime.now(UTC)
    fresh = LoadProgress(LoadState.RUNNING, batch_size, 0, 0, now, now)
    p = placeholders(transaction, 8)
    await transaction.execute(
        "INSERT INTO catalogue_load (load_id, state, batch_size, batches, items, started_at, "
        f"updated_at, last_error) VALUES ({', '.join(p)}) ON CONFLICT (load_id) DO UPDATE SET "
        "state = excluded.state, batch_size = excluded.batch_size, batches = 0, items = 0, "
        "started_at = excluded.started_at, updated_at = excluded.updated_at, last_error = NULL",
        (LOAD_ID, fresh.state.value, batch_size, 0, 0, now.isoformat(), now.isoformat(), None),
    )
    return fresh, set()


async def _send(
    bus: EventBus,
    targets: LoadTargets,
    batch: Sequence[Product],
    progress: LoadProgress,
    settings: CatalogueSettings,
    parallel: int,
) -> LoadProgress:
    """Send one batch to the three targets at once, then checkpoint it."""
    gate = asyncio.Semaphore(parallel)

    async def bounded(call: Awaitable[object]) -> None:
        async with gate:
            await call

    listings: dict[str, list[Product]] = {}
    for product in batch:
        listings.setdefault(listing_of(product, settings), []).append(product)
    await asyncio.gather(
        targets.pos.publish_items(batch),
        *(bounded(targets.commerce.upsert_products(listed_variants(v))) for v in listings.values()),
        *(bounded(targets.loyalty.put_products([product])) for product in batch),
    )
    number = progress.batches + 1
    async with bus.transaction() as transaction:
        await _checkpoint(transaction, batch, number, settings)
        return await _save(
            transaction,
            LoadProgress(
                LoadState.RUNNING,
                progress.batch_size,
                number,
                progress.items + len(batch),
                progress.started_at,
                datetime.now(UTC),
            ),
            state=LoadState.RUNNING,
        )


async def _checkpoint(
    transaction: Transaction, batch: Sequence[Product], number: int, settings: CatalogueSettings
) -> None:
    """Record a sent batch: its SKUs, and each item as captured and applied at every target."""
    marks = placeholders(transaction, 2 * len(batch))
    values = ", ".join(f"({marks[2 * i]}, {marks[2 * i + 1]})" for i in range(len(batch)))
    parameters: list[object] = []
    for product in batch:
        parameters += [product.sku, number]
    await transaction.execute(
        f"INSERT INTO catalogue_load_items (sku, batch) VALUES {values} "
        "ON CONFLICT (sku) DO NOTHING",
        parameters,
    )
    now = micros(datetime.now(UTC))
    keys = [product.sku for product in batch]
    known = await captured(transaction, PRODUCTS, keys)
    rows: list[tuple[str, Captured]] = []
    ledgers = {target: AppliedLedger(target) for target in TARGETS}
    for product in batch:
        before = known.get(product.sku)
        sequence = next_sequence(now, None if before is None else before.sequence)
        body = product.model_dump_json()
        rows.append((product.sku, Captured(product_fingerprint(product), sequence, body)))
        for target, ledger in ledgers.items():
            listing = listing_of(product, settings) if target == TARGETS[0] else None
            await ledger.record(
                transaction,
                product.sku,
                sequence,
                listing=listing,
                body=body if listing else None,
            )
    await remember(transaction, PRODUCTS, rows)


async def _save(
    transaction: Transaction, progress: LoadProgress, *, state: LoadState, error: str | None = None
) -> LoadProgress:
    """Write the checkpoint row and return it as saved."""
    now = datetime.now(UTC)
    p = placeholders(transaction, 6)
    await transaction.execute(
        f"UPDATE catalogue_load SET state = {p[0]}, batches = {p[1]}, items = {p[2]}, "
        f"updated_at = {p[3]}, last_error = {p[4]} WHERE load_id = {p[5]}",
        (state.value, progress.batches, progress.items, now.isoformat(), error, LOAD_ID),
    )
    return LoadProgress(
        state,
        progress.batch_size,
        progress.batches,
        progress.items,
        progress.started_at,
        now,
        error,
    )


def _describe(error: BaseException) -> str:
    """An error as the checkpoint records it."""
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {error}"[:2000]
