"""Return sagas per second against the sandbox emulators over HTTP, and where the time goes.

The emulators run in processes of their own (one per system, `multiprocessing` spawn), so they
do not share the hub's event loop or its core. The hub side is the real thing: a SqliteBus,
DBOS on SQLite, the flow's subscriptions and the connectors built from the sandbox estate.

Setup (not timed): `sales` till sales of estate members (a campaign SKU and a plain one) are
accrued on the loyalty platform and published, so the returns ledger knows them. Then one
`retail.return.received.v1` per sale is published at once, each returning the campaign line;
the run ends when every saga has settled. Figures:

- `sagas_per_s`: returns settled over the wall time from publishing to the last completion;
- `p50_ms`/`p99_ms`: each saga's start to completion (its body, first step to last);
- `split_ms`: mean time per saga in outbound HTTP calls (by system), in the hub's database,
  in the steps' own code, and the rest — DBOS's checkpoints, thread hops and waiting for the
  one SQLite writer;
- `loop_lag_ms`: how late the hub's event loop wakes a 5 ms sleeper (p50, p99): each hop to
  the SQLite writer or DBOS's threads and back waits about as long;
- `hub_cpu_ms_per_saga`: the hub process's CPU per saga, on the event loop's thread (aiohttp,
  pydantic, the flow) and on other threads (DBOS's checkpoints in its thread pool, the bus's
  SQLite writer); `hub_cpu_utilisation` is CPU seconds per wall second (1.0 = one core).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import re
import secrets
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import wraps
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import retailhub
from retailhub.bootstrap import build_connectors
from retailhub.bus.sqlite import SqliteBus
from retailhub.canonical.base import Channel
from retailhub.canonical.catalogue import to_event
from retailhub.canonical.money import Money, sum_money
from retailhub.canonical.order import Order, OrderLine, TaxLine, Tender, TenderType, Totals
from retailhub.canonical.returns import Return, ReturnLine, ReturnStatus
from retailhub.connectors.ports import CrmPort, ErpPort, LoyaltyPort
from retailhub.estate import Secrets, parse_estate
from retailhub.flows.alerts import BusAlertSink
from retailhub.flows.returns.calls import CallPolicy, attempt
from retailhub.flows.returns.events import ORDER_CREATED, RETURN_RECEIVED
from retailhub.flows.returns.ledger import ORDERS_TABLE
from retailhub.flows.returns.refund import RefundResult, ReturnSettings, ReturnToRefund
from retailhub.flows.returns.status import RETURNS_TABLE
from retailhub.flows.returns.wiring import (
    RECEIVED,
    register_return_to_refund,
    subscribe_return_to_refund,
)
from retailhub.flows.sagas import SagaSteps, WorkflowRuntime, WorkflowSettings
from retailhub.sandbox.runner import sandbox_status
from retailhub.sandbox.seed import Estate, build_estate

SYSTEMS = ("odoo", "openloyalty", "hubspot")
STORE = "AMS01"
TIMED_PARTS = ("receiving.claim", "booking.book", "refund_on_platform", "close")
"""The parts of the saga's steps that are timed: the claim, the booking, the platform refund
and the close (each with its calls and hub writes)."""
SETUP_CALLS = CallPolicy(attempts=5, first_wait_s=0.5, max_wait_s=4.0)
_ESTATE_FILE = Path(retailhub.__file__).parent / "estates" / "sandbox.toml"
_PORTS = {"shopify": 8701, "odoo": 8702, "hubspot": 8703, "openloyalty": 8704, "poslog": 8705}


@dataclass
class Clock:
    """Seconds spent per label, added up across every saga of a run."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def timing(self, label: str) -> Iterator[None]:
        """Add the time spent in the block to `label`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.totals[label] += time.perf_counter() - started

    def wrap(self, label: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """`call`, timed under `label`."""

        @wraps(call)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(label):
                return await call(*args, **kwargs)

        return timed


class TimedPort:
    """A port whose async calls are timed under `http.<system>`; everything else passes."""

    def __init__(self, port: Any, clock: Clock, system: str) -> None:
        self._port, self._clock, self._label = port, clock, f"http.{system}"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._port, name)
        if asyncio.iscoroutinefunction(value):
            return self._clock.wrap(self._label, value)
        return value


class TimedBus(SqliteBus):
    """The SQLite bus, its caller transactions timed under `hub_db` (lock wait included)."""

    clock: Clock

    def transaction(self) -> Any:
        """A transaction whose whole life is timed."""
        inner = super().transaction()
        clock = self.clock

        class _Timed:
            async def __aenter__(self) -> Any:
                self._started = time.perf_counter()
                entered = await inner.__aenter__()
                self._held = time.perf_counter()
                clock.totals["hub_db_lock_wait"] += self._held - self._started
                return entered

            async def __aexit__(self, *exc: Any) -> Any:
                try:
                    return await inner.__aexit__(*exc)
                finally:
                    clock.totals["hub_db"] += time.perf_counter() - self._started
                    clock.totals["hub_db_held"] += time.perf_counter() - self._held

        return _Timed()


def _serve(system: str, state_dir: str, shopify_customers: int, reply: Connection) -> None:
    """Child process: seed and serve one emulator on a free port until told to stop."""
    from retailhub.sandbox.runner import Sandbox, load_emulators

    async def main() -> None:
        estate = build_estate(42)
        if system == "shopify":
            estate = dataclasses.replace(estate, customers=estate.customers[:shopify_customers])
        factories = {system: load_emulators()[system]}
        sandbox = Sandbox(factories, {system: 0}, Path(state_dir))
        sandbox.emulators[system].load(estate)
        urls = await sandbox.start()
        reply.send(urls[system])
        await asyncio.to_thread(reply.recv)
        await sandbox.stop()

    asyncio.run(main())


@contextmanager
def emulators(systems: tuple[str, ...], state_dir: Path) -> Iterator[dict[str, str]]:
    """Each system's emulator in a process of its own; their URLs, stopped on exit."""
    spawn = multiprocessing.get_context("spawn")
    running = []
    try:
        for system in systems:
            mine, theirs = spawn.Pipe()
            process = spawn.Process(
                target=_serve, args=(system, str(state_dir / system), 200, theirs), daemon=True
            )
            process.start()
            running.append((system, process, mine))
        urls = {}
        for system, _, pipe in running:
            if not pipe.poll(180):
                raise RuntimeError(f"the {system} emulator did not start")
            urls[system] = pipe.recv()
        yield urls
    finally:
        for _, process, pipe in running:
            with suppress(BrokenPipeError, OSError):
                pipe.send("stop")
            process.join(10)
            if process.is_alive():
                process.terminate()


