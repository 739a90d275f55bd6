"""The promotion projection: each version's state, each system's copy of it, and its drift.

Three tables in the hub's database, written by the publishing saga's steps (each in one bus
transaction, so a step that runs again after a crash rewrites the same rows):

- `promo_versions`: one row per promotion version: its state, the promotion as the hub sends
  it, the SKUs it was validated on, the systems it targets, why it was refused, its accuracy.
- `promo_channels`: one row per version and system: published, failed, withdrawn or
  superseded, the system's own id for it, how many fields were compared and matched.
- `promo_drift`: the fields a system holds differently, replaced at every check.

`promotion_status` and `promotion_accuracy_summary` read them for the API, the CLI and the demo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from retailhub.bus.port import Transaction
from retailhub.canonical.promotion import Promotion
from retailhub.flows.promotions.drift import ChannelCheck, FieldDrift, percent
from retailhub.flows.promotions.rules import LivePromotion
from retailhub.flows.storage import placeholders

VERSIONS = "promo_versions"
CHANNELS = "promo_channels"
DRIFT = "promo_drift"
DDL = (
    f"""CREATE TABLE IF NOT EXISTS {VERSIONS} (
    promotion_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL,
    name         TEXT NOT NULL,
    document     TEXT NOT NULL,
    skus         TEXT NOT NULL,
    targets      TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    accuracy     TEXT,
    checked_at   TEXT,
    workflow_id  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (promotion_id, version)
)""",
    f"""CREATE TABLE IF NOT EXISTS {CHANNELS} (
    promotion_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    target       TEXT NOT NULL,
    system       TEXT NOT NULL,
    state        TEXT NOT NULL,
    external_id  TEXT,
    detail       TEXT,
    compared     INTEGER,
    matched      INTEGER,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (promotion_id, version, target)
)""",
    f"""CREATE TABLE IF NOT EXISTS {DRIFT} (
    promotion_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    target       TEXT NOT NULL,
    field        TEXT NOT NULL,
    expected     TEXT,
    found        TEXT,
    checked_at   TEXT NOT NULL,
    PRIMARY KEY (promotion_id, version, target, field)
)""",
)


class VersionState(StrEnum):
    """Where one promotion version stands."""

    PUBLISHING = "publishing"
    PUBLISHED = "published"
    REJECTED = "rejected"
    """Broke a pricing control or overlapped another promotion: never published."""
    STALE = "stale"
    """Arrived after a later version of the same promotion: refused."""
    FAILED = "failed"
    """A system refused it for good: what was published was withdrawn."""
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
    """Taken out of every system: cancelled, or a later version failed."""


LIVE = frozenset({VersionState.PUBLISHING, VersionState.PUBLISHED})


class ChannelState(StrEnum):
    """Where one system stands with one promotion version."""

    PUBLISHED = "published"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class ChannelView:
    """One system's copy of a promotion version."""

    target: str
    system: str
    state: str
    external_id: str | None
    detail: str | None
    compared: int | None
    matched: int | None

    @property
    def accuracy(self) -> Decimal | None:
        """Matching fields of this system in percent, once it was read back."""
        if self.compared is None or self.matched is None:
            return None
        return percent(self.matched, self.compared)


@dataclass(frozen=True)
class VersionView:
    """One promotion version: its state, every system's copy, its drift and accuracy."""

    promotion_id: str
    version: int
    state: VersionState
    name: str
    targets: tuple[str, ...]
    reasons: tuple[str, ...]
    accuracy: Decimal | None
    checked_at: datetime | None
    updated_at: datetime
    workflow_id: str
    channels: tuple[ChannelView, ...] = ()
    drift: tuple[FieldDrift, ...] = ()
    promotion: dict[str, Any] = field(default_factory=dict)
    skus: tuple[str, ...] = ()
    """The eligible SKUs validation resolved (named, under hierarchy nodes, or every item)."""

    def as_json(self) -> dict[str, Any]:
        """The version as JSON-ready values (the API's and the CLI's `--json`)."""
        return {
            "version": self.version,
            "state": self.state.value,
            "name": self.name,
            "targets": list(self.targets),
            "reasons": list(self.reasons),
            "eligible_skus": len(self.skus),
            "accuracy": None if self.accuracy is None else float(self.accuracy),
            "checked_at": None if self.checked_at is None else self.checked_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "workflow_id": self.workflow_id,
            "channels": [
                {
                    **asdict(c),
                    "accuracy": None if c.accuracy is None else float(c.accuracy),
                }
                for c in self.channels
            ],
            "drift": [asdict(d) for d in self.drift],
        }


