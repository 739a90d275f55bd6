"""Durable workflows on DBOS Transact: launch it in our asyncio process, start each once, stop it.

DBOS checkpoints every workflow and step in its system database: a SQLite file under the hub's
home (`$RETAILHUB_HOME/workflows.sqlite`) on the embedded default, or the hub's PostgreSQL
database at scale. `WorkflowRuntime.launch()` runs inside the hub's event loop, so DBOS runs
async workflows (also the ones it recovers) on that loop, and recovers at launch every workflow
this executor left PENDING under the same application version.

Each workflow is started **once per business event**: its id is derived from the event
(`workflow_id(name, key)`, `event_workflow_id(name, event)`), and starting an id that exists
runs nothing new and returns a handle on the existing workflow, so a bus redelivery, a replay
or a second process starting the same id is harmless.

The application version is pinned (`WORKFLOW_VERSION`, or `RETAILHUB_WORKFLOW_VERSION`), not
derived from the release or from a hash of the code as DBOS does by default: DBOS only recovers
workflows of its own version, so a new release must keep the version or strand what was in
flight. Change it only with a plan for the workflows pending under the old one
(`stranded_workflows()` lists them).

DBOS is a process-wide singleton: one runtime may be launched per process at a time.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sqlite3
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, Self, TypeVar

import structlog
from dbos import DBOS, DBOSConfig, SetWorkflowID, WorkflowHandleAsync, WorkflowStatus

from retailhub.canonical.cloudevents import CloudEvent
from retailhub.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

APPLICATION_NAME = "retailhub"
WORKFLOWS_FILE = "workflows.sqlite"
# Bump only for a change that in-flight workflows cannot replay, and drain the old version first.
WORKFLOW_VERSION = "retailhub-workflows-1"
DEFAULT_EXECUTOR_ID = "local"
_PENDING = "PENDING"

_log = structlog.get_logger(__name__)


class WorkflowRuntimeError(RuntimeError):
    """The workflow runtime was used out of turn: not launched, closed, or launched twice."""


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """Where DBOS keeps its checkpoints and which workflows this process owns.

    `executor_id` names this process to DBOS: it recovers only its own executor's pending
    workflows, so each worker process sharing a PostgreSQL database needs a stable id of its own.
    `sqlite_synchronous="NORMAL"` (WAL) survives a process crash, like the bus; `FULL` also
    survives a power cut, for about twice the cost per step. `notification_poll_interval` is
    how often DBOS polls SQLite for messages and events its waiters expect, and bounds how long
    shutdown waits for that poller (DBOS's default is a second).
    """

    system_database_url: str
    application_version: str = WORKFLOW_VERSION
    executor_id: str = DEFAULT_EXECUTOR_ID
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    max_threads: int = 64
    notification_poll_interval: float = 0.25
    log_level: str = "WARNING"

    @classmethod
    def embedded(cls, home: Path, **options: Any) -> WorkflowSettings:
        """The embedded default: a SQLite file under the hub's home."""
        return cls(system_database_url=f"sqlite:///{Path(home) / WORKFLOWS_FILE}", **options)

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> WorkflowSettings:
        """PostgreSQL when the hub's database URL is one, else SQLite under home; env overrides.

        `RETAILHUB_WORKFLOW_VERSION` pins another application version and
        `RETAILHUB_EXECUTOR_ID` names this process among several.
        """
        env = os.environ if environ is None else environ
        url = settings.database_url or ""
        options: dict[str, Any] = {
            "application_version": env.get("RETAILHUB_WORKFLOW_VERSION") or WORKFLOW_VERSION,
            "executor_id": env.get("RETAILHUB_EXECUTOR_ID") or DEFAULT_EXECUTOR_ID,
        }
        if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            return cls(system_database_url=url, **options)
        return cls.embedded(settings.home, **options)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file of the system database, or None on PostgreSQL."""
        if self.system_database_url.startswith("sqlite:///"):
            return Path(self.system_database_url.removeprefix("sqlite:///"))
        return None


def workflow_id(name: str, key: str) -> str:
    """The id of workflow `name` for one business key or event: `<name>:<key>`."""
    if not name or ":" in name or not key.strip():
        raise ValueError(f"a workflow id needs a name without ':' and a key, got {name!r}, {key!r}")
    return f"{name}:{key}"


def event_key(event: CloudEvent) -> str:
    """The key of a workflow started by `event`: `<source>:<id>`, as the bus knows the event.

    Both parts are in it because two systems may mint the same id, and folding their events
    into one workflow would drop one of them silently.
    """
    return f"{event.source}:{event.id}"


def event_workflow_id(name: str, event: CloudEvent) -> str:
    """The id of workflow `name` started by `event`: once per event, however often delivered."""
    return workflow_id(name, event_key(event))


def _sqlite_connector(path: Path, synchronous: str) -> Callable[[], sqlite3.Connection]:
    """Open the system database in WAL mode with the chosen fsync level on every connection."""

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        return connection

    return connect


def dbos_config(settings: WorkflowSettings) -> DBOSConfig:
    """The DBOS configuration for these settings (pinned version, bounded threads)."""
    config: DBOSConfig = {
        "name": APPLICATION_NAME,
        "system_database_url": settings.system_database_url,
        "application_version": settings.application_version,
        "executor_id": settings.executor_id,
        "max_executor_threads": settings.max_threads,
        "notification_listener_polling_interval_sec": settings.notification_poll_interval,
        "log_level": settings.log_level,
    }
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        config["db_engine_kwargs"] = {
            "creator": _sqlite_connector(path, settings.sqlite_synchronous)
        }
    return config


_launched: WorkflowRuntime | None = None


class WorkflowRuntime:
    """DBOS launched in this process: start workflows once, read their outcome, shut down."""

    def __init__(self, settings: WorkflowSettings) -> None:
        self.settings = settings
        self._dbos: DBOS | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    async def __aenter__(self) -> Self:
        await self.launch()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    @property
    def launched(self) -> bool:
        """True between a successful launch and shutdown."""
        return self._dbos is not None

    async def launch(self) -> None:
        """Launch DBOS on this event loop and recover this executor's pending workflows.

        Register every workflow (and saga) before launching: recovery resumes them by name.
        Launch runs on the loop's thread on purpose (it blocks it for the migrations, about
        0.1 s): DBOS adopts the running loop, so recovered workflows run here too. A DBOS
        instance configured elsewhere and never launched is discarded first, or DBOS would
        hand it back instead of one built from these settings.
        """
        global _launched
        if _launched is not None:
            raise WorkflowRuntimeError("a workflow runtime is already launched in this process")
        DBOS.destroy()
        dbos = DBOS(config=dbos_config(self.settings))
        try:
            DBOS.launch()
        except BaseException:
            DBOS.destroy()
            raise
        self._dbos, self._loop, self._closing = dbos, asyncio.get_running_loop(), False
        _launched = self
        stranded = await self.stranded_workflows()
        if stranded:
            _log.warning(
                "workflows pending under another application version will not be recovered",
                count=len(stranded),
                versions=sorted({s.app_version or "" for s in stranded}),
            )

    def _require_open(self) -> None:
        if self._dbos is None or self._closing:
            raise WorkflowRuntimeError("the workflow runtime is not launched")

    async def start_once(
        self,
        workflow_id: str,
        workflow: Callable[P, Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> WorkflowHandleAsync[R]:
        """Start `workflow` under `workflow_id` unless it exists; a handle on it either way.

        Starting an id that exists (running, finished or failed) runs nothing new: the handle
        returns the existing workflow's result. The workflow runs as a task on this loop, in a
        context of its own: started from a bus handler, it must not inherit the handler's
        "inside a handler" mark, which would refuse its steps a transaction of their own.
        """
        self._require_open()

        async def start() -> WorkflowHandleAsync[R]:
            with SetWorkflowID(workflow_id):
                return await DBOS.start_workflow_async(workflow, *args, **kwargs)

        return await asyncio.create_task(start(), context=contextvars.Context())

    async def result(self, workflow_id: str, *, timeout: float | None = None) -> Any:
        """Wait for a workflow's result (raising its error), at most `timeout` seconds.

        This polls the system database once a second (DBOS's interval); a handle from
        `start_once` in this process returns as soon as the workflow does.
        """
        self._require_open()
        handle: WorkflowHandleAsync[Any] = await DBOS.retrieve_workflow_async(workflow_id)
        return await asyncio.wait_for(handle.get_result(), timeout)

    async def status(self, workflow_id: str) -> WorkflowStatus | None:
        """Where a workflow stands (PENDING, SUCCESS, ERROR...), or None if never started."""
        self._require_open()
        status: WorkflowStatus | None = await DBOS.get_workflow_status_async(workflow_id)
        return status

    async def stranded_workflows(self) -> list[WorkflowStatus]:
        """Workflows left PENDING under another application version: this one will not run them."""
        self._require_open()
        pending: list[WorkflowStatus] = await DBOS.list_workflows_async(
            status=_PENDING, load_input=False, load_output=False
        )
        return [s for s in pending if s.app_version != self.settings.application_version]

    async def shutdown(self, *, grace: float = 5.0) -> None:
        """Stop starting workflows, let running ones finish for `grace` seconds, stop DBOS.

        DBOS's queue workers are stopped first, so recovery dispatches nothing new; workflows
        still running after `grace` are cancelled on this loop and stay PENDING in the system
        database: the next launch (same executor id and version) resumes them from their last
        completed step. DBOS is destroyed off the loop, because its queue thread may be
        waiting for this loop to take a last workflow, which is then cancelled too: no workflow
        task outlives the runtime to run beside its own recovery in the next one. DBOS replaced
        the loop's default executor with its own; a fresh one is put back for
        `asyncio.to_thread`.
        """
        global _launched
        dbos, loop = self._dbos, self._loop
        if dbos is None or loop is None:
            return
        self._closing = True
        for stop in dbos.background_thread_stop_events:
            stop.set()
        deadline = loop.time() + grace
        while (running := _workflow_tasks(dbos)) and loop.time() < deadline:
            await asyncio.wait(running, timeout=deadline - loop.time())
        await _cancel(_workflow_tasks(dbos), grace)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbos-destroy") as destroyer:
            await loop.run_in_executor(destroyer, DBOS.destroy)
        await _cancel(_workflow_tasks(dbos), grace)
        if not loop.is_closed():
            loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))
        self._dbos, self._loop = None, None
        _launched = None


async def _cancel(tasks: set[asyncio.Task[Any]], grace: float) -> None:
    """Cancel workflow tasks and wait for them to unwind; they stay PENDING for recovery."""
    for task in tasks:
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=grace)
        if stuck:
            _log.error("workflows ignored cancellation at shutdown", count=len(stuck))


def _workflow_tasks(dbos: DBOS) -> set[asyncio.Task[Any]]:
    """The workflow tasks DBOS runs on our loop and has not finished (its fix for #710).

    DBOS keeps them in a private set with no public accessor; shutdown needs them.
    """
    tasks: set[asyncio.Task[Any]] = getattr(dbos, "_workflow_tasks", set())
    return {task for task in tasks if not task.done()}