def estate_text(urls: dict[str, str]) -> str:
    """The sandbox estate file pointed at the emulators started here."""
    text = _ESTATE_FILE.read_text()
    for system, url in urls.items():
        text = re.sub(rf"http://127\.0\.0\.1:{_PORTS[system]}\b", url, text)
    return text


def _trading_day(estate: Estate) -> datetime:
    start = estate.campaign.valid_from.astimezone(UTC)
    return datetime(start.year, start.month, start.day, 12, tzinfo=UTC) + timedelta(days=2)


def sales_and_returns(estate: Estate, count: int, run: str = "") -> list[tuple[Order, Return]]:
    """`count` member sales at the store (a campaign SKU x2 and a plain SKU), each with the
    return of its campaign line, refunded at the till by card; `run` makes the ids unique."""
    eligible = set(estate.campaign.eligibility.skus or ())
    each = [p for p in estate.products if p.gtins and p.unit_of_measure.value == "each"]
    bonus = [p.sku for p in each if p.sku in eligible]
    plain = [p.sku for p in each if p.sku not in eligible]
    members = [c for c in estate.customers if not c.conflicts]
    day = _trading_day(estate)
    pairs = []
    for n in range(count):
        member = members[n % len(members)]
        lines = [
            _line(estate, "1", bonus[n % len(bonus)], 2),
            _line(estate, "2", plain[n % len(plain)], 1),
        ]
        total = sum_money((line.net for line in lines), "EUR")
        order = Order(
            order_id=f"POS-{STORE}-BENCH{run}-{n}",
            channel=Channel.STORE,
            location=STORE,
            currency="EUR",
            prices_include_tax=True,
            placed_at=day,
            lines=lines,
            tenders=[Tender(type=TenderType.CARD, amount=total)],
            totals=Totals(
                tax_total=sum_money((ln.tax_total for ln in lines), "EUR"), grand_total=total
            ),
            loyalty_card=member.card_number,
        )
        refund = lines[0].net
        back = Return(
            return_id=f"POS-{STORE}-BENCH{run}-{n}-R",
            original_order_id=order.order_id,
            initiated_channel=Channel.STORE,
            initiated_location=STORE,
            received_channel=Channel.STORE,
            received_location=STORE,
            loyalty_card=member.card_number,
            currency="EUR",
            lines=[
                ReturnLine(
                    line_id="1",
                    original_line_id="1",
                    sku=lines[0].sku,
                    quantity=Decimal(2),
                    refund_amount=refund,
                )
            ],
            refund_tenders=[Tender(type=TenderType.CARD, amount=refund)],
            refund_total=refund,
            status=ReturnStatus.REFUNDED,
            created_at=day + timedelta(hours=2),
        )
        pairs.append((order, back))
    return pairs


