"""Butler's HTTP services (BentoML 1.4): one service per model family behind one entry point.

``gateway.Butler`` is the entry point `butler serve` starts; it composes (``bentoml.depends``)
``Forecasting``, ``Identity`` and ``ChatRisk``, each of which loads its model from the MLflow
registry by alias at start-up. Every endpoint but health, readiness, metrics and the OpenAPI
document needs ``Authorization: Bearer $BUTLER_API_KEY`` (:mod:`services.http.middleware`).
"""

#: How a caller keeps its connection to a dependency service. BentoML's client closes its
#: whole session every 100 requests (and every 5 minutes) by default, while other calls are
#: still in flight on it: under load those calls lost their connection (867 in one load run)
#: and the gateway had to repeat them. Over the local socket there is nothing to refresh.
DEPENDENCY_CONNECTION = {"max_requests": 1_000_000_000, "max_age": 86_400.0}


def freeze_startup_heap(_service: object = None) -> None:
    """Put what a service built at start-up (its model, caches, store extracts) out of the
    garbage collector's reach, so that collecting a request's garbage does not walk it.

    Each service class takes it as its start-up hook, ``_freeze_startup_heap =
    bentoml.on_startup(freeze_startup_heap)``: BentoML calls it with the instance once the
    service is up, and only when it serves the class (not when the CLI runs a
    service class in process: frozen objects are never collected, and a process that builds
    services again and again would keep them all). With the heap of a loaded model left
    in the collector's generations, a full collection during load held a request for a
    few hundred milliseconds: one-SKU forecasts at 8 clients went from p99 226–311 ms and
    189–210 a second to 97–129 ms and 271–290 a second when the start-up heap was frozen.
    """
    import gc

    gc.collect()
    gc.freeze()
