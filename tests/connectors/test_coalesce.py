"""Coalescer: the first call goes alone, calls arriving meanwhile go together in the next batch,
and each caller gets its own answer or its own failure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from retailhub.connectors.coalesce import Coalescer


class Doubler:
    """A batch call that doubles numbers, refuses negative ones, and holds until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.down = False

    async def __call__(self, numbers: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(numbers))
        await self.release.wait()
        if self.down:
            raise ConnectionError("the system is down")
        return [ValueError(f"{n} is negative") if n < 0 else 2 * n for n in numbers]


async def test_calls_arriving_during_a_batch_go_together_in_the_next() -> None:
    doubler = Doubler()
    doubler.release.clear()
    coalescer: Coalescer[int, int] = Coalescer(doubler, max_batch=3)
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(coalescer.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    doubler.release.set()
    assert [await first, *[await task for task in rest]] == [2, 4, 6, 8, 10, 12]
    assert doubler.batches == [[1], [2, 3, 4], [5, 6]]


async def test_each_caller_gets_its_own_failure_and_a_failed_batch_fails_its_callers() -> None:
    doubler = Doubler()
    coalescer: Coalescer[int, int] = Coalescer(doubler)
    answers = await asyncio.gather(
        coalescer.submit(1), coalescer.submit(-1), return_exceptions=True
    )
    assert answers[0] == 2
    assert isinstance(answers[1], ValueError)
    doubler.down = True
    with pytest.raises(ConnectionError, match="down"):
        await coalescer.submit(3)
    doubler.down = False
    assert await coalescer.submit(4) == 8


async def test_a_caller_that_gave_up_is_left_out_of_the_next_batch() -> None:
    doubler = Doubler()
    doubler.release.clear()
    coalescer: Coalescer[int, int] = Coalescer(doubler)
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0)
    abandoned = asyncio.create_task(coalescer.submit(2))
    kept = asyncio.create_task(coalescer.submit(3))
    await asyncio.sleep(0)
    abandoned.cancel()
    doubler.release.set()
    assert (await first, await kept) == (2, 6)
    assert doubler.batches == [[1], [3]]
