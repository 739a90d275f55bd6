"""Sagas on DBOS: coarse durable steps, each with an optional compensation, and never half done.

A saga is a name, a body and an alert port. The body is ordinary async code that runs its
steps through `SagaSteps.step(name, action, compensate=...)`; each step is one DBOS step
(checkpointed once it returns, retried by DBOS with backoff before it counts as failed). When
a step fails for good, or the body raises, the compensations of the steps that completed run
in reverse order, each itself a durable step; then the outcome is recorded and an alert
raised. The outcome — completed, compensated or compensation_failed — is the workflow's
durable result, so a redelivered start returns it instead of running the saga again.

    async def refund(steps: SagaSteps, ret: ReturnRequest) -> str:
        note = await steps.step("erp_credit_note", lambda: erp.credit_note(ret, key=steps.key("erp")),
                                compensate=lambda note: erp.void_credit_note(note))
        await steps.step("loyalty_reversal", lambda: loyalty.reverse(ret), compensate=...)
        return note

    RETURN_TO_REFUND = Saga("return_to_refund", refund, alerts=alert_sink)
    register_saga(RETURN_TO_REFUND)                  # before WorkflowRuntime.launch()
    handle = await start_saga(runtime, RETURN_TO_REFUND, return_id, ret)

Rules for bodies, as for any DBOS workflow: do every effect inside a step; make the sequence of
steps depend only on the input and on earlier steps' results (recovery replays the body and
matches each step to its checkpoint by position and name); return and pass picklable values.
An effect outside the hub (an ERP call) can still run twice — a crash after the call and before
its checkpoint — so send `steps.key(...)` as its idempotency key (DESIGN.md rule 3).

Every saga runs under one DBOS workflow, `retailhub.saga`, which finds the saga by name in this
process's registry: register the same sagas, with their ports, before each launch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import structlog
from dbos import DBOS, StepOptions, WorkflowHandleAsync
from dbos import error as dbos_error

from retailhub.flows.sagas.runtime import WorkflowRuntime, workflow_id

T = TypeVar("T")
In = TypeVar("In")
R = TypeVar("R")

SAGA_WORKFLOW = "retailhub.saga"
ALERT_STEP = "alert"
REGISTRATION_WAIT = 3600.0
REGISTRATION_POLL = 5.0

_log = structlog.get_logger(__name__)


class SagaStatus(StrEnum):
    """How a saga ended; there is no fourth, half-done state."""

    COMPLETED = "completed"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


@dataclass(frozen=True, slots=True)
class StepRetry:
    """DBOS retries of one step: `max_attempts` tries, `interval` seconds apart times `backoff`^n.

    Errors of a `give_up_on` type are not retried (a refusal: retrying cannot change it).
    """

    max_attempts: int = 3
    interval: float = 1.0
    backoff: float = 2.0
    give_up_on: tuple[type[Exception], ...] = ()

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


DEFAULT_STEP_RETRY = StepRetry()
DEFAULT_COMPENSATION_RETRY = StepRetry(max_attempts=5)


class StepFailed(Exception):
    """One attempt of a saga step failed: the step, the error's type and message.

    DBOS stores a step's error by pickling it and raises it again on replay; any exception is
    turned into this one first, which always pickles and unpickles.
    """

    def __init__(self, step: str, error_type: str, message: str, permanent: bool = False) -> None:
        self.step, self.error_type, self.message, self.permanent = (
            step,
            error_type,
            message,
            permanent,
        )
        super().__init__(f"{step}: {error_type}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (StepFailed, (self.step, self.error_type, self.message, self.permanent))


class SagaAborted(Exception):
    """A step failed for good: the saga stops here and compensates what it did."""

    def __init__(self, step: str, reason: str) -> None:
        self.step, self.reason = step, reason
        super().__init__(f"step {step} failed for good: {reason}")


@dataclass(frozen=True, slots=True)
class SagaOutcome(Generic[R]):
    """How a saga ended, recorded as its workflow's result.

    `compensated` lists the steps undone, in the order they were undone; `not_compensated` the
    ones whose compensation failed for good and need an operator.
    """

    saga: str
    workflow_id: str
    status: SagaStatus
    result: R | None = None
    failed_step: str | None = None
    reason: str | None = None
    compensated: tuple[str, ...] = ()
    not_compensated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SagaAlert:
    """What an operator is told when a saga did not complete: which one, where, and what is left."""

    saga: str
    workflow_id: str
    status: SagaStatus
    failed_step: str
    reason: str
    compensated: tuple[str, ...]
    not_compensated: tuple[str, ...]

    @property
    def needs_operator(self) -> bool:
        """True when something could not be undone and is left for a person to fix."""
        return self.status is SagaStatus.COMPENSATION_FAILED


class AlertSink(Protocol):
    """Where saga alerts go (the console, a pager, a ticket); must be safe to repeat per id."""

    async def raise_alert(self, alert: SagaAlert) -> None:
        """Deliver one alert; `alert.workflow_id` is stable, so a repeat can be recognised."""


SagaBody = Callable[["SagaSteps", In], Awaitable[R]]


@dataclass(frozen=True, slots=True)
class Saga(Generic[In, R]):
    """A named saga: its body, where its alerts go, and its steps' default retries."""

    name: str
    body: SagaBody[In, R]
    alerts: AlertSink
    step_retry: StepRetry = DEFAULT_STEP_RETRY
    compensation_retry: StepRetry = DEFAULT_COMPENSATION_RETRY

    def workflow_id(self, key: str) -> str:
        """The workflow id of this saga for one business key or event."""
        return workflow_id(self.name, key)