@dataclass(frozen=True)
class PromotionView:
    """A promotion across its versions: the latest authored one and the one live in channels."""

    promotion_id: str
    latest: VersionView
    live: VersionView | None
    versions: tuple[tuple[int, VersionState], ...]

    def as_json(self) -> dict[str, Any]:
        """The promotion's status as JSON-ready values."""
        return {
            "promotion_id": self.promotion_id,
            "latest": self.latest.as_json(),
            "live": None if self.live is None else self.live.as_json(),
            "versions": [{"version": v, "state": s.value} for v, s in self.versions],
        }


@dataclass(frozen=True)
class PromotionAccuracy:
    """One live promotion's accuracy, for the demo's summary."""

    promotion_id: str
    version: int
    name: str
    accuracy: Decimal | None
    mismatched: int


@dataclass(frozen=True)
class AccuracySummary:
    """How faithfully the channels hold the hub's promotions, and how many versions ended how."""

    promotions: tuple[PromotionAccuracy, ...]
    compared: int
    matched: int
    states: dict[str, int]

    @property
    def accuracy(self) -> Decimal:
        """Matching system x field comparisons over every live promotion, in percent."""
        return percent(self.matched, self.compared)


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def create_promotion_tables(transaction: Transaction) -> None:
    """Create the projection's tables if missing (idempotent, SQLite and PostgreSQL)."""
    for statement in DDL:
        await transaction.execute(statement)


async def record_version(
    transaction: Transaction,
    promotion: Promotion,
    *,
    state: VersionState,
    skus: Sequence[str],
    targets: Sequence[str],
    reasons: Sequence[str],
    workflow_id: str,
) -> None:
    """Write a version's row as validation decided it (replacing an earlier attempt's)."""
    columns = (
        "promotion_id",
        "version",
        "state",
        "name",
        "document",
        "skus",
        "targets",
        "reasons",
        "workflow_id",
        "updated_at",
    )
    marks = ", ".join(placeholders(transaction, len(columns)))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    await transaction.execute(
        f"INSERT INTO {VERSIONS} ({', '.join(columns)}) VALUES ({marks})"
        f" ON CONFLICT (promotion_id, version) DO UPDATE SET {updates}",
        (
            promotion.promotion_id,
            promotion.version,
            state.value,
            promotion.name,
            promotion.model_dump_json(),
            json.dumps(sorted(skus)),
            json.dumps(list(targets)),
            json.dumps(list(reasons)),
            workflow_id,
            _now(),
        ),
    )


async def set_version_state(
    transaction: Transaction,
    promotion_id: str,
    version: int,
    state: VersionState,
    reasons: Sequence[str] | None = None,
) -> None:
    """Move a version to another state, optionally replacing its reasons."""
    if reasons is None:
        marks = placeholders(transaction, 4)
        await transaction.execute(
            f"UPDATE {VERSIONS} SET state = {marks[0]}, updated_at = {marks[1]}"
            f" WHERE promotion_id = {marks[2]} AND version = {marks[3]}",
            (state.value, _now(), promotion_id, version),
        )
        return
    marks = placeholders(transaction, 5)
    await transaction.execute(
        f"UPDATE {VERSIONS} SET state = {marks[0]}, reasons = {marks[1]}, updated_at = {marks[2]}"
        f" WHERE promotion_id = {marks[3]} AND version = {marks[4]}",
        (state.value, json.dumps(list(reasons)), _now(), promotion_id, version),
    )


