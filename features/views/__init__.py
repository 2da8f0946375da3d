"""Cross-platform views over the unified store, reused by forecasting, services and the agent.

Each view is a pure function of a :class:`~features.store.Store` that returns a pandas
DataFrame and checks its parameters first (unknown platform → ``UnknownPlatformError``,
unknown SKU or warehouse → ``UnknownEntityError``, bad period or threshold →
``InvalidParameterError``). Weeks start on Monday in Asia/Shanghai.
"""

from __future__ import annotations

from features.errors import InvalidParameterError
from features.views.detectors import (
    StockRisk,
    hot_items,
    hot_items_week,
    oversell_as_of,
    oversell_risk,
)
from features.views.metrics import (
    DataCoverage,
    MetricsResult,
    data_coverage,
    data_period,
    sales_metrics,
    unsold_listed,
)
from features.views.sales import sales_weekly
from features.views.stock import delisted_skus, stock_position

__all__ = [
    "DataCoverage",
    "InvalidParameterError",
    "MetricsResult",
    "StockRisk",
    "hot_items",
    "hot_items_week",
    "data_coverage",
    "delisted_skus",
    "data_period",
    "oversell_as_of",
    "oversell_risk",
    "sales_metrics",
    "sales_weekly",
    "stock_position",
    "unsold_listed",
]
