"""Period words → exact days, counted from a reference day.

Most cases count from Tuesday 2025-12-30: this week is Mon 12-29..Tue 12-30, last week is
Mon 12-22..Sun 12-28, last month is November 2025. Expected days are written out by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest

from features.periods import Period, asking_day, find_period, period_spans

D = dt.date
TODAY = D(2025, 12, 30)  # a Tuesday


def days(text: str, today: dt.date = TODAY) -> tuple[dt.date, dt.date]:
    found = find_period(text, today)
    assert found is not None, f"no period found in {text!r}"
    return found.start, found.end


def test_reference_day_is_a_tuesday():
    assert TODAY.weekday() == 1  # the expected days below rely on it


# -- the day questions count from ------------------------------------------------------------


def test_data_ending_midweek_is_asked_about_that_day():
    assert asking_day(TODAY) == TODAY


def test_data_through_a_sunday_is_asked_about_on_the_monday_so_last_week_is_that_week():
    today = asking_day(D(2025, 12, 28))
    assert today == D(2025, 12, 29)
    assert days("上周", today) == (D(2025, 12, 22), D(2025, 12, 28))


def test_data_through_a_month_end_is_asked_about_on_the_first_so_last_month_is_that_month():
    today = asking_day(D(2025, 11, 30))  # a Sunday too; 2025-10-31 is a Friday
    assert today == D(2025, 12, 1)
    assert days("上个月", today) == (D(2025, 11, 1), D(2025, 11, 30))
    assert days("last month", asking_day(D(2025, 10, 31))) == (D(2025, 10, 1), D(2025, 10, 31))


# -- weeks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["上周抖音卖得最好的是哪个？", "上星期", "last week", "LAST WEEK"])
def test_last_week_is_the_previous_monday_to_sunday(text):
    assert days(text) == (D(2025, 12, 22), D(2025, 12, 28))


@pytest.mark.parametrize("text", ["本周销量", "这周", "this week"])
def test_this_week_runs_from_monday_to_today(text):
    assert days(text) == (D(2025, 12, 29), TODAY)


def test_this_week_on_a_monday_is_that_one_day():
    monday = D(2025, 12, 29)
    assert days("本周", monday) == (monday, monday)


@pytest.mark.parametrize("text", ["上上周", "the week before last", "two weeks ago"])
def test_week_before_last(text):
    assert days(text) == (D(2025, 12, 15), D(2025, 12, 21))


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("近四周", D(2025, 12, 1)),
        ("最近两周", D(2025, 12, 15)),
        ("过去3周", D(2025, 12, 8)),
        ("近十二周", D(2025, 10, 6)),
        ("last 4 weeks", D(2025, 12, 1)),
        ("past two weeks", D(2025, 12, 15)),
        ("the last twelve weeks", D(2025, 10, 6)),
    ],
)
def test_last_n_weeks_are_complete_weeks_before_the_current_one(text, first):
    start, end = days(text)
    assert (start, end) == (first, D(2025, 12, 28))
    assert start.weekday() == 0 and end.weekday() == 6
    assert TODAY not in (start, end) and end < D(2025, 12, 29)  # the current week is left out


def test_last_n_weeks_on_a_sunday_still_leaves_out_the_current_week():
    sunday = D(2025, 12, 28)
    assert days("近2周", sunday) == (D(2025, 12, 8), D(2025, 12, 21))


# -- days ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first"),
    [("近7天", D(2025, 12, 24)), ("last 7 days", D(2025, 12, 24)), ("过去30天", D(2025, 12, 1))],
)
def test_last_n_days_end_today(text, first):
    start, end = days(text)
    assert (start, end) == (first, TODAY)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("今天", TODAY),
        ("today", TODAY),
        ("昨天", D(2025, 12, 29)),
        ("yesterday", D(2025, 12, 29)),
        ("前天", D(2025, 12, 28)),
        ("the day before yesterday", D(2025, 12, 28)),
    ],
)
def test_single_relative_days(text, day):
    assert days(text) == (day, day)


def test_yesterday_on_new_years_day_is_in_the_previous_year():
    assert days("昨天", D(2026, 1, 1)) == (D(2025, 12, 31), D(2025, 12, 31))


# -- months and years ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["本月", "这个月", "this month"])
def test_this_month_runs_to_today(text):
    assert days(text) == (D(2025, 12, 1), TODAY)


@pytest.mark.parametrize("text", ["上个月", "上月", "last month"])
def test_last_month_is_the_whole_calendar_month(text):
    assert days(text) == (D(2025, 11, 1), D(2025, 11, 30))


@pytest.mark.parametrize("text", ["上上个月", "上上月", "the month before last"])
def test_month_before_last(text):
    assert days(text) == (D(2025, 10, 1), D(2025, 10, 31))


def test_last_month_in_january_is_december_of_the_previous_year():
    assert days("last month", D(2026, 1, 5)) == (D(2025, 12, 1), D(2025, 12, 31))
    assert days("上上个月", D(2026, 1, 5)) == (D(2025, 11, 1), D(2025, 11, 30))


def test_last_month_at_the_end_of_march_is_february_with_28_days():
    start, end = days("上个月", D(2025, 3, 31))
    assert (start, end) == (D(2025, 2, 1), D(2025, 2, 28))
    assert (end - start).days + 1 == 28


def test_last_month_in_a_leap_year_march_has_29_days():
    assert days("上个月", D(2024, 3, 31)) == (D(2024, 2, 1), D(2024, 2, 29))


def test_last_n_months_are_complete_months():
    assert days("近3个月") == (D(2025, 9, 1), D(2025, 11, 30))


def test_this_year_and_last_year():
    assert days("今年") == (D(2025, 1, 1), TODAY)
    assert days("去年") == (D(2024, 1, 1), D(2024, 12, 31))


# -- named days and months -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["双十一", "双11"])
def test_double_eleven_is_the_latest_one_that_has_started(text):
    assert days(text) == (D(2025, 11, 1), D(2025, 11, 11))
    assert days(text, D(2025, 11, 5)) == (D(2024, 11, 1), D(2024, 11, 11))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("去年双十一天猫卖了多少件？", D(2024, 11, 1), D(2024, 11, 11)),  # not all of 2024
        ("今年双十一比去年双十一涨了多少", D(2025, 11, 1), D(2025, 11, 11)),
        ("last year's Singles Day", D(2024, 11, 1), D(2024, 11, 11)),
        ("2024年双11", D(2024, 11, 1), D(2024, 11, 11)),
        ("618期间全平台销量", D(2025, 6, 1), D(2025, 6, 18)),
        ("去年618", D(2024, 6, 1), D(2024, 6, 18)),
        ("双12抖音销量", D(2025, 12, 1), D(2025, 12, 12)),
        ("上半年全平台销量", D(2025, 1, 1), D(2025, 6, 30)),
        ("下半年", D(2025, 7, 1), TODAY),
        ("去年下半年", D(2024, 7, 1), D(2024, 12, 31)),
        ("H1 revenue", D(2025, 1, 1), D(2025, 6, 30)),
        ("上一季度总销量", D(2025, 7, 1), D(2025, 9, 30)),  # not the first quarter
        ("前一个季度", D(2025, 7, 1), D(2025, 9, 30)),
    ],
)
def test_festivals_half_years_and_the_year_named_before_them(text, start, end):
    assert days(text) == (start, end)


def test_a_number_holding_618_is_no_festival():
    assert find_period("SKU 6180 和 16180 的销量", TODAY) is None


@pytest.mark.parametrize("text", ["11月", "11月份", "2025年11月", "November 2025", "november"])
def test_named_month(text):
    assert days(text) == (D(2025, 11, 1), D(2025, 11, 30))


def test_named_month_without_a_year_is_the_latest_that_has_started():
    assert days("11月", D(2026, 1, 5)) == (D(2025, 11, 1), D(2025, 11, 30))


def test_current_named_month_stops_today():
    assert days("12月") == (D(2025, 12, 1), TODAY)


def test_named_month_with_another_year():
    assert days("2024年2月") == (D(2024, 2, 1), D(2024, 2, 29))


def test_impossible_month_is_not_a_period():
    assert find_period("13月", TODAY) is None


def test_the_word_may_is_not_the_month_of_may():
    assert days("May I see the revenue for last week?") == (D(2025, 12, 22), D(2025, 12, 28))


# -- explicit dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-01 到 2025-11-30",
        "2025-11-01至2025-11-30的销量",
        "2025/11/01 ~ 2025/11/30",
        "from 2025-11-01 to 2025-11-30",
        "2025年11月1日到2025年11月30日",
    ],
)
def test_explicit_range(text):
    assert days(text) == (D(2025, 11, 1), D(2025, 11, 30))


def test_explicit_range_keeps_the_words():
    found = find_period("看下 2025-11-01 到 2025-11-30 天猫", TODAY)
    assert found == Period(D(2025, 11, 1), D(2025, 11, 30), "2025-11-01 到 2025-11-30")


@pytest.mark.parametrize("text", ["2025-11-15", "2025.11.15", "2025年11月15日 卖了多少"])
def test_single_date(text):
    assert days(text) == (D(2025, 11, 15), D(2025, 11, 15))


def test_impossible_date_is_not_a_period():
    assert find_period("2025-02-30", TODAY) is None


@pytest.mark.parametrize("text", ["库存还有多少？", "which SKU sells best", "", "SKU SY01000-01"])
def test_text_without_a_period(text):
    assert find_period(text, TODAY) is None


# -- which mention wins --------------------------------------------------------------------


def test_earliest_mention_wins():
    assert find_period("上上周和上周比", TODAY).words == "上上周"
    assert find_period("上周和上上周比", TODAY).words == "上周"
    assert find_period("compare last month with last week", TODAY).words == "last month"
    assert find_period("last week vs last month", TODAY).words == "last week"


def test_words_are_the_matched_text():
    assert find_period("请看近7天抖音", TODAY).words == "近7天"


# -- Period.shifted and period_spans -------------------------------------------------------


def test_shifted_moves_back_by_whole_periods_of_the_same_length():
    last_week = find_period("上周", TODAY)
    assert last_week.shifted(1) == Period(D(2025, 12, 15), D(2025, 12, 21), "上周")
    assert last_week.shifted(2) == Period(D(2025, 12, 8), D(2025, 12, 14), "上周")
    assert last_week.shifted(0) == last_week
    assert last_week.shifted(1).start == find_period("上上周", TODAY).start


def test_shifted_single_day_and_month_length():
    today = Period(TODAY, TODAY, "今天")
    assert today.shifted(1) == Period(D(2025, 12, 29), D(2025, 12, 29), "今天")
    november = Period(D(2025, 11, 1), D(2025, 11, 30), "11月")
    assert november.shifted(1) == Period(D(2025, 10, 2), D(2025, 10, 31), "11月")


def test_period_spans_locate_every_period_word():
    text = "上周抖音和近7天"
    spans = period_spans(text)
    assert sorted(text[a:b] for a, b in spans) == sorted(["上周", "近7天"])


def test_period_spans_empty_without_period_words():
    assert period_spans("哪个SKU卖得最好") == []


def test_period_spans_cover_overlapping_words():
    spans = period_spans("上上周")
    assert (0, 3) in spans  # the whole word, even though "上周" also matches inside it


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("Q3 2025 revenue", dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
        ("2025年第三季度", dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
        ("上季度", dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
        ("this quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 30)),
        ("Nov 11, 2025 vs last year", dt.date(2025, 11, 11), dt.date(2025, 11, 11)),
        ("as of Dec 15", dt.date(2025, 12, 15), dt.date(2025, 12, 15)),
        ("12月8号那一周", dt.date(2025, 12, 8), dt.date(2025, 12, 14)),
        ("the week of Dec 8", dt.date(2025, 12, 8), dt.date(2025, 12, 14)),
        ("双十一那周", dt.date(2025, 11, 10), dt.date(2025, 11, 16)),
        ("双十一当天", dt.date(2025, 11, 11), dt.date(2025, 11, 11)),
        ("and in Nov 2024?", dt.date(2024, 11, 1), dt.date(2024, 11, 30)),
        ("2025年哪个月最好", dt.date(2025, 1, 1), dt.date(2025, 12, 30)),
        ("revenue in 2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        ("11月30日", dt.date(2025, 11, 30), dt.date(2025, 11, 30)),
    ],
)
def test_quarters_month_days_weeks_of_a_day_and_whole_years(text, start, end):
    found = find_period(text, dt.date(2025, 12, 30))
    assert found is not None and (found.start, found.end) == (start, end)


def test_may_as_a_verb_is_not_a_month_day():
    assert find_period("May 5 people ask?", dt.date(2025, 12, 30)) is None


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("GMV last wk", dt.date(2025, 12, 22), dt.date(2025, 12, 28)),
        ("revenue this wk", dt.date(2025, 12, 29), dt.date(2025, 12, 30)),
        ("sales MTD", dt.date(2025, 12, 1), dt.date(2025, 12, 30)),
        ("YTD revenue", dt.date(2025, 1, 1), dt.date(2025, 12, 30)),
        ("年初至今", dt.date(2025, 1, 1), dt.date(2025, 12, 30)),
        ("over the past fortnight", dt.date(2025, 12, 17), dt.date(2025, 12, 30)),
        ("last weekend", dt.date(2025, 12, 27), dt.date(2025, 12, 28)),
        ("上周末", dt.date(2025, 12, 27), dt.date(2025, 12, 28)),
        ("since Dec 1", dt.date(2025, 12, 1), dt.date(2025, 12, 30)),
        ("12月1日以来", dt.date(2025, 12, 1), dt.date(2025, 12, 30)),
        ("since November", dt.date(2025, 11, 1), dt.date(2025, 12, 30)),
        ("from 2025-12-01 to 2025-12-15", dt.date(2025, 12, 1), dt.date(2025, 12, 15)),
    ],
)
def test_shorthand_weekends_fortnights_and_open_ended_periods(text, start, end):
    found = find_period(text, dt.date(2025, 12, 30))
    assert found is not None and (found.start, found.end) == (start, end)
