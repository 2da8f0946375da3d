"""Chinese resident id numbers (居民身份证号码, GB 11643): the check digit, and the 18-digit
form of an old 15-digit number.

An 18-digit number is a 6-digit area code, the birth date as yyyymmdd, a 3-digit sequence
and an ISO 7064 MOD 11-2 check character (a digit or X). The 15-digit numbers issued before
1999 have the birth date as yymmdd and no check character; the 18-digit number of the same
person is the 15-digit one with "19" before its year and the check character after it.

Examples:
    >>> check_char("11010519491231002")
    'X'
    >>> eighteen_digits("110105491231002")
    '11010519491231002X'
"""

from __future__ import annotations

import datetime as dt
import re

from features.errors import InvalidParameterError

__all__ = ["check_char", "eighteen_digits"]

#: ISO 7064 MOD 11-2 weights of the first 17 digits (2^(17-i) mod 11).
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: The check character, indexed by the weighted sum mod 11.
_CHECK_CHARS = "10X98765432"
_FIFTEEN = re.compile(r"[1-9]\d{5}(\d{2})(\d{2})(\d{2})\d{3}")


def check_char(first17: str) -> str:
    """The check character (``0``–``9`` or ``X``) of an 18-digit number's first 17 digits.

    Raises:
        InvalidParameterError: ``first17`` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise InvalidParameterError(
            f"The `first17` parameter of `check_char` must be 17 digits. Got {first17!r} instead."
        )
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def eighteen_digits(number: str) -> str | None:
    """The 18-digit form of a 15-digit number, or None when ``number`` is not one (not 15
    digits, an area code starting with 0, or no real date as yymmdd).

    Every 15-digit number was issued with the year's "19" left out (numbers of people born
    before 1900 are too rare to tell apart), so the 18-digit form is fixed by the digits.
    """
    match = _FIFTEEN.fullmatch(number) if number.isascii() else None
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        dt.date(1900 + year, month, day)
    except ValueError:
        return None
    first17 = f"{number[:6]}19{number[6:]}"
    return first17 + check_char(first17)
