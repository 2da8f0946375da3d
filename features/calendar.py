"""Weekly calendar and event features, computed from dates alone.

:func:`calendar_features` turns week dates into small integer features for the weekly demand
forecaster, at training time and for future weeks alike. Nothing is read from disk or the
network: fixed-date events follow from the date, movable feasts from their rules (Easter by the
anonymous Gregorian algorithm, "n-th weekday of a month" holidays), and Chinese New Year from a
table checked against computed new moons (Beijing time) for 1999–2041.

A week is the seven days ``[d, d + 6]`` starting at the given date ``d``, whatever its weekday.
Callers whose weeks are labelled by their *last* day (Walmart labels weeks by the ending
Friday) pass ``label - 6 days``.

Features of every calendar:

- ``week_of_year``: ISO week number of ``d + 3`` (the week's middle day).
- ``month``: month of ``d + 3``.
- ``weeks_to_christmas``: whole weeks from ``d`` to the next 25 December on or after ``d``;
  0 in the week containing Christmas, 51 or 52 in the week just after it.
- ``weeks_since_christmas``: weeks since the last week containing 25 December (0 in that
  week), capped at 52.
- ``is_christmas_week``: 1 if 25 December lies in the week.
- ``days_in_month_end``: 1 if the week contains the last day of a month (payday effect).

Calendar ``"cn"`` (Chinese e-commerce):

- ``spring_festival_weeks``: signed weeks from the week containing Chinese New Year's day to
  this week (-1 = the week before, +1 = the week after), clipped to [-7, 7]; ±7 means "far".
- ``spring_festival_days``: days of the week inside a stylised seven-day Spring Festival
  holiday, New Year's Eve to the sixth day of the year (0–7). The official schedule (make-up
  working days, the 8–9 day holidays from 2025) is not modelled.
- ``days_618`` / ``is_618_peak``: days in the 618 sale (1–18 June); 1 for the week with 18 June.
- ``days_double11`` / ``is_double11_peak``: days in the Double 11 sale (31 October–11 November);
  1 for the week with 11 November.
- ``days_double12`` / ``is_double12_peak``: days in the Double 12 sale (10–12 December); 1 for the
  week with 12 December.
- ``golden_week_days``: days of the National Day holiday (1–7 October) in the week.
- ``labour_day_days``: days of the Labour Day holiday (1–5 May, its length since 2020) in the week.

Calendar ``"us"`` (Walmart):

- ``superbowl_week``: the week of Super Bowl Sunday (the first Sunday of February up to 2021 and
  the second from 2022, with the January games of 2000, 2001 and 2003 from a table).
- ``labor_day_week`` (first Monday of September), ``thanksgiving_week`` (fourth Thursday of
  November), ``black_friday_week`` (the day after Thanksgiving): 1 for the week with that day.
- ``weeks_to_thanksgiving``: whole weeks to the next Thanksgiving on or after ``d``, clipped to
  [0, 13]; 13 means far (including the weeks just after Thanksgiving).
- ``is_holiday_week``: Kaggle Walmart's ``IsHoliday``: a Super Bowl, Labor Day, Thanksgiving or
  Christmas week.
- ``easter_week``: 1 for the week with (Western) Easter Sunday.

Calendar ``"uk"`` (England and Wales):

- ``uk_bank_holidays``: bank holidays in the week: New Year's Day, Good Friday, Easter Monday,
  the early May, spring and summer bank holidays, Christmas Day and Boxing Day, with weekend
  days moved to the following weekdays, plus the one-off changes (jubilees, the 2011 royal
  wedding, VE Day 2020, the 2022 state funeral, the 2023 coronation) from a table.
- ``easter_week``: 1 for the week with Easter Sunday.

All columns are ``int8`` and never missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from features.errors import InvalidParameterError

__all__ = ["CALENDARS", "calendar_features", "feature_columns"]

logger = logging.getLogger(__name__)

#: The event sets :func:`calendar_features` knows.
CALENDARS: tuple[str, ...] = ("cn", "uk", "us")

_FUNC = "calendar_features"
_EPOCH = dt.date(1970, 1, 1).toordinal()
_FAR_SPRING_FESTIVAL = 7
_FAR_THANKSGIVING = 13
_MAX_WEEKS_SINCE_CHRISTMAS = 52

#: Chinese New Year's day (正月初一), Gregorian, China time. Every entry was checked to be the
#: Beijing date of a new moon between 21 January and 20 February; 1999 and 2041 are there so
#: that every week of 2000–2040 sees the festivals on both sides.
_CHINESE_NEW_YEAR: dict[int, tuple[int, int]] = {
    1999: (2, 16), 2000: (2, 5), 2001: (1, 24), 2002: (2, 12), 2003: (2, 1),
    2004: (1, 22), 2005: (2, 9), 2006: (1, 29), 2007: (2, 18), 2008: (2, 7),
    2009: (1, 26), 2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10),
    2014: (1, 31), 2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16),
    2019: (2, 5), 2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22),
    2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26),
    2029: (2, 13), 2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31),
    2034: (2, 19), 2035: (2, 8), 2036: (1, 28), 2037: (2, 15), 2038: (2, 4),
    2039: (1, 24), 2040: (2, 12), 2041: (2, 1),
}  # fmt: skip
#: ``"cn"`` needs a known festival on or before each date and one after it.
_CN_FIRST_DAY = dt.date(1999, 2, 16)
_CN_LAST_DAY = dt.date(2041, 1, 31)

#: Super Bowls that broke the "first Sunday of February" rule (played in late January).
_SUPER_BOWL_EXCEPTIONS: dict[int, dt.date] = {
    2000: dt.date(2000, 1, 30),
    2001: dt.date(2001, 1, 28),
    2003: dt.date(2003, 1, 26),
}

#: One-off changes to the England & Wales bank holidays: (dropped regular days, added days).
_UK_SPECIAL_DAYS: dict[int, tuple[tuple[dt.date, ...], tuple[dt.date, ...]]] = {
    # Millennium: 31 December 1999 was an extra bank holiday.
    1999: ((), (dt.date(1999, 12, 31),)),
    # Golden Jubilee: spring bank holiday moved to Tue 4 June, plus Mon 3 June.
    2002: ((dt.date(2002, 5, 27),), (dt.date(2002, 6, 3), dt.date(2002, 6, 4))),
    # Royal wedding.
    2011: ((), (dt.date(2011, 4, 29),)),
    # Diamond Jubilee: spring bank holiday moved to Mon 4 June, plus Tue 5 June.
    2012: ((dt.date(2012, 5, 28),), (dt.date(2012, 6, 4), dt.date(2012, 6, 5))),
    # VE Day 75: early May bank holiday moved to Fri 8 May.
    2020: ((dt.date(2020, 5, 4),), (dt.date(2020, 5, 8),)),
    # Platinum Jubilee (spring bank holiday moved to Thu 2 June, plus Fri 3 June) and the
    # state funeral of Queen Elizabeth II.
    2022: (
        (dt.date(2022, 5, 30),),
        (dt.date(2022, 6, 2), dt.date(2022, 6, 3), dt.date(2022, 9, 19)),
    ),
    # Coronation of King Charles III.
    2023: ((), (dt.date(2023, 5, 8),)),
}

_COMMON_COLUMNS = (
    "week_of_year",
    "month",
    "weeks_to_christmas",
    "weeks_since_christmas",
    "is_christmas_week",
    "days_in_month_end",
)
_CALENDAR_COLUMNS: dict[str, tuple[str, ...]] = {
    "cn": (
        "spring_festival_weeks",
        "spring_festival_days",
        "days_618",
        "is_618_peak",
        "days_double11",
        "is_double11_peak",
        "days_double12",
        "is_double12_peak",
        "golden_week_days",
        "labour_day_days",
    ),
    "uk": ("uk_bank_holidays", "easter_week"),
    "us": (
        "superbowl_week",
        "labor_day_week",
        "thanksgiving_week",
        "black_friday_week",
        "weeks_to_thanksgiving",
        "is_holiday_week",
        "easter_week",
    ),
}

_YearRule = Callable[[int], Iterable[dt.date]]


def feature_columns(calendar: str = "cn") -> tuple[str, ...]:
    """The columns :func:`calendar_features` returns for ``calendar``, in order.

    Raises:
        InvalidParameterError: an unknown calendar.
    """
    if calendar not in _CALENDAR_COLUMNS:
        raise InvalidParameterError(
            f"The `calendar` parameter of `feature_columns` must be one of "
            f"{', '.join(CALENDARS)}. Got {calendar!r} instead."
        )
    return (*_COMMON_COLUMNS, *_CALENDAR_COLUMNS[calendar])


def calendar_features(
    weeks: pd.Series | pd.DatetimeIndex | Sequence, *, calendar: str = "cn"
) -> pd.DataFrame:
    """Calendar and event features of each week (see the module docstring for the columns).

    The work is done once per distinct date and mapped back, so long panels with few distinct
    weeks are cheap.

    Args:
        weeks: The first day ``d`` of each week, any weekday; the week is ``[d, d + 6]``. Dates,
            timestamps or date strings; a time of day is ignored and time-zone-aware values keep
            their local date.
        calendar: The event set: ``"cn"`` (Chinese e-commerce: Spring Festival, 618, Double
            11/12, Golden Week, Labour Day), ``"uk"`` (England & Wales bank holidays) or
            ``"us"`` (Walmart: Super Bowl, Labor Day, Thanksgiving, Christmas). ``"cn"``
            needs dates from 1999-02-16 to 2041-01-31 (its Chinese New Year table).

    Returns:
        One row per input date in input order, with a fresh ``RangeIndex``: the common columns
        ``week_of_year``, ``month``, ``weeks_to_christmas``, ``weeks_since_christmas``,
        ``is_christmas_week``, ``days_in_month_end``, then the calendar's own columns. All
        ``int8``.

    Raises:
        InvalidParameterError: ``calendar`` is not one of :data:`CALENDARS`; ``weeks`` is not a
            collection of dates, holds a missing or unparsable date, or (for ``"cn"``) a date
            outside the Chinese New Year table.

    Examples:
        >>> calendar_features(["2024-02-05", "2024-06-17"], calendar="cn")[
        ...     ["spring_festival_weeks", "is_618_peak"]
        ... ].to_numpy().tolist()
        [[0, 0], [7, 1]]
    """
    if not isinstance(calendar, str) or calendar not in CALENDARS:
        raise InvalidParameterError(
            f"The `calendar` parameter of `{_FUNC}` must be one of {CALENDARS}. "
            f"Got {calendar!r} instead."
        )
    codes, days = _distinct_days(weeks)
    columns = [*_COMMON_COLUMNS, *_CALENDAR_COLUMNS[calendar]]
    if len(days) == 0:
        return pd.DataFrame({name: pd.Series([], dtype="int8") for name in columns})

    years = _years(days)
    if calendar == "cn":
        _check_cn_range(days)
    span = range(int(years.min()) - 1, int(years.max()) + 2)

    feats = _common_features(days, span)
    if calendar == "cn":
        feats.update(_cn_features(days, span))
    elif calendar == "uk":
        feats.update(_uk_features(days, span))
    else:
        feats.update(_us_features(days, span))

    out = pd.DataFrame({name: np.asarray(feats[name], dtype=np.int8)[codes] for name in columns})
    logger.debug("calendar_features: %d rows, %d distinct weeks", len(out), len(days))
    return out


# --- input -----------------------------------------------------------------------------------


def _distinct_days(weeks: object) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the distinct dates, and those dates as int64 days since 1970-01-01."""
    if isinstance(weeks, pd.DataFrame) or getattr(weeks, "ndim", 1) != 1:
        raise InvalidParameterError(
            f"The `weeks` parameter of `{_FUNC}` must be one-dimensional; pass a single "
            f"column of dates. Got a {type(weeks).__name__} of shape "
            f"{getattr(weeks, 'shape', '?')} instead."
        )
    if isinstance(weeks, pd.Series | pd.Index | np.ndarray):
        series = pd.Series(np.asarray(weeks) if isinstance(weeks, np.ndarray) else weeks)
    elif isinstance(weeks, Iterable) and not isinstance(weeks, str | bytes):
        series = pd.Series(list(weeks))
    else:
        raise InvalidParameterError(
            f"The `weeks` parameter of `{_FUNC}` must be a Series, DatetimeIndex or sequence of "
            f"dates; wrap a single date in a list. Got {weeks!r} instead."
        )
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        raise InvalidParameterError(
            f"The `weeks` parameter of `{_FUNC}` must hold dates or date strings, not numbers. "
            f"Got dtype {series.dtype} instead."
        )
    series = series.reset_index(drop=True)
    codes, uniques = pd.factorize(series)
    if (codes < 0).any():
        _raise_bad_dates(series, np.flatnonzero(codes < 0))
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(pd.Index(uniques), errors="raise"))
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidParameterError(
            f"The `weeks` parameter of `{_FUNC}` must hold parsable dates "
            f"(e.g. '2024-02-05'). Parsing failed: {err}"
        ) from err
    if parsed.tz is not None:
        parsed = parsed.tz_localize(None)
    if parsed.isna().any():
        _raise_bad_dates(series, np.flatnonzero(np.isin(codes, np.flatnonzero(parsed.isna()))))
    days = parsed.normalize().to_numpy().astype("datetime64[D]").astype(np.int64)
    return codes, days


