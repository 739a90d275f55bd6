"""A fulfilment worker on the PostgreSQL bus, for the crash and competing-consumer tests.

Run as `python consumer_postgres.py URL SCHEMA EXPECTED [--stall-at N --marker FILE]
[--ready FILE --members M] [--lanes L]`. Each handled event writes one effect row (event id,
key, step, this process's id) through the handler's transaction. With --stall-at it writes FILE
from inside the batch holding event N (its effect written, not committed) and waits to be
killed. With --ready it writes FILE once subscribed and aware of M processes running the
subscription. It exits 0 once EXPECTED effects are committed and nothing is held, and 3 if that
takes too long.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from retailhub.bus.port import HandlerContext
from retailhub.bus.postgres import PostgresBus
from retailhub.canonical.cloudevents import CloudEvent

LIMIT_SECONDS = 60.0

EFFECT_TABLE = (
    "CREATE TABLE IF NOT EXISTS effect (id bigserial PRIMARY KEY, event_id text NOT NULL, "
    "key text, step integer NOT NULL, pid integer NOT NULL)"
)


async def fulfil_orders(arguments: argparse.Namespace) -> int:
    """Handle orders until EXPECTED effects are committed; return the exit status."""
    bus = PostgresBus(
        arguments.url,
        schema=arguments.schema,
        poll_interval=0.02,
        batch_size=100,
        lanes=arguments.lanes,
        pool_size=8,
    )
    async with bus:
        async with bus.transaction() as transaction:
            await transaction.execute(EFFECT_TABLE)

        async def reserve_stock(event: CloudEvent, context: HandlerContext) -> None:
            step = int(event.data["n"])
            await context.transaction.execute(
                "INSERT INTO effect (event_id, key, step, pid) VALUES ($1, $2, $3, $4)",
                (event.id, event.partitionkey, step, os.getpid()),
            )
            if arguments.stall_at == step and arguments.marker is not None:
                arguments.marker.write_text(str(context.position))
                await asyncio.sleep(LIMIT_SECONDS)
            await asyncio.sleep(0.0005)

        await bus.subscribe("fulfilment", ["retail.order.*"], reserve_stock, from_position=0)
        for _ in range(int(LIMIT_SECONDS / 0.05)):
            if bus.members_seen("fulfilment") >= arguments.members:
                break
            await asyncio.sleep(0.05)
        if arguments.ready is not None:
            arguments.ready.write_text("ready")
        deadline = time.monotonic() + LIMIT_SECONDS
        while time.monotonic() < deadline:
            status = await bus.status("fulfilment")
            async with bus.transaction() as transaction:
                ((count,),) = await transaction.fetch_all("SELECT count(*) FROM effect")
            if count >= arguments.expected and status.retrying + status.parked == 0:
                return 0
            await asyncio.sleep(0.05)
    return 3


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line described above."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("schema")
    parser.add_argument("expected", type=int)
    parser.add_argument("--stall-at", type=int)
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--members", type=int, default=1)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(fulfil_orders(parse(sys.argv[1:]))))
