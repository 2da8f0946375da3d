"""Shared fixtures: small data the tests make themselves; nothing touches the network."""

from __future__ import annotations

import random
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


# -- a small store of weekly sales for forecasting and replenishment -----------------------------


class SalesWorld:
    """What :func:`sales_store` put in the store, so tests can recompute its answers.

    Attributes:
        daily: the ``sales_daily`` rows written.
        snapshots: the ``inventory_snapshots`` rows written.
        skus: the SKU master written (``lead_time_days`` is missing for one SKU).
        stockout_weeks: the Mondays of the weeks ``STOCKOUT_PAIR`` had no stock on at least
            4 days (its sales are 0 in them).
        last_week: the Monday of the newest complete week of sales.
    """

    START = pd.Timestamp("2023-01-02")  # a Monday
    WEEKS = 70  # complete weeks; three more days of sales follow them
    WAREHOUSES = ("WH-GZ", "WH-SH")
    STOCKOUT_PAIR = ("SKU01", "WH-SH")
    LATE_PAIR = ("SKU08", "WH-GZ")  # first sells in week 30
    NO_LEAD_TIME = "SKU05"

    def __init__(self, n_skus: int = 8, seed: int = 0) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.sku_ids = [f"SKU{i:02d}" for i in range(1, n_skus + 1)]
        days = pd.date_range(self.START, periods=self.WEEKS * 7 + 3, freq="D")
        week_no = (days - self.START).days // 7
        self.last_week = self.START + pd.Timedelta(weeks=self.WEEKS - 1)
        stock_weeks = [62, 63, 64]
        self.stockout_weeks = [self.START + pd.Timedelta(weeks=w) for w in [61, *stock_weeks]]
        rows, snaps = [], []
        for i, sku in enumerate(self.sku_ids):
            for j, wh in enumerate(self.WAREHOUSES):
                weekly = (4.0 + 3.0 * i) * (1.0 if j else 0.6)
                units = rng.poisson(weekly / 7.0, size=len(days))
                on_hand = np.full(len(days), 30)
                if (sku, wh) == self.STOCKOUT_PAIR:
                    out = np.isin(week_no, stock_weeks)
                    # week 60: three empty days (still in stock); week 61: four (out of stock)
                    out |= (week_no == 60) & (days.weekday < 3)
                    out |= (week_no == 61) & (days.weekday < 4)
                    on_hand[out] = 0
                    units[out] = 0
                if (sku, wh) == self.LATE_PAIR:
                    units[week_no < 30] = 0
                    units[week_no == 30] += 1  # sells in its first week
                for day, n in zip(days, units, strict=True):
                    if n > 0:
                        rows.append((day, "tmall", "shop1", sku, wh, int(n)))
                recent = week_no >= self.WEEKS - 20
                snaps += [
                    (d, wh, sku, int(h)) for d, h in zip(days[recent], on_hand[recent], strict=True)
                ]
        # a channel that names no warehouse: left out at sku_warehouse, kept at sku level
        for day in days[::3]:
            rows.append((day, "jd", "shop2", "SKU02", "", 2))
        daily = pd.DataFrame(
            rows, columns=["day", "platform", "shop_id", "sku_id", "warehouse_id", "units"]
        )
        daily["day"] = daily["day"].dt.date
        daily["orders"] = daily["units"]
        daily["returned_units"] = 0
        daily["gross_fen"] = daily["units"] * 1990
        daily["refund_fen"] = 0
        daily["avg_price_fen"] = 1990
        self.daily = daily
        self.snapshots = pd.DataFrame(
            snaps, columns=["snapshot_date", "warehouse_id", "sku_id", "on_hand"]
        ).assign(reserved=0, source_file="stock.xlsx")
        self.snapshots["snapshot_date"] = pd.to_datetime(self.snapshots["snapshot_date"]).dt.date
        self.skus = pd.DataFrame(
            {
                "sku_id": self.sku_ids,
                "product_id": [f"P{i // 2}" for i in range(n_skus)],
                "case_pack": 6,
                "moq": 12,
                "lead_time_days": [None if s == self.NO_LEAD_TIME else 14 for s in self.sku_ids],
            }
        )

    def write(self, store: Store) -> None:
        products = self.skus[["product_id"]].drop_duplicates()
        store.upsert("products", products.assign(name="name-" + products["product_id"]))
        store.upsert("skus", self.skus)
        store.upsert(
            "warehouses", pd.DataFrame({"warehouse_id": self.WAREHOUSES, "name": self.WAREHOUSES})
        )
        store.upsert("sales_daily", self.daily)
        store.upsert("inventory_snapshots", self.snapshots)
        store.upsert(
            "purchase_orders",
            pd.DataFrame(
                {
                    "po_id": ["PO1"],
                    "line_no": [1],
                    "sku_id": ["SKU02"],
                    "warehouse_id": ["WH-SH"],
                    "qty_ordered": [50],
                    "qty_received": [10],
                    "ordered_on": [self.START.date()],
                    "expected_on": [None],
                    "status": ["open"],
                    "source_file": ["po.xlsx"],
                }
            ),
        )