@dataclass(slots=True)
class _Done:
    step: str
    result: Any
    compensate: Callable[[Any], Awaitable[None]] | None


def _options(step: str, retry: StepRetry) -> StepOptions:
    return {
        "name": step,
        "retries_allowed": retry.max_attempts > 1,
        "max_attempts": retry.max_attempts,
        "interval_seconds": retry.interval,
        "backoff_rate": retry.backoff,
        "should_retry": lambda error: not getattr(error, "permanent", False),
    }


def _reason(error: BaseException) -> str:
    """A one-line reason for the outcome: the last attempt's error when DBOS gave up retrying."""
    if isinstance(error, dbos_error.DBOSMaxStepRetriesExceeded) and error.errors:
        last = error.errors[-1]
        return f"{last} (after {len(error.errors)} attempts)"
    return str(error)


async def _run_step(step: str, action: Callable[[], Awaitable[T]], retry: StepRetry) -> T:
    """Run `action` as one durable DBOS step named `step`, retried by DBOS."""

    async def attempt() -> T:
        try:
            return await action()
        except Exception as error:
            raise StepFailed(
                step, type(error).__name__, str(error), isinstance(error, retry.give_up_on)
            ) from None

    result: T = await DBOS.run_step_async(_options(step, retry), attempt)
    return result


