"""Checks the views share: platform names, SKUs, warehouses, dates and thresholds.

Every check fails loudly with the parameter, the function, what was given and how to fix it,
so a caller (a CLI user or an LLM agent) can correct the call without reading the code.
"""

from __future__ import annotations

import datetime as dt
import logging
import numbers
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from features.errors import InvalidParameterError, UnknownEntityError, UnknownPlatformError
from features.periods import written_day
from features.schema.vocab import Platform, channel_named
from features.store import Store

logger = logging.getLogger(__name__)

_SHOWN = 5  # unknown names listed in a message before "…"


def _items(value: Any, *, param: str, func: str, what: str) -> list[Any] | None:
    """One value or an iterable of values as a list; None stays None (= all).

    Raises:
        InvalidParameterError: an empty list.
    """
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise InvalidParameterError(
            f"The `{param}` parameter of `{func}` is empty. Name at least one {what}, "
            "or pass None for all of them."
        )
    return items


def check_platforms(value: Any, *, func: str) -> list[str] | None:
    """The platform values named by ``value`` (None = every platform).

    Accepts a :class:`Platform`, its value, its Chinese or English name ("天猫", "Taobao"),
    or an iterable of those.

    Raises:
        UnknownPlatformError: a name is not a sales channel.
        InvalidParameterError: an empty list.
    """
    items = _items(value, param="platforms", func=func, what="platform")
    if items is None:
        return None
    found, unknown = [], []
    for item in items:
        channel = channel_named(str(item.value if isinstance(item, Platform) else item))
        if channel is not None:
            found.append(channel.value)
        else:
            unknown.append(str(item))
    if unknown:
        known = ", ".join(p.value for p in Platform.channels())
        raise UnknownPlatformError(
            f"The `platforms` parameter of `{func}` must name sales channels. "
            f"Got {_show(unknown)} instead; use one of: {known}."
        )
    return sorted(set(found))


def check_entities(
    store: Store, value: Any, *, kind: str, param: str, func: str, sources: Iterable[str]
) -> list[str] | None:
    """The ids named by ``value`` (None = all), each known to at least one of ``sources``.

    Args:
        store: the store to look them up in.
        value: one id or an iterable of ids.
        kind: what they are, for the message ("SKU", "warehouse").
        param: the parameter's name.
        func: the calling view.
        sources: ``table.column`` names in which an id may appear.

    Raises:
        UnknownEntityError: some ids appear nowhere in the store.
        InvalidParameterError: an empty list.
    """
    items = _items(value, param=param, func=func, what=kind)
    if items is None:
        return None
    wanted = sorted({str(v).strip() for v in items})
    union = " UNION ".join(
        f"SELECT {col} AS id FROM {table} WHERE list_contains($1, {col})"
        for table, col in (src.split(".") for src in sources)
    )
    known = {row[0] for row in store.sql(union, [wanted]).fetchall()}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UnknownEntityError(
            f"The `{param}` parameter of `{func}` names {kind}s the store does not know: "
            f"{_show(unknown)}. Check the ids (internal {kind} codes, as in the ERP master "
            "data), or ingest the ERP export that declares them."
        )
    return wanted


def check_date(value: Any, *, param: str, func: str) -> dt.date | None:
    """``value`` (a date, datetime, Timestamp or a string such as ``2024-06-18``,
    ``2024/06/18`` or ``2024年6月18日``) as a date; None stays None.

    Raises:
        InvalidParameterError: the value is not a date.
    """
    if value is None:
        return None
    if isinstance(value, str) and (day := written_day(value.strip())) is not None:
        return day
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\s*", value):
        raise InvalidParameterError(  # 11/12/2025: November or December?
            f"The `{param}` parameter of `{func}` must be a date such as '2024-06-18' "
            f"(also 2024/06/18 or 2024年6月18日), year first. Got {value!r} instead: its day "
            "and month cannot be told apart."
        )
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):  # pandas' DateParseError is a ValueError
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidParameterError(
            f"The `{param}` parameter of `{func}` must be a date such as '2024-06-18' "
            f"(also 2024/06/18 or 2024年6月18日). Got {value!r} instead."
        )
    return stamp.date()


def check_period(
    start: dt.date | None, end: dt.date | None, *, func: str
) -> tuple[dt.date | None, dt.date | None]:
    """``start`` and ``end`` in order.

    Raises:
        InvalidParameterError: ``start`` is after ``end``.
    """
    if start is not None and end is not None and start > end:
        raise InvalidParameterError(
            f"The `start` parameter of `{func}` must be on or before `end`. Got "
            f"start={start.isoformat()} and end={end.isoformat()} instead; swap them."
        )
    return start, end


def check_number(value: Any, *, param: str, func: str, low: float, integer: bool = False) -> float:
    """``value`` as a number ≥ ``low`` (a whole number when ``integer``).

    Raises:
        InvalidParameterError: not a number, not whole, or below ``low``.
    """
    kind = "a whole number" if integer else "a number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or pd.isna(value) or value < low:
        raise InvalidParameterError(
            f"The `{param}` parameter of `{func}` must be {kind} >= {low:g}. Got {value!r} instead."
        )
    return float(value)


def monday(day: dt.date) -> dt.date:
    """The Monday that starts ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def _show(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")
