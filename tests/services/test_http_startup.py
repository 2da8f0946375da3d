"""A served service's start-up: BentoML's request timeout lets go of answered requests."""

from __future__ import annotations

import asyncio
import json

import pytest
from bentoml._internal.server.http.traffic import TimeoutMiddleware

from services.http import release_request_timers


@pytest.fixture
def patched(monkeypatch):
    """The middleware patched for this test only (restored after it)."""
    monkeypatch.setattr(TimeoutMiddleware, "__call__", TimeoutMiddleware.__call__)
    release_request_timers()
    return TimeoutMiddleware


def _serve(middleware, scope):
    """Run one request through ``middleware``: the messages sent and the timers armed."""
    sent, timers = [], []

    async def send(message):
        sent.append(message)

    async def run():
        loop = asyncio.get_running_loop()
        arm = loop.call_later

        def spy(*args, **kwargs):
            timers.append(arm(*args, **kwargs))
            return timers[-1]

        loop.call_later = spy
        await middleware(scope, None, send)

    asyncio.run(run())
    return sent, timers


def _app(delay: float = 0.0):
    async def app(scope, receive, send):
        await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_an_answered_request_leaves_no_timer_behind(patched):
    sent, timers = _serve(patched(_app(), timeout=60), {"type": "http"})
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert len(timers) == 1 and timers[0].cancelled()  # BentoML's own left it for 60 s


def test_a_request_over_the_timeout_still_gets_a_504(patched):
    sent, _ = _serve(patched(_app(delay=5), timeout=0.05), {"type": "http"})
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"]) == {
        "error": "Not able to process the request in 0.05 seconds"
    }


def test_other_traffic_passes_without_a_timer_and_patching_twice_changes_nothing(patched):
    call = patched.__call__
    release_request_timers()
    assert patched.__call__ is call
    sent, timers = _serve(patched(_app(), timeout=60), {"type": "lifespan"})
    assert len(sent) == 2 and timers == []
