"""Butler's HTTP services (BentoML 1.4): one service per model family behind one entry point.

``gateway.Butler`` is the entry point `butler serve` starts; it composes (``bentoml.depends``)
``Forecasting``, ``Identity`` and ``ChatRisk``, each of which loads its model from the MLflow
registry by alias at start-up. Every endpoint but health, readiness, metrics and the OpenAPI
document needs ``Authorization: Bearer $BUTLER_API_KEY`` (:mod:`services.http.middleware`).
"""
