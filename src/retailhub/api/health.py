"""Liveness and readiness: `/healthz` says the process answers; `/readyz` says whether it can do
its work, checking the bus and the hub database and reporting each system's circuit breaker.

An open breaker does not make the hub unready: it still takes orders, webhooks and journals
onto the bus, and the flows catch up when the system is back. Taking the hub out of a load
balancer because one downstream system is down would turn one outage into two. So `/readyz`
answers 200 `degraded` with the open breakers named, and 503 only when the bus or the database
cannot be reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from retailhub.api.problems import Problem, ProblemError
from retailhub.api.services import services_of

CHECK_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    """The process is up and serving HTTP."""

    status: Literal["ok"] = "ok"


class Check(BaseModel):
    """One dependency's check: reachable or not, and why not."""

    ok: bool
    detail: str | None = None


class SystemHealth(BaseModel):
    """A connected system as the hub sees it: the state of its circuit breaker."""

    breaker: str = Field(description="closed, open or half-open")


class Readiness(BaseModel):
    """Whether the hub can do its work, and the state of everything it depends on."""

    status: Literal["ready", "degraded"]
    bus: Check
    database: Check
    systems: dict[str, SystemHealth]


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Liveness:
    """200 while the process serves HTTP."""
    return Liveness()


@router.get(
    "/readyz",
    summary="Readiness: bus, database and each system's breaker",
    responses={503: {"model": Problem, "description": "The bus or the database is unreachable"}},
)
async def readyz(request: Request) -> Readiness:
    """200 `ready` (or `degraded` when a breaker is not closed); 503 when the bus or the
    database cannot be reached."""
    services = services_of(request)
    bus = services.bus

    async def database() -> None:
        async with bus.transaction() as transaction:
            await transaction.fetch_all("SELECT 1")

    bus_check, db_check = await asyncio.gather(_check(bus.tail(limit=1)), _check(database()))
    systems = {
        name: SystemHealth(breaker=str(system.circuit_state()))
        for name, system in sorted(services.systems.items())
    }
    if not (bus_check.ok and db_check.ok):
        raise ProblemError(
            503,
            "the bus or the hub database cannot be reached",
            slug="not-ready",
            title="Not ready",
            headers={"Retry-After": "5"},
            extra={
                "bus": bus_check.model_dump(),
                "database": db_check.model_dump(),
                "systems": {n: s.model_dump() for n, s in systems.items()},
            },
        )
    closed = all(s.breaker == "closed" for s in systems.values())
    return Readiness(
        status="ready" if closed else "degraded", bus=bus_check, database=db_check, systems=systems
    )


async def _check(probe: Awaitable[object]) -> Check:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except Exception as error:  # any failure means "not reachable", reported, never raised
        return Check(ok=False, detail=f"{type(error).__name__}: {error}"[:300])
    return Check(ok=True)
