"""ERP change capture: the poller that reads the ERP's item master, stock and prices and
publishes what changed as catalogue events, with its cursors and its memory in the hub's DB.

Each read is compared with what was last captured (`catalogue_captured`: a fingerprint and a
sequence per key); only changed documents are published, in the same hub transaction that
records them as captured, so a crash between the two neither loses nor doubles an event.

Every stream reads what changed since its cursor: the moment its previous read began less
`clock_margin_s`, because the ERP stamps changes with its own clock in whole seconds; what the
overlap re-reads is unchanged and publishes nothing. A cursor moves only after a whole read
succeeded.

- Items: `ErpPort.products(changed_since=cursor)`.
- Stock: `ErpPort.stock_levels(changed_since=cursor)`, each level published when on hand or
  reserved moved, with a sequence that only grows per source, SKU and location
  (`decisions.next_sequence`).
- Prices: `ErpPort.prices(changed_since=cursor)`, each channel's price published when what a
  customer pays changed, sequenced by the moment it was captured.

Stock and prices are also read in full every `full_read_every_s`, at a poller's first poll,
after a read of the stream failed, and by `baseline()`: a "changed since" read cannot see a
quant or rule the ERP deleted, nor a change stamped further back than the margin. A full stock
read sets every level the hub captured and the ERP no longer holds to zero.

A stream that fails (ERP down, a page that cannot be mapped) records its error in
`catalogue_cursor` and is read again next time; the other streams carry on. `polled_at` is
the last successful read; with `baseline_first_poll`, a stream's first successful read is a
baseline rather than a flood of every item, level and price.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from retailhub.bus.port import EventBus, Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.inventory import InventoryLevel
from retailhub.canonical.price import Price
from retailhub.canonical.product import Product
from retailhub.connectors.ports import ErpPort
from retailhub.flows.catalogue.decisions import (
    changed_fields,
    level_fingerprint,
    level_key,
    listing_of,
    next_sequence,
    price_fingerprint,
    price_key,
    product_fingerprint,
    split_level_key,
    stock_fingerprint,
)
from retailhub.flows.catalogue.events import (
    inventory_event,
    micros,
    price_event,
    product_event,
    source_of,
)
from retailhub.flows.catalogue.settings import CatalogueSettings
from retailhub.flows.catalogue.storage import create_catalogue_tables, now_text
from retailhub.flows.storage import placeholders

PRODUCTS, INVENTORY, PRICES = "products", "inventory", "prices"
STREAMS = (PRODUCTS, INVENTORY, PRICES)
NO_STOCK = stock_fingerprint(Decimal(0), Decimal(0))
"""The fingerprint of a level with nothing on hand or reserved."""
_ROWS_PER_INSERT = 200
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Captured:
    """What was last published for a key: its fingerprint, sequence and (items) the item."""

    fingerprint: str
    sequence: int
    body: str | None = None


@dataclass
class CaptureReport:
    """What one poll read from the ERP and published per stream, the streams it read in full,
    and the streams that failed."""

    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    published: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    full: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class ErpChangeCapture:
    """The poller of one ERP: `poll_once` reads and publishes, `run` polls until stopped."""

    def __init__(
        self,
        bus: EventBus,
        erp: ErpPort,
        settings: CatalogueSettings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.bus, self.erp = bus, erp
        self.settings = settings or CatalogueSettings()
        self.source = source_of(erp.name)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ready = False
        self._read_in_full: dict[str, datetime] = {}

    async def poll_once(self) -> CaptureReport:
        """Read every stream once and publish what changed."""
        return await self._poll(publish=True)

    async def baseline(self) -> CaptureReport:
        """Record the ERP's current items, stock and prices as already in every channel,
        publishing nothing: for an estate whose channels were filled from the ERP."""
        return await self._poll(publish=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `poll_interval_s` until `stop` is set (the hub's long-running task)."""
        while not stop.is_set():
            try:
                report = await self.poll_once()
            except Exception:  # the hub's database failing once must not end the poller
                _log.exception("catalogue poll failed; trying again next interval")
            else:
                if report.errors:
                    _log.warning("catalogue capture failed", errors=report.errors)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_interval_s)
            except TimeoutError:
                continue

    async def _poll(self, *, publish: bool) -> CaptureReport:
        if not self._ready:
            async with self.bus.transaction() as transaction:
                await create_catalogue_tables(transaction)
            self._ready = True
        report = CaptureReport()
        readers = {
            PRODUCTS: self._read_products,
            INVENTORY: self._read_stock,
            PRICES: self._read_prices,
        }
        for stream, read in readers.items():
            try:
                first = self.settings.baseline_first_poll and not await self._read_before(stream)
                started = self._clock()
                since = await self._since(stream, started, publish)
                await read(report, publish and not first, since)
                moved_to = started - timedelta(seconds=self.settings.clock_margin_s)
                await self._polled(stream, report.published[stream], moved_to)
                if since is None and stream != PRODUCTS:
                    self._read_in_full[stream] = started
                    report.full.append(stream)
            except Exception as error:  # one stream's failure must not stop the others
                self._read_in_full.pop(stream, None)
                report.errors[stream] = f"{type(error).__name__}: {error}"
                await self._note_error(stream, report.errors[stream])
        return report

    async def _since(self, stream: str, now: datetime, publish: bool) -> datetime | None:
        """Where a stream's read starts: its cursor, or None for a full read (stock and prices
        when one is due, or for a baseline)."""
        if stream != PRODUCTS:
            last = self._read_in_full.get(stream)
            every = timedelta(seconds=self.settings.full_read_every_s)
            if not publish or last is None or not last <= now < last + every:
                return None
        return await self._cursor(stream)

    async def _read_products(
        self, report: CaptureReport, publish: bool, since: datetime | None
    ) -> None:
        chunk: list[Product] = []
        async for product in self.erp.products(changed_since=since):
            report.read[PRODUCTS] += 1
            chunk.append(product)
            if len(chunk) >= self.settings.capture_chunk:
                await self._capture(PRODUCTS, chunk, report, publish)
                chunk = []
        await self._capture(PRODUCTS, chunk, report, publish)

    async def _read_stock(
        self, report: CaptureReport, publish: bool, since: datetime | None
    ) -> None:
        levels = await self.erp.stock_levels(changed_since=since)
        report.read[INVENTORY] += len(levels)
        await self._in_chunks(INVENTORY, levels, report, publish)
        if since is None:
            await self._in_chunks(INVENTORY, await self._vanished(levels), report, publish)

    async def _read_prices(
        self, report: CaptureReport, publish: bool, since: datetime | None
    ) -> None:
        prices = await self.erp.prices(changed_since=since)
        report.read[PRICES] += len(prices)
        await self._in_chunks(PRICES, prices, report, publish)

    async def _vanished(self, levels: Sequence[InventoryLevel]) -> list[InventoryLevel]:
        """A zero level for every level captured above zero that a full read no longer holds
        (Odoo deletes a quant that reaches zero), unless another source now holds its SKU and
        location."""
        held = {(level.sku, level.location) for level in levels}
        async with self.bus.transaction() as transaction:
            keys = await captured_except(transaction, INVENTORY, NO_STOCK)
        now = self._clock()
        places = (split_level_key(key) for key in keys)
        return [zero_level(*place, now) for place in places if place[1:] not in held]

    async def _in_chunks(
        self, stream: str, documents: Sequence[Any], report: CaptureReport, publish: bool
    ) -> None:
        size = self.settings.capture_chunk
        for start in range(0, len(documents), size):
            await self._capture(stream, documents[start : start + size], report, publish)

    async def _capture(
        self, stream: str, documents: Sequence[Any], report: CaptureReport, publish: bool
    ) -> None:
        """Compare a chunk with what was captured, record and publish the changes at once."""
        if not documents:
            return
        latest = {_key(stream, document): document for document in documents}
        async with self.bus.transaction() as transaction:
            known = await captured(transaction, stream, list(latest))
            now = micros(self._clock())
            rows: list[tuple[str, Captured]] = []
            events: list[CloudEvent] = []
            for key, document in latest.items():
                change = self._change(stream, key, document, known.get(key), now)
                if change is not None:
                    rows.append((key, change[0]))
                    if publish:
                        events.append(change[1]())
            await remember(transaction, stream, rows)
            if events:
                await self.bus.publish(events, transaction=transaction)
        if publish:
            report.published[stream] += len(events)

    def _change(
        self, stream: str, key: str, document: Any, before: Captured | None, now: int
    ) -> tuple[Captured, Callable[[], CloudEvent]] | None:
        """The new capture row for a changed document and how to build its event (only built
        when published); None when unchanged."""
        last = None if before is None else before.sequence
        if isinstance(document, Product):
            item = document
            mark = product_fingerprint(item)
            if before is not None and before.fingerprint == mark:
                return None
            sequence = next_sequence(now, last)
            previous = Product.model_validate_json(before.body) if before and before.body else None
            return Captured(mark, sequence, item.model_dump_json()), lambda: product_event(
                item,
                source=self.source,
                sequence=sequence,
                listing=listing_of(item, self.settings),
                changed=changed_fields(previous, item),
            )
        if isinstance(document, InventoryLevel):
            mark = level_fingerprint(document)
            if before is not None and before.fingerprint == mark:
                return None
            level = document.model_copy(update={"sequence": next_sequence(document.sequence, last)})
            return Captured(mark, level.sequence), lambda: inventory_event(
                level, source=self.source
            )
        price: Price = document
        mark = price_fingerprint(price)
        if before is not None and before.fingerprint == mark:
            return None
        sequence = next_sequence(now, last)
        return Captured(mark, sequence), lambda: price_event(
            price, key, source=self.source, sequence=sequence
        )

    async def _read_before(self, stream: str) -> bool:
        """True once a read of `stream` succeeded (a poll or a baseline)."""
        async with self.bus.transaction() as transaction:
            (p,) = placeholders(transaction, 1)
            rows = await transaction.fetch_all(
                f"SELECT polled_at FROM catalogue_cursor WHERE stream = {p}", (stream,)
            )
        return bool(rows and rows[0][0])

    async def _cursor(self, stream: str) -> datetime | None:
        async with self.bus.transaction() as transaction:
            (p,) = placeholders(transaction, 1)
            rows = await transaction.fetch_all(
                f"SELECT position FROM catalogue_cursor WHERE stream = {p}", (stream,)
            )
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    async def _polled(self, stream: str, published: int, position: datetime | None = None) -> None:
        async with self.bus.transaction() as transaction:
            await move_cursor(transaction, stream, published, position)

    async def _note_error(self, stream: str, error: str) -> None:
        async with self.bus.transaction() as transaction:
            p = placeholders(transaction, 2)
            await transaction.execute(
                "INSERT INTO catalogue_cursor (stream, last_error) "
                f"VALUES ({', '.join(p)}) ON CONFLICT (stream) DO UPDATE SET "
                "last_error = excluded.last_error",
                (stream, error),
            )


