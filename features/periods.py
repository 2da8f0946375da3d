"""Period words in operators' questions → exact business days.

"上周", "近四周", "last month", "2025-11-01 到 2025-11-30": each becomes a first and last day
counted from a reference day (:func:`asking_day`: the day an operator asks about the newest
data, or a configured one). Weeks start on Monday; "last N weeks" are the N complete weeks
before the current one; "last N days" end on the reference day.
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


def asking_day(newest: dt.date) -> dt.date:
    """The day period words count from, for data whose newest day is ``newest``.

    That day itself, unless it closes a week (a Sunday) or a month: then the day after. An
    export that runs through Sunday is read on Monday, and "上周" / "last week" then means
    the week it holds, not the one before; the same for "上个月" after a month-end.

    Examples:
        >>> asking_day(dt.date(2025, 12, 30)), asking_day(dt.date(2025, 12, 28))
        (datetime.date(2025, 12, 30), datetime.date(2025, 12, 29))
        >>> asking_day(dt.date(2025, 11, 30))
        datetime.date(2025, 12, 1)
    """
    after = newest + dt.timedelta(days=1)
    return after if newest.weekday() == 6 or after.day == 1 else newest


def count_of(text: str) -> int:
    """A small count written in digits, Chinese or English: "4", "四", "十二", "four" → int.

    Examples:
        >>> count_of("二十四"), count_of("two"), count_of("12")
        (24, 2, 12)
    """
    text = text.lower()
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


def written_day(text: str) -> dt.date | None:
    """The day ``text`` writes out as year, month and day: ``2025-12-30``, ``2025/12/30``,
    ``2025.12.30`` or ``2025年12月30日`` (months and days may have one digit); None when
    it is not one, or names a day that does not exist (2025-02-30)."""
    found = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not found:
        return None
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


_DATE = r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?"
_RANGE = re.compile(r"到|至|~|—|\bto\b|\buntil\b|\band\b")

#: (pattern, resolver(match, today) -> (start, end)); the first match in the text wins.
_RULES: list[tuple[re.Pattern[str], object]] = []


def _rule(pattern: str):  # noqa: ANN202 - a registering decorator
    def register(func):  # noqa: ANN001, ANN202
        _RULES.append((re.compile(pattern, re.IGNORECASE), func))
        return func

    return register


@_rule(rf"({_DATE})\s*(?:到|至|~|-|—|to|until|and)\s*({_DATE})")
def _between(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:  # noqa: ARG001
    first, last = written_day(m[1]), written_day(m[2])
    return (first, last) if first and last else None


@_rule(r"上上周|前一周之前|the week before last|two weeks ago")
def _week_before_last(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _monday(today) - dt.timedelta(days=14)
    return start, start + dt.timedelta(days=6)


@_rule(rf"(?:近|最近|过去|前)\s*{_NUM}\s*(?:个)?(?:周|星期|礼拜)|"
       rf"(?:last|past|previous|recent)\s+{_EN_NUM}\s+weeks?")  # fmt: skip
def _last_n_weeks(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(count_of((m[1] or m[2]).lower()), 1)
    end = _monday(today) - dt.timedelta(days=1)
    return end - dt.timedelta(days=7 * n - 1), end


@_rule(r"(?:the )?(?:past|last) fortnight|近半个月|最近半个月")
def _fortnight(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=13), today


@_rule(r"上个?周末|last weekend")
def _last_weekend(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    sunday = _monday(today) - dt.timedelta(days=1)
    return sunday - dt.timedelta(days=1), sunday


@_rule(rf"(?:近|最近|过去|前)\s*{_NUM}\s*(?:天|日)|(?:last|past|previous)\s+{_EN_NUM}\s+days?")
def _last_n_days(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(count_of((m[1] or m[2]).lower()), 1)
    return today - dt.timedelta(days=n - 1), today


@_rule(rf"(?:近|最近|过去)\s*{_NUM}\s*个?月|(?:last|past)\s+{_EN_NUM}\s+months")
def _last_n_months(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    n = max(count_of((m[1] or m[2]).lower()), 1)
    return _month_start(today, n), _month_start(today) - dt.timedelta(days=1)


@_rule(r"上一?周|上一?个?星期|上个?礼拜|\blast (?:week|wk)\b|previous week|past week|prior week")
def _last_week(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _monday(today) - dt.timedelta(days=7)
    return start, start + dt.timedelta(days=6)


@_rule(r"本周|这周|这星期|这个?礼拜|this (?:week|wk)\b|week to date|\bwtd\b|so far this week")
def _this_week(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _monday(today), today


@_rule(r"上上个?月|the month before last")
def _month_before_last(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today, 2), _month_start(today, 1) - dt.timedelta(days=1)


@_rule(r"上个?月|last month|previous month")
def _last_month(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today, 1), _month_start(today) - dt.timedelta(days=1)


@_rule(r"本月|这个?月|当月|月初至今|月初到现在|this month|month to date|\bmtd\b|so far this month")
def _this_month(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today), today


@_rule(r"去年|last year|previous year")
def _last_year(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)


@_rule(r"今年|年初至今|年初到现在|this year|year to date|\bytd\b|so far this year")
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


#: Shopping festivals: their words and their (month, first day, last day), presale included.
_FESTIVALS = {
    (11, 1, 11): r"双十一|双11|singles'? day|double (?:11|eleven)|11\.11",
    (12, 1, 12): r"双十二|双12|double (?:12|twelve)|12\.12",
    (6, 1, 18): r"(?<![\d.])618(?!\d)|六一八|6\.18",
}
_YEAR_BEFORE = r"(?:(今年|去年|前年|this year'?s?|last year'?s?)|(\d{4})\s*年?)?\s*的?\s*"


@_rule(_YEAR_BEFORE + "(?:" + "|".join(f"({p})" for p in _FESTIVALS.values()) + ")")
def _festival(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    """双十一 (11-01..11-11), 双12, 618: the latest whose main day has come, or the year
    named before it ("去年双十一", "2024年618")."""
    month, first, last = next(days for i, days in enumerate(_FESTIVALS) if m[3 + i])
    year = _named_year(m[1], m[2], today)
    if year is None:
        year = today.year if today >= dt.date(today.year, month, last) else today.year - 1
    return dt.date(year, month, first), dt.date(year, month, last)


def _named_year(word: str | None, digits: str | None, today: dt.date) -> int | None:
    if digits:
        return int(digits)
    if not word:
        return None
    word = word.lower()
    back = 2 if word == "前年" else 1 if word.startswith(("去年", "last")) else 0
    return today.year - back


@_rule(_YEAR_BEFORE + r"(?:(上半年|first half|\bh1\b)|(下半年|second half|\bh2\b))")
def _half_year(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    """上半年 / 下半年 (H1, H2) of the year named, else of this year (the last one when
    this year's has not started)."""
    first_month = 1 if m[3] else 7
    year = _named_year(m[1], m[2], today)
    if year is None:
        year = today.year if dt.date(today.year, first_month, 1) <= today else today.year - 1
    first = dt.date(year, first_month, 1)
    last = _month(year, first_month + 5)[1]
    return first, min(last, today) if first <= today else last


_MONTH_WORD = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
               r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")  # fmt: skip


def _month_number(word: str) -> int:
    return [m[:3] for m in _MONTHS_EN].index(word[:3].lower()) + 1


def _latest_year(month: int, day: int, today: dt.date) -> int:
    """The year of the latest such day that is not after ``today``."""
    return today.year if (month, day) <= (today.month, today.day) else today.year - 1


@_rule(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?\s*(?:到|至|~|-|—)\s*"
       r"(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*[日号]")  # fmt: skip
def _month_day_range_zh(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    return _day_range(m[1], int(m[2]), int(m[3]), int(m[4] or m[2]), int(m[5]), today)


@_rule(rf"\b{_MONTH_WORD}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*(?:-|–|to|until|through|thru)\s*"
       rf"(?:{_MONTH_WORD}\.?\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}}))?")  # fmt: skip
def _month_day_range_en(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    first = _month_number(m[1])
    last = _month_number(m[3]) if m[3] else first
    return _day_range(m[5], first, int(m[2]), last, int(m[4]), today)


def _day_range(
    year: str | None, month: int, day: int, end_month: int, end_day: int, today: dt.date
) -> tuple[dt.date, dt.date] | None:
    start_year = int(year) if year else _latest_year(month, day, today)
    end_year = start_year + (end_month < month)
    try:
        return dt.date(start_year, month, day), dt.date(end_year, end_month, end_day)
    except ValueError:
        return None


_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4, "last": -1, "一": 1, "二": 2, "三": 3, "四": 4, "最后一": -1}  # fmt: skip


@_rule(rf"(first|1st|second|2nd|third|3rd|fourth|4th|last)\s+week\s+of\s+{_MONTH_WORD}\b|"
       r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:份)?\s*(?:的)?第?(一|二|三|四|最后一)"
       r"(?:周|个?星期)")  # fmt: skip
def _week_of_month(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    if m[1]:
        nth, month, year = _ORDINALS[m[1].lower()], _month_number(m[2]), None
    else:
        nth, month, year = _ORDINALS[m[5]], int(m[4]), int(m[3]) if m[3] else None
    if not 1 <= month <= 12:
        return None
    year = year or (today.year if month <= today.month else today.year - 1)
    first, last = _month(year, month)
    if nth > 0:  # the week (Monday to Sunday) holding the month's nth 7 days' first day
        monday = _monday(first + dt.timedelta(days=7 * (nth - 1)))
    else:
        monday = _monday(last)
    return max(monday, first), min(monday + dt.timedelta(days=6), last)


@_rule(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
def _month_day_zh(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    month, day = int(m[2]), int(m[3])
    year = int(m[1]) if m[1] else _latest_year(month, day, today)
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None
    return found, found


@_rule(rf"\b{_MONTH_WORD}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}}))?")
def _month_day_en(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    if m[1].lower() == "may" and not m[3]:
        before = m.string[: m.start()].rstrip().lower()
        if not before.endswith(("on", "of", "since", "from", "as of")):
            return None
    month, day = _month_number(m[1]), int(m[2])
    year = int(m[3]) if m[3] else _latest_year(month, day, today)
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None
    return found, found


@_rule(
    r"(?:(\d{4})\s*年?\s*|(今年|去年)\s*)?(?:\bq([1-4])\b|第?([一二三四1-4])季度)(?:\s*(\d{4}))?"
)
def _quarter(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    quarter = int(m[3]) if m[3] else {"一": 1, "二": 2, "三": 3, "四": 4}.get(m[4]) or int(m[4])
    start_month = 3 * (quarter - 1) + 1
    named = {"今年": today.year, "去年": today.year - 1}.get(m[2] or "")
    year = (
        int(m[1] or m[5] or 0)
        or named
        or (today.year if dt.date(today.year, start_month, 1) <= today else today.year - 1)
    )
    first = dt.date(year, start_month, 1)
    last = _month(year, start_month + 2)[1]
    return first, min(last, today) if first <= today else last


@_rule(r"(?:上|前)一?个?季度|last quarter|previous quarter")
def _last_quarter(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _month_start(today, (today.month - 1) % 3 + 3)
    return start, _month(start.year, start.month + 2)[1]


@_rule(r"本季度|这个?季度|this quarter|quarter to date")
def _this_quarter(_: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    return _month_start(today, (today.month - 1) % 3), today


@_rule(rf"(?:(\d{{4}})\s*年\s*)?(\d{{1,2}})\s*月(?:份)?(?!\d)|"
       rf"\b{_MONTH_WORD}\b(?:\s+(\d{{4}}))?")  # fmt: skip
def _named_month(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:
    if m[2]:
        month, year = int(m[2]), int(m[1]) if m[1] else None
    else:
        before = m.string[: m.start()].rstrip().lower()
        if m[3].lower() == "may" and not m[4] and not before.endswith(("in", "of", "during")):
            return None  # "May I see …" asks permission; "in May" names the month
        month, year = _month_number(m[3]), int(m[4]) if m[4] else None
    if not 1 <= month <= 12:
        return None
    if year is None:  # the latest such month that has started
        year = today.year if month <= today.month else today.year - 1
    first, last = _month(year, month)
    return first, min(last, today) if first <= today else last


@_rule(r"(?<![\d-])(20\d{2})\s*年(?!\s*\d{1,2}\s*月|\s*第)(?:全年|整年)?|"
       r"(?:in|for|during|of|year)\s+(20\d{2})(?![\d-])")  # fmt: skip
def _whole_year(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date]:
    year = int(m[1] or m[2])
    return dt.date(year, 1, 1), min(dt.date(year, 12, 31), today)


@_rule(_DATE)
def _one_day(m: re.Match[str], today: dt.date) -> tuple[dt.date, dt.date] | None:  # noqa: ARG001
    day = written_day(m[0])
    return (day, day) if day else None


def find_period(text: str, today: dt.date) -> Period | None:
    """The first period the text names, counted from ``today``; None when it names none.

    Examples:
        >>> find_period("上周抖音卖得最好的是哪个？", dt.date(2025, 12, 30))
        Period(start=datetime.date(2025, 12, 22), end=datetime.date(2025, 12, 28), words='上周')
        >>> find_period("revenue over the last 4 weeks", dt.date(2025, 12, 30)).start
        datetime.date(2025, 12, 1)
    """
    best: tuple[int, Period, int] | None = None
    for pattern, resolve in _RULES:
        for found in pattern.finditer(text):
            days = resolve(found, today)  # type: ignore[operator]
            if days is None:
                continue
            better = (
                best is None
                or found.start() < best[0]
                or (found.start() == best[0] and found.end() > best[2])
            )  # the earliest mention, and of two starting together the longer
            if better:
                best = (found.start(), Period(days[0], days[1], found[0]), found.end())
            break
    if best is None:
        return None
    start, period, end = best
    after, before = text[end:].lstrip(), text[:start].rstrip().lower()
    week_of = re.match(r"(?:那|这|当|所在的?)一?(?:周|星期)|week\b", after, re.IGNORECASE)
    if week_of or before.endswith("the week of"):
        monday = _monday(period.end)
        return Period(monday, monday + dt.timedelta(days=6), period.words)
    if re.match(r"当天|那天|当日|那一天", after):
        return Period(period.end, period.end, period.words)
    open_ended = re.search(r"\b(?:since|from)$", before) or re.match(
        r"(?:以来|至今|到现在|到今天|起至今)", after
    )
    if open_ended and not _RANGE.search(period.words):  # "from A to B" is already a range
        return Period(period.start, today, period.words)
    return period


def period_spans(text: str) -> list[tuple[int, int]]:
    """Where period words are in ``text`` (for replacing them by a placeholder)."""
    spans = []
    for pattern, _ in _RULES:
        spans.extend(m.span() for m in pattern.finditer(text))
    return spans
