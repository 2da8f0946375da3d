"""Text helpers shared by the normalisers: characters that show nothing, simplified Chinese."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.text import INVISIBLE, to_simplified, visible_text

# the characters that show nothing, listed by hand: soft hyphen, U+200B–U+200F, U+2060–U+2064,
# the BOM
INVISIBLE_CHARS = ["\u00ad", *map(chr, range(0x200B, 0x2010)), *map(chr, range(0x2060, 0x2065)),
                   "\ufeff"]  # fmt: skip


@pytest.mark.parametrize("char", INVISIBLE_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_visible_text_drops_each_character_that_shows_nothing(char):
    assert visible_text(f"{char}投{char}{char}诉{char}") == "投诉"


@pytest.mark.parametrize(
    "text",
    [
        "a b",  # a space
        "a\u00a0b",  # a no-break space shows as a space
        "a\u3000b",  # ideographic space
        "a\tb\nc",
        "é",
        "订单#",
    ],
)
def test_visible_text_keeps_what_shows(text):
    assert visible_text(text) == text


def test_a_joiner_inside_an_emoji_goes_and_the_emoji_stays():
    assert visible_text("👨\u200d👩") == "👨👩"


def test_the_invisible_pattern_is_exactly_those_characters():
    every = "".join(map(chr, range(0x10000)))
    assert INVISIBLE.findall(every) == INVISIBLE_CHARS


@given(st.text(max_size=40))
def test_visible_text_is_idempotent_and_never_adds(text):
    once = visible_text(text)
    assert visible_text(once) == once
    assert len(once) <= len(text)


def test_to_simplified_docstring_example():
    assert to_simplified("賴雅芳 說話") == "赖雅芳 说话"