@pytest.fixture
def sales_store(settings: Settings) -> SalesWorld:
    """A store under ``settings.home`` with 70 weeks of daily sales of 8 SKUs × 2 warehouses,
    recent stock snapshots (one pair out of stock for a few weeks) and one open PO.

    The store is closed again, so the code under test can open it (read-only) itself.
    """
    world = SalesWorld()
    with Store.open(settings) as s:
        world.write(s)
    return world


@pytest.fixture(scope="session")
def sales_world() -> SalesWorld:
    """The same world as :func:`sales_store`, for modules that build one home for all their
    tests (module-scoped fixtures cannot use the per-test ``sales_store``)."""
    return SalesWorld()


# -- weekly-sales folders in the shapes `butler eval forecast` reads ---------------------------


def weekly_sales_frame(shape: str, n_series: int = 14, n_weeks: int = 36, seed: int = 0):
    """Weekly sales in one dataset's own columns (sparse: weeks without sales are left out).

    ``online_retail``: ``unique_id, item_id, channel, week (Monday), units``;
    ``walmart``: ``unique_id, store_id, dept_id, store_type, week (Friday), weekly_sales,
    is_observed``; ``nixtla``: ``unique_id, ds (Monday), y``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    first = {"walmart": "2023-01-06"}.get(shape, "2023-01-02")
    weeks = pd.date_range(first, periods=n_weeks, freq="7D")
    rows = []
    for i in range(n_series):
        level = 2.0 + 3.0 * i
        y = rng.poisson(level, size=n_weeks).astype(float)
        for week, value in zip(weeks, y, strict=True):
            if value == 0 and shape != "walmart":
                continue
            if shape == "online_retail":
                item, channel = f"I{i // 2:03d}", ("online", "wholesale")[i % 2]
                rows.append((f"{item}|{channel}", item, channel, week, value))
            elif shape == "walmart":
                store_id, dept_id = 1 + i % 2, 1 + i // 2
                store_type = "AB"[i % 2]
                rows.append(
                    (f"{store_id}_{dept_id}", store_id, dept_id, store_type, week, value * 100.0)
                )
            else:
                rows.append((f"T{i:02d}", week, value))
    columns = {
        "online_retail": ["unique_id", "item_id", "channel", "week", "units"],
        "walmart": ["unique_id", "store_id", "dept_id", "store_type", "week", "weekly_sales"],
        "nixtla": ["unique_id", "ds", "y"],
    }[shape]
    frame = pd.DataFrame(rows, columns=columns)
    if shape == "walmart":
        frame["is_observed"] = True
    return frame


@pytest.fixture
def weekly_folder(tmp_path: Path):
    """A factory of weekly-sales folders: ``weekly_folder(shape, name=None, **frame_kwargs)``.

    The folder is named after the dataset the shape comes from (``online_retail_weekly``,
    ``walmart_weekly``, which have entries in ``evaluation.datasets.KNOWN``) unless ``name``
    is given; it holds ``sales.parquet``.
    """

    def make(shape: str, name: str | None = None, **kwargs) -> Path:
        default = {"online_retail": "online_retail_weekly", "walmart": "walmart_weekly"}
        folder = tmp_path / "data" / (name or default.get(shape, f"{shape}_weekly"))
        folder.mkdir(parents=True)
        weekly_sales_frame(shape, **kwargs).to_parquet(folder / "sales.parquet", index=False)
        return folder

    return make


@pytest.fixture
def weekly_sales():
    """The frame factory behind :func:`weekly_folder` (see :func:`weekly_sales_frame`)."""
    return weekly_sales_frame


# -- a small set of chats with their risk truth -------------------------------------------------


class ChatWorld:
    """Customer-service chats: every third session risky, its risk in the buyer's later turn.

    Attributes:
        RISKY: buyer messages per scenario.
        ORDINARY: plain buyer questions.
        AGENT: agent turns (context only).
    """

    RISKY = {
        "complaint_threat": [
            "再不处理我就打12315投诉你们",
            "我要去消协投诉你们",
            "我已经投诉到工信部了",
        ],
        "counterfeit": ["你们卖的是假货吧", "这个肯定是假的不是正品", "收到的是高仿的"],
        "logistics_loss_damage": ["快递显示签收了但我没收到", "包裹破损了里面碎了", "少发了两件"],
        "legal_threat": ["我会找律师起诉你们", "我要报警", "准备走法律途径"],
    }
    ORDINARY = ["请问什么时候发货", "有没有优惠券", "这个颜色还有吗", "好的谢谢", "尺码怎么选"]
    AGENT = ["亲，您好，请问有什么可以帮您", "亲亲稍等，这边为您查询一下哦"]

    def rows(self, n_sessions: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Unified chat-message rows of ``n_sessions`` jd sessions, and their truth table."""
        from features.schema.vocab import RiskLabel

        rng = random.Random(seed)
        messages, truth = [], []
        for s in range(n_sessions):
            label = list(self.RISKY)[s % len(self.RISKY)] if s % 3 == 0 else None
            texts = [("buyer", rng.choice(self.ORDINARY)), ("agent", rng.choice(self.AGENT))]
            if label:
                texts.append(("buyer", rng.choice(self.RISKY[label])))
            for seq, (role, text) in enumerate(texts):
                messages.append(
                    {
                        "platform": "jd",
                        "session_id": f"S{s:04d}",
                        "seq": seq,
                        "shop_id": "shop1",
                        "role": role,
                        "sent_at": pd.Timestamp("2026-11-01 10:00") + pd.Timedelta(minutes=seq),
                        "text": text,
                    }
                )
            truth.append(
                {"platform": "jd", "session_id": f"S{s:04d}"}
                | {lab.value: int(lab.value == label) for lab in RiskLabel}
            )
        return pd.DataFrame(messages), pd.DataFrame(truth)

    def write(self, store: Store, n_sessions: int = 120, seed: int = 0) -> pd.DataFrame:
        """Put :meth:`rows` into ``chat_sessions`` and ``chat_messages``; return the truth."""
        messages, truth = self.rows(n_sessions, seed)
        sessions = messages.groupby(["platform", "session_id"], as_index=False).agg(
            shop_id=("shop_id", "first"),
            started_at=("sent_at", "min"),
            ended_at=("sent_at", "max"),
            message_count=("seq", "size"),
        )
        store.con.register("s_in", sessions)
        store.sql(f"INSERT INTO chat_sessions ({', '.join(sessions.columns)}) SELECT * FROM s_in")
        frame = messages.assign(source_file="test")
        store.con.register("m_in", frame)
        store.sql(f"INSERT INTO chat_messages ({', '.join(frame.columns)}) SELECT * FROM m_in")
        return truth


@pytest.fixture(scope="session")
def chat_world() -> ChatWorld:
    """The chats of :class:`ChatWorld`, for stores that need customer-service sessions."""
    return ChatWorld()
