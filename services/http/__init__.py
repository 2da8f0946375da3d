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