def zero_level(source: str, sku: str, location: str, now: datetime) -> InventoryLevel:
    """No stock of a SKU at a location, from a source, as of now."""
    return InventoryLevel(
        sku=sku,
        location=location,
        on_hand=Decimal(0),
        as_of=now,
        source=source,
        sequence=micros(now),
    )


def _key(stream: str, document: Any) -> str:
    if stream == PRODUCTS:
        return str(document.sku)
    if stream == INVENTORY:
        return level_key(document)
    assert isinstance(document, Price)
    return price_key(document)


async def captured(transaction: Transaction, stream: str, keys: list[str]) -> dict[str, Captured]:
    """What was last captured for some keys of a stream."""
    if not keys:
        return {}
    first, *rest = placeholders(transaction, len(keys) + 1)
    rows = await transaction.fetch_all(
        "SELECT key, fingerprint, sequence, body FROM catalogue_captured "
        f"WHERE stream = {first} AND key IN ({', '.join(rest)})",
        (stream, *keys),
    )
    return {str(key): Captured(str(mark), int(seq), body) for key, mark, seq, body in rows}


async def captured_except(transaction: Transaction, stream: str, fingerprint: str) -> list[str]:
    """The keys of a stream last captured with another fingerprint than `fingerprint`."""
    first, second = placeholders(transaction, 2)
    rows = await transaction.fetch_all(
        f"SELECT key FROM catalogue_captured WHERE stream = {first} AND fingerprint <> {second}",
        (stream, fingerprint),
    )
    return [str(key) for (key,) in rows]