def _raise_bad_dates(series: pd.Series, positions: np.ndarray) -> None:
    shown = ", ".join(f"{p}: {series.iloc[p]!r}" for p in positions[:5])
    more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
    raise InvalidParameterError(
        f"The `weeks` parameter of `{_FUNC}` must hold a date in every row. "
        f"Got missing or unparsable values at positions {shown}{more} instead."
    )


def _check_cn_range(days: np.ndarray) -> None:
    outside = (days < _day(_CN_FIRST_DAY)) | (days > _day(_CN_LAST_DAY))
    if outside.any():
        raise InvalidParameterError(
            f"The `weeks` parameter of `{_FUNC}` must hold dates from {_CN_FIRST_DAY} to "
            f"{_CN_LAST_DAY} when `calendar='cn'` (the Chinese New Year table ends there). "
            f"Got {np.datetime64(int(days[outside][0]), 'D')} instead."
        )


# --- date arithmetic (int64 days since 1970-01-01) -------------------------------------------


def _day(date: dt.date) -> int:
    return date.toordinal() - _EPOCH


def _years(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _months(days: np.ndarray) -> np.ndarray:
    """Months since January 1970 (not the month of the year)."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _events(span: Iterable[int], rule: _YearRule) -> np.ndarray:
    """Sorted distinct days of the events ``rule`` yields for each year of ``span``."""
    return np.unique(np.array([_day(d) for y in span for d in rule(y)], dtype=np.int64))


def _count_in_week(days: np.ndarray, events: np.ndarray) -> np.ndarray:
    """How many of ``events`` fall in each week ``[d, d + 6]``."""
    return np.searchsorted(events, days + 7) - np.searchsorted(events, days)


def _next_on_or_after(days: np.ndarray, events: np.ndarray) -> np.ndarray:
    return events[np.searchsorted(events, days, side="left")]


def _last_on_or_before(days: np.ndarray, events: np.ndarray) -> np.ndarray:
    return events[np.searchsorted(events, days, side="right") - 1]


def _window(month: int, first: int, last: int) -> _YearRule:
    """A rule for the days ``first..last`` of ``month`` (``last`` may run into the next month)."""

    def rule(year: int) -> list[dt.date]:
        start = dt.date(year, month, first)
        return [start + dt.timedelta(days=i) for i in range(last - first + 1)]

    return rule


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday = 0) of a month; ``n = -1`` for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    """Western Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


# --- features --------------------------------------------------------------------------------


def _common_features(days: np.ndarray, span: range) -> dict[str, np.ndarray]:
    mid = (days + 3).astype("datetime64[D]")
    christmas = _events(span, lambda y: [dt.date(y, 12, 25)])
    to_christmas = (_next_on_or_after(days, christmas) - days) // 7
    since_christmas = (days + 6 - _last_on_or_before(days + 6, christmas)) // 7
    return {
        "week_of_year": pd.DatetimeIndex(mid).isocalendar()["week"].to_numpy(),
        "month": _months(days + 3) % 12 + 1,
        "weeks_to_christmas": to_christmas,
        "weeks_since_christmas": np.minimum(since_christmas, _MAX_WEEKS_SINCE_CHRISTMAS),
        "is_christmas_week": _count_in_week(days, christmas),
        "days_in_month_end": (_months(days) != _months(days + 7)).astype(np.int64),
    }


def _cn_features(days: np.ndarray, span: range) -> dict[str, np.ndarray]:
    cn_span = [y for y in span if y in _CHINESE_NEW_YEAR]
    new_year = _events(cn_span, lambda y: [dt.date(y, *_CHINESE_NEW_YEAR[y])])
    # Week offset k such that the week [d - 7k, d - 7k + 6] contains the festival day c:
    # k = ceil((d - c) / 7). The nearer of the previous and the next festival wins.
    after = (days - _last_on_or_before(days, new_year) + 6) // 7
    before = (days - _next_on_or_after(days + 1, new_year) + 6) // 7
    offset = np.where(np.abs(before) < np.abs(after), before, after)

    def holiday(year: int) -> list[dt.date]:
        eve = dt.date(year, *_CHINESE_NEW_YEAR[year]) - dt.timedelta(days=1)
        return [eve + dt.timedelta(days=i) for i in range(7)]

    def peak(month: int, day: int) -> np.ndarray:
        return _count_in_week(days, _events(span, lambda y: [dt.date(y, month, day)]))

    return {
        "spring_festival_weeks": np.clip(offset, -_FAR_SPRING_FESTIVAL, _FAR_SPRING_FESTIVAL),
        "spring_festival_days": _count_in_week(days, _events(cn_span, holiday)),
        "days_618": _count_in_week(days, _events(span, _window(6, 1, 18))),
        "is_618_peak": peak(6, 18),
        "days_double11": _count_in_week(days, _events(span, _window(10, 31, 42))),
        "is_double11_peak": peak(11, 11),
        "days_double12": _count_in_week(days, _events(span, _window(12, 10, 12))),
        "is_double12_peak": peak(12, 12),
        "golden_week_days": _count_in_week(days, _events(span, _window(10, 1, 7))),
        "labour_day_days": _count_in_week(days, _events(span, _window(5, 1, 5))),
    }


def _uk_bank_holidays(year: int) -> list[dt.date]:
    easter = _easter(year)
    regular = [
        _next_weekday(dt.date(year, 1, 1), taken=()),
        easter - dt.timedelta(days=2),
        easter + dt.timedelta(days=1),
        _nth_weekday(year, 5, 0, 1),
        _nth_weekday(year, 5, 0, -1),
        _nth_weekday(year, 8, 0, -1),
    ]
    # Christmas and Boxing Day on a weekend move to the next weekdays not already taken
    # (Sat 25 → Mon 27 and Tue 28; Sun 25 → Mon 26 and Tue 27).
    christmas = _next_weekday(dt.date(year, 12, 25), taken=())
    regular += [christmas, _next_weekday(dt.date(year, 12, 26), taken=(christmas,))]
    dropped, added = _UK_SPECIAL_DAYS.get(year, ((), ()))
    return [d for d in regular if d not in dropped] + list(added)


def _next_weekday(date: dt.date, *, taken: Iterable[dt.date]) -> dt.date:
    taken = set(taken)
    while date.weekday() >= 5 or date in taken:
        date += dt.timedelta(days=1)
    return date


def _uk_features(days: np.ndarray, span: range) -> dict[str, np.ndarray]:
    return {
        "uk_bank_holidays": _count_in_week(days, _events(span, _uk_bank_holidays)),
        "easter_week": _count_in_week(days, _events(span, lambda y: [_easter(y)])),
    }


def _super_bowl(year: int) -> dt.date:
    if year in _SUPER_BOWL_EXCEPTIONS:
        return _SUPER_BOWL_EXCEPTIONS[year]
    # The 17-game NFL season (from 2021/22) pushed the game to the second Sunday.
    return _nth_weekday(year, 2, 6, 1 if year <= 2021 else 2)


def _us_features(days: np.ndarray, span: range) -> dict[str, np.ndarray]:
    thanksgiving = _events(span, lambda y: [_nth_weekday(y, 11, 3, 4)])
    superbowl = _count_in_week(days, _events(span, lambda y: [_super_bowl(y)]))
    labor_day = _count_in_week(days, _events(span, lambda y: [_nth_weekday(y, 9, 0, 1)]))
    thanksgiving_week = _count_in_week(days, thanksgiving)
    christmas = _count_in_week(days, _events(span, lambda y: [dt.date(y, 12, 25)]))
    to_thanksgiving = (_next_on_or_after(days, thanksgiving) - days) // 7
    return {
        "superbowl_week": superbowl,
        "labor_day_week": labor_day,
        "thanksgiving_week": thanksgiving_week,
        "black_friday_week": _count_in_week(days, thanksgiving + 1),
        "weeks_to_thanksgiving": np.minimum(to_thanksgiving, _FAR_THANKSGIVING),
        "is_holiday_week": ((superbowl + labor_day + thanksgiving_week + christmas) > 0).astype(
            np.int64
        ),
        "easter_week": _count_in_week(days, _events(span, lambda y: [_easter(y)])),
    }
