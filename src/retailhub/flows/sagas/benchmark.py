"""What DBOS costs us: the time per checkpointed step, the latency to start a workflow, and
how many six-step workflows per second it carries when many run at once.

`python -m retailhub.flows.sagas.benchmark [--steps N] [--starts N] [--synchronous FULL]
[--database-url postgresql://...]` launches a runtime on a throwaway SQLite file (or the given
PostgreSQL database) and prints JSON. Steps do nothing, so the figures are DBOS's own overhead:
the checkpoint read and write around each step, and the workflow row written by a direct start.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dbos import DBOS

from retailhub.flows.sagas.runtime import WorkflowRuntime, WorkflowSettings

_STEP_STARTED: list[float] = []


async def _mark_step() -> None:
    _STEP_STARTED.append(time.perf_counter())


@DBOS.workflow(name="retailhub.benchmark.many_steps")
async def many_steps(count: int) -> int:
    """A workflow of `count` empty steps, each checkpointed by DBOS."""
    for number in range(count):
        await DBOS.run_step_async({"name": f"step-{number}"}, _mark_step)
    return count


@DBOS.workflow(name="retailhub.benchmark.one_step")
async def one_step() -> None:
    """The smallest useful workflow: one empty step."""
    await DBOS.run_step_async({"name": "only"}, _mark_step)


@dataclass(frozen=True, slots=True)
class DbosCost:
    """Median and 90th percentile milliseconds, and CPU milliseconds per step of this process."""

    system_database: str
    steps: int
    step_ms_p50: float
    step_ms_p90: float
    step_cpu_ms: float
    starts: int
    start_ms_p50: float
    start_ms_p90: float
    start_to_first_step_ms_p50: float
    one_step_workflow_ms_p50: float
    concurrent: int
    six_step_workflows_per_s: float
    machine: str
    cpus: int
    load_average: float
    measured_at: str


def _ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)


async def _workflows_per_second(runtime: WorkflowRuntime, run: str, concurrent: int) -> float:
    """Start `concurrent` six-step workflows at once and time them all to completion."""
    began = time.perf_counter()
    handles = await asyncio.gather(
        *(
            runtime.start_once(f"benchmark-concurrent:{run}:{number}", many_steps, 6)
            for number in range(concurrent)
        )
    )
    await asyncio.gather(*(handle.get_result() for handle in handles))
    return round(concurrent / (time.perf_counter() - began), 1)


async def measure(
    runtime: WorkflowRuntime, *, steps: int = 300, starts: int = 100, concurrent: int = 64
) -> DbosCost:
    """Time `steps` empty steps in one workflow, `starts` direct starts one after another, and
    `concurrent` six-step workflows run at once."""
    run = f"{time.time_ns()}"
    _STEP_STARTED.clear()
    cpu_before = time.process_time()
    handle = await runtime.start_once(f"benchmark-steps:{run}", many_steps, steps)
    await handle.get_result()
    step_cpu = (time.process_time() - cpu_before) / steps
    gaps = [b - a for a, b in itertools.pairwise(_STEP_STARTED)]

    start_calls: list[float] = []
    to_first_step: list[float] = []
    whole: list[float] = []
    for number in range(starts):
        _STEP_STARTED.clear()
        began = time.perf_counter()
        started = await runtime.start_once(f"benchmark-start:{run}:{number}", one_step)
        start_calls.append(time.perf_counter() - began)
        await started.get_result()
        whole.append(time.perf_counter() - began)
        to_first_step.append(_STEP_STARTED[0] - began)

    per_second = await _workflows_per_second(runtime, run, concurrent)
    url = runtime.settings.system_database_url
    return DbosCost(
        system_database=url.split(":", 1)[0]
        + (f" ({runtime.settings.sqlite_synchronous})" if url.startswith("sqlite") else ""),
        steps=steps,
        step_ms_p50=_ms(gaps, 0.5),
        step_ms_p90=_ms(gaps, 0.9),
        step_cpu_ms=round(step_cpu * 1000, 3),
        starts=starts,
        start_ms_p50=_ms(start_calls, 0.5),
        start_ms_p90=_ms(start_calls, 0.9),
        start_to_first_step_ms_p50=_ms(to_first_step, 0.5),
        one_step_workflow_ms_p50=_ms(whole, 0.5),
        concurrent=concurrent,
        six_step_workflows_per_s=per_second,
        machine=f"{platform.machine()} {platform.processor() or platform.system()}",
        cpus=os.cpu_count() or 0,
        load_average=round(os.getloadavg()[0], 2),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


async def _run(
    steps: int,
    starts: int,
    concurrent: int,
    synchronous: Literal["NORMAL", "FULL"],
    database_url: str | None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="retailhub-dbos-") as home:
        settings = (
            WorkflowSettings(database_url)
            if database_url
            else WorkflowSettings.embedded(Path(home), sqlite_synchronous=synchronous)
        )
        async with WorkflowRuntime(settings) as runtime:
            cost = await measure(runtime, steps=steps, starts=starts, concurrent=concurrent)
    return asdict(cost)


def main(argv: list[str] | None = None) -> None:
    """Print DBOS's cost per step and start latency on this machine as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--starts", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=64)
    parser.add_argument("--synchronous", choices=("NORMAL", "FULL"), default="NORMAL")
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args(argv)
    result = asyncio.run(
        _run(
            arguments.steps,
            arguments.starts,
            arguments.concurrent,
            arguments.synchronous,
            arguments.database_url,
        )
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
