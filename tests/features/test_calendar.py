"""``calendar_features``: hand-checked weeks, real retail calendars as oracles, brute force."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dateutil.easter import easter

from features.calendar import CALENDARS, calendar_features
from features.errors import InvalidParameterError

DATA = Path("/work/shared/data")
D = dt.date


def one(week: str | dt.date, calendar: str = "cn") -> pd.Series:
    """The feature row of a single week."""
    return calendar_features([week], calendar=calendar).iloc[0]


def read_or_skip(path: Path) -> pd.DataFrame:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return pd.read_parquet(path)


# --- real calendars ------------------------------------------------------------------------


def test_uk_matches_online_retail_calendar():
    ref = read_or_skip(DATA / "online_retail_weekly" / "calendar.parquet")
    got = calendar_features(ref["week"], calendar="uk")
    assert len(got) == len(ref) == 96
    np.testing.assert_array_equal(got["uk_bank_holidays"], ref["uk_bank_holidays"])
    np.testing.assert_array_equal(got["weeks_to_christmas"], ref["weeks_to_christmas"])
    np.testing.assert_array_equal(got["month"], ref["month"])
    np.testing.assert_array_equal(got["week_of_year"], ref["iso_week"])


def test_us_matches_walmart_holiday_flag():
    ref = read_or_skip(DATA / "walmart_weekly" / "calendar.parquet")
    # Walmart labels a week by its last day (a Friday).
    starts = pd.to_datetime(ref["week"]) - pd.Timedelta(days=6)
    got = calendar_features(starts, calendar="us")
    assert len(got) == len(ref) == 135
    np.testing.assert_array_equal(got["is_holiday_week"], ref["is_holiday"].astype(int))
    columns = {
        "SuperBowl": "superbowl_week",
        "LaborDay": "labor_day_week",
        "Thanksgiving": "thanksgiving_week",
        "Christmas": "is_christmas_week",
    }
    for event, column in columns.items():
        np.testing.assert_array_equal(got[column], (ref["event_name"] == event).astype(int))


# --- hand-checked weeks --------------------------------------------------------------------


def test_christmas_counters():
    assert one("2011-12-19")["weeks_to_christmas"] == 0
    assert one("2011-12-05")["weeks_to_christmas"] == 2
    assert one("2011-12-19")["is_christmas_week"] == 1
    assert one("2011-12-19")["weeks_since_christmas"] == 0
    assert one("2011-12-26")["weeks_to_christmas"] == 52  # 2012-12-25 is 365 days on
    assert one("2011-12-26")["weeks_since_christmas"] == 1
    assert one("2012-12-17")["weeks_since_christmas"] == 52  # capped
    # A Sunday-start week ending on Christmas Day still contains it.
    assert one("2011-12-19")["weeks_to_christmas"] == one("2011-12-25")["weeks_to_christmas"]


def test_month_end_and_iso_week():
    row = one("2024-12-30")  # Monday; Thursday 2025-01-02 is ISO week 1 of 2025
    assert (row["week_of_year"], row["month"]) == (1, 1)
    assert one("2024-09-30")["days_in_month_end"] == 1
    assert one("2024-09-23")["days_in_month_end"] == 0
    assert one("2024-09-24")["days_in_month_end"] == 1  # Tue..Mon, ends on 30 September


@pytest.mark.parametrize(
    "new_year",
    [D(2000, 2, 5), D(2004, 1, 22), D(2007, 2, 18), D(2015, 2, 19), D(2023, 1, 22),
     D(2024, 2, 10), D(2025, 1, 29), D(2026, 2, 17), D(2030, 2, 3), D(2040, 2, 12)],
)  # fmt: skip
def test_spring_festival_weeks_centre_on_new_year(new_year):
    starts = [new_year - dt.timedelta(days=k) for k in range(7)]
    got = calendar_features(starts)
    assert (got["spring_festival_weeks"] == 0).all()
    week = new_year - dt.timedelta(days=new_year.weekday())  # its Monday
    offsets = [-8, -7, -2, -1, 1, 2, 7, 8]
    got = calendar_features([week + dt.timedelta(weeks=k) for k in offsets])
    assert got["spring_festival_weeks"].tolist() == [-7, -7, -2, -1, 1, 2, 7, 7]


def test_spring_festival_2024_and_2026():
    assert one("2024-02-05")["spring_festival_weeks"] == 0
    assert one("2024-02-05")["spring_festival_days"] == 3  # eve 9 Feb .. 11 Feb
    row = one("2026-02-16")  # Chinese New Year is Tuesday 2026-02-17
    assert row["spring_festival_weeks"] == 0
    assert row["spring_festival_days"] == 7
    assert one("2026-02-09")["spring_festival_weeks"] == -1
    assert one("2026-02-23")["spring_festival_weeks"] == 1


def test_shopping_festival_windows():
    assert one("2024-05-27")[["days_618", "is_618_peak"]].tolist() == [2, 0]
    assert one("2024-06-10")[["days_618", "is_618_peak"]].tolist() == [7, 0]
    assert one("2024-06-17")[["days_618", "is_618_peak"]].tolist() == [2, 1]
    assert one("2024-10-28")[["days_double11", "is_double11_peak"]].tolist() == [4, 0]
    assert one("2024-11-04")[["days_double11", "is_double11_peak"]].tolist() == [7, 0]
    assert one("2024-11-11")[["days_double11", "is_double11_peak"]].tolist() == [1, 1]
    assert one("2024-12-09")[["days_double12", "is_double12_peak"]].tolist() == [3, 1]
    assert one("2024-09-30")["golden_week_days"] == 6
    assert one("2024-04-29")["labour_day_days"] == 5


@pytest.mark.parametrize(
    "sunday",
    [D(2000, 1, 30), D(2010, 2, 7), D(2021, 2, 7), D(2022, 2, 13), D(2024, 2, 11),
     D(2025, 2, 9), D(2026, 2, 8)],
)  # fmt: skip
def test_super_bowl_dates(sunday):
    assert one(sunday - dt.timedelta(days=1), "us")["superbowl_week"] == 1
    assert one(sunday + dt.timedelta(days=1), "us")["superbowl_week"] == 0


def test_thanksgiving_and_black_friday():
    # Thanksgiving 2024 is Thursday 28 November.
    assert one("2024-11-25", "us")[["thanksgiving_week", "black_friday_week"]].tolist() == [1, 1]
    assert one("2024-11-29", "us")[["thanksgiving_week", "black_friday_week"]].tolist() == [0, 1]
    assert one("2024-11-25", "us")["weeks_to_thanksgiving"] == 0
    assert one("2024-11-18", "us")["weeks_to_thanksgiving"] == 1
    assert one("2024-12-02", "us")["weeks_to_thanksgiving"] == 13
    assert one("2024-09-02", "us")[["labor_day_week", "is_holiday_week"]].tolist() == [1, 1]


def test_uk_substitute_days():
    # 2021: Christmas Sat, Boxing Day Sun -> Mon 27 and Tue 28; New Year 2022 Sat -> Mon 3.
    assert one("2021-12-20", "uk")["uk_bank_holidays"] == 0
    assert one("2021-12-27", "uk")["uk_bank_holidays"] == 2
    assert one("2022-01-03", "uk")["uk_bank_holidays"] == 1
    # 2022 Platinum Jubilee: Thu 2 and Fri 3 June instead of Mon 30 May; state funeral.
    assert one("2022-05-30", "uk")["uk_bank_holidays"] == 2
    assert one("2022-09-19", "uk")["uk_bank_holidays"] == 1


@pytest.mark.parametrize("calendar", ["uk", "us"])
def test_easter_week_matches_dateutil(calendar):
    sundays = [easter(y) for y in range(2000, 2041)]
    inside = calendar_features([d - dt.timedelta(days=3) for d in sundays], calendar=calendar)
    outside = calendar_features([d + dt.timedelta(days=1) for d in sundays], calendar=calendar)
    assert (inside["easter_week"] == 1).all()
    assert (outside["easter_week"] == 0).all()


# --- brute force ---------------------------------------------------------------------------


def test_cn_day_counts_against_brute_force():
    rng = np.random.default_rng(0)
    starts = [D(2000, 1, 1) + dt.timedelta(days=int(k)) for k in rng.integers(0, 14975, 300)]
    windows = {
        "days_618": lambda d: d.month == 6 and d.day <= 18,
        "days_double11": lambda d: (d.month, d.day) == (10, 31) or (d.month == 11 and d.day <= 11),
        "days_double12": lambda d: d.month == 12 and 10 <= d.day <= 12,
        "golden_week_days": lambda d: d.month == 10 and d.day <= 7,
        "labour_day_days": lambda d: d.month == 5 and d.day <= 5,
        "days_in_month_end": lambda d: (d + dt.timedelta(days=1)).day == 1,
        "is_christmas_week": lambda d: (d.month, d.day) == (12, 25),
    }
    got = calendar_features(starts, calendar="cn")
    for column, in_window in windows.items():
        want = [sum(in_window(s + dt.timedelta(days=i)) for i in range(7)) for s in starts]
        assert got[column].tolist() == want, column
    to_christmas = []
    for s in starts:
        d = s
        while (d.month, d.day) != (12, 25):
            d += dt.timedelta(days=1)
        to_christmas.append((d - s).days // 7)
    assert got["weeks_to_christmas"].tolist() == to_christmas


# --- shape, order, input types -------------------------------------------------------------


@pytest.mark.parametrize("calendar", CALENDARS)
def test_order_duplicates_and_dtypes(calendar):
    weeks = ["2024-06-17", "2010-12-20", "2024-06-17", "2031-01-20", "2010-12-20"]
    got = calendar_features(pd.Series(weeks, index=[9, 3, 7, 1, 5]), calendar=calendar)
    assert isinstance(got.index, pd.RangeIndex) and len(got) == len(weeks)
    rows = pd.concat([calendar_features([w], calendar=calendar) for w in weeks])
    pd.testing.assert_frame_equal(got, rows.reset_index(drop=True))
    assert (got.dtypes == np.int8).all()
    assert not got.isna().any().any()
    assert got.columns[:6].tolist() == [
        "week_of_year",
        "month",
        "weeks_to_christmas",
        "weeks_since_christmas",
        "is_christmas_week",
        "days_in_month_end",
    ]


def test_input_kinds_agree():
    days = pd.date_range("2023-01-02", periods=60, freq="W-MON")
    want = calendar_features(days)
    pd.testing.assert_frame_equal(calendar_features(pd.Series(days)), want)
    pd.testing.assert_frame_equal(calendar_features([d.date() for d in days]), want)
    pd.testing.assert_frame_equal(calendar_features(days.strftime("%Y-%m-%d").tolist()), want)
    pd.testing.assert_frame_equal(calendar_features(days + pd.Timedelta(hours=15)), want)
    pd.testing.assert_frame_equal(calendar_features(days.tz_localize("Asia/Shanghai")), want)


def test_empty_input():
    got = calendar_features([], calendar="us")
    assert got.empty and "is_holiday_week" in got.columns


# --- bad input -----------------------------------------------------------------------------


def test_unknown_calendar():
    with pytest.raises(InvalidParameterError, match=r"`calendar`.*\('cn', 'uk', 'us'\).*'fr'"):
        calendar_features(["2024-01-01"], calendar="fr")


@pytest.mark.parametrize(
    "weeks",
    [["2024-01-01", "not a date"], ["2024-01-01", None], [pd.NaT], ["2024-02-30"], [20240101]],
)
def test_bad_dates(weeks):
    with pytest.raises(InvalidParameterError, match="`weeks`"):
        calendar_features(weeks)


@pytest.mark.parametrize("weeks", ["2024-01-01", pd.Timestamp("2024-01-01"), 7])
def test_not_a_collection(weeks):
    with pytest.raises(InvalidParameterError, match="wrap a single date in a list"):
        calendar_features(weeks)


def test_not_one_dimensional():
    frame = pd.DataFrame({"week": ["2024-01-01"]})
    with pytest.raises(InvalidParameterError, match="one-dimensional"):
        calendar_features(frame)
    assert len(calendar_features(frame["week"])) == 1


def test_cn_outside_table():
    for outside in ["1998-06-01", "1999-02-15", "2041-02-01"]:
        with pytest.raises(InvalidParameterError, match="1999-02-16 to 2041-01-31"):
            calendar_features(["2024-01-01", outside], calendar="cn")
    edges = calendar_features(["1999-02-16", "2041-01-31"], calendar="cn")
    assert edges["spring_festival_weeks"].tolist() == [0, 0]
    assert len(calendar_features(["1998-06-01"], calendar="uk")) == 1


def test_spring_festival_weeks_step_by_one_on_a_weekly_grid():
    grid = pd.date_range("2000-01-03", "2040-12-31", freq="W-MON")
    weeks = calendar_features(grid)["spring_festival_weeks"].to_numpy()
    assert (weeks == 0).sum() == 41  # one festival week a year
    step = np.diff(weeks)
    inside = (np.abs(weeks[:-1]) < 7) & (np.abs(weeks[1:]) < 7)
    assert (step[inside] == 1).all()
