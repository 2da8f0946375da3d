"""Continuous batching for an API whose work costs about as much for a few calls as for one.

BentoML's adaptive batching (``@bentoml.api(batchable=True)``) merges calls into one list
argument, waits for a batch to fill by its latency model, and fails the whole batch when one
item is bad. The member match needs the opposite on each count: a typed single record per
call, an error per call (one record with nothing to compare must not fail its neighbours),
and no wait when the service is idle. So the calls are batched here: an idle batcher starts
scoring the first call at once, on a worker thread; the calls that arrive meanwhile (the
event loop keeps serving) wait, and are scored together as the next batch.

The gateway batches its classification requests the same way, with an async score (one call
to the chat risk service for the requests that arrived while others were in flight) and two
batches in flight, so that the service has the next batch while the last one's answer
travels back.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class ContinuousBatcher(Generic[Item, Answer]):
    """Runs ``score`` over the calls waiting for it, a batch at a time.

    Args:
        score: answers a batch of items, in order, one answer per item; an item's answer
            may be the exception that call raises, which leaves the rest of its batch alone.
            If ``score`` itself raises on a batch, each of its items is scored alone, and
            only the calls whose item still fails raise. A plain function runs on a worker
            thread; an ``async`` one on the event loop.
        max_batch: most items scored together (counted by ``size``); the rest wait for the
            next batch. An item larger than it is scored alone.
        in_flight: batches scored at once.
        size: how much of ``max_batch`` an item takes (default 1).
    """

    def __init__(
        self,
        score: Callable[[list[Item]], Sequence[Answer | Exception]]
        | Callable[[list[Item]], Awaitable[Sequence[Answer | Exception]]],
        max_batch: int,
        *,
        in_flight: int = 1,
        size: Callable[[Item], int] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, got {in_flight}")
        self.score = score
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.size = size or (lambda _item: 1)
        self._async = inspect.iscoroutinefunction(score)
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._runners: list[asyncio.Task[None]] = []

    async def submit(self, item: Item) -> Answer:
        """``item``'s answer, scored in the next batch."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._runners = [runner for runner in self._runners if not runner.done()]
        if len(self._runners) < self.in_flight:
            self._runners.append(asyncio.create_task(self._run()))
        return await future

    def _next_batch(self) -> list[tuple[Item, asyncio.Future[Answer]]]:
        taken, total = 0, 0
        for item, _ in self._waiting:
            total += self.size(item)
            if taken and total > self.max_batch:
                break
            taken += 1
        batch = self._waiting[:taken]
        del self._waiting[:taken]
        return batch

    async def _run(self) -> None:
        while self._waiting:
            batch = self._next_batch()
            answers = await self._answers([item for item, _ in batch])
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # the caller went away (its request was cancelled)
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    async def _answers(self, items: list[Item]) -> list[Answer | Exception]:
        """``score``'s answers; when it raises on a batch, each item scored alone, so that
        the item that broke it fails its own call only."""
        try:
            return await self._checked(items)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, not lost
            if len(items) == 1:
                return [exc]
        answers: list[Answer | Exception] = []
        for item in items:
            try:
                answers.extend(await self._checked([item]))
            except Exception as exc:  # noqa: BLE001
                answers.append(exc)
        return answers

    async def _checked(self, items: list[Item]) -> list[Answer | Exception]:
        if self._async:
            answers = list(await self.score(items))  # type: ignore[misc]
        else:
            answers = list(await asyncio.to_thread(self.score, items))  # type: ignore[arg-type]
        if len(answers) != len(items):
            raise RuntimeError(
                f"the batch's score gave {len(answers)} answers for {len(items)} items"
            )
        return answers
