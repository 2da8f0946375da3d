"""Continuous batching: an idle batcher starts at once, later calls join the next batch."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.http.batching import ContinuousBatcher


class Recorder:
    """A batch score that doubles its items, records each batch, and holds the first batch
    until ``release`` is set (so the test can queue calls behind it)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [ValueError(f"bad {i}") if i < 0 else 2 * i for i in items]


def test_an_idle_batcher_starts_at_once_and_later_calls_share_the_next_batch():
    score = Recorder()
    batcher = ContinuousBatcher(score, max_batch=3)

    async def run():
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.to_thread(score.started.wait, 5)  # the first call is being scored alone
        later = [asyncio.create_task(batcher.submit(i)) for i in (2, 3, 4, 5)]
        await asyncio.sleep(0)
        score.release.set()
        return await asyncio.gather(first, *later)

    assert asyncio.run(run()) == [2, 4, 6, 8, 10]
    assert score.batches == [[1], [2, 3, 4], [5]]  # max_batch: the fifth waited for a third


def test_an_items_error_goes_to_its_caller_only():
    score = Recorder()
    score.release.set()
    batcher = ContinuousBatcher(score, max_batch=8)

    async def run():
        return await asyncio.gather(
            *(batcher.submit(i) for i in (1, -1, 3)), return_exceptions=True
        )

    good, bad, other = asyncio.run(run())
    assert (good, other) == (2, 6)
    assert isinstance(bad, ValueError) and str(bad) == "bad -1"
    assert score.batches == [[1, -1, 3]]


def test_a_batch_that_fails_is_scored_item_by_item_so_only_the_bad_item_fails():
    calls = []

    def score(items):
        calls.append(items)
        if 0 in items:
            raise RuntimeError("the model broke on 0")
        return [2 * i for i in items]

    batcher = ContinuousBatcher(score, max_batch=8)

    async def run():
        answers = await asyncio.gather(
            *(batcher.submit(i) for i in (1, 0, 3)), return_exceptions=True
        )
        return answers, await batcher.submit(4)  # the batcher goes on

    (one, zero, three), four = asyncio.run(run())
    assert (one, three, four) == (2, 6, 8)
    assert isinstance(zero, RuntimeError) and str(zero) == "the model broke on 0"
    assert calls == [[1, 0, 3], [1], [0], [3], [4]]


def test_a_score_giving_the_wrong_number_of_answers_is_an_error():
    batcher = ContinuousBatcher(lambda items: [], max_batch=8)
    with pytest.raises(RuntimeError, match="gave 0 answers for 1 items"):
        asyncio.run(batcher.submit(1))


def test_a_caller_that_went_away_does_not_disturb_the_batch():
    score = Recorder()
    batcher = ContinuousBatcher(score, max_batch=8)

    async def run():
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.to_thread(score.started.wait, 5)
        gone = asyncio.create_task(batcher.submit(2))
        kept = asyncio.create_task(batcher.submit(3))
        await asyncio.sleep(0)
        gone.cancel()
        score.release.set()
        return await first, await asyncio.wait_for(kept, 5), gone.cancelled()

    assert asyncio.run(run()) == (2, 6, True)


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        ContinuousBatcher(lambda items: items, max_batch=0)


def test_an_async_score_runs_on_the_loop_with_batches_filled_by_size():
    batches = []

    async def score(requests):
        batches.append([len(r) for r in requests])
        await asyncio.sleep(0.01)
        return [[2 * x for x in r] for r in requests]

    batcher = ContinuousBatcher(score, max_batch=4, size=len)

    async def run():
        first = asyncio.create_task(batcher.submit([1]))
        await asyncio.sleep(0)  # the first request is being scored alone
        later = [batcher.submit(r) for r in ([2, 3], [4, 5], [6], [7, 8, 9, 10, 11])]
        return await asyncio.gather(first, *later)

    answers = asyncio.run(run())
    assert answers == [[2], [4, 6], [8, 10], [12], [14, 16, 18, 20, 22]]
    # 2 + 2 fit in 4; the 1 after them would pass it; a request over max_batch goes alone
    assert batches == [[1], [2, 2], [1], [5]]


def test_in_flight_batches_are_scored_at_once():
    running, most = 0, 0

    async def score(items):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1
        return items

    async def run(in_flight):
        batcher = ContinuousBatcher(score, max_batch=1, in_flight=in_flight)
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)))

    assert asyncio.run(run(2)) == list(range(6)) and most == 2
    most = 0
    assert asyncio.run(run(1)) == list(range(6)) and most == 1


def test_no_batches_in_flight_is_refused():
    with pytest.raises(ValueError, match="in_flight must be at least 1, got 0"):
        ContinuousBatcher(lambda items: items, max_batch=8, in_flight=0)