@dataclass(slots=True)
class SagaSteps:
    """The running saga as its body sees it: run steps, derive idempotency keys."""

    saga: Saga[Any, Any]
    workflow_id: str
    _done: list[_Done] = field(default_factory=list)

    def key(self, purpose: str) -> str:
        """An idempotency key for one outbound call of this saga, stable across recoveries."""
        return f"{self.workflow_id}:{purpose}"

    async def step(
        self,
        name: str,
        action: Callable[[], Awaitable[T]],
        *,
        compensate: Callable[[T], Awaitable[None]] | None = None,
        retry: StepRetry | None = None,
    ) -> T:
        """Run one coarse step durably; on success remember how to undo it, with its result.

        `action` is called with no arguments (close over what it needs); `compensate` gets the
        step's result. Raises SagaAborted when the step fails for good.
        """
        if name == ALERT_STEP or name.startswith("compensate:"):
            raise ValueError(f"{name!r} is reserved for the saga's own steps")
        try:
            result = await _run_step(name, action, retry or self.saga.step_retry)
        except (StepFailed, dbos_error.DBOSMaxStepRetriesExceeded) as error:
            raise SagaAborted(name, _reason(error)) from error
        self._done.append(_Done(name, result, compensate))
        return result

    async def compensate(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Undo the completed steps in reverse order; (undone, failed to undo)."""
        undone: list[str] = []
        failed: list[str] = []
        for done in reversed(self._done):
            if done.compensate is None:
                continue
            try:
                await _run_step(
                    f"compensate:{done.step}",
                    partial(done.compensate, done.result),
                    self.saga.compensation_retry,
                )
            except (StepFailed, dbos_error.DBOSMaxStepRetriesExceeded) as error:
                _log.error(
                    "saga compensation failed",
                    saga=self.saga.name,
                    workflow_id=self.workflow_id,
                    step=done.step,
                    reason=_reason(error),
                )
                failed.append(done.step)
            else:
                undone.append(done.step)
        return tuple(undone), tuple(failed)


_SAGAS: dict[str, Saga[Any, Any]] = {}


def register_saga(saga: Saga[Any, Any]) -> None:
    """Make `saga` runnable (and recoverable) in this process; replaces one of the same name."""
    _SAGAS[saga.name] = saga


def registered_saga(name: str) -> Saga[Any, Any]:
    """The saga registered under `name`; LookupError names the missing registration."""
    try:
        return _SAGAS[name]
    except KeyError:
        raise LookupError(f"no saga named {name!r} is registered in this process") from None


async def _registration(name: str) -> Saga[Any, Any]:
    """The saga named `name`, waiting for it if this process recovered it before registering it.

    Raising would fail the saga for good (DBOS marks a workflow whose body raises as failed),
    so it waits instead: shutdown cancels the wait and the saga stays pending for a process
    that has it. After REGISTRATION_WAIT it fails, visibly, for an operator to resume.
    """
    deadline = time.monotonic() + REGISTRATION_WAIT
    while name not in _SAGAS and time.monotonic() < deadline:
        _log.warning("recovered a saga this process has not registered; waiting", saga=name)
        await asyncio.sleep(REGISTRATION_POLL)
    return registered_saga(name)


async def _alert(saga: Saga[Any, Any], alert: SagaAlert) -> None:
    """Raise the alert as a durable step: sent once per saga, unless the sink itself fails."""
    try:
        await _run_step(ALERT_STEP, lambda: saga.alerts.raise_alert(alert), saga.compensation_retry)
    except (StepFailed, dbos_error.DBOSMaxStepRetriesExceeded) as error:
        _log.error("saga alert could not be delivered", alert=alert, reason=_reason(error))


@DBOS.workflow(name=SAGA_WORKFLOW)
async def run_saga(saga_name: str, payload: Any) -> SagaOutcome[Any]:
    """The DBOS workflow every saga runs under: body, then compensation and alert on failure."""
    saga = await _registration(saga_name)
    current = DBOS.workflow_id
    assert current is not None
    steps = SagaSteps(saga, current)
    try:
        result = await saga.body(steps, payload)
    except dbos_error.DBOSUnexpectedStepError:
        # The code no longer matches the checkpoints (a step renamed or moved under a live
        # saga): a deploy to fix, not a business failure to compensate with mismatched steps.
        raise
    except Exception as error:
        failed_step = error.step if isinstance(error, SagaAborted) else "body"
        reason = (
            error.reason if isinstance(error, SagaAborted) else f"{type(error).__name__}: {error}"
        )
        undone, not_undone = await steps.compensate()
        status = SagaStatus.COMPENSATION_FAILED if not_undone else SagaStatus.COMPENSATED
        alert = SagaAlert(saga.name, current, status, failed_step, reason, undone, not_undone)
        await _alert(saga, alert)
        _log.warning("saga did not complete", saga=saga.name, workflow_id=current, status=status)
        return SagaOutcome(
            saga.name, current, status, None, failed_step, reason, undone, not_undone
        )
    return SagaOutcome(saga.name, current, SagaStatus.COMPLETED, result)


async def start_saga(
    runtime: WorkflowRuntime, saga: Saga[In, R], key: str, payload: In
) -> WorkflowHandleAsync[SagaOutcome[R]]:
    """Start `saga` once for `key` (an event id, or a business key and version) with `payload`.

    A second start with the same key runs nothing and returns a handle on the first run,
    whose result is its SagaOutcome. The saga must be registered before the runtime launched.
    """
    registered_saga(saga.name)
    handle: WorkflowHandleAsync[SagaOutcome[R]] = await runtime.start_once(
        saga.workflow_id(key), run_saga, saga.name, payload
    )
    return handle