async def remember(
    transaction: Transaction, stream: str, rows: Sequence[tuple[str, Captured]]
) -> None:
    """Record what was captured (published, or baselined) for some keys of a stream."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        part = rows[start : start + _ROWS_PER_INSERT]
        marks = placeholders(transaction, 5 * len(part))
        values = ", ".join(f"({', '.join(marks[i * 5 : i * 5 + 5])})" for i in range(len(part)))
        parameters: list[Any] = []
        for key, row in part:
            parameters += [stream, key, row.fingerprint, row.sequence, row.body]
        await transaction.execute(
            "INSERT INTO catalogue_captured (stream, key, fingerprint, sequence, body) "
            f"VALUES {values} ON CONFLICT (stream, key) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, sequence = excluded.sequence, "
            "body = excluded.body",
            parameters,
        )


async def move_cursor(
    transaction: Transaction, stream: str, published: int, position: datetime | None = None
) -> None:
    """Note a successful read of a stream: when, how many published, and (items) from when the
    next read starts."""
    p = placeholders(transaction, 4)
    await transaction.execute(
        "INSERT INTO catalogue_cursor (stream, position, polled_at, published, last_error) "
        f"VALUES ({', '.join(p)}, NULL) ON CONFLICT (stream) DO UPDATE SET "
        "position = COALESCE(excluded.position, catalogue_cursor.position), "
        "polled_at = excluded.polled_at, "
        "published = catalogue_cursor.published + excluded.published, last_error = NULL",
        (stream, position.isoformat() if position else None, now_text(), published),
    )


async def run_catalogue_poller(
    bus: EventBus,
    erp: ErpPort,
    settings: CatalogueSettings,
    stop: asyncio.Event,
) -> None:
    """The hub's long-running change capture of one ERP: poll until `stop` is set."""
    await ErpChangeCapture(bus, erp, settings).run(stop)
