"""Shared fixtures: small data the tests make themselves; nothing touches the network."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.settings import Settings
from features.store import Store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a Butler home under the test's own temporary folder."""
    return Settings(home=tmp_path / "home", ingest_batch_rows=1_000)


@pytest.fixture
def store(settings: Settings):
    """An empty, migrated store on disk under the test's home."""
    with Store.open(settings) as s:
        yield s


@pytest.fixture
def make_orders():
    """A factory of unified Tmall order lines (see :func:`orders_frame`)."""
    return orders_frame


def orders_frame(n: int, *, start: int = 0, status: str = "completed") -> pd.DataFrame:
    """``n`` unified Tmall order lines, two lines per order, ids from ``start``."""

    idx = range(start, start + n)
    return pd.DataFrame(
        {
            "order_id": [f"O{i // 2}" for i in idx],
            "line_id": [f"L{i}" for i in idx],
            "shop_id": "butler旗舰店",
            "buyer_id": [f"buyer{i % 7}" for i in idx],
            "platform_sku_id": [f"TM-S{i % 5}" for i in idx],
            "outer_sku_code": [f"SKU{i % 5}" for i in idx],
            "quantity": [1 + i % 3 for i in idx],
            "unit_price_fen": 1990,
            "paid_fen": [1990 * (1 + i % 3) for i in idx],
            "status": status,
            "refund_status": "none",
            "created_at": pd.Timestamp("2024-11-10 16:30:00") + pd.to_timedelta(list(idx), "min"),
        }
    )


@pytest.fixture
def write_export(tmp_path: Path):
    """Write unified rows as a platform would export them; returns the file's path."""
    from features.adapters.registry import get_adapter
    from features.schema.vocab import ExportKind

    def write(platform: str, kind: str, frame, name: str | None = None) -> Path:
        adapter = get_adapter(platform)
        contract = adapter.contract(ExportKind(kind))
        rendered = adapter.render(contract.kind, frame)
        path = tmp_path / "exports" / (name or f"{platform}_{kind}.{contract.file_format}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".xlsx":
            rendered.to_excel(path, index=False, engine="xlsxwriter")
        else:
            rendered.to_csv(path, index=False, encoding=contract.encoding)
        return path

    return write