async def record_channel(
    transaction: Transaction,
    promotion_id: str,
    version: int,
    target: str,
    *,
    system: str,
    state: ChannelState,
    external_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Write one system's state for a version, keeping its external id when none is given."""
    columns = ("promotion_id", "version", "target", "system", "state", "external_id", "detail")
    marks = ", ".join(placeholders(transaction, len(columns) + 1))
    await transaction.execute(
        f"INSERT INTO {CHANNELS} ({', '.join(columns)}, updated_at) VALUES ({marks})"
        " ON CONFLICT (promotion_id, version, target) DO UPDATE SET system = excluded.system,"
        f" state = excluded.state, external_id = COALESCE(excluded.external_id,"
        f" {CHANNELS}.external_id), detail = excluded.detail, updated_at = excluded.updated_at",
        (promotion_id, version, target, system, state.value, external_id, detail, _now()),
    )


async def set_channels_state(
    transaction: Transaction, promotion_id: str, version: int, state: ChannelState, detail: str
) -> None:
    """Move every published system of a version to `state` (superseded, withdrawn)."""
    marks = placeholders(transaction, 6)
    await transaction.execute(
        f"UPDATE {CHANNELS} SET state = {marks[0]}, detail = {marks[1]}, updated_at = {marks[2]}"
        f" WHERE promotion_id = {marks[3]} AND version = {marks[4]} AND state = {marks[5]}",
        (state.value, detail, _now(), promotion_id, version, ChannelState.PUBLISHED.value),
    )


async def record_check(
    transaction: Transaction,
    promotion_id: str,
    version: int,
    checks: Iterable[ChannelCheck],
    accuracy: Decimal,
    at: datetime,
) -> None:
    """Replace a version's drift with a new read-back: per system counts, rows, accuracy."""
    checked_at = at.isoformat()
    pid, ver = placeholders(transaction, 2)
    await transaction.execute(
        f"DELETE FROM {DRIFT} WHERE promotion_id = {pid} AND version = {ver}",
        (promotion_id, version),
    )
    for check in checks:
        marks = placeholders(transaction, 6)
        await transaction.execute(
            f"UPDATE {CHANNELS} SET compared = {marks[0]}, matched = {marks[1]},"
            f" updated_at = {marks[2]} WHERE promotion_id = {marks[3]} AND version = {marks[4]}"
            f" AND target = {marks[5]}",
            (check.compared, check.matched, checked_at, promotion_id, version, check.target),
        )
        for drift in check.drift:
            row = ", ".join(placeholders(transaction, 7))
            await transaction.execute(
                f"INSERT INTO {DRIFT} (promotion_id, version, target, field, expected, found,"
                f" checked_at) VALUES ({row})",
                (
                    promotion_id,
                    version,
                    drift.target,
                    drift.field,
                    drift.expected,
                    drift.found,
                    checked_at,
                ),
            )
    marks = placeholders(transaction, 4)
    await transaction.execute(
        f"UPDATE {VERSIONS} SET accuracy = {marks[0]}, checked_at = {marks[1]}"
        f" WHERE promotion_id = {marks[2]} AND version = {marks[3]}",
        (str(accuracy), checked_at, promotion_id, version),
    )


_VERSION_COLUMNS = (
    "promotion_id, version, state, name, targets, reasons, accuracy, checked_at, updated_at,"
    " workflow_id, document, skus"
)


def _version(row: Sequence[Any]) -> VersionView:
    return VersionView(
        promotion_id=row[0],
        version=int(row[1]),
        state=VersionState(row[2]),
        name=row[3],
        targets=tuple(json.loads(row[4])),
        reasons=tuple(json.loads(row[5])),
        accuracy=None if row[6] is None else Decimal(row[6]),
        checked_at=None if row[7] is None else datetime.fromisoformat(row[7]),
        updated_at=datetime.fromisoformat(row[8]),
        workflow_id=row[9],
        promotion=json.loads(row[10]),
        skus=tuple(json.loads(row[11])),
    )


async def versions_of(reader: Transaction, promotion_id: str) -> list[VersionView]:
    """Every version of a promotion the hub knows, newest first (without channels or drift)."""
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT {_VERSION_COLUMNS} FROM {VERSIONS} WHERE promotion_id = {mark}"
        " ORDER BY version DESC",
        (promotion_id,),
    )
    return [_version(row) for row in rows]


