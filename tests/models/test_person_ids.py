"""Person ids carried across resolutions (:func:`models.identity.carry_person_ids`): marketing
keeps them in its CRM, so a person keeps its id when the model would rename it."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import ContractViolation
from models.person_ids import carry_person_ids


def resolved(*persons: str) -> pd.DataFrame:
    """Accounts as the model gives them: each person a string of one-letter accounts, named
    after its smallest account."""
    return pd.DataFrame([{"unique_id": a, "person_id": min(p)} for p in persons for a in p])


def previous(**persons: str) -> dict[str, str]:
    """account → person id of a previous resolution: ``id=accounts``."""
    return {a: pid for pid, accounts in persons.items() for a in accounts}


def ids(result) -> dict[str, str]:
    return dict(zip(result.accounts["unique_id"], result.accounts["person_id"], strict=True))


def test_unchanged_persons_keep_their_ids():
    out = carry_person_ids(resolved("ab", "cde", "f"), previous(a="ab", c="cde", f="f"))
    assert ids(out) == previous(a="ab", c="cde", f="f")
    assert out.counts == {"kept": 3, "new": 0, "merged": 0, "split": 0, "dropped": 0}
    assert out.former.empty


def test_a_person_gaining_a_smaller_account_keeps_its_id():
    # the audit's case: tmall:tb2995919455 gained pinduoduo:7007219071
    accounts = pd.DataFrame(
        {
            "unique_id": ["pinduoduo:7007219071", "tmall:tb2995919455", "tmall:tb1"],
            "person_id": ["pinduoduo:7007219071", "pinduoduo:7007219071", "tmall:tb1"],
            "cluster_size": [2, 2, 1],
        }
    )
    before = {"tmall:tb2995919455": "tmall:tb2995919455", "tmall:tb1": "tmall:tb1"}
    out = carry_person_ids(accounts, before)
    assert out.accounts["person_id"].tolist() == [
        "tmall:tb2995919455", "tmall:tb2995919455", "tmall:tb1"
    ]  # fmt: skip
    assert out.accounts["cluster_size"].tolist() == [2, 2, 1]  # other columns untouched
    assert out.person_ids.to_dict() == {
        "pinduoduo:7007219071": "tmall:tb2995919455", "tmall:tb1": "tmall:tb1"
    }  # fmt: skip
    assert out.counts["kept"] == 2 and out.counts["new"] == 0


def test_a_merge_keeps_the_larger_persons_id_and_lists_the_other():
    out = carry_person_ids(resolved("abcde"), previous(a="ab", c="cde"))
    assert set(ids(out).values()) == {"c"}
    assert out.former.to_dict() == {"c": ["a"]}
    assert out.counts == {"kept": 1, "new": 0, "merged": 1, "split": 0, "dropped": 0}


def test_a_merge_of_equal_persons_keeps_the_smallest_id():
    out = carry_person_ids(resolved("abcd"), previous(c="cd", a="ab"))
    assert set(ids(out).values()) == {"a"} and out.former.to_dict() == {"a": ["c"]}


def test_a_split_gives_the_id_to_the_larger_part_and_a_free_one_to_the_other():
    out = carry_person_ids(resolved("ab", "cde"), previous(a="abcde"))
    assert ids(out) == {"a": "b", "b": "b", "c": "a", "d": "a", "e": "a"}
    assert out.counts == {"kept": 1, "new": 1, "merged": 0, "split": 1, "dropped": 0}


def test_a_split_where_the_smaller_part_holds_the_id_and_nothing_else_is_free():
    # old a = {a, b, c}; now {b, c} keeps "a", and {a} may not be called "a" again
    out = carry_person_ids(resolved("bc", "a"), previous(a="abc"))
    assert ids(out) == {"b": "a", "c": "a", "a": "a~2"}
    assert out.counts == {"kept": 1, "new": 1, "merged": 0, "split": 1, "dropped": 0}


def test_a_split_in_two_equal_parts_gives_the_id_to_the_part_holding_its_account():
    out = carry_person_ids(resolved("ab", "cd"), previous(c="abcd"))
    assert ids(out) == {"a": "a", "b": "a", "c": "c", "d": "c"}


def test_new_persons_take_the_models_id_unless_a_previous_person_had_it():
    # w, x, y, z are new accounts
    out = carry_person_ids(resolved("xy", "cd", "wz"), previous(c="c", d="d"))
    assert ids(out) == {"x": "x", "y": "x", "c": "c", "d": "c", "w": "w", "z": "w"}
    assert out.counts == {"kept": 1, "new": 2, "merged": 1, "split": 0, "dropped": 0}
    # "e" names the person of a and b: the new account e must be someone else
    taken = carry_person_ids(resolved("ab", "e"), previous(e="ab"))
    assert ids(taken) == {"a": "e", "b": "e", "e": "e~2"}
    # a free account id of its own before a suffix
    other = carry_person_ids(resolved("ab", "ef"), previous(e="ab"))
    assert ids(other) == {"a": "e", "b": "e", "e": "f", "f": "f"}


def test_empty_previous_keeps_the_models_ids():
    accounts = resolved("ab", "cde")
    for before in ({}, pd.Series(dtype=object)):
        out = carry_person_ids(accounts, before)
        assert out.accounts.equals(accounts)
        assert out.counts == {"kept": 0, "new": 2, "merged": 0, "split": 0, "dropped": 0}


def test_previous_persons_whose_accounts_are_gone_are_counted_as_dropped():
    out = carry_person_ids(resolved("ab"), previous(a="ab", q="q"))
    assert out.counts["dropped"] == 1 and ids(out) == {"a": "a", "b": "a"}


def test_an_id_retired_by_an_earlier_resolution_is_never_given_again():
    # run 1: a = {a, b}, c = {c, d}; run 2 merged them into c and retired "a"; now run 3
    # splits {a} off again: it may not be called "a", which the CRM knows as c's old id
    out = carry_person_ids(resolved("a", "bcd"), previous(c="abcd"), retired=["a"])
    assert ids(out) == {"a": "a~2", "b": "c", "c": "c", "d": "c"}
    assert out.counts == {"kept": 1, "new": 1, "merged": 0, "split": 1, "dropped": 0}
    # without the history the old id would name the split-off account again
    assert ids(carry_person_ids(resolved("a", "bcd"), previous(c="abcd")))["a"] == "a"


def test_accounts_listed_twice_are_refused_with_the_fix():
    with pytest.raises(ContractViolation, match="listed more than once.*Drop the repeated"):
        carry_person_ids(resolved("ab", "b"), {})
    with pytest.raises(ContractViolation, match="person_id"):
        carry_person_ids(pd.DataFrame({"unique_id": ["a"]}), {})


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.integers(0, 5), min_size=1, max_size=12),
    after=st.lists(st.integers(0, 5), min_size=12, max_size=12),
    present=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_ids_are_unique_and_no_previous_id_names_someone_else(before, after, present):
    names = [f"m{i:02d}" for i in range(12)]
    old = pd.DataFrame({"unique_id": names[: len(before)], "p": before})
    old_ids = old.groupby("p")["unique_id"].transform("min")
    before_ids = dict(zip(old["unique_id"], old_ids, strict=True))
    new = pd.DataFrame({"unique_id": names, "p": after})[present]
    if new.empty:
        return
    new["person_id"] = new.groupby("p")["unique_id"].transform("min")
    out = carry_person_ids(new[["unique_id", "person_id"]], before_ids)
    carried = out.accounts.assign(model=new["person_id"].to_numpy())
    # the same persons, renamed one to one
    assert carried.groupby("model")["person_id"].nunique().max() == 1
    assert carried.groupby("person_id")["model"].nunique().max() == 1
    assert len(out.person_ids) == out.counts["kept"] + out.counts["new"]
    old_persons = set(before_ids.values())
    assert out.counts["kept"] + out.counts["merged"] + out.counts["dropped"] == len(old_persons)
    # a previous id is a person's id or a former id, never both, and only once
    retired = [pid for former in out.former for pid in former]
    assert len(retired) == len(set(retired)) and not set(retired) & set(out.person_ids)
    assert (set(out.person_ids) & old_persons) | set(retired) <= old_persons
    assert len([p for p in out.person_ids if p in old_persons]) == out.counts["kept"]
    # deterministic, whatever the row order
    again = carry_person_ids(new[["unique_id", "person_id"]].iloc[::-1], before_ids)
    assert ids(again) == ids(out)
