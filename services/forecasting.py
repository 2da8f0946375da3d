"""Forecasts and the replenishment plan from the registered models: what the CLI, the HTTP
services and the butler agent all call, so they give the same numbers.

Models come from the MLflow registry (``models:/butler-forecast-<level>@champion``); the
logged ``model.joblib`` holds the feature pipeline and the estimator together, so nothing
here re-derives features.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.adapters.readers import sniff_encoding
from features.errors import (
    ButlerError,
    ContractViolation,
    InvalidParameterError,
    UnknownEntityError,
    UnreadableFileError,
)
from features.forecast import ID_SEP, future_covariates
from features.settings import Settings
from features.store import Store
from features.text import INVISIBLE, unguarded
from features.views import delisted_skus, stock_position
from features.views._params import check_date
from features.views.stock import latest_snapshot_date
from models.forecast import MAX_HORIZON, registered_name
from models.replenishment import (
    ERROR_COLUMNS,
    HELD_REASON,
    HOLD_COLUMN,
    MAX_COVER_WEEKS,
    PLAN_COLUMNS,
    QUANTILES,
    TAIL_QUANTILES,
    ReplenishmentConfig,
    ReplenishmentPlan,
    ReplenishmentPolicy,
    allocate,
    as_numbers,
)
from services.registry import load_registered

logger = logging.getLogger(__name__)

#: Columns a positions file may carry (the first five are required).
POSITION_FILE_COLUMNS = (
    "sku_id",
    "warehouse_id",
    "on_hand",
    "in_transit",
    "lead_time_weeks",
    "review_period_weeks",
    "service_level",
    "moq",
    "case_pack",
)
#: Columns a supply file must carry: whole units of each SKU available to split (分仓补仓).
SUPPLY_FILE_COLUMNS = ("sku_id", "supply")


def load_forecaster(settings: Settings, level: str = "sku_warehouse") -> Any:
    """The ``@champion`` forecaster of a level, loaded from the MLflow registry.

    Raises:
        ModelNotRegisteredError: nothing is registered yet (the fix: ``butler train forecast``),
            or the registered one was trained with other forecaster settings.
    """
    return load_registered(settings, registered_name(level))


def planned_covariates(store: Store, model: Any, level: str) -> pd.DataFrame | None:
    """The store's known-ahead covariates of the weeks a forecaster forecasts, as they stand
    now: a promotion exported after the model was trained counts. None for a model that
    reads none (fitted without covariates, or a stand-in)."""
    if not getattr(model, "dynamic_features_", ()):
        return None
    last = pd.Timestamp(model.last_rows_["ds"].max())
    return future_covariates(store, level=level, after=last, weeks=MAX_HORIZON, ids=model.series_)


def forecast(
    settings: Settings,
    *,
    horizon: int = 8,
    level: str = "sku_warehouse",
    ids: list[str] | None = None,
    model: Any = None,
    future: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Weekly forecasts of a level: ``unique_id, ds, mean, p50 … p99_9, expected`` + id parts.

    ``future``: the known-ahead covariates of the weeks forecast; None = the store's now
    (:func:`planned_covariates`).

    Raises:
        ModelNotRegisteredError: no model registered.
        InvalidParameterError: bad horizon or unknown series.
    """
    model = model if model is not None else load_forecaster(settings, level)
    if future is None and getattr(model, "dynamic_features_", ()):
        with Store.open(settings, read_only=True) as store:
            future = planned_covariates(store, model, level)
    # stand-ins and the HTTP service's cache take no covariates (the cache read them once)
    known_ahead = {"future": future} if future is not None else {}
    frame = model.predict(horizon, ids=ids, **known_ahead)
    parts = frame["unique_id"].str.split(ID_SEP, expand=True, regex=False)
    if level == "sku_warehouse":
        frame["sku_id"], frame["warehouse_id"] = parts[0], parts[1]
    elif level == "sku_platform":
        frame["sku_id"], frame["platform"] = parts[0], parts[1]
    else:
        frame["sku_id"] = parts[0]
    return frame


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A replenishment plan, the rows that could not be planned, and where it stands."""

    plan: pd.DataFrame
    errors: pd.DataFrame
    as_of: dt.date
    forecast_start: dt.date | None  # None: no row could be planned, so nothing was forecast
    warnings: tuple[str, ...] = ()  # what the plan should be read with (a stale forecaster)


def passed_forecast_weeks(
    as_of: dt.date | None, forecast_start: dt.date | None
) -> tuple[dt.date, dt.date, int] | None:
    """The forecast weeks from ``forecast_start`` (a Monday) that ended on or before the
    stock day ``as_of``: (their first day, their last day, how many); None when none did."""
    if as_of is None or forecast_start is None:
        return None
    days = (as_of - forecast_start).days
    if days < 6:  # the first forecast week still reaches past the stock day
        return None
    passed = (days - 6) // 7 + 1
    return forecast_start, forecast_start + dt.timedelta(days=7 * passed - 1), passed


def stale_forecast(as_of: dt.date | None, forecast_start: dt.date | None) -> str | None:
    """Why a plan from stock of ``as_of`` and a forecast from ``forecast_start`` (a Monday)
    counts demand that is past: the forecaster was trained before the newest sales, and its
    first weeks ended on or before the stock day. None when none did."""
    weeks = passed_forecast_weeks(as_of, forecast_start)
    if weeks is None:
        return None
    first, last, passed = weeks
    return (
        f"The forecaster was trained on sales up to {first - dt.timedelta(days=1)}, "
        f"but the stock is of {as_of}: its first {passed} forecast week(s) "
        f"({first} … {last}) have passed, and the plan counts their demand on top "
        "of stock that has already been through them. Run `butler train forecast` to train "
        "on the newest sales."
    )


def unplanned_weeks(as_of: dt.date | None, forecast_start: dt.date | None) -> str | None:
    """Why a plan from stock of ``as_of`` misses demand: the forecast starts a week or more
    after the stock day (a past ``--as-of``), so the weeks between are in neither. None
    when it starts within the week after."""
    if as_of is None or forecast_start is None or (forecast_start - as_of).days <= 7:
        return None
    return (
        f"The stock is of {as_of}, but the forecast starts on {forecast_start}: the demand "
        f"of {as_of + dt.timedelta(days=1)} … {forecast_start - dt.timedelta(days=1)} is in "
        "no week of the plan, so it orders too little. A plan as of a past day needs a "
        "forecaster trained on the sales up to that day."
    )


def store_positions(store: Store, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """Positions per SKU × warehouse from the store: stock, in transit, lead time, MOQ, pack.

    ``on_hand`` is the stock available to sell (on hand minus reserved, floored at 0); lead
    time is the SKU's ``lead_time_days`` / 7 (missing when the ERP gives none: that row is
    reported, not guessed). ``hold`` says why a delisted SKU is not reordered
    (:func:`~features.views.delisted_skus`; blank otherwise), and ``overdue_in_transit``
    and ``next_expected_on`` which part of ``in_transit`` is late and since when.
    """
    stock = stock_position(store, as_of=as_of)
    day = pd.Timestamp(as_of).date() if as_of is not None else latest_snapshot_date(store)
    master = store.sql("SELECT sku_id, lead_time_days, moq, case_pack FROM skus").df()
    pos = stock.merge(master, on="sku_id", how="left")
    delisted = delisted_skus(store, day).set_index("sku_id")
    return pd.DataFrame(
        {
            "sku_id": pos["sku_id"],
            "warehouse_id": pos["warehouse_id"],
            "on_hand": pos["available"].clip(lower=0),
            "in_transit": pos["in_transit"],
            "lead_time_weeks": pos["lead_time_days"] / 7.0,
            "moq": pos["moq"].fillna(0),
            "case_pack": pos["case_pack"].fillna(1),
            HOLD_COLUMN: [
                _delisted_hold(delisted.loc[sku]) if sku in delisted.index else ""
                for sku in pos["sku_id"]
            ],
            "overdue_in_transit": pos["overdue_in_transit"],
            "next_expected_on": pos["next_expected_on"],
        }
    )


def _delisted_hold(row: pd.Series) -> str:
    """Why a delisted SKU is not reordered, for its plan lines."""
    n = int(row["listings"])
    sold = (
        f"last sold on {row['last_sale']:%Y-%m-%d}" if pd.notna(row["last_sale"]) else "never sold"
    )
    return (
        f"delisted: none of its {n} platform listing{'s' if n > 1 else ''} is listed and it "
        f"{sold}; sell off the stock or list it again before reordering"
    )


def read_positions(path: str | Path) -> pd.DataFrame:
    """A positions file (CSV or XLSX) with :data:`POSITION_FILE_COLUMNS`.

    Raises:
        UnreadableFileError: the file is missing, not UTF-8 or GBK, empty or not a CSV or
            XLSX, or a semicolon-separated file writes numbers such as 1.200.
        InvalidParameterError: a required column is missing.
    """
    path = Path(path)
    frame = _read_table(
        path, "positions", ("sku_id", "warehouse_id"), POSITION_FILE_COLUMNS, required=5
    )
    missing = [c for c in POSITION_FILE_COLUMNS[:5] if c not in frame.columns]
    if missing:
        raise InvalidParameterError(
            f"The positions file {path} lacks the columns {', '.join(missing)}; it needs "
            f"{', '.join(POSITION_FILE_COLUMNS[:5])} (optional: "
            f"{', '.join(POSITION_FILE_COLUMNS[5:])}), lead times in weeks. Got the columns "
            f"{', '.join(map(str, frame.columns)) or 'none'}; a title line above the header, "
            "or another separator than the comma, reads so too."
        )
    if frame.empty:
        raise UnreadableFileError(
            f"The positions file {path} has a header but no rows: give one row per SKU × "
            "warehouse to plan, or leave out --positions to plan from the store."
        )
    return frame


def read_supply(path: str | Path) -> pd.DataFrame:
    """A supply file (CSV or XLSX) with :data:`SUPPLY_FILE_COLUMNS`, rows as given.

    Rows are checked by :func:`replenishment_plan`, which reports a bad one (unknown or
    missing SKU, a SKU given twice, a supply that is not whole units >= 0) with its reason
    and plans the rest.

    Raises:
        UnreadableFileError: the file is missing, not UTF-8 or GBK, empty, a header without
            rows, or not a CSV or XLSX.
        InvalidParameterError: ``sku_id`` or ``supply`` is missing.

    Examples:
        >>> supply = read_supply("supply.csv")  # sku_id,supply / SKU01,120
        >>> replenishment_plan(settings, supply=supply)
    """
    path = Path(path)
    frame = _read_table(path, "supply", ("sku_id",), SUPPLY_FILE_COLUMNS, required=2)
    missing = [c for c in SUPPLY_FILE_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidParameterError(
            f"The supply file {path} lacks the columns {', '.join(missing)}; it needs "
            f"{', '.join(SUPPLY_FILE_COLUMNS)} (one row per SKU, supply in whole units). "
            f"Got the columns {', '.join(map(str, frame.columns)) or 'none'} instead."
        )
    if frame.empty:  # read as "no supply at all" it would silently lift the constraint
        raise UnreadableFileError(
            f"The supply file {path} has a header but no rows: give one row per SKU with the "
            "units available, or leave out --supply to plan without a supply limit."
        )
    return frame


#: Headers planners write for the file columns besides the columns' own names (compared in
#: lower case, spaces and hyphens read as ``_``), most telling first: English variants and the
#: Chinese an ERP or a planner's sheet uses. Where a file has two that name one column, its
#: own name wins, then the first here (可用库存, stock free to sell, before 库存, all of it);
#: the other is named as not read. A lead time without its unit (提前期) is not read: days or
#: weeks? Nor is ``pack`` (a case, or a 3-pack?).
COLUMN_ALIASES = {
    "sku_id": ("sku", "sku_code", "sku编码", "商品编码"),
    "warehouse_id": ("warehouse", "warehouse_code", "仓库编码", "仓库"),
    "on_hand": ("可用库存", "可用", "现有库存", "在库", "库存"),
    "in_transit": ("在途", "在途库存"),
    "lead_time_weeks": ("提前期(周)", "lead_time_wks"),
    "review_period_weeks": ("review_weeks", "review_period", "补货周期(周)"),
    "service_level": ("服务水平",),
    "moq": ("起订量", "最小起订量"),
    "case_pack": ("casepack", "箱规"),
    "supply": ("供应量", "可分配量"),
}


def _read_table(
    path: Path, what: str, ids: tuple[str, ...], columns: tuple[str, ...], required: int
) -> pd.DataFrame:
    """A CSV (UTF-8 or GBK) or XLSX file as given, its headers read as :data:`COLUMN_ALIASES`
    and ``columns`` name them (``MOQ``, `` service_level ``, ``Case Pack``, ``库存``), its
    ``ids`` columns as stripped text without spreadsheet guards or characters that show
    nothing (SKU 00123 stays 00123; ``="SKU01"`` is SKU01).

    A workbook is read from every visible sheet that has the first ``required`` ``columns``
    (one sheet per warehouse; a notes sheet is passed over and named); hidden sheets are
    left out. Columns no name fits are named in a warning, with the column each resembles:
    a value under a header Butler does not read would otherwise be replaced by its default
    without a word.
    """
    if not path.is_file():
        raise UnreadableFileError(
            f"Cannot read the {what} file {path}: it does not exist. Check the path."
        )
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = _read_sheets(path, what, ids, columns[:required])
        else:
            encoding = sniff_encoding(path)  # Excel's plain CSV on Chinese Windows is GBK
            sep = _separator(path, encoding)
            # index_col=False: a comma ending every row (a spreadsheet's) does not shift them
            read = {"sep": sep, "index_col": False, "encoding": encoding}
            names = _column_names(pd.read_csv(path, nrows=0, **read).columns, columns)
            dtype = {h: str for h, n in names.items() if n in ids}
            if sep == ";":  # European Excel: 1.200 may be a thousand, so numbers stay text
                dtype = dict.fromkeys(names, str)
            frame = pd.read_csv(path, dtype=dtype, **read).rename(columns=names)
            if sep == ";":
                _refuse_european_numbers(frame, path, what, ids)
    except ButlerError:
        raise
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"Cannot read the {what} file {path}: it is not UTF-8 text ({exc.reason}). Save it "
            "again as CSV UTF-8 (Excel: Save As → CSV UTF-8) or XLSX."
        ) from exc
    # ImportError: an old .xls needs xlrd, which Butler does not install
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, ImportError) as exc:
        raise UnreadableFileError(
            f"Cannot read the {what} file {path}: {exc}. Save it again as CSV or XLSX."
        ) from exc
    frame = frame.dropna(how="all").reset_index(drop=True)  # `,,,,` rows hold nothing
    # a header ending in a separator names an empty column: nothing to read or warn of
    blank = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    frame = frame.drop(columns=blank)
    unread = [str(c) for c in frame.columns if c not in columns]
    if unread:
        logger.warning(
            "The %s file %s: column(s) not read: %s. Butler reads %s; rename a column to its "
            "name to use it (an optional one left out takes its default).",
            what, path, "; ".join(_near(c, columns, set(frame.columns)) for c in unread),
            ", ".join(columns),
        )  # fmt: skip
    for col in ids:  # " SKU01 " typed in a spreadsheet is SKU01
        if col in frame.columns:
            frame[col] = frame[col].map(_clean_id, na_action="ignore")
    return frame


def _refuse_european_numbers(
    frame: pd.DataFrame, path: Path, what: str, ids: tuple[str, ...]
) -> None:
    """Refuse a semicolon-separated file with numbers such as ``1.200``: Excel in a
    European locale writes thousands so, and read as a decimal it would be 1.2."""
    numeric = [
        c
        for c in frame.columns
        if c not in ids and c in POSITION_FILE_COLUMNS + SUPPLY_FILE_COLUMNS
    ]
    for column in numeric:
        if frame[column].dtype != object:
            continue
        grouped = frame[column].str.strip().str.fullmatch(r"\d{1,3}(\.\d{3})+(,\d*)?", na=False)
        if grouped.any():
            raise UnreadableFileError(
                f"The {what} file {path} separates its values with semicolons and writes "
                f"{frame[column][grouped].iloc[0]!r} in {column}: a thousand, or a decimal? "
                "Save it as CSV UTF-8 with commas, or as XLSX, and plan again."
            )
    for column in numeric:
        if frame[column].dtype == object:
            decimal = frame[column].str.strip().str.fullmatch(r"\d+,\d+", na=False)
            values = frame[column].where(~decimal, frame[column].str.replace(",", "."))
            numbers = pd.to_numeric(values, errors="coerce")
            # a column of numbers reads as one; text stays text, for the checks to name
            frame[column] = numbers if numbers.notna().sum() == values.notna().sum() else values


def _separator(path: Path, encoding: str = "utf-8") -> str:
    """The CSV file's separator: a comma, or the semicolon or tab its header is split by
    when it holds no comma (European Excel, a sheet pasted as text)."""
    opened = "utf-8-sig" if encoding == "utf-8" else encoding
    with path.open(encoding=opened, errors="replace") as fh:
        header = fh.readline()
    if "," in header:
        return ","
    return max((";", "\t"), key=header.count) if (";" in header or "\t" in header) else ","


def _column_names(headers: Iterable[object], columns: tuple[str, ...]) -> dict[object, str]:
    """The file's headers that name one of ``columns``, each with that column: a column's
    own name first, else its most telling alias (:data:`COLUMN_ALIASES`)."""
    keys = {h: _header_key(h) for h in headers}
    out: dict[object, str] = {}
    for column in columns:
        ranked = (column, *COLUMN_ALIASES.get(column, ()))
        found = [(ranked.index(k), h) for h, k in keys.items() if k in ranked and h not in out]
        if found:
            out[min(found, key=lambda f: f[0])[1]] = column
    return out


def _header_key(header: object) -> str:
    key = re.sub(r"[\s\-]+", "_", str(header).strip().lower())
    return key.replace("（", "(").replace("）", ")")


def _near(header: str, columns: tuple[str, ...], read: set[str]) -> str:
    """An unread header as the warning names it: with the column another header already
    gave (``库存`` beside ``可用库存``), or the unread column it resembles."""
    from difflib import get_close_matches

    key = _header_key(header)
    named = next((c for c in columns if key in (c, *COLUMN_ALIASES.get(c, ()))), None)
    if named in read:
        return f"{header!r} ({named} is read from another column)"
    if "lead_time_weeks" in columns and re.search(r"(?i)lead|提前期|交期", header):
        return f"{header!r} (a lead time: give it in weeks as lead_time_weeks)"
    open_ = [c for c in columns if c not in read]
    near = get_close_matches(header.strip().lower(), open_, n=1, cutoff=0.6)
    return f"{header!r} (is it {near[0]}?)" if near else repr(header)


def _clean_id(value: object) -> object:
    """An id as typed: stripped, a spreadsheet's text guard and characters that show
    nothing removed (``="SKU01"``, ``'SKU01``, ``SKU01\u200b`` are SKU01)."""
    if not isinstance(value, str):
        return value
    return unguarded(INVISIBLE.sub("", value).strip())


def _read_sheets(
    path: Path, what: str, ids: tuple[str, ...], required: tuple[str, ...]
) -> pd.DataFrame:
    """The visible sheets of a workbook that carry the table (see :func:`_read_table`)."""
    book = pd.ExcelFile(path)
    try:
        states = {ws.title: ws.sheet_state for ws in book.book.worksheets}
        columns = (*required, *(c for c in POSITION_FILE_COLUMNS if c not in required))
        columns = (*columns, *(c for c in SUPPLY_FILE_COLUMNS if c not in columns))
        parts: list[tuple[str, pd.DataFrame]] = []
        passed: list[str] = []
        for name in book.sheet_names:
            if states.get(name, "visible") != "visible":
                logger.info("The %s file %s: sheet '%s' is hidden; not read", what, path, name)
                continue
            names = _column_names(book.parse(name, nrows=0).columns, columns)
            sheet = book.parse(name, dtype={h: str for h, n in names.items() if n in ids})
            sheet = sheet.rename(columns=names)
            if all(c in sheet.columns for c in required):
                parts.append((name, sheet))
            elif not sheet.empty or len(sheet.columns):
                passed.append(name)
    finally:
        book.close()
    if not parts:
        raise InvalidParameterError(
            f"The {what} file {path} has no visible sheet with the columns "
            f"{', '.join(required)} in its first row (a title row above the header?); its "
            f"sheets: {', '.join(book.sheet_names)}."
        )
    if len(parts) > 1:
        logger.warning(
            "The %s file %s: read %d sheets with its columns: %s.",
            what, path, len(parts), ", ".join(f"'{n}' ({len(f):,} rows)" for n, f in parts),
        )  # fmt: skip
    if passed:
        logger.warning(
            "The %s file %s: sheet(s) %s not read: their first row does not name the columns "
            "%s (a title row above the header?).",
            what, path, ", ".join(f"'{n}'" for n in passed), ", ".join(required),
        )  # fmt: skip
    return pd.concat([f for _, f in parts], ignore_index=True)


def replenishment_plan(
    settings: Settings,
    *,
    config: ReplenishmentConfig | None = None,
    positions: pd.DataFrame | None = None,
    supply: pd.DataFrame | None = None,
    as_of: dt.date | str | None = None,
    model: Any = None,
    future: pd.DataFrame | None = None,
    skus: list[str] | None = None,
    warehouses: list[str] | None = None,
) -> PlanResult:
    """The order plan per SKU × warehouse from the champion forecaster and the store.

    Args:
        settings: runtime settings.
        config: service level, review period and defaults.
        positions: stock per SKU × warehouse to plan from (a procurement file); None = the
            store's newest snapshot, purchase orders and SKU master.
        supply: ``sku_id, supply`` units available to split across warehouses (分仓补仓),
            e.g. from :func:`read_supply`; None = unconstrained. A short SKU's ``order_qty``,
            ``cases`` and ``loose_units`` are its allocation (:func:`allocate`), and the
            warnings say how short (:func:`short_supply`). A bad row is an error row and its
            SKU keeps its orders in full.
        as_of: day of the stock position (store positions only), a date or text such as
            ``2025-12-30``, ``2025/12/30`` or ``2025年12月30日``; None = newest snapshot.
        model: a fitted forecaster (tests); None = the registered champion.
        future: the known-ahead covariates of the weeks ahead; None = the store's now
            (:func:`planned_covariates`).
        skus, warehouses: plan only these (None = all); with ``supply``, a short SKU is
            split across the warehouses planned. A SKU asked for that has no position is
            an error row.

    Returns:
        The plan (one row per plannable pair, with ``reason``) and one error row per
        problem (unknown SKU or warehouse, negative stock, missing lead time, no forecast,
        a supply row that cannot be used).

        When every position names an unknown SKU or warehouse, the plan is empty and
        ``forecast_start`` None.

    Raises:
        ContractViolation: ``supply`` lacks ``sku_id`` or ``supply``.
        InvalidParameterError: ``as_of`` is not a day, or there is no stock position at all
            (none on or before ``as_of``, or an empty store).
        UnknownEntityError: a SKU or warehouse in ``skus`` or ``warehouses`` is not in the
            store.
    """
    cfg = config or ReplenishmentConfig()
    as_of = check_date(as_of, param="as_of", func="replenishment_plan")
    model = model if model is not None else load_forecaster(settings, "sku_warehouse")
    from_store = positions is None
    in_days = pd.DataFrame(columns=list(ERROR_COLUMNS))
    long_leads: str | None = None
    lead_days: pd.DataFrame | None = None  # the SKU master, for a file's lead times
    with Store.open(settings, read_only=True) as store:
        # the day of the stock planned from: the newest snapshot on or before `as_of`
        day, newest = store.sql(
            "SELECT max(snapshot_date) FILTER (WHERE $1::DATE IS NULL OR snapshot_date <= $1), "
            "max(snapshot_date) FROM inventory_snapshots",
            [as_of],
        ).fetchall()[0]
        if positions is None:
            positions = store_positions(store, as_of)
        else:  # a file's blank MOQ or case pack is the SKU master's, as for the store's
            master = store.sql("SELECT sku_id, moq, case_pack, lead_time_days FROM skus").df()
            positions = _with_master_rules(positions, master)
            lead_days = master
            # a delisted SKU is held whatever the stock figures came from
            sold = store.sql("SELECT max(day) FROM sales_daily").fetchall()[0][0]
            if newest or sold:
                held = delisted_skus(store, newest or sold).set_index("sku_id")
                ids = positions["sku_id"].astype("string").str.strip()
                positions[HOLD_COLUMN] = [
                    _delisted_hold(held.loc[i]) if i in held.index else "" for i in ids
                ]
        positions = _selected(store, positions, skus, warehouses)
        if lead_days is not None:  # a file's lead times, of the positions asked for
            in_days = _lead_times_in_days(positions, lead_days)
            if len(in_days):
                positions = positions.drop(index=in_days.index)
            long_leads = _long_lead_times(positions, lead_days)
        known_skus = set(store.sql("SELECT sku_id FROM skus").df()["sku_id"])
        known_wh = set(store.sql("SELECT warehouse_id FROM warehouses").df()["warehouse_id"])
        if future is None:
            future = planned_covariates(store, model, "sku_warehouse")
    supply_errors = None
    if supply is not None:
        supply, supply_errors = _usable_supply(supply, known_skus)
    unknown = _unknown_rows(positions, known_skus, known_wh)
    positions = positions.drop(index=unknown.index.unique()) if len(unknown) else positions
    unknown = unknown[list(ERROR_COLUMNS)]
    if len(in_days):  # a lead time given in days: not planned, said with the fix
        unknown = pd.concat([unknown, in_days]) if len(unknown) else in_days
    unplaced = _unplaced(skus or [], positions, from_file=not from_store)
    if len(unplaced):  # the SKUs asked for with no position: an error row each
        unknown = pd.concat([unknown, unplaced]) if len(unknown) else unplaced
    if positions.empty:
        if len(unknown):  # every row named an unknown SKU or warehouse: they are the answer
            problems = [unknown]
            if supply_errors is not None and len(supply_errors):
                problems.append(supply_errors)
            errors = pd.concat(problems, ignore_index=True)
            plan = pd.DataFrame(columns=list(PLAN_COLUMNS))
            return PlanResult(plan=plan, errors=errors, as_of=day, forecast_start=None)
        if skus or warehouses:
            raise InvalidParameterError(
                "There is no stock position to plan for the SKUs "
                f"{', '.join(skus or ['(all)'])} in the warehouses "
                f"{', '.join(warehouses or ['(all)'])}: no inventory snapshot or open purchase "
                "order names that pair. Ask for other SKUs or warehouses."
            )
        raise InvalidParameterError(
            f"The store has no stock position on or before {as_of} to plan from (its newest "
            f"inventory snapshot is of {newest}). Plan as of a later day."
            if as_of is not None
            else "There are no stock positions to plan from: the store holds no inventory "
            "snapshot or open purchase order. Ingest the ERP's inventory export."
        )
    lead = as_numbers(positions["lead_time_weeks"])
    # a row's blank review period is the config's, as the policy reads it
    given = positions.get("review_period_weeks", pd.Series(np.nan, index=positions.index))
    review = as_numbers(given).fillna(cfg.review_period_weeks)
    cover = (lead + review).to_numpy(float)
    need = float(np.nanmax(cover)) if np.isfinite(cover).any() else math.nan
    # positions that need more than a plan can cover get their own reason from the policy
    horizon = int(min(max(math.ceil(need) if np.isfinite(need) else 1, 1), MAX_COVER_WEEKS))
    fc = forecast(settings, horizon=horizon, level="sku_warehouse", model=model, future=future)
    forecasts = pd.DataFrame(
        {
            "sku_id": fc["sku_id"],
            "warehouse_id": fc["warehouse_id"],
            "week": fc["ds"],
            # the policy sums expected demand over weeks; its spread comes from the quantiles
            "mean": fc["expected"],
            # p50 … p95 and, from a model that has it, the upper tail a fill rate needs
            **{c: fc[c] for c in (*QUANTILES, *TAIL_QUANTILES) if c in fc},
        }
    )
    result: ReplenishmentPlan = ReplenishmentPolicy(cfg).plan(positions, forecasts)
    plan, conflicts = _with_promotion_notes(result.plan, future, pd.Timestamp(fc["ds"].min()))
    plan = _with_overdue_notes(plan, positions)
    if supply is not None and len(plan):
        plan = allocate(supply, plan, moq_scope=cfg.moq_scope)
    problems = [unknown, result.errors]
    if supply_errors is not None and len(supply_errors):
        problems.append(supply_errors)
    found = [p.astype(object) for p in problems if len(p)]
    errors = pd.concat(found, ignore_index=True) if found else result.errors
    start = pd.Timestamp(fc["ds"].min()).date() if len(fc) else dt.date.today()
    warnings = [
        stale_forecast(day, start),
        unplanned_weeks(day, start),
        overdue_orders(plan),
        held_promotions(conflicts),
        long_leads,
        short_supply(plan),
    ]
    return PlanResult(
        plan=plan,
        errors=errors,
        as_of=day,
        forecast_start=start,
        warnings=tuple(w for w in warnings if w),
    )


def _with_promotion_notes(
    plan: pd.DataFrame, future: pd.DataFrame | None, start: pd.Timestamp
) -> tuple[pd.DataFrame, list[str]]:
    """Add to each reason the promotions planned in the weeks its demand covers; return the
    plan and the held SKUs (delisted) that have one, which cannot both be right.

    ``future`` holds the known-ahead covariates the forecast read; a pair with
    ``promo_days`` > 0 in its lead time + review period gets "; promotion planned in the
    weeks of 2026-01-19, 2026-01-26" (the forecast includes it). A held pair's note says
    the promotion conflicts with the hold.
    """
    if plan.empty or future is None or "promo_days" not in future.columns:
        return plan, []
    planned = future[future["promo_days"] > 0]
    if planned.empty:
        return plan, []
    weeks = planned.groupby("unique_id")["ds"].apply(list).to_dict()
    out = plan.copy()
    notes, conflicts = [], []
    for sku, wh, lead, review, hold in zip(
        out["sku_id"],
        out["warehouse_id"],
        out["lead_time_weeks"],
        out["review_period_weeks"],
        out["reason"].str.startswith(HELD_REASON),
        strict=True,
    ):
        end = start + pd.Timedelta(weeks=math.ceil(lead + review))
        hits = [d for d in weeks.get(f"{sku}{ID_SEP}{wh}", ()) if start <= d < end]
        days = ", ".join(f"{d:%Y-%m-%d}" for d in hits)
        if hits and hold:
            conflicts.append(sku)
            notes.append(
                f"; yet a promotion is planned in the weeks of {days}: list the SKU again or "
                "cancel the promotion"
            )
        else:
            notes.append(f"; promotion planned in the weeks of {days}" if hits else "")
    out["reason"] = out["reason"] + notes
    return out, list(dict.fromkeys(conflicts))


def held_promotions(skus: list[str]) -> str | None:
    """What a plan should be read with when held (delisted) SKUs have promotions planned
    in the weeks it covers; None when none has."""
    if not skus:
        return None
    shown = ", ".join(skus[:10]) + (", …" if len(skus) > 10 else "")
    return (
        f"{len(skus)} SKU(s) held as delisted have promotions planned in the weeks the plan "
        f"covers ({shown}): the promotion will sell nothing, or the SKU should be listed "
        "again and reordered. Fix whichever is wrong and plan again."
    )


def _with_overdue_notes(plan: pd.DataFrame, positions: pd.DataFrame) -> pd.DataFrame:
    """Add to each reason the part of its stock in transit that is past its expected day:
    "; 40 of the 120 in transit were due by 2025-12-24 and have not arrived: chase the
    supplier (counted as coming)". Positions without ``overdue_in_transit`` (a file) get
    none."""
    if plan.empty or "overdue_in_transit" not in positions:
        return plan
    late = positions.set_index(["sku_id", "warehouse_id"])[
        ["overdue_in_transit", "next_expected_on"]
    ]
    keys = pd.MultiIndex.from_frame(plan[["sku_id", "warehouse_id"]])
    units = late["overdue_in_transit"].reindex(keys).fillna(0).to_numpy(float)
    due = late["next_expected_on"].reindex(keys).to_numpy()
    out = plan.copy()
    out["overdue_in_transit"] = units
    notes = [
        f"; {_units(n)} of the {_units(t)} in transit were due by {pd.Timestamp(d):%Y-%m-%d} "
        "and have not arrived: chase the supplier (counted as coming)"
        if n > 0
        else ""
        for n, t, d in zip(units, out["in_transit"], due, strict=True)
    ]
    out["reason"] = out["reason"] + notes
    return out


def overdue_orders(plan: pd.DataFrame) -> str | None:
    """What a plan that counts late purchase orders as coming should be read with; None
    when it counts none."""
    if "overdue_in_transit" not in plan or not (plan["overdue_in_transit"] > 0).any():
        return None
    late = plan[plan["overdue_in_transit"] > 0]
    return (
        f"{len(late)} SKU × warehouse line(s) count as coming "
        f"{_units(late['overdue_in_transit'].sum())} units of purchase orders that are past "
        "their expected day and not received; their reasons say so. If they will not come, "
        "close them in the ERP, ingest its purchase-order export again and plan again."
    )


def short_supply(plan: pd.DataFrame) -> str | None:
    """What a plan whose supply fell short of some SKUs' orders should be read with: how
    much of what was ordered the supply covers, and that the order quantities are the
    allocated ones. None when no SKU was short (or no supply was given)."""
    if "unconstrained_qty" not in plan:
        return None
    per_sku = plan.groupby("sku_id", sort=False)[["unconstrained_qty", "order_qty"]].sum()
    short = per_sku[per_sku["order_qty"] < per_sku["unconstrained_qty"]]
    if short.empty:
        return None
    n = len(short)
    shown = ", ".join(short.index[:10]) + (", …" if n > 10 else "")
    return (
        f"supply {_units(short['order_qty'].sum())} of {_units(short['unconstrained_qty'].sum())} "
        f"ordered for {n} SKU{'s' if n > 1 else ''} ({shown}): allocated across the "
        "warehouses by demand and stock-out risk, in whole cases first. The order quantities "
        "and totals are the allocated ones (unconstrained_qty keeps what the target asked "
        "for); each cut line's reason says how it was cut, and whether it has loose units or "
        "falls below its MOQ."
    )


def _units(value: float) -> str:
    return f"{value:,.0f}"


def _selected(
    store: Store,
    positions: pd.DataFrame,
    skus: list[str] | None,
    warehouses: list[str] | None,
) -> pd.DataFrame:
    """The rows of ``positions`` for ``skus`` and ``warehouses`` (None = all).

    Raises:
        UnknownEntityError: an id asked for is not in the store.
    """
    keep = pd.Series(True, index=positions.index)
    for ids, col, table in ((skus, "sku_id", "skus"), (warehouses, "warehouse_id", "warehouses")):
        if ids is None:
            continue
        known = set(store.sql(f"SELECT {col} FROM {table}").df()[col])
        unknown = sorted(set(ids) - known)
        if unknown:
            hints = [
                f"'{u}'{h}" for u, h in zip(unknown, _did_you_mean(unknown, known), strict=True)
            ]
            kind = "SKU" if col == "sku_id" else "warehouse"
            raise UnknownEntityError(
                f"The store does not know the {kind}s asked for: {', '.join(hints)}. Check the "
                f"ids (internal {kind} codes, as in the ERP master data)."
            )
        keep &= positions[col].astype("string").str.strip().isin(ids).fillna(False)
    return positions[keep]


def same_but_case(values: Iterable[str], known: Iterable[str]) -> list[str | None]:
    """For each of ``values``, the id of ``known`` it equals in other letter case (None
    when none does): what a "did you mean" names. ``known`` is folded once."""
    folded = {k.upper(): k for k in known}
    return [folded.get(str(v).upper()) for v in values]


def _did_you_mean(values: Iterable[str], known: Iterable[str]) -> list[str]:
    """The " (did you mean 'SKU01'?)" of each of ``values`` the store knows in other case."""
    return [f" (did you mean '{m}'?)" if m else "" for m in same_but_case(values, known)]


def _unplaced(skus: list[str], positions: pd.DataFrame, *, from_file: bool) -> pd.DataFrame:
    """An error row per SKU asked for that has no position to plan from."""
    missing = sorted(set(skus) - set(positions["sku_id"].astype("string").str.strip()))
    fix = (
        "add its rows to the positions file"
        if from_file
        else "ingest a stock snapshot (or a purchase order) that names it"
    )
    return pd.DataFrame(
        {
            "sku_id": missing,
            "warehouse_id": None,
            "field": "sku_id",
            "reason": f"no stock position for this SKU in the warehouses asked; {fix}",
        },
        columns=list(ERROR_COLUMNS),
    )


def _with_master_rules(positions: pd.DataFrame, master: pd.DataFrame) -> pd.DataFrame:
    """``positions`` with each blank (or absent) ``moq`` and ``case_pack`` taken from the
    SKU master; a value the file gives is kept as given."""
    out = positions.copy()
    rules = master.drop_duplicates("sku_id").set_index("sku_id")
    sku = out["sku_id"].astype("string").str.strip()
    for col in ("moq", "case_pack"):
        given = out[col] if col in out else pd.Series(pd.NA, index=out.index, dtype=object)
        blank = given.isna() | (given.astype("string").str.strip() == "")
        out[col] = given.astype(object).where(~blank, sku.map(rules[col]).astype(object))
    return out


def _lead_times(positions: pd.DataFrame, master: pd.DataFrame) -> pd.DataFrame:
    """Each position's ``sku_id``, ``warehouse_id`` (stripped), the ``lead_time_weeks`` its
    file gives and the SKU master's ``master_days`` (NaN where it has none)."""
    days = master.drop_duplicates("sku_id").set_index("sku_id")["lead_time_days"]
    sku = positions["sku_id"].astype("string").str.strip()
    return pd.DataFrame(
        {
            "sku_id": sku,
            "warehouse_id": positions["warehouse_id"].astype("string").str.strip(),
            "given": as_numbers(positions["lead_time_weeks"]),
            "master_days": pd.to_numeric(sku.map(days), errors="coerce"),
        },
        index=positions.index,
    )


def _lead_times_in_days(positions: pd.DataFrame, master: pd.DataFrame) -> pd.DataFrame:
    """One error row per position whose ``lead_time_weeks`` is the SKU master's lead time
    in days (21 where the master says 21 days = 3 weeks): planned as weeks it would order
    for seven times the lead time. Master lead times under 8 days tell nothing apart."""
    leads = _lead_times(positions, master)
    hit = leads[(leads["master_days"] >= 8) & (leads["given"] == leads["master_days"])]
    if hit.empty:
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    return hit[["sku_id", "warehouse_id"]].assign(
        field="lead_time_weeks",
        reason=[
            f"lead_time_weeks {v:g} is the SKU master's lead time in days ({v:g} days = "
            f"{v / 7:.3g} weeks): give the lead time in weeks"
            for v in hit["given"]
        ],
    )


#: A file's lead time this many times the SKU master's (and at least 8 weeks) is named in a
#: warning: typed in days, or a supplier's delay worth a second look.
LONG_LEAD_RATIO = 4


def _long_lead_times(positions: pd.DataFrame, master: pd.DataFrame) -> str | None:
    """What a plan should be read with when a positions file gives lead times of
    :data:`LONG_LEAD_RATIO` times the SKU master's or more; None when it gives none."""
    leads = _lead_times(positions, master)
    weeks = leads["master_days"] / 7
    long = leads[(leads["given"] >= 8) & (leads["given"] >= LONG_LEAD_RATIO * weeks)]
    if long.empty:
        return None
    shown = [
        f"{s} at {w}: {g:g} weeks against {d / 7:.3g}"
        for s, w, g, d in long[["sku_id", "warehouse_id", "given", "master_days"]].itertuples(
            index=False
        )
    ]
    return (
        f"{len(shown)} position(s) give a lead time {LONG_LEAD_RATIO}× the SKU master's or "
        f"more ({'; '.join(shown[:5])}{'; …' if len(shown) > 5 else ''}): planned as given, "
        "so they order for that long. If they were typed in days, divide by 7 and plan again."
    )


def _unknown_rows(positions: pd.DataFrame, skus: set[str], warehouses: set[str]) -> pd.DataFrame:
    """One error row per position naming a SKU or warehouse the store does not know (a
    blank one is the policy's to report as missing); the reason suggests the id in other
    letter case or without spaces when the store knows that one."""
    sku = positions["sku_id"].astype("string").str.strip().fillna("")
    wh = positions["warehouse_id"].astype("string").str.strip().fillna("")
    bad_sku = (sku != "") & ~sku.isin(skus)
    bad_wh = (wh != "") & ~wh.isin(warehouses)

    def hint(ids: pd.Series, known: set[str]) -> pd.Series:
        return pd.Series(_did_you_mean(ids, known), index=ids.index, dtype=object)

    parts = [
        pd.DataFrame(
            {
                "sku_id": sku[bad_sku],
                "warehouse_id": wh[bad_sku],
                "field": "sku_id",
                "reason": "unknown SKU '" + sku[bad_sku] + "': not in the store's SKU master; "
                "check the id" + hint(sku[bad_sku], skus),
            }
        ),
        pd.DataFrame(
            {
                "sku_id": sku[bad_wh],
                "warehouse_id": wh[bad_wh],
                "field": "warehouse_id",
                "reason": "unknown warehouse '"
                + wh[bad_wh]
                + "': not in the store; check the id"
                + hint(wh[bad_wh], warehouses),
            }
        ),
    ]
    return pd.concat(parts).sort_index(kind="stable")


def _usable_supply(supply: pd.DataFrame, skus: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``supply`` :func:`allocate` can use (``sku_id, supply``), and one error row
    per problem of the others.

    A row is not used when its SKU is missing, unknown or given twice, or its supply is not
    whole units >= 0; a SKU without a usable row keeps its orders in full (``allocate``'s
    rule for a SKU the supply does not name), and its error row says so. An unknown SKU the
    store knows in other letter case is named, as a positions file's is.
    """
    missing = [c for c in SUPPLY_FILE_COLUMNS if c not in supply.columns]
    if missing:
        raise ContractViolation(
            "The `supply` parameter of `replenishment_plan` must have the columns "
            f"{', '.join(SUPPLY_FILE_COLUMNS)}. Got a frame without {', '.join(missing)} instead."
        )
    sku = supply["sku_id"].astype("string").str.strip().reset_index(drop=True)
    given = supply["supply"].reset_index(drop=True)
    units = as_numbers(given)
    no_id = (sku.isna() | (sku == "")).fillna(True).to_numpy(bool)
    unknown = ~no_id & ~sku.isin(skus).fillna(False).to_numpy(bool)
    counts = sku.map(sku.value_counts()).fillna(0).to_numpy(int)
    twice = ~no_id & ~unknown & (counts > 1)
    bad_units = (units.isna() | (units < 0) | (units % 1 != 0)).to_numpy(bool)
    kept = "until it is fixed, this SKU's orders are kept in full (not split)"
    hints = dict(zip(sku[unknown], _did_you_mean(sku[unknown], skus), strict=True))
    errors: list[tuple[str | None, str, str]] = []
    for i, key in enumerate(sku):
        shown = "missing" if pd.isna(given.iat[i]) else f"'{given.iat[i]}'"
        if no_id[i]:
            fix = "fill it in (the internal code from the ERP)"
            errors.append((None, "sku_id", f"a supply row ({shown} units) has no SKU id; {fix}"))
            continue
        if unknown[i]:
            fix = f"not in the store's SKU master; check the id{hints[key]}"
            errors.append((key, "sku_id", f"unknown SKU '{key}' in the supply: {fix}"))
        if twice[i]:
            fix = f"keep one row per SKU (sum the units first); {kept}"
            errors.append((key, "sku_id", f"this SKU has {counts[i]} rows in the supply; {fix}"))
        if bad_units[i]:
            fix = f"it must be a whole number of units >= 0; {kept}"
            errors.append((key, "supply", f"supply is {shown}; {fix}"))
    usable = ~(no_id | unknown | twice | bad_units)
    clean = pd.DataFrame({"sku_id": sku[usable].astype(object), "supply": units[usable]})
    frame = pd.DataFrame(
        [(key, None, field, reason) for key, field, reason in errors], columns=list(ERROR_COLUMNS)
    )
    return clean.reset_index(drop=True), frame


def write_plan(result: PlanResult, path: str | Path) -> list[Path]:
    """Write the plan: XLSX with ``plan`` and ``errors`` sheets, or CSV plus ``.errors.csv``.

    Returns:
        The files written.

    Raises:
        InvalidParameterError: the file is neither ``.csv`` nor ``.xlsx``.
    """
    path = Path(path)
    if path.suffix not in (".csv", ".xlsx"):
        raise InvalidParameterError(
            f"The plan file must end in .csv or .xlsx. Got {path.name!r} instead."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
            result.plan.to_excel(writer, sheet_name="plan", index=False)
            result.errors.to_excel(writer, sheet_name="errors", index=False)
        return [path]
    result.plan.to_csv(path, index=False, encoding="utf-8-sig")
    errors = path.with_suffix(".errors.csv")
    result.errors.to_csv(errors, index=False, encoding="utf-8-sig")
    return [path, errors]
