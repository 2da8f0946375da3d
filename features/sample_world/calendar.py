"""The Chinese shopping calendar as demand multipliers and promotion windows.

Each event is a curve of traffic multipliers around an anchor date (Double 11 = Nov 11,
Spring Festival = the lunar new year, which moves between years), scaled per platform:
Double 11 is Tmall's festival, 618 JD's, and the Spring Festival stops couriers but fills
shops before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from features.schema.vocab import Platform

#: Lunar new year's day (春节) by year.
SPRING_FESTIVAL: dict[int, dt.date] = {
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}

P = Platform
_ONLINE = [p for p in Platform.channels() if p is not P.POS]


def _intensity(default: float, **per: float) -> dict[Platform, float]:
    return {p: per.get(p.value, default) for p in Platform.channels()}


@dataclass(frozen=True, slots=True)
class _Event:
    key: str
    curve: dict[int, float]  # day offset from the anchor -> raw traffic multiplier
    intensity: dict[Platform, float]
    promo: tuple[int, int] | None = None  # promotion window (offsets, inclusive)
    discount: tuple[float, float] = (0.1, 0.25)
    participation: float = 0.4


def _span(lo: int, hi: int, value: float) -> dict[int, float]:
    return {k: value for k in range(lo, hi + 1)}


_EVENTS: tuple[_Event, ...] = (
    _Event(  # anchor Nov 11; presale from Oct 20, first wave Oct 31-Nov 3, lull, peak
        "double11",
        {
            **_span(-22, -12, 1.15),
            -11: 2.3,
            -10: 2.0,
            -9: 1.6,
            -8: 1.3,
            **_span(-7, -2, 0.85),
            -1: 1.6,
            0: 7.5,
            1: 1.7,
            **_span(2, 5, 0.75),
        },
        _intensity(0.55, tmall=1.0, jd=0.9, douyin=0.75, pinduoduo=0.5, pos=0.12),
        promo=(-22, 0),
        discount=(0.15, 0.35),
        participation=0.6,
    ),
    _Event(  # anchor Jun 18
        "618",
        {
            -18: 1.9,
            -17: 1.5,
            -16: 1.3,
            **_span(-15, -3, 1.1),
            -2: 1.4,
            -1: 1.8,
            0: 4.2,
            1: 1.2,
            **_span(2, 5, 0.85),
        },
        _intensity(0.5, jd=1.0, tmall=0.85, douyin=0.65, pos=0.1),
        promo=(-18, 0),
        discount=(0.1, 0.3),
        participation=0.55,
    ),
    _Event(
        "double12",
        {-2: 1.2, -1: 1.25, 0: 2.6, 1: 1.1},
        _intensity(0.5, tmall=0.9, pos=0.05),
        promo=(-2, 0),
        discount=(0.1, 0.25),
    ),
    _Event(
        "womens_day",
        {-3: 1.3, -2: 1.3, -1: 1.35, 0: 1.9},
        _intensity(0.55, tmall=0.8, xiaohongshu=0.9, douyin=0.8, pos=0.5),
        promo=(-3, 0),
        discount=(0.1, 0.2),
        participation=0.3,
    ),
    _Event(
        "99",
        {-2: 1.15, -1: 1.2, 0: 1.7},
        _intensity(0.5, pinduoduo=0.7, douyin=0.6, pos=0.0),
        promo=(-2, 0),
        discount=(0.1, 0.2),
        participation=0.3,
    ),
    _Event("520", {-1: 1.15, 0: 1.3}, _intensity(0.6, pos=0.4)),
    _Event("national_day", _span(0, 6, 0.88), _intensity(1.0, pos=-2.5)),  # POS: +30 %
)

_SPRING_ONLINE = {
    **_span(-26, -12, 1.15),
    -9: 0.9,
    -8: 0.8,
    **_span(-7, -3, 0.68),
    **_span(-2, 5, 0.52),
    **_span(6, 8, 0.7),
    **_span(9, 12, 0.86),
}
_SPRING_POS = {**_span(-21, -3, 1.3), **_span(-1, 2, 0.25), **_span(3, 6, 0.8)}
_SPRING_PROMO = (-26, -12)  # 年货节

#: Event names written in promotions exports, per platform.
_EVENT_NAMES: dict[str, dict[Platform, str]] = {
    "double11": {
        P.TMALL: "天猫双11全球狂欢季",
        P.JD: "京东11.11全球热爱季",
        P.PINDUODUO: "拼多多双11百亿补贴",
        P.DOUYIN: "抖音双11好物节",
        P.KUAISHOU: "快手116品质购物节",
        P.XIAOHONGSHU: "小红书双11买手节",
        P.MINIPROGRAM: "官方商城双11特惠",
        P.POS: "门店双11会员日",
    },
    "618": {
        P.TMALL: "天猫618理想生活狂欢季",
        P.JD: "京东618年中大促",
        P.PINDUODUO: "拼多多618大促",
        P.DOUYIN: "抖音618好物节",
        P.KUAISHOU: "快手618购物节",
        P.XIAOHONGSHU: "小红书618",
        P.MINIPROGRAM: "官方商城618",
        P.POS: "门店618会员日",
    },
    "double12": {p: "双12年终盛典" for p in Platform.channels()},
    "womens_day": {p: "38女王节" for p in Platform.channels()},
    "99": {p: "99划算节" for p in Platform.channels()},
    "spring": {p: "年货节" for p in Platform.channels()},
}

_ANCHORS = {
    "double11": (11, 11),
    "618": (6, 18),
    "double12": (12, 12),
    "womens_day": (3, 8),
    "99": (9, 9),
    "520": (5, 20),
    "national_day": (10, 1),
}


@dataclass(frozen=True, slots=True)
class PromoWindow:
    """A calendar promotion: who runs it, when (day indices, inclusive) and how deep."""

    key: str
    year: int
    platform: Platform
    name: str
    first_day: int
    last_day: int
    discount: tuple[float, float]
    participation: float


def event_traffic(start: dt.date, days: int, platforms: list[Platform]) -> np.ndarray:
    """Traffic multipliers ``[platform, day]`` from the shopping calendar (1.0 = ordinary)."""
    out = np.ones((len(platforms), days), dtype=np.float32)
    for year in range(start.year - 1, start.year + days // 365 + 2):
        for ev in _EVENTS:
            month, day = _ANCHORS[ev.key]
            _paint(out, platforms, start, dt.date(year, month, day), ev.curve, ev.intensity)
        if year in SPRING_FESTIVAL:
            anchor = SPRING_FESTIVAL[year]
            online = {p: (1.0 if p is not P.POS else 0.0) for p in platforms}
            pos = {p: (1.0 if p is P.POS else 0.0) for p in platforms}
            _paint(out, platforms, start, anchor, _SPRING_ONLINE, online)
            _paint(out, platforms, start, anchor, _SPRING_POS, pos)
    return out


def promo_windows(start: dt.date, days: int, platforms: list[Platform]) -> list[PromoWindow]:
    """Every calendar promotion window that overlaps the world's days."""
    windows = []
    for year in range(start.year - 1, start.year + days // 365 + 2):
        anchors: list[tuple[str, dt.date, tuple[int, int], tuple[float, float], float]] = []
        for ev in _EVENTS:
            if ev.promo is not None:
                month, day = _ANCHORS[ev.key]
                anchor = dt.date(year, month, day)
                anchors.append((ev.key, anchor, ev.promo, ev.discount, ev.participation))
        if year in SPRING_FESTIVAL:
            anchors.append(("spring", SPRING_FESTIVAL[year], _SPRING_PROMO, (0.1, 0.2), 0.35))
        for key, anchor, (lo, hi), discount, participation in anchors:
            first = (anchor - start).days + lo
            last = (anchor - start).days + hi
            if last < 0 or first >= days:
                continue
            for p in platforms:
                if p is P.POS and key not in ("double11", "618", "spring"):
                    continue
                windows.append(
                    PromoWindow(
                        key,
                        year,
                        p,
                        f"{year}{_EVENT_NAMES[key][p]}",
                        max(first, 0),
                        min(last, days - 1),
                        discount,
                        participation,
                    )
                )
    return windows


def peak_days(start: dt.date, days: int) -> np.ndarray:
    """Day indices of the big midnight-launch days (11.11 and 6.18), when many orders are
    placed in the first hour."""
    out = []
    for year in range(start.year, start.year + days // 365 + 2):
        for month, day in ((11, 11), (6, 18)):
            idx = (dt.date(year, month, day) - start).days
            if 0 <= idx < days:
                out.append(idx)
    return np.array(out, dtype=np.int64)


def annual_season(start: dt.date, days: int, peak_doy: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Smooth yearly seasonality ``[n, day]``: ``1 + amp·cos(2π(doy − peak)/365)``,
    normalised to mean 1 over a year."""
    doy = np.array(
        [(start + dt.timedelta(days=d)).timetuple().tm_yday for d in range(days)], dtype=np.float32
    )
    phase = 2 * np.pi * (doy[None, :] - peak_doy[:, None].astype(np.float32)) / 365.0
    return (1.0 + amp[:, None].astype(np.float32) * np.cos(phase)).astype(np.float32)


def _paint(
    out: np.ndarray,
    platforms: list[Platform],
    start: dt.date,
    anchor: dt.date,
    curve: dict[int, float],
    intensity: dict[Platform, float],
) -> None:
    base = (anchor - start).days
    for offset, raw in curve.items():
        idx = base + offset
        if 0 <= idx < out.shape[1]:
            for i, p in enumerate(platforms):
                out[i, idx] *= max(0.05, 1.0 + intensity.get(p, 0.0) * (raw - 1.0))
