"""Chinese resident id numbers: the MOD 11-2 check character and the 15 → 18-digit form."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.errors import InvalidParameterError
from features.resident_id import check_char, eighteen_digits


@pytest.mark.parametrize(
    "number",
    # GB 11643's own example, and a number whose check character is a digit
    ["11010519491231002X", "440524188001010014", "310101199001059000"],
)
def test_the_check_character_of_valid_numbers(number: str) -> None:
    assert check_char(number[:17]) == number[17]


def test_a_check_of_anything_but_17_digits_says_what_it_needs() -> None:
    for bad in ("1101051949123100", "1101051949123100X", "１１０１０５１９４９１２３１００２"):
        with pytest.raises(InvalidParameterError, match="must be 17 digits"):
            check_char(bad)


def test_a_15_digit_number_becomes_the_18_digit_number_of_the_same_person() -> None:
    assert eighteen_digits("110105491231002") == "11010519491231002X"
    assert eighteen_digits("310101900105123") == "310101199001051236"


@pytest.mark.parametrize(
    "text",
    ["11010549123100", "1101054912310021", "11010519491231002X", "110105491331002",
     "110105490230002", "010105491231002", "11010549123100X", "１１０１０５４９１２３１００２"],
)  # fmt: skip
def test_what_is_not_a_15_digit_number_has_no_18_digit_form(text: str) -> None:
    # wrong length, month 13, 30 February, an area code starting with 0, a letter, full width
    assert eighteen_digits(text) is None


@given(
    area=st.integers(110000, 829999),
    born=st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)),
    sequence=st.integers(0, 999),
    at=st.integers(0, 16),
    shift=st.integers(1, 9),
)
def test_the_18_digit_form_is_valid_and_any_one_digit_typo_breaks_its_check(
    area: int, born: dt.date, sequence: int, at: int, shift: int
) -> None:
    old = f"{area}{born:%y%m%d}{sequence:03d}"
    new = eighteen_digits(old)
    assert new is not None and new[:17] == f"{area}{born:%Y%m%d}{sequence:03d}"
    assert check_char(new[:17]) == new[17]
    typo = new[:at] + str((int(new[at]) + shift) % 10) + new[at + 1 : 17]
    assert check_char(typo) != new[17]