def _line(estate: Estate, line_id: str, sku: str, quantity: int) -> OrderLine:
    price = estate.price(sku, Channel.STORE).selling_price
    gross = (price * Decimal(quantity)).rounded()
    rate = estate.vat_rate(sku) / 100
    tax = Money(amount=(gross.amount * rate / (1 + rate)).quantize(Decimal("0.01")), currency="EUR")
    return OrderLine(
        line_id=line_id,
        sku=sku,
        quantity=Decimal(quantity),
        unit_price=price,
        extended_amount=gross,
        tax_lines=[TaxLine(name="VAT", rate=rate, amount=tax)],
    )


async def _count(bus: SqliteBus, table: str, where: str = "") -> int:
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all(f"SELECT COUNT(*) FROM {table}{where}")
    return int(rows[0][0])


async def _wait(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def run_returns_benchmark(
    urls: dict[str, str],
    workdir: Path,
    *,
    sales: int = 200,
    concurrency: int = 8,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Run `sales` return sagas against emulators at `urls`; the figures as a JSON-ready dict."""
    estate = await asyncio.to_thread(build_estate, 42)
    pairs = sales_and_returns(estate, sales, secrets.token_hex(3))
    connectors = build_connectors(
        parse_estate(estate_text(urls)), Secrets.from_environment(sandbox=True)
    )
    clock = Clock()
    loyalty = connectors.loyalty
    crm = connectors.crm
    if loyalty is None or crm is None:
        raise RuntimeError("the estate needs a loyalty platform and a CRM")
    try:
        bus = TimedBus(workdir / "hub.sqlite")
        bus.clock = clock
        async with bus:
            flow = register_return_to_refund(
                bus,
                erp=cast(ErpPort, TimedPort(connectors.erps["odoo"], clock, "odoo")),
                loyalty=cast(LoyaltyPort, TimedPort(loyalty, clock, "openloyalty")),
                crm=cast(CrmPort, TimedPort(crm, clock, "hubspot")),
                commerce=None,
                alerts=BusAlertSink(bus),
                settings=ReturnSettings(),
            )
            _time_steps(flow, clock)
            latencies = _time_sagas(flow)
            settings = WorkflowSettings.embedded(workdir / "home")
            async with WorkflowRuntime(settings) as runtime:
                await subscribe_return_to_refund(bus, runtime, flow, concurrency=concurrency)
                gate = asyncio.Semaphore(8)

                async def accrue(order: Order) -> None:
                    async with gate:
                        accrued = await attempt(
                            lambda: loyalty.register_sale(order, order.order_id), SETUP_CALLS
                        )
                    if not accrued.ok:
                        raise RuntimeError(f"setup: {order.order_id} not accrued: {accrued.error}")

                await asyncio.gather(*(accrue(order) for order, _ in pairs))
                await bus.publish(
                    [to_event(order, ORDER_CREATED, f"/pos/{STORE}") for order, _ in pairs]
                )

                async def known() -> bool:
                    return await _count(bus, ORDERS_TABLE) >= sales

                await _wait(known, timeout_s, "the returns ledger")
                served_before = await _served(urls)
                threads_before = thread_cpu()
                lags: list[float] = []
                probe = asyncio.create_task(_probe_loop(lags))
                clock.totals.clear()
                started = time.perf_counter()
                cpu_started, loop_cpu_started = time.process_time(), time.thread_time()
                *_, last = await bus.publish(
                    [to_event(back, RETURN_RECEIVED, f"/pos/{STORE}") for _, back in pairs]
                )

                async def settled() -> bool:
                    # The handler waits for its saga, compensation and alert included, so the
                    # subscription's cursor passes the last return when every saga has ended
                    # (read on the bus's reader: polling the writer would queue on its lock).
                    state = await bus.status(RECEIVED)
                    return state.cursor >= last and not (state.retrying or state.dead)

                await _wait(settled, timeout_s, "every saga to settle")
                wall = time.perf_counter() - started
                probe.cancel()
                threads_after = thread_cpu()
                loop_cpu = time.thread_time() - loop_cpu_started
                cpu = time.process_time() - cpu_started
                states = await _states(bus)
                served_after = await _served(urls)
    finally:
        await connectors.close()
    figures = _figures(sales, concurrency, wall, states, latencies, clock)
    figures["hub_cpu_ms_per_saga"] = {
        "total": round(1000 * cpu / sales, 2),
        "event_loop_thread": round(1000 * loop_cpu / sales, 2),
        "other_threads": round(1000 * (cpu - loop_cpu) / sales, 2),
    }
    figures["hub_cpu_utilisation"] = round(cpu / wall, 2)
    figures["hub_cpu_ms_per_saga_by_thread"] = {
        group: round(
            1000 * (threads_after.get(group, 0.0) - threads_before.get(group, 0.0)) / sales, 2
        )
        for group in sorted(set(threads_after) | set(threads_before))
    }
    figures["loop_lag_ms"] = {
        "p50": round(percentile(lags, 50), 2),
        "p99": round(percentile(lags, 99), 2),
    }
    figures["requests_per_saga"] = {
        system: round((served_after[system] - served_before[system]) / sales, 1)
        for system in served_before
    }
    return figures


def _thread_group(name: str) -> str:
    """The part of the hub a thread belongs to, by its name."""
    if name == "MainThread":
        return "event_loop"
    if name.startswith("retailhub-sqlite"):
        return "bus_sqlite"
    if name.startswith("dbos") or name.startswith("queue-worker") or "(_run_event" in name:
        return "dbos"
    return "other"


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far per part of the hub, from Linux's per-thread counters (empty
    elsewhere); threads that ended are not counted."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    totals: dict[str, float] = defaultdict(float)
    for task in Path("/proc/self/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        totals[_thread_group(names.get(int(task.name), "?"))] += seconds
    return dict(totals)


async def _probe_loop(lags: list[float], every_s: float = 0.005) -> None:
    """How late the event loop wakes a sleeper, in ms: every hop to a thread waits as long."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(every_s)
        lags.append(1000 * (time.perf_counter() - asked - every_s))


async def _served(urls: dict[str, str]) -> dict[str, int]:
    """Requests each emulator has served so far."""
    ports = {system: int(url.rsplit(":", 1)[1]) for system, url in urls.items()}
    answers = await sandbox_status(ports)
    return {
        system: int((answer or {}).get("requests_served", 0)) for system, answer in answers.items()
    }


def _time_steps(flow: ReturnToRefund, clock: Clock) -> None:
    """Time each part of the saga's steps (its calls and hub writes included)."""
    for path in TIMED_PARTS:
        owner: Any = flow
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, clock.wrap(f"step.{name}", getattr(owner, name)))


def _time_sagas(flow: ReturnToRefund) -> list[float]:
    """Each saga's body, first step to last, in ms (the list fills as sagas finish)."""
    latencies: list[float] = []
    body = flow.body

    async def timed(steps: SagaSteps, payload: dict[str, Any]) -> RefundResult:
        started = time.perf_counter()
        try:
            return await body(steps, payload)
        finally:
            latencies.append(1000 * (time.perf_counter() - started))

    setattr(flow, "body", timed)  # noqa: B010 - the saga is built from the instance's body
    return latencies


async def _states(bus: SqliteBus) -> dict[str, Any]:
    """How many returns ended in each state, and the reasons of those that did not refund."""
    async with bus.transaction() as transaction:
        rows = await transaction.fetch_all(
            f"SELECT state, COUNT(*) FROM {RETURNS_TABLE} GROUP BY state"
        )
        reasons = await transaction.fetch_all(
            f"SELECT reason, COUNT(*) FROM {RETURNS_TABLE}"
            " WHERE state != 'refunded' GROUP BY reason ORDER BY COUNT(*) DESC LIMIT 5"
        )
    states: dict[str, Any] = {str(state): int(count) for state, count in rows}
    if reasons:
        states["reasons"] = {str(reason)[:200]: int(count) for reason, count in reasons}
    return states


def _figures(
    sales: int,
    concurrency: int,
    wall: float,
    states: dict[str, int],
    latencies: list[float],
    clock: Clock,
) -> dict[str, Any]:
    per_saga = {label: 1000 * total / sales for label, total in clock.totals.items()}
    http = {
        k.removeprefix("http."): round(v, 2) for k, v in per_saga.items() if k.startswith("http.")
    }
    steps = sum(v for k, v in per_saga.items() if k.startswith("step."))
    hub_db = per_saga.get("hub_db", 0.0)
    mean_latency = statistics.fmean(latencies) if latencies else 0.0
    return {
        "sagas": sales,
        "concurrency": concurrency,
        "states": states,
        "wall_s": round(wall, 3),
        "sagas_per_s": round(sales / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "mean_ms": round(mean_latency, 1),
        "split_ms": {
            "http": http,
            "http_total": round(sum(http.values()), 2),
            "hub_db": round(hub_db, 2),
            "hub_db_lock_wait": round(per_saga.get("hub_db_lock_wait", 0.0), 2),
            "hub_db_held": round(per_saga.get("hub_db_held", 0.0), 2),
            "steps_total": round(steps, 2),
            "steps_other": round(steps - sum(http.values()) - hub_db, 2),
            "dbos_and_waiting": round(mean_latency - steps, 2),
        },
    }


def measure_returns(*, sales: int = 200, concurrency: int = 8) -> dict[str, Any]:
    """Start the emulators in their own processes, run the benchmark, and stop them."""
    with tempfile.TemporaryDirectory(prefix="retailhub-bench-returns-") as folder:
        workdir = Path(folder)
        with emulators(SYSTEMS, workdir / "estate") as urls:
            return asyncio.run(
                run_returns_benchmark(urls, workdir, sales=sales, concurrency=concurrency)
            )