async def live_promotions(reader: Transaction) -> list[LivePromotion]:
    """Every version the hub has published or is publishing, for overlap checks."""
    marks = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"SELECT {_VERSION_COLUMNS} FROM {VERSIONS} WHERE state IN ({marks[0]}, {marks[1]})",
        tuple(state.value for state in LIVE),
    )
    live = []
    for row in rows:
        found = _version(row)
        promotion = Promotion.model_validate(found.promotion)
        live.append(
            LivePromotion(
                promotion_id=promotion.promotion_id,
                version=promotion.version,
                name=promotion.name,
                channels=frozenset(c.value for c in promotion.channels),
                skus=frozenset(found.skus),
                valid_from=promotion.valid_from,
                valid_to=promotion.valid_to,
                stackable=promotion.stackable,
            )
        )
    return live


async def _channels(reader: Transaction, promotion_id: str, version: int) -> list[ChannelView]:
    marks = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"SELECT target, system, state, external_id, detail, compared, matched FROM {CHANNELS}"
        f" WHERE promotion_id = {marks[0]} AND version = {marks[1]} ORDER BY target",
        (promotion_id, version),
    )
    return [ChannelView(*row) for row in rows]


async def _drift(reader: Transaction, promotion_id: str, version: int) -> list[FieldDrift]:
    marks = placeholders(reader, 2)
    rows = await reader.fetch_all(
        f"SELECT target, field, expected, found FROM {DRIFT}"
        f" WHERE promotion_id = {marks[0]} AND version = {marks[1]} ORDER BY target, field",
        (promotion_id, version),
    )
    return [FieldDrift(*row) for row in rows]


async def version_detail(reader: Transaction, version: VersionView) -> VersionView:
    """The version with its systems' copies and its drift rows."""
    channels = await _channels(reader, version.promotion_id, version.version)
    drift = await _drift(reader, version.promotion_id, version.version)
    return replace(version, channels=tuple(channels), drift=tuple(drift))


async def promotion_status(reader: Transaction, promotion_id: str) -> PromotionView | None:
    """A promotion's status for the API and CLI: its latest version and the live one, each with
    every system's state and external id, the drift found and the accuracy; None if unknown."""
    await create_promotion_tables(reader)
    versions = await versions_of(reader, promotion_id)
    if not versions:
        return None
    latest = await version_detail(reader, versions[0])
    live = next((v for v in versions if v.state in LIVE), None)
    return PromotionView(
        promotion_id,
        latest,
        None if live is None else await version_detail(reader, live),
        tuple((v.version, v.state) for v in versions),
    )


async def promotion_accuracy_summary(reader: Transaction) -> AccuracySummary:
    """Accuracy per live promotion and over all of them, and versions counted by state."""
    await create_promotion_tables(reader)
    states = dict(
        await reader.fetch_all(f"SELECT state, COUNT(*) FROM {VERSIONS} GROUP BY state ORDER BY 1")
    )
    (mark,) = placeholders(reader, 1)
    rows = await reader.fetch_all(
        f"SELECT v.promotion_id, v.version, v.name, v.accuracy,"
        f" COALESCE(SUM(c.compared), 0), COALESCE(SUM(c.matched), 0)"
        f" FROM {VERSIONS} v LEFT JOIN {CHANNELS} c"
        " ON c.promotion_id = v.promotion_id AND c.version = v.version"
        f" WHERE v.state = {mark} GROUP BY v.promotion_id, v.version, v.name, v.accuracy"
        " ORDER BY v.promotion_id",
        (VersionState.PUBLISHED.value,),
    )
    promotions = tuple(
        PromotionAccuracy(
            promotion_id=row[0],
            version=int(row[1]),
            name=row[2],
            accuracy=None if row[3] is None else Decimal(row[3]),
            mismatched=int(row[4]) - int(row[5]),
        )
        for row in rows
    )
    return AccuracySummary(
        promotions,
        compared=sum(int(row[4]) for row in rows),
        matched=sum(int(row[5]) for row in rows),
        states={str(k): int(v) for k, v in states.items()},
    )
