"""Text helpers shared by the normalisers: characters that show nothing, numbers as a
spreadsheet writes them, and traditional → simplified Chinese by OpenCC.

OpenCC loads its dictionaries on first use, never at import time.
"""

from __future__ import annotations

import decimal
import re
from functools import cache
from typing import Any

#: One CJK unified ideograph (basic block, extension A, compatibility ideographs).
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

#: A character that shows nothing: soft hyphen, zero-width space, non-joiner and joiner,
#: left-to-right and right-to-left marks, word joiner, the invisible operators, and the BOM
#: (zero-width no-break space). Pasted from a chat app into a name, a phone or a message,
#: they make equal text differ ("投\u200b诉" is not "投诉").
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def visible_text(text: str) -> str:
    r"""``text`` without the characters that show nothing (:data:`INVISIBLE`).

    Examples:
        >>> visible_text("投\u200b诉\ufeff")
        '投诉'
    """
    return INVISIBLE.sub("", text)


#: A number Excel wrote in scientific notation, e.g. ``1.3812345678E10`` or ``1.38123E+10``.
SCIENTIFIC = re.compile(r"\+?\d+(?:\.\d*)?[eE][+-]?\d+")
#: A whole number written as a float, e.g. ``13812345678.0`` (a float column saved as CSV).
FLOAT_TEXT = re.compile(r"(\+?\d+)\.0+")
#: Either of the two ways a spreadsheet writes a phone it took for a number.
EXCEL_NUMBER = re.compile(f"{SCIENTIFIC.pattern}|{FLOAT_TEXT.pattern}")


def whole_number(text: str) -> str | None:
    """The digits of a number written as a float or in scientific notation, or None when
    the text does not hold them all (a cut mantissa) or the number is not whole.

    Examples:
        >>> whole_number("1.3812345678E10"), whole_number("13812345678.0")
        ('13812345678', '13812345678')
        >>> whole_number("1.38123E+10") is None  # Excel kept six digits of eleven
        True
    """
    sign = "+" if text.startswith("+") else ""
    plain = FLOAT_TEXT.fullmatch(text)
    if plain:
        return plain.group(1)
    number = decimal.Decimal(text.lstrip("+"))
    exponent = number.as_tuple().exponent
    # a positive exponent left after the mantissa's last digit means digits Excel dropped;
    # no phone has 20 digits (E.164 allows 15), and a huge one would not even print
    if not isinstance(exponent, int) or exponent > 0 or number.adjusted() >= 20:
        return None
    if number != number.to_integral_value():
        return None
    return sign + str(int(number))


#: The ways a spreadsheet user keeps a long number as text: ``="13812345678"`` (a formula
#: that returns the text), and a leading apostrophe or backtick (``'310101199001051234``).
_GUARD = re.compile(r'="(.*)"|[\'`](.*)', re.DOTALL)


def unguarded(text: str) -> str:
    """``text`` without the guard that kept it as text in a spreadsheet, stripped.

    Only for fields no value of which starts with a quote (phones, e-mails, id numbers):
    there any such wrapper is the guard, never part of the value. Kept, the same phone with
    and without it would be two phones.

    Examples:
        >>> unguarded('="13812345678"'), unguarded("'310101199001051234"), unguarded("`a@qq.com")
        ('13812345678', '310101199001051234', 'a@qq.com')
    """
    match = _GUARD.fullmatch(text)
    if match is None:
        return text
    inside = match.group(1) if match.group(1) is not None else match.group(2)
    return inside.strip()


def counted(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,200 rows``: a count and its noun, in its number.

    Examples:
        >>> counted(1, "row"), counted(1200, "row")
        ('1 row', '1,200 rows')
    """
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@cache
def opencc(config: str) -> Any:
    """The OpenCC converter of ``config`` (``t2s``, ``s2t``), built once."""
    from opencc import OpenCC

    return OpenCC(config)


class _ToSimplified(dict[int, str]):
    """A ``str.translate`` table filled on first sight of each character, by OpenCC t2s.

    Per character, because names, addresses and chat slang need no phrase rules, and
    ``translate`` runs in C once a character is known.
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        self[code] = opencc("t2s").convert(char) if CJK.match(char) else char
        return self[code]


_TO_SIMPLIFIED = _ToSimplified()


def to_simplified(text: str) -> str:
    """``text`` with every traditional character replaced by its simplified form.

    Examples:
        >>> to_simplified("賴雅芳 說話")
        '赖雅芳 说话'
    """
    return text.translate(_TO_SIMPLIFIED)
