"""Weekly-sales folders as panels: column detection, frequency, static columns, bad folders."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from evaluation.datasets import KNOWN, load_weekly_dataset, read_actuals
from features.errors import InvalidParameterError, UnreadableFileError


def expected_rows(raw: pd.DataFrame, id_col: str, date_col: str) -> int:
    """Rows of the dense panel: every week from each series' first to the file's last."""
    last = pd.to_datetime(raw[date_col]).max()
    first = pd.to_datetime(raw[date_col]).groupby(raw[id_col]).min()
    return int(((last - first).dt.days // 7 + 1).sum())


def test_online_retail_folder(weekly_folder):
    folder = weekly_folder("online_retail")
    raw = pd.read_parquet(folder / "sales.parquet")
    ds = load_weekly_dataset(folder)
    assert (ds.name, ds.known_as) == ("online_retail_weekly", "online_retail_weekly")
    assert (ds.freq, ds.calendar, ds.week_offset_days) == ("W-MON", "uk", 0)
    assert ds.columns == {"id": "unique_id", "date": "week", "target": "units"}
    assert ds.static_features == ["channel"] == list(KNOWN[ds.name].static)
    assert ds.categories == {"channel": ["online", "wholesale"]}
    panel = ds.panel
    assert list(panel.columns) == ["unique_id", "ds", "y", "channel"]
    assert panel["channel"].dtype == "float32"
    assert set(panel["channel"]) == {0.0, 1.0}
    # weeks without sales were missing from the file and are zeros in the panel
    assert len(raw) < len(panel) == expected_rows(raw, "unique_id", "week")
    assert panel["y"].sum() == raw["units"].sum()
    online = panel[panel["unique_id"].str.endswith("|online")]
    assert (online["channel"] == 0).all()


def test_static_values_stay_with_their_series_whatever_the_file_index(tmp_path):
    folder = tmp_path / "online_retail_weekly"
    folder.mkdir()
    weeks = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    parts = [
        pd.DataFrame(
            {
                "unique_id": f"I{i}|{ch}",
                "item_id": f"I{i}",
                "channel": ch,
                "week": weeks,
                "units": i,
            }
        )
        for i, ch in [(1, "online"), (2, "wholesale")]
    ]
    pd.concat(parts).to_parquet(folder / "sales.parquet")  # index 0-3 twice, kept by parquet
    panel = load_weekly_dataset(folder).panel
    channel = panel.groupby("unique_id")["channel"].first()
    assert channel.to_dict() == {"I1|online": 0.0, "I2|wholesale": 1.0}


def test_walmart_folder_labels_weeks_by_their_friday(weekly_folder):
    folder = weekly_folder("walmart")
    ds = load_weekly_dataset(folder)
    assert (ds.freq, ds.calendar, ds.week_offset_days) == ("W-FRI", "us", 6)
    assert ds.columns["target"] == "weekly_sales"
    assert ds.static_features == ["store_id", "dept_id", "store_type"]
    assert ds.categories == {"store_type": ["A", "B"]}
    assert "is_observed" not in ds.panel.columns
    assert set(ds.panel["ds"].dt.weekday) == {4}
    raw = pd.read_parquet(folder / "sales.parquet")
    assert ds.panel["y"].sum() == pytest.approx(raw["weekly_sales"].sum())


@pytest.mark.parametrize(
    ("shape", "extra", "known"),
    [
        ("walmart", {}, "walmart_weekly"),
        ("online_retail", {"n_orders": 1, "avg_price": 2.5}, "online_retail_weekly"),
    ],
)
def test_a_known_dataset_under_another_name_keeps_its_settings(
    weekly_folder, weekly_sales, shape, extra, known
):
    folder = weekly_folder(shape, name="holdout_copy")
    frame = weekly_sales(shape).assign(**extra)
    frame.to_parquet(folder / "sales.parquet", index=False)
    ds = load_weekly_dataset(folder)
    assert (ds.name, ds.known_as) == ("holdout_copy", known)
    spec = KNOWN[known]
    assert ds.calendar == spec.calendar
    assert ds.week_offset_days == (6 if spec.label == "end" else 0)
    assert ds.model_overrides == spec.model
    assert ds.static_features == list(spec.static)


def test_a_file_with_only_some_of_a_signature_is_not_taken_for_that_dataset(weekly_folder):
    # item_id, channel and units without the retailer's order counts and prices
    ds = load_weekly_dataset(weekly_folder("online_retail", name="shop_weekly"))
    assert ds.known_as == ""
    assert ds.calendar == "us"


def test_nixtla_folder_with_unknown_name_uses_the_default_spec(weekly_folder):
    ds = load_weekly_dataset(weekly_folder("nixtla", name="m5_weekly"))
    assert ds.columns == {"id": "unique_id", "date": "ds", "target": "y"}
    assert (ds.freq, ds.calendar, ds.week_offset_days) == ("W-MON", "us", 0)
    assert ds.static_features == []
    assert list(ds.panel.columns) == ["unique_id", "ds", "y"]


def test_static_columns_are_found_when_constant_per_series(tmp_path):
    folder = tmp_path / "shop_weekly"
    folder.mkdir()
    weeks = pd.date_range("2024-01-07", periods=4, freq="W-SUN")
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "week_start": list(weeks) * 2,
            "qty": range(8),
            "region": ["north"] * 4 + ["south"] * 4,  # constant per series: static
            "promo": [0, 1] * 4,  # varies: not static
            "flag": True,  # a bool: not static
        }
    )
    frame.to_csv(folder / "sales.csv", index=False)
    ds = load_weekly_dataset(folder)
    assert ds.freq == "W-SUN"
    assert ds.columns == {"id": "unique_id", "date": "week_start", "target": "qty"}
    assert ds.static_features == ["region"]
    assert ds.categories == {"region": ["north", "south"]}


def test_series_named_by_key_columns_when_there_is_no_id(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    pd.DataFrame(
        {
            "item_id": ["x", "x", "y"],
            "store_id": [1, 1, 2],
            "date": ["2024-01-01", "2024-01-08", "2024-01-08"],
            "sales": [1.0, 2.0, 3.0],
        }
    ).to_csv(folder / "sales.csv", index=False)
    ds = load_weekly_dataset(folder)
    assert sorted(ds.panel["unique_id"].unique()) == ["x_1", "y_2"]
    assert ds.columns["target"] == "sales" and ds.static_features == []


def test_unreadable_rows_are_left_out_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "holes"
    folder.mkdir()
    pd.DataFrame(
        {"unique_id": ["a", "a", "a"], "ds": ["2024-01-01", "soon", "2024-01-15"], "y": [1, 2, "x"]}
    ).to_csv(folder / "sales.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="evaluation.datasets"):
        ds = load_weekly_dataset(folder)
    assert "2 rows without a readable week or target" in caplog.text
    assert ds.panel["y"].tolist() == [1.0]


def test_negative_weeks_are_kept_and_counted_in_a_warning(tmp_path, caplog):
    folder = tmp_path / "returns"
    folder.mkdir()
    weeks = ["2024-01-01", "2024-01-08", "2024-01-15"]
    pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": weeks, "y": [3, -2, 5]}).to_csv(
        folder / "sales.csv", index=False
    )
    with caplog.at_level(logging.WARNING, logger="evaluation.datasets"):
        ds = load_weekly_dataset(folder)
    assert "y is negative in 1 rows (returns or corrections, e.g. a in the week of 2024-01-08)" in (
        caplog.text
    )
    assert -2.0 in ds.panel["y"].tolist()


# -- bad folders -------------------------------------------------------------------------------


def write_csv(tmp_path, frame: pd.DataFrame, name: str = "bad"):
    folder = tmp_path / name
    folder.mkdir()
    frame.to_csv(folder / "sales.csv", index=False)
    return folder


def test_a_missing_folder_or_sales_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFileError, match="is not a folder"):
        load_weekly_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableFileError, match="holds no sales.parquet or sales.csv"):
        load_weekly_dataset(tmp_path / "empty")


def test_a_corrupt_sales_file_is_unreadable(tmp_path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "sales.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(UnreadableFileError, match="Cannot read .*sales.parquet.*Save it again"):
        load_weekly_dataset(folder)


def test_a_gbk_csv_and_an_xlsx_are_read_and_other_files_named(tmp_path):
    frame = pd.DataFrame(
        {"unique_id": ["杭州店_1"] * 3, "week": ["2024-01-01", "2024-01-08", "2024-01-15"],
         "units": [3, 0, 5]}
    )  # fmt: skip
    gbk = tmp_path / "gbk"
    gbk.mkdir()
    frame.to_csv(gbk / "sales.csv", index=False, encoding="gbk")
    assert load_weekly_dataset(gbk).panel["unique_id"].unique().tolist() == ["杭州店_1"]
    frame.to_excel(tmp_path / "later.xlsx", index=False)
    ds = load_weekly_dataset(write_csv(tmp_path, frame.iloc[:2], "early"))
    later = read_actuals(ds, tmp_path / "later.xlsx")
    assert later["y"].tolist() == [5.0]
    (tmp_path / "later.json").write_text("[]")
    with pytest.raises(UnreadableFileError, match="write it as .parquet, .csv or .xlsx"):
        read_actuals(ds, tmp_path / "later.json")


def test_missing_target_week_or_id_columns_name_the_candidates(tmp_path):
    no_target = pd.DataFrame({"unique_id": ["a"], "week": ["2024-01-01"], "price": [9.9]})
    with pytest.raises(
        InvalidParameterError,
        match=r"target \(sales\) column.*units, y, weekly_sales.*the file has unique_id, week, "
        r"price",
    ):
        load_weekly_dataset(write_csv(tmp_path, no_target, "t"))
    no_week = pd.DataFrame({"unique_id": ["a"], "units": [1]})
    with pytest.raises(InvalidParameterError, match="Cannot find the week column"):
        load_weekly_dataset(write_csv(tmp_path, no_week, "w"))
    no_id = pd.DataFrame({"week": ["2024-01-01"], "units": [1]})
    with pytest.raises(InvalidParameterError, match="Cannot tell the series apart"):
        load_weekly_dataset(write_csv(tmp_path, no_id, "i"))
    no_dates = pd.DataFrame({"unique_id": ["a"], "week": ["someday"], "units": [1]})
    with pytest.raises(InvalidParameterError, match="No row of .* has a readable week"):
        load_weekly_dataset(write_csv(tmp_path, no_dates, "d"))
    weeks = ["2024-01-01", "2024-01-08", "2024-01-16"]  # two Mondays and a Tuesday
    mixed = pd.DataFrame({"unique_id": "a", "week": weeks, "y": 1})
    with pytest.raises(
        InvalidParameterError, match="2 different weekdays .most on Mondays; e.g. 2024-01-16 is"
    ):
        load_weekly_dataset(write_csv(tmp_path, mixed, "m"))


# -- actuals -----------------------------------------------------------------------------------


def test_read_actuals_takes_later_weeks_and_leaves_out_seen_ones(
    weekly_folder, weekly_sales, tmp_path, caplog
):
    ds = load_weekly_dataset(weekly_folder("online_retail"))
    full = weekly_sales("online_retail", n_weeks=40)
    last = ds.panel["ds"].max()
    later = full[full["week"] > last]
    later.to_parquet(tmp_path / "later.parquet", index=False)
    actuals = read_actuals(ds, tmp_path / "later.parquet")
    assert list(actuals.columns) == ["unique_id", "ds", "y"]
    assert len(actuals) == len(later) and (actuals["ds"] > last).all()

    overlapping = full[full["week"] >= last]
    overlapping.to_parquet(tmp_path / "overlap.parquet", index=False)
    seen = int((overlapping["week"] == last).sum())
    kept = read_actuals(ds, tmp_path / "overlap.parquet")
    assert len(kept) == len(later) and (kept["ds"] > last).all()
    assert f"holds {seen} rows in weeks up to" in caplog.text

    only_seen = full[full["week"] <= last]
    only_seen.to_parquet(tmp_path / "seen.parquet", index=False)
    with pytest.raises(InvalidParameterError, match="holds no week after"):
        read_actuals(ds, tmp_path / "seen.parquet")
    with pytest.raises(UnreadableFileError, match="does not exist"):
        read_actuals(ds, tmp_path / "missing.parquet")


def test_read_actuals_scores_a_listed_series_absent_week_as_no_sales(
    weekly_folder, tmp_path, caplog
):
    ds = load_weekly_dataset(weekly_folder("online_retail"))
    last = ds.panel["ds"].max()
    w1, w2, w3 = (last + pd.Timedelta(weeks=k) for k in (1, 2, 3))
    sparse = pd.DataFrame(
        {
            "unique_id": ["I000|online", "I000|online", "I001|online", "NEW|online"],
            "week": [w1, w3, w2, w2],
            "units": [4, 6, 5, 7],
        }
    )
    sparse.to_parquet(tmp_path / "sparse.parquet", index=False)
    with caplog.at_level(logging.INFO, logger="evaluation.datasets"):
        actuals = read_actuals(ds, tmp_path / "sparse.parquet")
    got = actuals.set_index(["unique_id", "ds"])["y"].sort_index()
    want = pd.Series(
        [4.0, 0.0, 6.0, 0.0, 5.0, 0.0, 7.0, 0.0],
        index=pd.MultiIndex.from_tuples(
            [(s, w) for s in ("I000|online", "I001|online") for w in (w1, w2, w3)]
            # a series new in the file starts at its first row: before it, it was not on sale
            + [("NEW|online", w2), ("NEW|online", w3)]
        ),
    )
    assert got.tolist() == want.tolist() and got.index.tolist() == want.index.tolist()
    # the dataset's other series are not in the file, so not scored
    assert set(actuals["unique_id"]) == {"I000|online", "I001|online", "NEW|online"}
    assert "no row for 4 of its series × weeks" in caplog.text


def test_read_actuals_rejects_weeks_on_another_weekday(weekly_folder, tmp_path):
    ds = load_weekly_dataset(weekly_folder("online_retail"))
    sunday = ds.panel["ds"].max() + pd.Timedelta(days=13)
    pd.DataFrame({"unique_id": ["I000|online"], "week": [sunday], "units": [3]}).to_parquet(
        tmp_path / "sunday.parquet", index=False
    )
    with pytest.raises(InvalidParameterError, match="other weekdays.*a Sunday"):
        read_actuals(ds, tmp_path / "sunday.parquet")
