"""Chinese text helpers shared by the normalisers: traditional → simplified by OpenCC.

OpenCC loads its dictionaries on first use, never at import time.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

#: One CJK unified ideograph (basic block, extension A, compatibility ideographs).
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


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
