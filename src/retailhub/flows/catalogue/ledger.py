"""The sequence guard: what each target last applied per key, and the refusal of anything older.

An update whose source sequence is not above the last one applied for its key at a target is
stale (an out-of-order delivery, a replay, a second publisher lagging behind): it is refused,
recorded in `catalogue_refusals`, and not sent. Applying and recording happen in the handler's
transaction, so the ledger commits exactly with the event's handled mark.

Where one process runs a subscription (the SQLite and NATS backends), the ledger is read into
memory when the subscription starts and kept there: on SQLite any statement takes the batch's
write slot until the handler returns, so reading the ledger before the HTTP call would hold
every other handler (and the poller) behind that call. On PostgreSQL, where several processes
share a subscription, the row is read in the handler's transaction each time.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from retailhub.bus.port import Transaction
from retailhub.canonical.cloudevents import CloudEvent
from retailhub.canonical.product import Product
from retailhub.flows.catalogue.storage import now_text
from retailhub.flows.storage import is_postgres, placeholders

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Applied:
    """What a target last applied for a key."""

    sequence: int
    listing: str | None = None
    body: str | None = None


class AppliedLedger:
    """One target's ledger: last applied sequence per key, and the items of each listing."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._memory: dict[str, Applied] | None = None
        self._listings: dict[str, set[str]] = {}

    async def load(self, transaction: Transaction) -> None:
        """Keep the ledger in memory on single-process backends; read it per event otherwise."""
        if is_postgres(transaction):
            self._memory = None
            return
        (p,) = placeholders(transaction, 1)
        rows = await transaction.fetch_all(
            f"SELECT key, sequence, listing, body FROM catalogue_applied WHERE target = {p}",
            (self.target,),
        )
        self._memory, self._listings = {}, {}
        for key, sequence, listing, body in rows:
            self._remember(str(key), Applied(int(sequence), listing, body))

    async def last(self, transaction: Transaction, key: str) -> Applied | None:
        """What was last applied for `key`, if anything."""
        if self._memory is not None:
            return self._memory.get(key)
        p1, p2 = placeholders(transaction, 2)
        rows = await transaction.fetch_all(
            "SELECT sequence, listing, body FROM catalogue_applied "
            f"WHERE target = {p1} AND key = {p2}",
            (self.target, key),
        )
        return None if not rows else Applied(int(rows[0][0]), rows[0][1], rows[0][2])

    async def listing(self, transaction: Transaction, listing: str) -> list[Product]:
        """The items last applied on a listing, as they were applied."""
        if self._memory is not None:
            bodies = [self._memory[key].body for key in sorted(self._listings.get(listing, ()))]
        else:
            p1, p2 = placeholders(transaction, 2)
            rows = await transaction.fetch_all(
                "SELECT body FROM catalogue_applied "
                f"WHERE target = {p1} AND listing = {p2} ORDER BY key",
                (self.target, listing),
            )
            bodies = [row[0] for row in rows]
        return [Product.model_validate_json(body) for body in bodies if body]

    async def record(
        self,
        transaction: Transaction,
        key: str,
        sequence: int,
        *,
        listing: str | None = None,
        body: str | None = None,
    ) -> None:
        """Note that `sequence` of `key` is now applied (never lowering what is recorded)."""
        p = placeholders(transaction, 6)
        await transaction.execute(
            "INSERT INTO catalogue_applied (target, key, sequence, listing, body, applied_at) "
            f"VALUES ({', '.join(p)}) ON CONFLICT (target, key) DO UPDATE SET "
            "sequence = excluded.sequence, listing = excluded.listing, body = excluded.body, "
            "applied_at = excluded.applied_at WHERE excluded.sequence > catalogue_applied.sequence",
            (self.target, key, sequence, listing, body, now_text()),
        )
        if self._memory is not None:
            known = self._memory.get(key)
            if known is None or sequence > known.sequence:
                self._remember(key, Applied(sequence, listing, body))

    async def refuse(
        self, transaction: Transaction, event: CloudEvent, key: str, sequence: int, last: int
    ) -> None:
        """Record a stale update this target did not apply (once per event)."""
        p = placeholders(transaction, 6)
        await transaction.execute(
            "INSERT INTO catalogue_refusals "
            "(target, event_id, key, sequence, last_applied, refused_at) "
            f"VALUES ({', '.join(p)}) ON CONFLICT (target, event_id) DO NOTHING",
            (self.target, event.id, key, sequence, last, now_text()),
        )

    def _remember(self, key: str, applied: Applied) -> None:
        assert self._memory is not None
        previous = self._memory.get(key)
        if previous is not None and previous.listing is not None:
            self._listings.get(previous.listing, set()).discard(key)
        self._memory[key] = applied
        if applied.listing is not None:
            self._listings.setdefault(applied.listing, set()).add(key)


@dataclass(frozen=True)
class Refusal:
    """A stale update a target refused: which event, which key, its sequence and the newer one."""

    target: str
    event_id: str
    key: str
    sequence: int
    last_applied: int


async def refusals(
    reader: Transaction, target: str | None = None, key: str | None = None
) -> list[Refusal]:
    """Refused updates, optionally of one target and one key, oldest first."""
    p1, p2, p3, p4 = placeholders(reader, 4)
    rows = await reader.fetch_all(
        "SELECT target, event_id, key, sequence, last_applied FROM catalogue_refusals "
        f"WHERE (CAST({p1} AS TEXT) IS NULL OR target = {p2}) "
        f"AND (CAST({p3} AS TEXT) IS NULL OR key = {p4}) "
        "ORDER BY refused_at, target, event_id",
        (target, target, key, key),
    )
    return [Refusal(str(t), str(e), str(k), int(s), int(last)) for t, e, k, s, last in rows]


async def admit(
    transaction: Transaction, ledger: AppliedLedger, event: CloudEvent, key: str, sequence: int
) -> bool:
    """True when `sequence` is newer than what `ledger` applied for `key`; otherwise the update
    is recorded as refused and False returned."""
    last = await ledger.last(transaction, key)
    if last is None or sequence > last.sequence:
        return True
    await ledger.refuse(transaction, event, key, sequence, last.sequence)
    _log.info(
        "catalogue update refused: not newer than the one applied",
        target=ledger.target,
        key=key,
        sequence=sequence,
        last_applied=last.sequence,
        event_id=event.id,
    )
    return False
