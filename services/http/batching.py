"""Continuous batching for an API whose work costs about as much for a few calls as for one.

BentoML's adaptive batching (``@bentoml.api(batchable=True)``) merges calls into one list
argument, waits for a batch to fill by its latency model, and fails the whole batch when one
item is bad. The member match needs the opposite on each count: a typed single record per
call, an error per call (one record with nothing to compare must not fail its neighbours),
and no wait when the service is idle. So the calls are batched here: an idle batcher starts
scoring the first call at once, on a worker thread; the calls that arrive meanwhile (the
event loop keeps serving) wait, and are scored together as the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class ContinuousBatcher(Generic[Item, Answer]):
    """Runs ``score`` over the calls waiting for it, one batch at a time, on a thread.

    Args:
        score: answers a batch of items, in order, one answer per item; an item's answer
            may be the exception that call raises, which leaves the rest of its batch alone.
            If ``score`` itself raises on a batch, each of its items is scored alone, and
            only the calls whose item still fails raise.
        max_batch: most items scored together; the rest wait for the next batch.
    """

    def __init__(
        self, score: Callable[[list[Item]], Sequence[Answer | Exception]], max_batch: int
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.score = score
        self.max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Answer:
        """``item``'s answer, scored in the next batch."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            answers = await asyncio.to_thread(self._answers, [item for item, _ in batch])
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # the caller went away (its request was cancelled)
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    def _answers(self, items: list[Item]) -> list[Answer | Exception]:
        """``score``'s answers; when it raises on a batch, each item scored alone, so that
        the item that broke it fails its own call only."""
        try:
            return self._checked(items)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, not lost
            if len(items) == 1:
                return [exc]
        answers: list[Answer | Exception] = []
        for item in items:
            try:
                answers.extend(self._checked([item]))
            except Exception as exc:  # noqa: BLE001
                answers.append(exc)
        return answers

    def _checked(self, items: list[Item]) -> list[Answer | Exception]:
        answers = list(self.score(items))
        if len(answers) != len(items):
            raise RuntimeError(
                f"the batch's score gave {len(answers)} answers for {len(items)} items"
            )
        return answers
