"""Butler's HTTP services (BentoML 1.4): one service per model family behind one entry point.

``gateway.Butler`` is the entry point `butler serve` starts; it composes (``bentoml.depends``)
``Forecasting``, ``Identity`` and ``ChatRisk``, each of which loads its model from the MLflow
registry by alias at start-up. Every endpoint but health, readiness, metrics and the OpenAPI
document needs ``Authorization: Bearer $BUTLER_API_KEY`` (:mod:`services.http.middleware`).
"""

from typing import Any

#: How a caller keeps its connection to a dependency service. BentoML's client closes its
#: whole session every 100 requests (and every 5 minutes) by default, while other calls are
#: still in flight on it: under load those calls lost their connection (867 in one load run)
#: and the gateway had to repeat them. Over the local socket there is nothing to refresh.
DEPENDENCY_CONNECTION = {"max_requests": 1_000_000_000, "max_age": 86_400.0}

#: The services behind the gateway keep no access log of their own: every request they
#: answer came through the gateway (``gateway.Butler``), whose access log has it, and whose
#: middleware logs any failure with its request id. Writing a second line per request took
#: about 5% of the identity service's CPU time under load (py-spy, match at 32 clients).
DEPENDENCY_LOGGING = {"access": {"enabled": False}}

#: Every service's tracing, unless a BentoML configuration file says otherwise: no request is
#: traced. BentoML runs each request through OpenTelemetry's ASGI middleware, which builds
#: the request's spans and their attributes even when no exporter takes them (Butler
#: configures none); with every path excluded it passes requests straight on. Without it, at
#: 32 clients, the gateway answered 841 → 1,224 one-SKU forecasts and 454 → 563 matches a
#: second. This is a default of each service's config, so a file that BentoML reads
#: (``BENTOML_CONFIG``) turns tracing on service by service, e.g.
#: ``services: {butler: {tracing: {exporter_type: otlp, excluded_urls: []}}}``.
UNTRACED = {"excluded_urls": ".*"}


def behind_gateway() -> dict[str, Any]:
    """The config every service behind the gateway is started with: one worker (BentoML's own
    configuration can run more, see the README), and the connection, logging and tracing
    above; a copy each time, since BentoML merges configuration into the dicts it is given."""
    import copy

    return copy.deepcopy(
        {
            "workers": 1,
            "runner_connection": DEPENDENCY_CONNECTION,
            "logging": DEPENDENCY_LOGGING,
            "tracing": UNTRACED,
        }
    )


def freeze_startup_heap(_service: object = None) -> None:
    """Put what a service built at start-up (its model, caches, store extracts) out of the
    garbage collector's reach, so that collecting a request's garbage does not walk it.

    Run by :func:`prepare_to_serve`, the services' start-up hook: only when BentoML serves a
    class, not when the CLI runs a service class in process (frozen objects are never
    collected, and a process that builds services again and again would keep them all).
    With the heap of a loaded model left in the collector's generations, a full collection
    during load held a request for a few hundred milliseconds: one-SKU forecasts at 8
    clients went from p99 226–311 ms and 189–210 a second to 97–129 ms and 271–290 a second
    when the start-up heap was frozen.
    """
    import gc

    gc.collect()
    gc.freeze()


def prepare_to_serve(_service: object = None) -> None:
    """What every served Butler service does once it is up: log client errors as one line
    without the values sent (:func:`services.http.errors.quiet_client_errors`),
    :func:`release_request_timers`, then :func:`freeze_startup_heap`.

    Each service class takes it as its start-up hook, ``_prepare_to_serve =
    bentoml.on_startup(prepare_to_serve)``. BentoML runs it only when it serves the class,
    not when the CLI runs a service class in process; each service's worker process runs
    it for itself.
    """
    from services.http.errors import quiet_client_errors

    quiet_client_errors()
    release_request_timers()
    freeze_startup_heap()


def release_request_timers() -> None:
    """Make BentoML's request timeout let go of each request once it is answered.

    BentoML 1.4's ``TimeoutMiddleware`` arms ``loop.call_later(timeout, …)`` for every
    request and never cancels it, so each answered request's timer, future and context
    (with its OpenTelemetry span) stay alive for the whole traffic timeout (60 s here). At a
    few hundred requests a second that is tens of thousands of requests' objects, which
    every full garbage collection walks: in a one-SKU forecast load at 8 clients the
    gateway's full collections grew from 11 to 254 ms over 40 s (none of them freed
    anything) and held every request in flight. The middleware's ``__call__`` is replaced
    by the same logic that cancels its timer when the request ends. A BentoML without that
    middleware, or not of 1.4, is left alone (with a warning).
    """
    import asyncio
    import logging

    import bentoml

    try:
        from bentoml._internal.server.http.traffic import TimeoutMiddleware
    except ImportError:
        TimeoutMiddleware = None  # noqa: N806 - the class, when BentoML has it
    if TimeoutMiddleware is None or not bentoml.__version__.startswith("1.4."):
        logging.getLogger(__name__).warning(
            "BentoML %s: its request timeout is not patched to release answered requests",
            bentoml.__version__,
        )
        return
    if getattr(TimeoutMiddleware.__call__, "releases_its_timer", False):
        return
    from starlette.responses import JSONResponse

    async def __call__(self: Any, scope: Any, receive: Any, send: Any) -> None:  # noqa: N807
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

        async def _send(message: Any) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        answer = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
        try:
            await waiter
        except TimeoutError:
            if answer.cancel():
                error = {"error": f"Not able to process the request in {self.timeout} seconds"}
                await JSONResponse(error, status_code=504)(scope, receive, send)
        else:
            await answer
        finally:
            timer.cancel()

    __call__.releases_its_timer = True  # type: ignore[attr-defined]
    TimeoutMiddleware.__call__ = __call__
