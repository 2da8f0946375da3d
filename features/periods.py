"""Period words in operators' questions → exact business days.

"上周", "近四周", "last month", "2025-11-01 到 2025-11-30": each becomes a first and last day
counted from a reference day (the newest day of data, or a configured one). Weeks start on
Monday; "last N weeks" are the N complete weeks before the current one; "last N days" end on
the reference day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "半": 0}  # fmt: skip
_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "a": 1}  # fmt: skip
_MONTHS_EN = ["january", "february", "march", "april", "may", "june", "july", "august",
              "september", "october", "november", "december"]  # fmt: skip
_NUM = r"(\d{1,3}|[一二两三四五六七八九十]{1,3})"
_EN_NUM = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``start``..``end`` (inclusive) and the words that named them."""

    start: dt.date
    end: dt.date
    words: str

    def shifted(self, back: int) -> Period:
        """The period of the same length ``back`` periods earlier (上上周 after 上周)."""
        days = (self.end - self.start).days + 1
        delta = dt.timedelta(days=days * back)
        return Period(self.start - delta, self.end - delta, self.words)


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in _EN_NUMBERS:
        return _EN_NUMBERS[text]
    if text.startswith("十"):  # 十二 = 12
        return 10 + (_CN_DIGITS.get(text[1:], 0) if len(text) > 1 else 0)
    if len(text) == 3 and text[1] == "十":  # 二十四
        return _CN_DIGITS[text[0]] * 10 + _CN_DIGITS[text[2]]
    if len(text) == 2 and text[1] == "十":  # 二十
        return _CN_DIGITS[text[0]] * 10
    return _CN_DIGITS.get(text, 1)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1)


def _month(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    nxt = _month_start(dt.date(year + (month == 12), month % 12 + 1, 1))
    return first, nxt - dt.timedelta(days=1)


def _date(text: str) -> dt.date | None:
    found = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not found:
        return None
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


_DATE = r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?"

#: (pattern, resolver(match, today) -> (start, end)); the first match in the text wins.
_RULES: list[tuple[re.Pattern[str], object]] = []


def _rule(pattern: str):  # noqa: ANN202 - a registering decorator
    def register(func):  # noqa: ANN001, ANN202
        _RULES.append((re.compile(pattern, re.IGNORECASE), func))
        return func

    return register


@_rule(rf"({_DATE})\s*(?:到|至|~|-|—|to|until|and)\s*({_DATE})")
def _between(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:  # noqa: ARG001
    first, last = _date(m[1]), _date(m[2])
    return (first, last) if first and last else None


@_rule(r"上上周|前一周之前|the week before last|two weeks ago")
def _week_before_last(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _monday(today) - dt.timedelta(days=14)
    return start, start + dt.timedelta(days=6)


@_rule(rf"(?:近|最近|过去|前)\s*{_NUM}\s*(?:个)?(?:周|星期|礼拜)|"
       rf"(?:last|past|previous|recent)\s+{_EN_NUM}\s+weeks?")  # fmt: skip
def _last_n_weeks(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(_number((m[1] or m[2]).lower()), 1)
    end = _monday(today) - dt.timedelta(days=1)
    return end - dt.timedelta(days=7 * n - 1), end


@_rule(rf"(?:近|最近|过去|前)\s*{_NUM}\s*(?:天|日)|(?:last|past|previous)\s+{_EN_NUM}\s+days?")
def _last_n_days(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(_number((m[1] or m[2]).lower()), 1)
    return today - dt.timedelta(days=n - 1), today


@_rule(rf"(?:近|最近|过去)\s*{_NUM}\s*个?月|(?:last|past)\s+{_EN_NUM}\s+months")
def _last_n_months(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(_number((m[1] or m[2]).lower()), 1)
    return _month_start(today, n), _month_start(today) - dt.timedelta(days=1)


@_rule(r"上周|上星期|上个?礼拜|last week|previous week|past week")
def _last_week(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _monday(today) - dt.timedelta(days=7)
    return start, start + dt.timedelta(days=6)


@_rule(r"本周|这周|这星期|这个?礼拜|this week|week to date|so far this week")
def _this_week(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _monday(today), today


@_rule(r"上上个?月|the month before last")
def _month_before_last(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today, 2), _month_start(today, 1) - dt.timedelta(days=1)


@_rule(r"上个?月|last month|previous month")
def _last_month(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today, 1), _month_start(today) - dt.timedelta(days=1)


@_rule(r"本月|这个?月|当月|this month|month to date|so far this month")
def _this_month(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today), today


@_rule(r"去年|last year|previous year")
def _last_year(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)


@_rule(r"今年|this year|year to date|so far this year")
def _this_year(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return dt.date(today.year, 1, 1), today


@_rule(r"前天|the day before yesterday")
def _day_before(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    day = today - dt.timedelta(days=2)
    return day, day


@_rule(r"昨天|昨日|yesterday")
def _yesterday(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    day = today - dt.timedelta(days=1)
    return day, day


@_rule(r"今天|今日|当天|today|so far today")
def _today(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return today, today


@_rule(r"双十一|双11|singles'? day|11\.11")
def _singles_day(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    year = today.year if today >= dt.date(today.year, 11, 11) else today.year - 1
    return dt.date(year, 11, 1), dt.date(year, 11, 11)


@_rule(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:份)?(?!\d)|"
       r"\b(january|february|march|april|may|june|july|august|september|october|november|"
       r"december)(?:\s+(\d{4}))?\b")  # fmt: skip
def _named_month(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    if m[2]:
        month, year = int(m[2]), int(m[1]) if m[1] else None
    else:
        before = m.string[: m.start()].rstrip().lower()
        if m[3].lower() == "may" and not m[4] and not before.endswith(("in", "of", "during")):
            return None  # "May I see …" asks permission; "in May" names the month
        month, year = _MONTHS_EN.index(m[3].lower()) + 1, int(m[4]) if m[4] else None
    if not 1 <= month <= 12:
        return None
    if year is None:  # the latest such month that has started
        year = today.year if month <= today.month else today.year - 1
    first, last = _month(year, month)
    return first, min(last, today) if first <= today else last


@_rule(_DATE)
def _one_day(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:  # noqa: ARG001
    day = _date(m[0])
    return (day, day) if day else None


def find_period(text: str, today: dt.date) -> Period | None:
    """The first period the text names, counted from ``today``; None when it names none.

    Examples:
        >>> find_period("上周抖音卖得最好的是哪个？", dt.date(2025, 12, 30))
        Period(start=datetime.date(2025, 12, 22), end=datetime.date(2025, 12, 28), words='上周')
        >>> find_period("revenue over the last 4 weeks", dt.date(2025, 12, 30)).start
        datetime.date(2025, 12, 1)
    """
    best: tuple[int, Period] | None = None
    for pattern, resolve in _RULES:
        for found in pattern.finditer(text):
            days = resolve(found, today)  # type: ignore[operator]
            if days is None:
                continue
            if best is None or found.start() < best[0]:
                best = (found.start(), Period(days[0], days[1], found[0]))
            break
    return best[1] if best else None


def period_spans(text: str) -> list[tuple[int, int]]:
    """Where period words are in ``text`` (for replacing them by a placeholder)."""
    spans = []
    for pattern, _ in _RULES:
        spans.extend(m.span() for m in pattern.finditer(text))
    return spans
