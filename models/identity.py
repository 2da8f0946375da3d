"""Member identity resolution: splink's Fellegi–Sunter model over normalised member records.

:class:`IdentityResolver` takes the normalised frame of :func:`features.identity.normalise_members`
(one row per platform account) and learns, without labels, how much each kind of agreement
says about two accounts being one person:

* **u** (how often two *different* people agree) by random sampling of pairs;
* **m** (how often the *same* person agrees) by expectation maximisation over several blocking
  passes, each of which fixes some fields so the others can be learnt;
* the prior (the chance two random accounts are one person) first from deterministic rules
  with an assumed recall, then from the model's own expected number of matches.

The comparisons, blocking rules and thresholds are one typed, versioned object
(:class:`IdentityConfig`) and follow the columns the data has: a member list with only names
and birthdays gets name and birthday comparisons, nothing else. Accounts are clustered into
persons by the connected components of the pairs at or above ``threshold``.

The fitted model keeps only plain data (splink's model dictionary and the term-frequency
tables), so it pickles and can be served; splink runs on a private in-memory DuckDB each
time. Nothing here reads or writes files, except that DuckDB spills to a temporary folder
when a long list passes ``IdentityConfig.duckdb_memory_gb``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import logging
import math
import os
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Self

import numpy as np
import pandas as pd

from features.errors import (
    ContractViolation,
    InvalidParameterError,
    NotFittedError,
    UnknownEntityError,
)
from features.identity import contact_email, contact_phone, full_chinese_name

logger = logging.getLogger(__name__)

#: Registry name of the identity model.
REGISTERED_NAME = "butler-identity"

#: Channels in the order their member data is trusted when records disagree (survivorship).
TRUST_ORDER: tuple[str, ...] = (
    "pos",
    "miniprogram",
    "tmall",
    "jd",
    "douyin",
    "kuaishou",
    "xiaohongshu",
    "pinduoduo",
)

#: Fields a golden record carries (first non-null by survivorship rules).
GOLDEN_FIELDS: tuple[str, ...] = (
    "full_name",
    "phone",
    "email",
    "birth_date",
    "gender",
    "province",
    "city",
    "district",
    "address_line",
)


#: The thresholds ``IdentityConfig(threshold="auto")`` chooses from: 0.5, 0.525 … 0.975.
AUTO_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.025 * i, 3) for i in range(20))


def _is_threshold(value: object) -> bool:
    """A probability in (0, 1), or ``"auto"``."""
    if isinstance(value, str):
        return value == "auto"
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityConfig:
    """Settings of the identity model (logged with every training run).

    Attributes:
        version: version of these settings; change it when a comparison or rule changes.
        threshold: match probability at or above which two accounts are one person, or
            ``"auto"`` (the default): chosen for each list resolved, without labels, as the
            candidate of :data:`AUTO_THRESHOLDS` whose persons have the highest expected
            pairwise F1 under the model's own probabilities (:func:`choose_threshold`).
        one_account_per_platform: a person has at most one account on each platform (or
            source system, the members' ``platform``): links are taken strongest first, and
            one that would put two accounts of the same platform into one person is left
            out, so a chain through two namesakes on one platform cannot join them.
            Accounts without a platform are never kept apart by it.
        min_group_probability: two persons are joined only when the pairs between their
            accounts that the model compared average at least this match probability, the
            joining link included: one strong link does not pull in accounts the model
            scored as someone else. Pairs compared but scored below ``keep_probability``
            count as 0; pairs never compared (no blocking key shared) do not count
            (since 2026.11.8; before, only the kept pairs counted). 0 = every link above
            the threshold joins (connected components, as splink clusters). Chosen on the
            labelled lists and a million drawn members: 0.3 and 0.4 did best on the lists,
            0.4 and above cost recall on the million (its probabilities run lower), 0.6
            split HK's people.
        name_similarity: Jaro–Winkler thresholds of the fuzzy name levels (high, low).
        u_max_pairs: random pairs sampled to estimate u.
        prior_recall: assumed recall of the deterministic rules that estimate the prior.
        em_max_iterations: cap on the iterations of each EM pass.
        keep_probability: pairs scored below this are not returned by ``predict`` (they
            can never form a cluster at a threshold above it).
        prior_iterations: rounds of re-estimating the prior from the model's expected
            matches (0 keeps the deterministic rules' estimate).
        max_pairs_per_record: budget of candidate pairs per record; prediction blocking
            rules that would pass it are left out (see ``IdentityResolver.blocking_rules_``).
        em_max_pairs: pairs an EM pass is trained on at most; a pass that would block more
            (same birth date on a million members: 45 M) runs on a random sample of the
            records that blocks about this many.
        pairs_per_chunk: candidate pairs scored in one go by ``predict``; more are scored in
            chunks of the records, so memory stays flat however long the list.
        duckdb_memory_gb: memory splink's DuckDB may use; beyond it, DuckDB spills to a
            temporary folder.
        seed: seed of the u sampling and of the EM samples.
        birth_gap_years: two accounts whose birth dates are at least this many years apart
            (and more than one typed digit apart) and whose given names are unalike are two
            people, whatever else they share: no link joins their persons. Relatives who
            share a phone and a family name (a mother and her daughter) otherwise score as
            one person. None = no such rule.
    """

    # 2026.11.10: the normalised inputs changed (a phone cell with two numbers or a note
    # gives its first mobile, spreadsheet text guards are read through, masked e-mails and
    # placeholder birth dates are missing, gender 1/2 is read)
    # 2026.11.11: a phone cell with two numbers and only whitespace between them gives its
    # first mobile; a 15-digit resident id number is compared in its 18-digit form
    version: str = "2026.11.11"
    birth_gap_years: int | None = 10
    threshold: float | str = "auto"
    one_account_per_platform: bool = True
    min_group_probability: float = 0.3
    name_similarity: tuple[float, float] = (0.92, 0.80)
    u_max_pairs: float = 2e6
    prior_recall: float = 0.7
    em_max_iterations: int = 25
    keep_probability: float = 0.01
    prior_iterations: int = 5
    max_pairs_per_record: float = 100.0
    em_max_pairs: float = 5e6
    pairs_per_chunk: float = 2e7
    duckdb_memory_gb: float = 2.5
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(param: str, rule: str, got: Any) -> InvalidParameterError:
            return InvalidParameterError(
                f"The `{param}` parameter of `IdentityConfig` must be {rule}. Got {got!r} instead."
            )

        if not _is_threshold(self.threshold):
            raise bad("threshold", "a probability in (0, 1) or 'auto'", self.threshold)
        high, low = self.name_similarity
        if not 0 < low <= high < 1:
            raise bad(
                "name_similarity", "(high, low) with 0 < low ≤ high < 1", self.name_similarity
            )
        if not 0 <= self.min_group_probability < 1:
            raise bad("min_group_probability", "in [0, 1)", self.min_group_probability)
        if self.u_max_pairs < 1e3:
            raise bad("u_max_pairs", "≥ 1,000", self.u_max_pairs)
        if not 0 < self.prior_recall <= 1:
            raise bad("prior_recall", "in (0, 1]", self.prior_recall)
        if self.max_pairs_per_record < 1:
            raise bad("max_pairs_per_record", "≥ 1", self.max_pairs_per_record)
        if self.duckdb_memory_gb < 0.25:
            raise bad("duckdb_memory_gb", "≥ 0.25", self.duckdb_memory_gb)
        if self.birth_gap_years is not None and self.birth_gap_years < 1:
            raise bad("birth_gap_years", "≥ 1 year, or None", self.birth_gap_years)
        for name in ("em_max_pairs", "pairs_per_chunk"):
            if getattr(self, name) < 1e4:
                raise bad(name, "≥ 10,000", getattr(self, name))
        lowest = min(AUTO_THRESHOLDS) if self.threshold == "auto" else self.threshold
        if not 0 <= self.keep_probability < lowest:
            raise bad(
                "keep_probability", "in [0, threshold) (0.5 with 'auto')", self.keep_probability
            )

    def to_params(self) -> dict[str, Any]:
        """Flat parameters for experiment tracking."""
        return {k: str(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# -- the comparisons ----------------------------------------------------------------------------


def _null(*cols: str) -> str:
    return " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)


def _level(sql: str, label: str, *, tf: str | None = None, null: bool = False) -> dict:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


_ELSE = {"sql_condition": "ELSE", "label_for_charts": "All other comparisons"}


def _best_key_similarity(col: str) -> str:
    """The highest Jaro–Winkler similarity between any key of the left and of the right list."""
    return (
        f"list_max(list_transform({col}_l, lambda x: list_max(list_transform({col}_r, "
        f"lambda y: jaro_winkler_similarity(x, y)))))"
    )


def _comparison(name: str, levels: list[dict]) -> dict:
    return {"output_column_name": name, "comparison_levels": [*levels, _ELSE]}


def _characters_comparison(have: set[str], config: IdentityConfig) -> dict:
    """Two names written in characters (traditional ones simplified), as one whole name."""
    high, _ = config.name_similarity
    levels = [
        _level(_null("name_chars"), "a name not in characters", null=True),
        _level("name_chars_l = name_chars_r", "same name (characters)", tf="name_chars"),
    ]
    if {"family_latin", "given_latin"} <= have:
        levels.append(
            _level("family_latin_l = family_latin_r AND given_latin_l = given_latin_r",
                   "same name in pinyin (homophone characters)"),
        )  # fmt: skip
    if {"family_chars", "given_keys"} <= have:
        levels += [
            _level("family_chars_l = family_chars_r AND list_has_any(given_keys_l, given_keys_r)",
                   "same family name, given name read alike (Mandarin or Cantonese)"),
            _level(f"family_chars_l = family_chars_r AND "
                   f"{_best_key_similarity('given_keys')} >= {high}",
                   f"same family name, given names similar (Jaro-Winkler ≥ {high})"),
        ]  # fmt: skip
    if "given_chars" in have:
        levels.append(_level("given_chars_l = given_chars_r", "same given name, family differs"))
    if "family_chars" in have:
        levels.append(
            _level("family_chars_l = family_chars_r", "same family name only", tf="family_chars")
        )
    return _comparison("name_characters", levels)


def comparisons(columns: Iterable[str], config: IdentityConfig) -> list[dict]:
    """splink comparison dictionaries for the normalised columns present in the data."""
    have = set(columns)
    high, low = config.name_similarity
    out = []
    # Two names both written in characters are compared as characters, in one comparison of
    # the whole name; the family and given name comparisons take the other pairs (one side
    # or both romanised). Split across those two, the share of a person's accounts written
    # in characters counted twice (the m of "same family name (characters)" and of "same
    # given name (characters)" were each ~P(both in characters | match)): on HK's legacy
    # records an exact, rare name scored 0.06 where 9 in 10 such pairs are one person.
    chars = "name_chars" in have
    both_chars = "name_chars_l IS NOT NULL AND name_chars_r IS NOT NULL"
    if chars:
        out.append(_characters_comparison(have, config))
    if "family_keys" in have:
        missing = _null("family_keys")
        label = "family name missing"
        if chars:
            missing += f" OR ({both_chars})"
            label += ", or both in characters"
        levels = [_level(missing, label, null=True)]
        if "family_latin" in have:
            levels.append(
                _level(
                    "family_latin_l = family_latin_r",
                    "same family name (romanised)",
                    tf="family_latin",
                )  # fmt: skip
            )
        levels += [
            _level("list_has_any(family_keys_l, family_keys_r)",
                   "same family name in another script or romanisation"),
            _level(f"{_best_key_similarity('family_keys')} >= {high}",
                   f"family names similar (Jaro-Winkler ≥ {high})"),
            _level(f"{_best_key_similarity('family_keys')} >= {low}",
                   f"family names alike (Jaro-Winkler ≥ {low})"),
        ]  # fmt: skip
        out.append(_comparison("family_name", levels))
    if "given_keys" in have:
        english = "english_name" in have
        # not comparable: a side with no given name, or one side with only an English name
        # against a side with none
        missing = "(given_keys_l IS NULL AND {e_l}) OR (given_keys_r IS NULL AND {e_r})".format(
            e_l="english_name_l IS NULL" if english else "TRUE",
            e_r="english_name_r IS NULL" if english else "TRUE",
        )
        if english:
            missing += (
                " OR (given_keys_l IS NULL AND english_name_r IS NULL)"
                " OR (given_keys_r IS NULL AND english_name_l IS NULL)"
            )
        label = "given name missing or not comparable"
        if chars:
            missing += f" OR ({both_chars})"
            label += ", or both in characters"
        levels = [_level(missing, label, null=True)]
        if "given_latin" in have:
            levels.append(
                _level(
                    "given_latin_l = given_latin_r", "same given name (romanised)", tf="given_latin"
                )  # fmt: skip
            )
        levels += [
            _level("list_has_any(given_keys_l, given_keys_r)",
                   "same given name in another script or romanisation"),
        ]  # fmt: skip
        if english:
            levels.append(
                _level(
                    "english_name_l = english_name_r", "same English name", tf="english_name"
                )  # fmt: skip
            )
        levels += [
            _level(f"{_best_key_similarity('given_keys')} >= {high}",
                   f"given names similar (Jaro-Winkler ≥ {high})"),
            _level(f"{_best_key_similarity('given_keys')} >= {low}",
                   f"given names alike (Jaro-Winkler ≥ {low})"),
        ]  # fmt: skip
        if "name_initials" in have:
            levels.append(_level("name_initials_l = name_initials_r", "same initials"))
        out.append(_comparison("given_name", levels))
    if "phone_last4" in have:
        levels = [_level(_null("phone_last4"), "phone missing", null=True)]
        if "phone_e164" in have:
            levels.append(_level("phone_e164_l = phone_e164_r", "same phone number"))
        levels += [
            _level("phone_last4_l = phone_last4_r AND phone_prefix_l = phone_prefix_r "
                   "AND (phone_masked_l OR phone_masked_r)",
                   "masked phone compatible (same first 3 and last 4 digits)"),
            _level("phone_last4_l = phone_last4_r AND (phone_prefix_l IS NULL OR "
                   "phone_prefix_r IS NULL)", "same last 4 digits, the rest hidden"),
            _level("phone_last4_l = phone_last4_r", "same last 4 digits, different number"),
        ]  # fmt: skip
        out.append(_comparison("phone", levels))
    if "email" in have:
        out.append(
            _comparison(
                "email",
                [
                    _level(_null("email"), "email missing", null=True),
                    _level("email_l = email_r", "same email"),
                    _level(
                        "split_part(email_l, '@', 1) = split_part(email_r, '@', 1)",
                        "same email user name",
                    ),
                    _level(
                        "jaro_winkler_similarity(email_l, email_r) >= 0.88",
                        "similar email",
                    ),
                ],
            )
        )
    if "birth_date" in have:
        out.append(
            _comparison(
                "birth_date",
                [
                    _level(_null("birth_date"), "birth date missing", null=True),
                    _level("birth_date_l = birth_date_r", "same birth date"),
                    _level(
                        "birth_year_l = birth_year_r AND substr(birth_md_l, 1, 2) = "
                        "substr(birth_md_r, 4, 2) AND substr(birth_md_l, 4, 2) = "
                        "substr(birth_md_r, 1, 2)",
                        "day and month transposed",
                    ),
                    _level(
                        "damerau_levenshtein(birth_date_l, birth_date_r) <= 1",
                        "one digit off",
                    ),
                    _level("birth_year_l = birth_year_r", "same birth year"),
                ],
            )
        )
    place = [c for c in ("street", "district", "city", "postcode", "province") if c in have]
    if place:
        nothing = " AND ".join(f"({_null(c)})" for c in place)
        levels = [_level(nothing, "address missing", null=True)]
        if "street" in have:
            levels.append(_level("street_l = street_r", "same street address"))
        flats = [f"{c}_l = {c}_r" for c in ("flat_estate", "flat_road") if c in have]
        if flats:
            # one line shortened differently (湖畔苑36-5-1804 ~ 友谊路381号湖畔苑36栋5单元1804室),
            # unless the cities say otherwise
            same_flat = " OR ".join(flats)
            if "city" in have:
                same_flat = f"({same_flat}) AND NOT coalesce(city_l <> city_r, false)"
            levels.append(_level(same_flat, "same flat (estate or road, building and room)"))
        if "street" in have:
            levels.append(
                _level("jaro_winkler_similarity(street_l, street_r) >= 0.9",
                       "similar street address")
            )  # fmt: skip
        for col, label in (
            ("district", "same district"),
            ("postcode", "same postcode"),
            ("postcode_area", "same postcode area"),
            ("city", "same city"),
            ("province", "same province"),
        ):
            if col == "postcode_area" and "postcode" in have:
                # a UK-style postcode's outward code (nr33 of "nr33 0lx")
                levels.append(
                    _level("postcode_l LIKE '% %' AND split_part(postcode_l, ' ', 1) = "
                           "split_part(postcode_r, ' ', 1)", label)
                )  # fmt: skip
            elif col in have:
                levels.append(
                    _level(f"{col}_l = {col}_r", label, tf=col if col == "city" else None)
                )
        out.append(_comparison("address", levels))
    if "id_number" in have:
        out.append(
            _comparison(
                "id_number",
                [
                    _level(_null("id_number"), "id number missing", null=True),
                    _level("id_number_l = id_number_r", "same id number"),
                    _level(
                        "damerau_levenshtein(id_number_l, id_number_r) <= 1",
                        "id number one character off",
                    ),
                ],
            )  # fmt: skip
        )
    ids = [c for c in ("union_id", "device_id") if c in have]
    if ids:
        either = " OR ".join(f"{c}_l = {c}_r" for c in ids)
        both_missing = " AND ".join(f"({_null(c)})" for c in ids)
        out.append(
            _comparison(
                "platform_ids",
                [
                    _level(both_missing, "no platform id to compare", null=True),
                    _level(either, "same union id or device id"),
                ],
            )
        )
    alias = [c for c in ("nickname", "handles") if c in have]
    if alias:
        levels = [
            _level(" AND ".join(f"({_null(c)})" for c in alias), "no nickname or handle",
                   null=True)
        ]  # fmt: skip
        if "nickname" in have:
            levels.append(_level("nickname_l = nickname_r", "same nickname", tf="nickname"))
        if "handles" in have:
            # a handle that only spells the record's own name says nothing the name
            # comparisons have not said: two different 张军彬 both write "zhangjunbin"
            if "alias_handles" in have:
                levels.append(
                    _level(
                        "list_has_any(alias_handles_l, alias_handles_r)",
                        "same handle (e-mail or nickname letters) beyond the name",
                    )
                )
            if {"family_latin", "given_latin"} <= have:
                # a handle that spells the other account's full name, either way round
                # (徐林飞 ~ xulinfei745, James Smith ~ james.smith@…), when the names
                # themselves have not already agreed
                spelt = " OR ".join(
                    f"list_contains(handles_{a}, {first}_{b} || {second}_{b})"
                    for a, b in (("l", "r"), ("r", "l"))
                    for first, second in (
                        ("family_latin", "given_latin"), ("given_latin", "family_latin")
                    )
                )  # fmt: skip
                same_name = (
                    "coalesce(family_latin_l = family_latin_r "
                    "AND given_latin_l = given_latin_r, false)"
                )
                levels.append(
                    _level(f"({spelt}) AND NOT {same_name}", "a handle spells the other's name")
                )
            levels.append(
                _level(
                    "list_has_any(handles_l, handles_r)",
                    "the shared handle is only the name both accounts carry",
                    null=True,
                )
            )
        out.append(_comparison("alias", levels))
    if "gender" in have:
        out.append(
            _comparison(
                "gender",
                [
                    _level(_null("gender"), "gender missing", null=True),
                    _level("gender_l = gender_r", "same gender"),
                ],
            )
        )
    return out


def _rules(columns: set[str], candidates: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [rule for rule in candidates if set(rule) <= columns]


#: Blocking passes that generate candidate pairs (only those whose columns the data has).
PREDICTION_RULES: tuple[tuple[str, ...], ...] = (
    ("phone_e164",),
    ("phone_prefix", "phone_last4"),
    ("phone_last4", "family_keys"),
    ("email",),
    ("family_keys", "given_keys"),
    ("family_keys", "birth_date"),
    ("given_latin", "birth_date"),
    ("family_keys", "english_name"),
    ("family_keys", "district"),
    ("id_number",),
    ("union_id",),
    ("device_id",),
    ("postcode", "birth_year"),
    ("street", "city"),
    ("flat_estate",),
    ("flat_road",),
    ("nickname",),
    ("handles",),
    ("phone_last4", "birth_date"),
    ("district", "birth_date"),
    ("city", "birth_date"),
    ("postcode",),
    ("family_latin", "city"),
    ("given_latin", "city"),
    ("family_latin", "birth_year"),
    ("given_latin", "birth_year"),
    # a name mistyped after its first letters, or shortened (rob ~ robert), meets its
    # person's other records when neither the whole names nor a date agree
    ("family_prefix", "given_prefix"),
)
#: Blocking passes of the EM rounds: each leaves the other comparisons free to be learnt.
EM_RULES: tuple[tuple[str, ...], ...] = (
    ("phone_e164",),
    ("family_latin", "given_latin"),
    ("birth_date",),
    ("email",),
    ("postcode",),
    ("id_number",),
)
#: Near-certain rules that estimate the prior (with ``IdentityConfig.prior_recall``).
DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (
    ("phone_e164", "family_latin"),
    ("email", "family_latin"),
    ("family_latin", "given_latin", "birth_date"),
    ("phone_e164", "name_latin"),
    ("email", "name_latin"),
    ("name_latin", "birth_date"),
    ("id_number", "birth_date"),
)
# (splink explodes list columns only when it generates predictions: the training passes
# block on the first romanisation of each name instead of on every key)
_ARRAYS = ("family_keys", "given_keys", "handles")
#: The most :func:`_u_without_matches` may divide a sampled u by.
_U_MAX_CUT = 10.0
#: The column splink reads each record's platform from while training (link_only).
_SOURCE = "source_dataset"
#: Records the prior is re-estimated on, at most (see ``IdentityResolver._refine_prior``).
_PRIOR_SAMPLE = 50_000
#: The bounds the prior is kept within wherever it is estimated: splink scores with
#: log2(prior / (1 − prior)), so a prior of 0 (no rule found a match, on a small list) or 1
#: fails, and far beyond these bounds the prior would outweigh every agreement.
_PRIOR_BOUNDS = (1e-9, 0.5)


def _block(rule: tuple[str, ...]) -> Any:
    from splink import block_on

    arrays = [c for c in rule if c in _ARRAYS]
    return block_on(*rule, arrays_to_explode=arrays or None)


def _clamped_prior(prior: float) -> float:
    """``prior`` moved into :data:`_PRIOR_BOUNDS` (NaN goes to the lower bound)."""
    low, high = _PRIOR_BOUNDS
    return low if math.isnan(prior) else min(max(prior, low), high)


def _deterministic_prior(linker: Any, rules: list[Any], recall: float, n_pairs: float) -> float:
    """splink's prior from near-certain ``rules`` with an assumed ``recall``, in
    :data:`_PRIOR_BOUNDS`; ``n_pairs``: the pairs that can be one person.

    On a small list the rules may find no pair at all: splink's prior is then 0, and the
    prior's refinement, which starts from it, would stay near 0 and merge nothing. Half a
    found pair is counted instead (less than one match, like the rules' silence says). The
    rules may also find more pairs than ``recall`` allows (most pairs of the list are one
    person), which splink refuses: the prior is then the upper bound.
    """
    try:
        linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
    except ValueError as exc:
        # `recall` is checked by IdentityConfig: this is splink's "more observed matches
        # than is consistent with supplied recall"
        logger.warning("prior set to %g: %s", _PRIOR_BOUNDS[1], exc)
        return _PRIOR_BOUNDS[1]
    estimate = float(linker.misc.save_model_to_json()["probability_two_random_records_match"])
    if estimate == 0:
        logger.warning("the deterministic rules found no matching pair: prior from half a pair")
        estimate = 0.5 / recall / max(n_pairs, 1.0)
    return _clamped_prior(estimate)


def _u_without_matches(settings: dict, prior: float) -> dict:
    """The model with the matches taken out of u.

    Random sampling measures how often a level occurs among *all* pairs, λ·m + (1 − λ)·u,
    not among non-matches. For a loose level the difference is nothing; for the same mobile
    number on a list where many people have several accounts, most random pairs that share
    one are the same person, and u came out as large as λ·m — a shared number counted for
    about as much as the prior against it. Here u = (measured − λ·m) / (1 − λ), renormalised;
    λ and m are estimates, so u is cut to a tenth of what was measured at most (a level seen
    in a handful of sampled pairs would otherwise go to ~0 and outweigh everything else).
    """
    for comparison in settings["comparisons"]:
        levels = [
            lvl
            for lvl in comparison["comparison_levels"]
            if not lvl.get("is_null_level") and lvl.get("u_probability")
        ]
        for level in levels:
            if level.get("m_probability") is not None:  # untrained: nothing to take out
                u = (level["u_probability"] - prior * level["m_probability"]) / (1 - prior)
                level["u_probability"] = max(u, level["u_probability"] / _U_MAX_CUT)
        total = sum(lvl["u_probability"] for lvl in levels)
        for level in levels:
            level["u_probability"] /= total
    return settings


def _agreement_never_counts_against(settings: dict) -> dict:
    """The model with no agreement level weighing against a match more than disagreeing does.

    EM gives m = 0 to a level no matched pair happened to reach in its passes (same last 4
    digits of a phone, when the matches that share them also share the whole number), and a
    weight of −600 to every pair that does reach it later. The levels of a comparison go from
    full agreement to the ELSE level (disagreement); a level's Bayes factor is raised to the
    ELSE level's where it is below it, and the m of the comparison renormalised.
    """
    for comparison in settings["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        other = levels[-1]
        if not other.get("m_probability") or not other.get("u_probability"):
            continue
        floor = other["m_probability"] / other["u_probability"]
        raised = []
        for level in levels[:-1]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is not None and u and m / u < floor:
                level["m_probability"] = u * floor
                raised.append(level["label_for_charts"])
        if raised:
            total = sum(lvl.get("m_probability") or 0.0 for lvl in levels)
            for level in levels:
                if level.get("m_probability") is not None:
                    level["m_probability"] /= total
            logger.info("%s: m raised to disagreement's weight on %s",
                        comparison["output_column_name"], ", ".join(raised))  # fmt: skip
    return settings


def _count_pairs(
    data: pd.DataFrame, rules: Sequence[tuple[str, ...]], *, marginal: bool = False
) -> list[float]:
    """Candidate pairs each blocking rule makes on ``data``, estimated by splink's blocking
    analysis on a sample of the records when there are many; ``marginal``: only the pairs
    that no rule before it makes."""
    from splink.backends.duckdb import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    if not rules:
        return []
    db_api = DuckDBAPI()
    frame = db_api.register(data)
    groups = [list(rules)] if marginal else [[rule] for rule in rules]
    counts = []
    with closing(db_api.duckdb_con), warnings.catch_warnings():
        # splink warns when a rule's sampled estimate rests on few pairs: a rare key
        # (same e-mail) is rare in the sample too, and its count is small either way
        warnings.filterwarnings("ignore", "The sampled blocking analysis", UserWarning)
        for group in groups:
            found = count_comparisons_from_blocking_rules(
                frame,
                blocking_rules=[_block(rule) for rule in group],
                link_type="dedupe_only",
                record_sample_proportion=min(1.0, max(0.05, 20_000 / len(data))),
            )
            counts += [float(count["marginal_comparison_count"]) for count in found]
    return counts


def _term_frequencies(
    data: pd.DataFrame, columns: Sequence[str]
) -> dict[str, tuple[pd.Series, float]]:
    """Per column, splink's term frequencies (each value's share of the column's non-null
    values), kept small: the values seen twice or more with theirs, and the one frequency
    every value seen once shares (most nicknames are one account's own)."""
    out = {}
    for col in columns:
        counts = data[col].dropna().value_counts()
        total = max(int(counts.sum()), 1)
        out[col] = ((counts[counts >= 2] / total).astype("float64"), 1.0 / total)
    return out


def _term_frequency_table(kept: tuple[pd.Series, float], values: Iterable[Any]) -> pd.Series:
    """A term frequency lookup from :func:`_term_frequencies` that also holds ``values``:
    a value not among the repeated ones was seen once (or never) and gets the single share."""
    repeated, single = kept
    extra = pd.Index([v for v in values if v is not None and v == v]).difference(repeated.index)
    return pd.concat([repeated, pd.Series(single, index=extra, dtype="float64")])


def _tf_columns(settings: dict) -> list[str]:
    cols = {
        level["tf_adjustment_column"]
        for comparison in settings["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(cols)


# -- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """What :meth:`IdentityResolver.resolve` returns.

    Attributes:
        clusters: one row per account: ``unique_id, person_id, cluster_size,
            match_probability`` (the strongest link to another account of the same person;
            NaN for a person with one account).
        pairs: every scored candidate pair at or above ``keep_probability``:
            ``unique_id_l, unique_id_r, match_weight, match_probability``.
        threshold: the clustering threshold used (the chosen one with ``"auto"``).
    """

    clusters: pd.DataFrame
    pairs: pd.DataFrame
    threshold: float


class IdentityResolver:
    """Unsupervised splink model that groups member accounts into persons.

    Args:
        config: settings; the defaults suit Butler's store and member lists.

    Attributes (after ``fit``):
        settings_: splink's model dictionary (comparisons with trained m and u, rules,
            prior), as ``linker.misc.save_model_to_json`` writes it.
        columns_: the normalised columns the model uses.
        blocking_rules_: the prediction blocking rules kept within the pair budget.
        expected_pairs_: candidate pairs those rules make on the training list (estimated).
        fit_seconds_, n_records_: wall time and records of the last fit.

    Examples:
        >>> model = IdentityResolver().fit(normalise_members(members))  # doctest: +SKIP
        >>> model.resolve(normalise_members(members)).clusters           # doctest: +SKIP
    """

    def __init__(self, config: IdentityConfig | None = None) -> None:
        self.config = config or IdentityConfig()

    # -- fit ---------------------------------------------------------------------------------

    def fit(self, members: pd.DataFrame) -> Self:
        """Learn u, m and the prior from unlabelled, normalised member records.

        Raises:
            ContractViolation: no ``unique_id`` column, or duplicate ids.
            InvalidParameterError: fewer than 10 records, or no comparable field.
        """
        from splink import Linker, SettingsCreator
        from splink.internals.exceptions import EMTrainingException, SplinkException

        started = time.perf_counter()
        data = self._check(members, "fit")
        if len(data) < 10:
            raise InvalidParameterError(
                f"`IdentityResolver.fit` needs at least 10 member records; got {len(data)}."
            )
        have = {c for c in data.columns if c != "unique_id" and data[c].notna().any()}
        comps = comparisons(have, self.config)
        if len(comps) < 2:
            # each EM pass learns the comparisons its blocking field leaves free: with one,
            # no pass has anything to learn (splink fails on an empty match weight)
            found = ", ".join(c["output_column_name"] for c in comps) or "nothing to compare"
            raise InvalidParameterError(
                "`IdentityResolver.fit` needs at least two fields to compare, to learn how "
                f"far each can be trusted; the records have {found}. Map at least two of a "
                "name, phone, email, birth date or address."
            )
        self.blocking_rules_ = self._budgeted_rules(data, _rules(have, PREDICTION_RULES))
        # with one account per platform, two accounts of one platform are two people: u, m
        # and the prior are learnt among the pairs that can be one person (splink's link_only
        # across platforms); predictions still score every candidate pair
        source = self._sources(data)
        if source is not None:
            data = data.assign(**{_SOURCE: source})
        settings = SettingsCreator(
            link_type="dedupe_only" if source is None else "link_only",
            source_dataset_column_name=_SOURCE,
            comparisons=comps,
            blocking_rules_to_generate_predictions=[_block(r) for r in self.blocking_rules_],
            # predictions keep ids and scores only; `explain` asks splink for the weights
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
            max_iterations=self.config.em_max_iterations,
        )
        memory_gb = self.config.duckdb_memory_gb
        # each linker's database is closed as soon as its step is done: splink's objects hold
        # one another in cycles, so a dropped linker's database (up to `duckdb_memory_gb`)
        # would stay in memory until the garbage collector ran
        with _linker(data, settings, Linker, memory_gb=memory_gb) as linker:
            rules = [_block(r) for r in _rules(have, DETERMINISTIC_RULES)]
            prior: float | None = None
            if rules:
                recall, n_pairs = self.config.prior_recall, self._possible_pairs(data)
                prior = _deterministic_prior(linker, rules, recall, n_pairs)
            linker.training.estimate_u_using_random_sampling(
                max_pairs=self.config.u_max_pairs, seed=self.config.seed
            )
            model = linker.misc.save_model_to_json()
        if prior is not None:  # before the EM passes: splink scores their pairs with it
            model["probability_two_random_records_match"] = prior
        em_rules = _rules(have, EM_RULES)
        # one linker for every pass: splink averages each level's m over the passes that
        # estimate it. On a long list it holds a sample of the records, so the largest pass
        # blocks about `em_max_pairs` pairs (sampling keeps the matches' agreement patterns)
        most = max(_count_pairs(data, em_rules), default=0.0)
        share = min(1.0, math.sqrt(self.config.em_max_pairs / max(most, 1.0)))
        em_data = data
        if share < 1:
            em_data = data.sample(frac=share, random_state=self.config.seed)
            logger.info("EM passes trained on %d records (the largest blocks %.3g pairs on all)",
                        len(em_data), most)  # fmt: skip
        dropped: list[str] = []
        with ExitStack() as linkers:
            linker = linkers.enter_context(_linker(em_data, model, Linker, memory_gb=memory_gb))
            for rule in em_rules:
                before = linker.misc.save_model_to_json()
                try:
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        _block(rule), fix_u_probabilities=True
                    )
                except (ValueError, EMTrainingException, SplinkException) as exc:
                    # splink refuses an m that underflowed to 0 in a large pass, or a pass that
                    # blocks no pair at all, or fails on a level whose m came out 0/0 (its
                    # SQL then reads "nan"), and leaves the linker without the pass's blocked
                    # comparisons: go on from the model before it
                    dropped.append(f"{', '.join(rule)} ({_em_failure(exc)})")
                    linker = linkers.enter_context(
                        _linker(em_data, before, Linker, memory_gb=memory_gb)
                    )
            model = linker.misc.save_model_to_json()
        if dropped:
            logger.warning(
                "%d of %d EM passes dropped, the model kept from the passes before: %s",
                len(dropped), len(em_rules), "; ".join(dropped),
            )  # fmt: skip
        model["link_type"] = "dedupe_only"
        if source is not None:
            data = data.drop(columns=[_SOURCE])
        self.settings_ = _agreement_never_counts_against(model)
        self.columns_ = sorted(have)
        self.n_records_ = len(data)
        self._refine_prior(data, sampled_u=model)
        self.term_frequencies_ = _term_frequencies(data, _tf_columns(self.settings_))
        self.fit_seconds_ = time.perf_counter() - started
        logger.info("identity model fitted on %d records in %.1f s", len(data), self.fit_seconds_)
        return self

    def _budgeted_rules(
        self, data: pd.DataFrame, rules: list[tuple[str, ...]]
    ) -> list[tuple[str, ...]]:
        """The prediction rules that fit the pair budget, in order of importance.

        splink counts the pairs each rule adds to the ones before it (on a sample of the
        records when there are many); a rule that would take the total past
        ``max_pairs_per_record × records`` is left out and logged. On a list of 500k
        Chinese members, "same nickname" or "same family name and birth year" alone are tens
        of millions of pairs; on a list of 50k they are affordable and find matches.
        """
        budget = self.config.max_pairs_per_record * len(data)
        counts = _count_pairs(data, rules, marginal=True)
        kept, total = [], 0.0
        for rule, extra in zip(rules, counts, strict=True):
            if total + extra > budget:
                logger.warning(
                    "blocking on %s left out: %.3g more pairs would pass the budget of %.3g",
                    " + ".join(rule), extra, budget,
                )  # fmt: skip
                continue
            kept.append(rule)
            total += extra
        self.expected_pairs_ = total
        return kept

    def _refine_prior(self, data: pd.DataFrame, *, sampled_u: dict) -> None:
        """Re-estimate the prior from the model's own expected number of matches, and u
        with it.

        The deterministic rules see only the matches they can find, so their prior depends
        on a guessed recall. Here the prior becomes the expected matches among the scored
        candidate pairs (the sum of their match probabilities) over all pairs, and is
        recomputed until it moves by less than 5% (at most ``prior_iterations`` times). It
        needs no labels; pairs that no blocking rule finds are not counted, so it errs low.

        Each round also takes the matches out of the u that random sampling measured (see
        :func:`_u_without_matches`; ``sampled_u`` is the model with those u).
        """
        if len(data) > _PRIOR_SAMPLE:
            # the prior is a share of pairs: a random sample of records keeps it, and scoring
            # a sample's pairs five times costs a fraction of scoring every pair once
            data = data.sample(_PRIOR_SAMPLE, random_state=self.config.seed)
        n_pairs = self._possible_pairs(data)
        source = self._sources(data)
        if source is not None:
            source = source.set_axis(data["unique_id"])
        for _ in range(self.config.prior_iterations):
            prior = _clamped_prior(float(self.settings_["probability_two_random_records_match"]))
            model = _u_without_matches(copy.deepcopy(sampled_u), prior)
            model["probability_two_random_records_match"] = prior
            self.settings_ = _agreement_never_counts_against(model)
            pairs = self._scored_pairs(data)
            if source is not None:
                same = (
                    source.reindex(pairs["unique_id_l"]).to_numpy()
                    == source.reindex(pairs["unique_id_r"]).to_numpy()
                )
                pairs = pairs[~same]
            expected = pairs["match_probability"].sum()
            old = float(self.settings_["probability_two_random_records_match"])
            new = _clamped_prior(float(expected) / n_pairs)
            self.settings_["probability_two_random_records_match"] = new
            logger.info("prior %.3g → %.3g (expected matches %.0f)", old, new, expected)
            if abs(new - old) <= 0.05 * old:
                break

    def _possible_pairs(self, data: pd.DataFrame) -> float:
        """The pairs of ``data``'s records that can be one person."""
        n_pairs = len(data) * (len(data) - 1) / 2
        source = self._sources(data)
        if source is not None:  # only pairs across platforms can be one person
            n_pairs -= float((source.value_counts() ** 2 - source.value_counts()).sum()) / 2
        return n_pairs

    def _platforms(self, data: pd.DataFrame) -> pd.Series | None:
        """Each record's platform when the rule of one account per platform applies
        (``one_account_per_platform`` and a ``platform`` column); None otherwise."""
        if not self.config.one_account_per_platform or "platform" not in data.columns:
            return None
        return data["platform"]

    def _sources(self, data: pd.DataFrame) -> pd.Series | None:
        """The platform of each record when two accounts of one platform are two people
        (:meth:`_platforms`, and more than one platform), a record without one a platform
        of its own; None otherwise."""
        platform = self._platforms(data)
        if platform is None or platform.nunique() < 2:
            return None
        return platform.astype("string").fillna("(none) " + data["unique_id"].astype("string"))

    @staticmethod
    def _check(members: pd.DataFrame, func: str) -> pd.DataFrame:
        if "unique_id" not in members.columns:
            raise ContractViolation(
                f"The members passed to `IdentityResolver.{func}` have no `unique_id` column. "
                "Normalise them with features.identity.normalise_members first."
            )
        data = members.reset_index(drop=True)  # a new frame: the caller's is left alone
        data["unique_id"] = data["unique_id"].astype(str)
        dup = data["unique_id"].duplicated()
        if dup.any():
            raise ContractViolation(
                f"The members passed to `IdentityResolver.{func}` repeat the ids "
                f"{', '.join(data.loc[dup, 'unique_id'].head(5))}: give each record its own id."
            )
        return data

    def _require_fit(self, func: str) -> None:
        if not hasattr(self, "settings_"):
            raise NotFittedError(
                f"This IdentityResolver is not fitted yet. Call `fit(members)` before `{func}`."
            )

    # -- predict and cluster ------------------------------------------------------------------

    @contextmanager
    def _trained_linker(self, data: pd.DataFrame, *, tf_tables: bool = False) -> Iterator[Any]:
        """A linker with the trained model on ``data``, its database closed on exit;
        ``tf_tables`` registers the term frequencies of ``data`` for records scored against
        it later."""
        from splink import Linker

        for col in self.columns_:
            if col not in data.columns:
                data[col] = None
        with _linker(
            data, self.settings_, Linker, memory_gb=self.config.duckdb_memory_gb
        ) as linker:
            if tf_tables:
                for col in _tf_columns(self.settings_):
                    linker.table_management.compute_tf_table(col)
            yield linker

    def predict(self, members: pd.DataFrame) -> pd.DataFrame:
        """Score every candidate pair of ``members`` (normalised).

        Returns:
            ``unique_id_l, unique_id_r, match_weight, match_probability``, pairs at or above
            ``keep_probability``.
        """
        self._require_fit("predict")
        return self._scored_pairs(self._check(members, "predict"))

    def _scored_pairs(self, data: pd.DataFrame) -> pd.DataFrame:
        """``predict`` on records already checked (a frame of the model's own)."""
        # candidate pairs grow with the square of the records: score them in chunks of the
        # left-hand records when the list would make more than `pairs_per_chunk`
        expected = getattr(self, "expected_pairs_", 0.0) * (len(data) / self.n_records_) ** 2
        chunks = max(1, math.ceil(expected / self.config.pairs_per_chunk))
        cols = "unique_id_l, unique_id_r, match_weight, match_probability"
        with self._trained_linker(data) as linker:
            scored = linker.inference.predict(
                threshold_match_probability=self.config.keep_probability,
                num_chunks_left=chunks,
                num_chunks_right=1,
            )
            return linker.misc.query_sql(
                f"SELECT {cols} FROM {scored.physical_name} ORDER BY unique_id_l, unique_id_r",
                output_type="pandas",
            )

    def resolve(self, members: pd.DataFrame, threshold: float | None = None) -> Resolution:
        """Predict and cluster: one person id per account.

        Args:
            members: normalised member records.
            threshold: match probability to merge at, or ``"auto"`` to choose it for these
                members (:func:`choose_threshold`); None = the config's.
        """
        threshold = self.config.threshold if threshold is None else threshold
        if not _is_threshold(threshold):
            raise InvalidParameterError(
                "The `threshold` parameter of `IdentityResolver.resolve` must be a "
                f"probability in (0, 1) or 'auto'. Got {threshold!r} instead."
            )
        data = self._check(members, "resolve")
        self._require_fit("resolve")
        pairs = self._scored_pairs(data)
        clusters, threshold = self.persons(data, pairs, threshold)
        return Resolution(clusters=clusters, pairs=pairs, threshold=threshold)

    def persons(
        self, members: pd.DataFrame, pairs: pd.DataFrame, threshold: float | str | None = None
    ) -> tuple[pd.DataFrame, float]:
        """Cluster scored pairs of ``members`` into persons, as :meth:`resolve` does.

        Args:
            members: the normalised members the pairs were scored on (``unique_id``, for
                ``one_account_per_platform`` ``platform``, and the blocking columns, which
                tell the pairs compared but scored too low to keep).
            pairs: their scored pairs (``predict``).
            threshold: a probability, ``"auto"``, or None for the config's.

        Returns:
            The clusters (:func:`cluster_pairs`) and the threshold used.
        """
        threshold = self.config.threshold if threshold is None else threshold
        ids = members["unique_id"]
        lowest = min(AUTO_THRESHOLDS) if threshold == "auto" else float(threshold)
        joined = self._joined(members, pairs, lowest)
        if threshold == "auto":
            threshold, _ = choose_threshold(ids, pairs, joined=joined)
        clusters = cluster_pairs(ids, pairs, threshold, joined=joined)
        return clusters, float(threshold)

    def persons_at(
        self, members: pd.DataFrame, pairs: pd.DataFrame, thresholds: Sequence[float]
    ) -> list[pd.DataFrame]:
        """:meth:`persons` at each of ``thresholds`` (probabilities), in their order: the
        joining pass (the platform rule and the group check) runs once, at the lowest."""
        if not thresholds:
            return []
        ids = members["unique_id"]
        joined = self._joined(members, pairs, min(thresholds))
        return [cluster_pairs(ids, pairs, th, joined=joined) for th in thresholds]

    def _joined(
        self, members: pd.DataFrame, pairs: pd.DataFrame, lowest: float
    ) -> np.ndarray | None:
        """Which pairs at or above ``lowest`` may join their persons (:func:`joinable_pairs`),
        None when no rule holds any back. A higher threshold's joins are a prefix of these
        (links are taken strongest first), so one pass serves every threshold above it."""
        platforms = self._platforms(members)
        average = _min_group_probability(self.config)
        apart = BirthGap.of(members, getattr(self.config, "birth_gap_years", None))
        if platforms is None and average <= 0 and apart is None:
            return None
        blocking = None
        if average > 0:  # the pairs scored too low to keep count against a join
            blocking = BlockingKeys.of(members, getattr(self, "blocking_rules_", ()))
        return joinable_pairs(
            members["unique_id"], pairs, platforms, lowest, min_average=average,
            blocking=blocking, apart=apart,
        )  # fmt: skip

    # -- explanations --------------------------------------------------------------------------

    def keep_term_frequencies(self, members: pd.DataFrame) -> Self:
        """Keep how common each value of the term-frequency columns (names, cities) is in
        ``members``, for :meth:`explain`. ``fit`` keeps those of the list it learns from; a
        model pickled before it did can be given them here.
        """
        self._require_fit("keep_term_frequencies")
        self.term_frequencies_ = _term_frequencies(members, _tf_columns(self.settings_))
        return self

    def explain(self, members: pd.DataFrame, left: str, right: str) -> pd.DataFrame:
        """Waterfall data of one pair: how each comparison moves the match weight.

        Args:
            members: normalised records holding the pair. Term frequencies (how common a
                family name is) are the list's the model was fitted on, so the two records
                alone will do; a model pickled before it kept them takes them from
                ``members``, which must then be the whole list.
            left, right: the two records' ``unique_id``.

        Returns:
            See :func:`waterfall`.

        Raises:
            UnknownEntityError: an id is not in ``members``.
        """
        self._require_fit("explain")
        data = self._check(members, "explain")
        pair = _records(data, [left, right], "explain")
        kept = getattr(self, "term_frequencies_", None)
        with self._trained_linker(data, tf_tables=kept is None) as linker:
            for col, frequencies in (kept or {}).items():
                lookup = _term_frequency_table(frequencies, (r.get(col) for r in pair))
                table = linker.table_management.register_table(
                    lookup.rename(f"tf_{col}").rename_axis(col).reset_index(),
                    f"__butler_tf_{col}",
                )
                linker.table_management.register_term_frequency_lookup(table, col)
            scored = linker.inference.score_pair(pair[0], pair[1]).as_pandas_dataframe().iloc[0]
        return waterfall(scored, self.settings_)

    # -- incremental ---------------------------------------------------------------------------

    def matcher(self, resolved: pd.DataFrame) -> IncrementalMatcher:
        """A matcher of single new records against an already resolved set.

        Args:
            resolved: normalised members with their ``person_id``.
        """
        self._require_fit("matcher")
        if "person_id" not in resolved.columns:
            raise ContractViolation(
                "The `resolved` members passed to `IdentityResolver.matcher` need a "
                "`person_id` column: resolve them first."
            )
        return IncrementalMatcher(self, resolved)


class IncrementalMatcher:
    """Scores new records against a resolved set, as splink's ``predict_between`` does, in
    milliseconds: one at a time, or a batch in one run of the query.

    ``predict_between`` re-blocks and re-reads the whole resolved set on every call (about
    thirty SQL statements: half a second on 50k records). Here everything that does not
    depend on the new record is done once, when the matcher is built:

    * candidates: per prediction blocking rule, an index from key to rows (list columns
      exploded as splink explodes them), so a record's candidates are dictionary look-ups;
    * term frequencies: splink's tables for the resolved set, attached to every row;
    * scoring: splink's own SQL for comparison vectors and match weights, generated once from
      the trained model, prepared once in DuckDB (binding and optimising it takes longer
      than running it) and run on the new records × their candidates only.

    The candidates and probabilities are those of ``predict_between`` (the tests compare
    them). One call at a time: a lock guards the matcher's private DuckDB.
    """

    _NEW_ID = "__butler_new_member__"

    def __init__(self, model: IdentityResolver, resolved: pd.DataFrame) -> None:
        from splink.backends.duckdb import DuckDBAPI
        from splink.internals.comparison_vector_values import (
            compute_comparison_vector_values_from_id_pairs_sqls,
        )
        from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

        data = model._check(resolved, "matcher").reset_index(drop=True)
        self.model = model
        #: what the compared accounts of a person must average for :meth:`person` to take it
        self.min_group_probability = _min_group_probability(model.config)
        #: account (``unique_id``) → its person
        self.person_of_: dict[str, str] = dict(
            zip(data["unique_id"], data["person_id"].astype(str), strict=True)
        )
        #: the platforms each person holds an account on, when a person holds one per platform
        self.platforms_of_: dict[str, frozenset[str]] = {}
        if (platform := model._platforms(data)) is not None:
            held = platform.notna()
            by_person = platform[held].groupby(data.loc[held, "person_id"].astype(str))
            self.platforms_of_ = by_person.agg(frozenset).to_dict()
        #: birth dates and given names of each person's accounts (:class:`BirthGap`)
        self.births_of_: dict[str, list[BirthKey]] = {}
        self._birth_gap = getattr(model.config, "birth_gap_years", None)
        if (gap := BirthGap.of(data, self._birth_gap)) is not None:
            for person, key in zip(data["person_id"].astype(str), gap.keys, strict=True):
                if key is not None:
                    self.births_of_.setdefault(person, []).append(key)
        existing = data.drop(columns=["person_id"])
        with model._trained_linker(existing, tf_tables=True) as linker:
            self._tf = {
                col: linker.table_management.compute_tf_table(col)
                .as_pandas_dataframe()
                .set_index(col)[f"tf_{col}"]
                .to_dict()
                for col in _tf_columns(model.settings_)
            }
            settings = linker._settings_obj  # the model's SQL; needs no database
        for col, freq in self._tf.items():
            existing[f"tf_{col}"] = existing[col].map(freq)
        self._columns = [c for c in existing.columns if not c.startswith("tf_")]
        self._index = [(rule, _key_index(existing, rule)) for rule in model.blocking_rules_]

        columns = settings.column_info_settings
        sqls = compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            settings._columns_to_select_for_comparison_vector_values,
            input_tablename_l="__butler_rows",
            input_tablename_r="__butler_rows",
            source_dataset_input_column=columns.source_dataset_input_column,
            unique_id_input_column=columns.unique_id_input_column,
            link_type=settings._link_type,
            sql_dialect_str="duckdb",
        )
        sqls += predict_from_comparison_vectors_sqls_using_settings(settings)
        steps = ",\n".join(f"{q['output_table_name']} AS ({q['sql']})" for q in sqls[:-1])
        # each call hands two frames to registered sources: the rows (the new records and
        # their candidates, each candidate once) and the pairs to score (new record ×
        # candidate, with the rule that found it); the scoring query over them is prepared
        # once: binding and optimising splink's SQL takes ~25 ms, running it on a dozen
        # pairs ~1 ms, and on a hundred not much more. The rows are cast to the types DuckDB
        # gives the whole resolved set, so a column that happens to be all null among a
        # call's rows keeps its type
        rows, pairs = "__butler_pair_rows", "__butler_pairs"
        self._con = DuckDBAPI().duckdb_con  # splink's engine, in memory, this matcher's own
        self._con.execute("SET threads = 1")  # a few rows a call: threads cost more than they give
        self._con.register(rows, existing)
        types = self._con.execute(f"DESCRIBE {rows}").fetchall()
        # the rows as Arrow, typed once: a call takes its candidates without converting
        self._table = self._con.sql(f"SELECT * FROM {rows}").to_arrow_table().combine_chunks()
        self._con.unregister(rows)
        self._rows = _ArrowSource(self._table.slice(0, 1))
        self._pairs = _ArrowSource(_pair_table([], [], []))
        self._con.register(rows, self._rows)
        self._con.register(pairs, self._pairs)
        typed = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind, *_ in types)
        # both sides of splink's join read the same rows: the pairs pick the new record on
        # the left and the candidate on the right
        for view, sql in (
            ("__butler_rows", f"SELECT {typed} FROM {rows}"),
            ("__splink__blocked_id_pairs", f"SELECT * FROM {pairs}"),
            ("__butler_scored", f"WITH {steps}\n{sqls[-1]['sql']}"),
        ):
            self._con.execute(f"CREATE VIEW {view} AS {sql}")
        self._con.execute("PREPARE __butler_score AS SELECT * FROM __butler_scored")
        self._lock = threading.Lock()

    def account(self, unique_id: str) -> dict[str, Any]:
        """One account of the resolved set as the model reads it (its normalised fields).

        Raises:
            UnknownEntityError: no such account.
        """
        import pyarrow.compute as pc

        found = self._table.filter(pc.equal(self._table["unique_id"], str(unique_id)))
        if not found.num_rows:
            raise UnknownEntityError(
                f"No account {unique_id} among the resolved members. Accounts are named "
                "<platform>:<platform_user_id>, as the candidates of a match name them."
            )
        row = found.slice(0, 1).to_pylist()[0]
        return {col: row[col] for col in self._columns}

    def _new_rows(self, rows: list[dict[str, Any]]) -> Any:
        """The new records as Arrow rows of the resolved set's schema, term frequencies
        attached."""
        import pyarrow as pa

        for row in rows:
            for col, freq in self._tf.items():
                value = row.get(col)
                row[f"tf_{col}"] = freq.get(value) if value is not None else None
        return pa.Table.from_pylist(rows, schema=self._table.schema)

    def candidates(self, record: Mapping[str, Any]) -> dict[int, int]:
        """Rows of the resolved set that share a blocking key with ``record``, each with the
        number of the first rule that found it (splink's ``match_key``)."""
        found: dict[int, int] = {}
        for number, (rule, index) in enumerate(self._index):
            for key in _record_keys(record, rule):
                for row in index.get(key, ()):
                    found.setdefault(int(row), number)
        return found

    def match(self, record: Mapping[str, Any], *, top: int = 5) -> pd.DataFrame:
        """The best candidate persons for one normalised record.

        Returns:
            Up to ``top`` rows ``person_id, unique_id, match_probability, match_weight,
            same_platform, person_probability, told_apart``, best first, one per person
            (empty when no candidate passes blocking): the person's best-matching account.
            ``same_platform``: the person already holds an account on the record's platform.
            With ``one_account_per_platform``, resolving keeps such a record apart from that
            person, so :meth:`person` does not take it; it is still listed, as a possible
            second account. ``person_probability``: the mean probability over the person's
            accounts the record was compared with (shares a blocking key with), those
            scored below ``keep_probability`` counted as 0 as resolving counts them, which
            :meth:`person` holds to ``min_group_probability``. ``told_apart``: the record's
            birth date and given name say it is someone else than one of the person's
            accounts (:class:`BirthGap`: a relative on the same phone); :meth:`person` does
            not take it, as resolving would not join it.
        """
        return self.match_many([record], top=top)[0]

    def match_many(
        self, records: Sequence[Mapping[str, Any]], *, top: int = 5
    ) -> list[pd.DataFrame]:
        """:meth:`match` for each of ``records``, scored together in one run of the query
        (each record against its own candidates only: the answers are those of one
        record at a time, and a batch costs little more than one record)."""
        return [
            pd.DataFrame(found, columns=list(Match._fields))
            for found in self.match_rows(records, top=top)
        ]

    def match_rows(
        self, records: Sequence[Mapping[str, Any]], *, top: int = 5
    ) -> list[list[Match]]:
        """:meth:`match_many` as plain rows, for a caller that answers from them (a service
        matching a few records per call, where building and reading data frames cost as
        much as the scoring query)."""
        rows = []
        for i, record in enumerate(records):
            row = {c: _plain(record.get(c)) for c in self._columns}
            row["unique_id"] = f"{self._NEW_ID}{i}"
            rows.append(row)
        found = [self.candidates(row) for row in rows]
        taken = sorted({position for one in found for position in one})
        answers: list[list[Match]] = [[] for _ in rows]
        if taken:
            import pyarrow as pa

            candidates = self._table.take(np.asarray(taken, dtype=np.int64))
            id_of = dict(zip(taken, candidates.column("unique_id").to_pylist(), strict=True))
            keys, left, right = [], [], []
            for row, one in zip(rows, found, strict=True):
                for position, rule in one.items():
                    keys.append(str(rule))
                    left.append(row["unique_id"])
                    right.append(id_of[position])
            table = pa.concat_tables([self._new_rows(rows), candidates])
            with self._lock:
                self._rows.table, self._pairs.table = table, _pair_table(keys, left, right)
                scored = self._con.execute("EXECUTE __butler_score").fetchnumpy()
            of = {row["unique_id"]: i for i, row in enumerate(rows)}
            owner = [of[uid] for uid in scored["unique_id_l"].tolist()]
            self._best(owner, scored, rows, answers, top)
        return answers

    def _best(
        self,
        owner: list[int],
        scored: Mapping[str, np.ndarray],
        rows: list[dict[str, Any]],
        answers: list[list[Match]],
        top: int,
    ) -> None:
        """Fill ``answers[i]`` with record ``i``'s best account per person, best first, from
        the scored pairs (``owner``: each pair's record). A few dozen rows: plain Python,
        where pandas' per-call cost was most of the time."""
        ids = scored["unique_id_r"].tolist()
        probability = scored["match_probability"].tolist()
        weight = scored["match_weight"].tolist()
        people = [self.person_of_[uid] for uid in ids]
        births = [BirthKey.of(row) if self.births_of_ else None for row in rows]
        keep = self.model.config.keep_probability
        kept: list[dict[str, list[float]]] = [{} for _ in rows]
        for i, person, p in zip(owner, people, probability, strict=True):
            kept[i].setdefault(person, []).append(p if p >= keep else 0.0)
        # best first; ties (often: accounts that share nothing but the blocking key) by id,
        # so an answer does not depend on the order the query returned its rows in
        for j in sorted(range(len(ids)), key=lambda j: (-weight[j], ids[j])):
            i, person = owner[j], people[j]
            if person not in kept[i] or len(answers[i]) == top:  # listed, or enough
                continue
            platform = rows[i].get("platform")
            held = platform is not None and platform in self.platforms_of_.get(person, ())
            average = float(np.mean(kept[i].pop(person)))
            apart = births[i] is not None and any(
                births[i].two_people(k, self._birth_gap) for k in self.births_of_.get(person, ())
            )
            answers[i].append(
                Match(person, ids[j], probability[j], weight[j], held, average, apart)
            )

    def person(
        self,
        found: pd.DataFrame | Sequence[Match],
        threshold: float,
        *,
        min_average: float | None = None,
    ) -> str | None:
        """The person ``match`` found the record to be, as resolving would join it: the best
        candidate at or above ``threshold`` that holds no account on the record's platform,
        whose compared accounts average at least ``min_average`` (None: the model's
        ``min_group_probability``) and whom the record's birth date and given name do not
        tell apart (a relative on the same phone); None for a new person. ``found``: an answer of
        :meth:`match` or of :meth:`match_rows`."""
        if min_average is None:
            min_average = self.min_group_probability
        if isinstance(found, pd.DataFrame):
            given = [f for f in Match._fields if f in found.columns]  # told_apart may be left out
            found = [Match(**row) for row in found[given].to_dict("records")]
        for match in found:
            if (
                match.match_probability >= threshold
                and not match.same_platform
                and not match.told_apart
                and match.person_probability >= min_average
            ):
                return str(match.person_id)
        return None


class Match(NamedTuple):
    """One candidate person of :meth:`IncrementalMatcher.match`: the person's account that
    matched the record best; see there."""

    person_id: str
    unique_id: str
    match_probability: float
    match_weight: float
    same_platform: bool
    person_probability: float
    told_apart: bool = False


class _ArrowSource:
    """An Arrow table DuckDB scans anew each time a query runs (the Arrow stream
    interface), so a prepared query reads whatever table was handed in last; a registered
    table itself would be captured by the prepared plan, and registering another one makes
    DuckDB bind the query again."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.table.__arrow_c_stream__(requested_schema)


def _pair_table(keys: list[str], left: list[str], right: list[str]) -> Any:
    """splink's blocked pairs: ``match_key`` (the rule that found the pair), ``join_key_l``
    (the new record), ``join_key_r`` (the candidate)."""
    import pyarrow as pa

    return pa.table(
        {"match_key": keys, "join_key_l": left, "join_key_r": right},
        schema=pa.schema(
            [(name, pa.string()) for name in ("match_key", "join_key_l", "join_key_r")]
        ),
    )


def _min_group_probability(config: IdentityConfig) -> float:
    """The config's ``min_group_probability``; 0 (no check) for a model saved before it."""
    return getattr(config, "min_group_probability", 0.0)


def _key_index(rows: pd.DataFrame, rule: tuple[str, ...]) -> dict[Any, np.ndarray]:
    """Blocking key → positions in ``rows`` of the records that have it (list columns
    exploded, null keys left out, as splink's equality joins leave them out)."""
    keys = rows[list(rule)]
    for col in rule:
        if col in _ARRAYS:
            keys = keys.explode(col)
    keys = keys.dropna()
    groups = keys.groupby(list(rule) if len(rule) > 1 else rule[0], sort=False).indices
    positions = keys.index.to_numpy()
    return {key: np.unique(positions[at]) for key, at in groups.items()}


@dataclass(frozen=True, slots=True)
class BlockingKeys:
    """Which pairs of accounts the prediction rules compare.

    splink compares two accounts when they share the key of one blocking rule (equal values
    in every column of the rule, list columns exploded, null keys never equal). A pair it
    compared and scored below ``keep_probability`` is not returned by ``predict``; this says
    whether such a pair was compared, so the group check of :func:`joinable_pairs` can count
    it as evidence against a join instead of as never seen.

    ``single``: one row per rule without list columns, an integer key per account (−1 =
    null). ``mixed``: per rule with list columns, the integer key of its other columns (None
    when it has none) and the names of its list columns; two accounts share such a rule's
    key when that key is equal and each list column's keys overlap (the exploded join,
    without exploding). ``lists``: each list column's keys per account (CSR: ``starts`` of
    length n + 1 into ``codes``).
    """

    single: np.ndarray
    mixed: tuple[tuple[np.ndarray | None, tuple[str, ...]], ...]
    lists: Mapping[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def of(cls, members: pd.DataFrame, rules: Sequence[tuple[str, ...]]) -> BlockingKeys:
        """The keys of every account of ``members`` (in its row order) under ``rules``;
        a rule on a column ``members`` lacks is left out (it compared nothing)."""
        n = len(members)
        single, mixed, lists = [], [], {}
        for rule in rules:
            if not set(rule) <= set(members.columns):
                continue
            scalar = [members[col] for col in rule if col not in _ARRAYS]
            codes = _combined_codes(scalar).astype(np.int32) if scalar else None
            listed = tuple(col for col in rule if col in _ARRAYS)
            if not listed:
                single.append(codes)
                continue
            mixed.append((codes, listed))
            for col in listed:
                if col not in lists:
                    keys = members[col].reset_index(drop=True).explode().dropna()
                    positions = keys.index.to_numpy(dtype=np.int64)  # explode keeps order
                    starts = np.searchsorted(positions, np.arange(n + 1))
                    lists[col] = (starts, _combined_codes([keys]).astype(np.int32))
        matrix = np.vstack(single) if single else np.empty((0, n), dtype=np.int32)
        return cls(single=matrix, mixed=tuple(mixed), lists=lists)

    def shared(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """One boolean per pair (``left[i]``, ``right[i]``: account positions): True where
        the two accounts share a key, i.e. splink compared them."""
        left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
        a, b = self.single[:, left], self.single[:, right]
        out = ((a == b) & (a >= 0)).any(axis=0)
        for codes, listed in self.mixed:
            todo = np.flatnonzero(~out)
            if codes is not None:
                here = codes[left[todo]]
                todo = todo[(here == codes[right[todo]]) & (here >= 0)]
            for col in listed:
                if not len(todo):
                    break
                todo = todo[_overlap(*self.lists[col], left[todo], right[todo])]
            out[todo] = True
        return out


def _overlap(starts: np.ndarray, codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> Any:
    """One boolean per pair: the keys of account ``left[i]`` and of ``right[i]`` overlap."""
    # every (pair, key) of each side as one number: a pair overlaps when one of its left
    # numbers is among its right numbers
    width = len(codes) + 1
    pair_l, key_l = _spans(starts, codes, left)
    pair_r, key_r = _spans(starts, codes, right)
    out = np.zeros(len(left), dtype=bool)
    out[pair_l[np.isin(pair_l * width + key_l, pair_r * width + key_r)]] = True
    return out


def _spans(starts: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """``codes[starts[r]:starts[r + 1]]`` of every ``rows[i]``, flat, with each one's ``i``."""
    lengths = starts[rows + 1] - starts[rows]
    owner = np.repeat(np.arange(len(rows)), lengths)
    first = np.repeat(starts[rows] - (np.cumsum(lengths) - lengths), lengths)
    return owner, codes[first + np.arange(len(owner))].astype(np.int64)


def _combined_codes(columns: Sequence[pd.Series]) -> np.ndarray:
    """One integer per row for the tuple of ``columns``' values; −1 where any is null."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    null = np.zeros(len(columns[0]), dtype=bool)
    for col in columns:
        own, uniques = pd.factorize(col.to_numpy(dtype=object))
        null |= own < 0
        codes, _ = pd.factorize(codes * (len(uniques) + 1) + own)
    return np.where(null, -1, codes)


def _record_keys(record: Mapping[str, Any], rule: tuple[str, ...]) -> list[Any]:
    """The blocking keys of one record under ``rule``, as :func:`_key_index` spells them."""
    values = []
    for col in rule:
        value = record.get(col)
        if col in _ARRAYS:
            values.append([v for v in value if v is not None] if value else [])
        else:
            values.append([] if value is None else [value])
    if len(rule) == 1:
        return values[0]
    return list(itertools.product(*values))


# -- helpers ------------------------------------------------------------------------------------


def _em_failure(exc: Exception) -> str:
    """splink's reason for refusing an EM pass, in a few words."""
    text = " ".join(str(exc).split())
    if "resulted in no record pairs" in text:
        return "no pair of records agrees on it"
    if "cast(nan as" in text.lower():
        return "a level's m probability came out undefined (0/0)"
    return text[:120] or type(exc).__name__


@contextmanager
def _linker(
    data: pd.DataFrame, settings: Any, linker_cls: Any, *, memory_gb: float
) -> Iterator[Any]:
    """A linker on a private in-memory DuckDB that keeps to ``memory_gb`` and spills the rest
    to a temporary folder; the database is closed (its memory freed) on exit."""
    from splink.backends.duckdb import DuckDBAPI

    db_api = DuckDBAPI()  # splink's engine: an in-memory database of its own
    con = db_api.duckdb_con
    try:
        con.execute(f"SET memory_limit = '{memory_gb:g}GB'")
        con.execute(f"SET temp_directory = '{_spill_path()}'")
        con.execute("SET preserve_insertion_order = false")  # splink orders what it needs to
        frame = db_api.register(data, dataset_display_name="members")
        # log_level=None: splink leaves logging alone; the application configures it
        yield linker_cls(frame, settings, log_level=None)
    finally:
        con.close()


def _spill_path() -> str:
    """A folder name, new for each linker, for DuckDB to spill to. DuckDB creates it only
    when a query outgrows the memory limit and removes it when its database closes, so no
    empty folder is left behind (one folder per linker: closing one database must not
    remove files another is still spilling)."""
    name = f"butler-identity-{os.getpid()}-{uuid.uuid4().hex}"
    return os.path.join(tempfile.gettempdir(), name)


def _records(data: pd.DataFrame, ids: Sequence[str], func: str) -> list[dict[str, Any]]:
    """The rows of ``ids`` as splink record dictionaries, in the order asked."""
    rows = data.set_index("unique_id", drop=False)
    missing = [i for i in ids if str(i) not in rows.index]
    if missing:
        raise UnknownEntityError(
            f"`IdentityResolver.{func}` was asked about {', '.join(map(str, missing))}, which "
            "is not among the members given: pass the records the ids come from."
        )
    return [{c: _plain(v) for c, v in rows.loc[str(i)].items()} for i in ids]


def _plain(value: Any) -> Any:
    """A value as splink's record dictionaries take it (lists stay lists, NaN → None)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def choose_threshold(
    ids: pd.Series,
    pairs: pd.DataFrame,
    candidates: Sequence[float] = AUTO_THRESHOLDS,
    *,
    platforms: pd.Series | None = None,
    joined: np.ndarray | None = None,
    min_average: float = 0.0,
) -> tuple[float, pd.DataFrame]:
    """The merge threshold whose persons have the highest expected pairwise F1 — no labels.

    For the persons that the connected components at a threshold make, the model's own
    probabilities give the expected counts: a compared pair inside a person is ``p`` of a
    true pair and ``1 - p`` of a false one; a compared pair split across two persons is ``p``
    of a missed one. Pairs inside a person that were never compared (or scored below
    ``keep_probability``) are false, except for the share blocking is expected to miss: in
    the persons of the highest candidate (the surest), ``r`` = expected true pairs compared /
    pairs inside them is what blocking compares of a person's pairs, so up to
    ``TP_compared · (1 − r) / r`` never-compared pairs count true. Expected F1 = 2·TP /
    (2·TP + FP + FN). What this guards against is chaining: a low threshold joins chains of
    weak links into persons whose accounts were mostly never compared, while a high one
    splits persons the model is sure of; without the blocking share, a list whose people
    have many records (a fifth of each one's pairs never compared) was held at the highest
    threshold. Ties go to the higher threshold.

    Args:
        ids: every account of the list, once each.
        pairs: the scored pairs (``unique_id_l, unique_id_r, match_probability``).
        candidates: thresholds to try.
        platforms: each account's platform, in ``ids`` order, to keep two accounts of one
            platform apart (:func:`joinable_pairs`); None = plain connected components.
        joined: instead of ``platforms`` and ``min_average``, :func:`joinable_pairs` already
            run at or below the lowest candidate (one boolean per row of ``pairs``).
        min_average: persons join only when their compared pairs average at least this
            probability (:func:`joinable_pairs`); 0 = no check.

    Returns:
        The chosen threshold and one row per candidate: ``threshold, expected_f1, persons``.

    Examples:
        >>> threshold, table = choose_threshold(members["unique_id"], model.predict(members))
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = pd.Index(ids.astype(str))
    left = index.get_indexer(pairs["unique_id_l"].astype(str))
    right = index.get_indexer(pairs["unique_id_r"].astype(str))
    known = (left >= 0) & (right >= 0)
    left, right = left[known], right[known]
    p = pairs["match_probability"].to_numpy(dtype="float64")[known]
    n, rows = len(index), []
    joins = np.ones(len(p), dtype=bool)
    if joined is not None:
        joins = np.asarray(joined, dtype=bool)[known]
    elif (platforms is not None or min_average > 0) and len(candidates):
        named = np.full(n, None, dtype=object) if platforms is None else platforms
        joins = _joins(
            left, right, p, np.asarray(named, dtype=object), min(candidates),
            min_average=min_average,
        )  # fmt: skip
    counts = []  # per candidate: persons, pairs inside them, of which compared, TP, FN
    for t in candidates:
        keep = joins & (p >= t)
        graph = coo_matrix((np.ones(int(keep.sum())), (left[keep], right[keep])), shape=(n, n))
        n_persons, labels = connected_components(graph, directed=False)
        sizes = np.bincount(labels).astype("float64")
        same = labels[left] == labels[right]
        within = float((sizes * (sizes - 1) / 2).sum())
        counts.append((n_persons, within, float(same.sum()), float(p[same].sum()),
                       float(p[~same].sum())))  # fmt: skip
    surest = max(range(len(candidates)), key=lambda i: candidates[i], default=None)
    compared_share = 1.0  # r: of a person's pairs, the share blocking compares
    if surest is not None and counts[surest][1] > 0:
        compared_share = max(counts[surest][3] / counts[surest][1], 1e-6)
    for t, (n_persons, within, compared, tp, fn) in zip(candidates, counts, strict=True):
        missed = min(within - compared, tp * (1 - compared_share) / compared_share)
        fp = (compared - tp) + (within - compared - missed)
        tp += missed
        f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
        rows.append((float(t), f1, int(n_persons)))
    table = pd.DataFrame(rows, columns=["threshold", "expected_f1", "persons"])
    best = table.loc[table["expected_f1"] == table["expected_f1"].max(), "threshold"].max()
    logger.info("merge threshold chosen without labels: %.3f (expected pairwise F1 %.3f)",
                best, table["expected_f1"].max())  # fmt: skip
    return float(best), table


class BirthKey(NamedTuple):
    """What :class:`BirthGap` reads of an account: birth year, ``YYYY-MM-DD`` and the given
    name's characters and readings."""

    year: int
    date: str
    given: frozenset[str]

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> BirthKey | None:
        """The key of one normalised record; None without a birth date or a given name in
        characters."""
        chars, date = record.get("given_chars"), record.get("birth_date")
        year = pd.to_numeric(record.get("birth_year"), errors="coerce")
        if not (isinstance(chars, str) and chars and isinstance(date, str) and date):
            return None
        if pd.isna(year):
            return None
        keys = record.get("given_keys")
        readings = (k for k in (keys if _is_list(keys) else ()) if k)
        return cls(int(year), date, frozenset([chars, *readings]))

    def two_people(self, other: BirthKey, years: int) -> bool:
        """Whether this account and ``other`` are two people: born at least ``years``
        apart, dates not one typo apart, given names unalike."""
        if abs(self.year - other.year) < years or _one_typo(self.date, other.date):
            return False
        if self.given & other.given:
            return False
        return all(
            difflib.SequenceMatcher(None, x, y).ratio() < 0.8
            for x in self.given
            for y in other.given
        )


@dataclass(frozen=True, slots=True)
class BirthGap:
    """Which accounts are two people whatever the model scores: birth dates at least
    ``years`` apart, more than one typed digit apart, and given names in Chinese characters
    that are unalike (:meth:`BirthKey.two_people`).

    A mother and her daughter who share a phone, a family name and a city score as one
    person (the phone alone is worth about 16 bits; a birth date that differs costs about
    5, as the model meets typed-over dates among one person's accounts too). Dates one digit
    or one swap apart (1985 ~ 1958, 1985 ~ 1995) and given names read alike or spelt alike
    (difflib ratio ≥ 0.8 between their readings) are not told apart. Only names written in
    characters count: a romanised given name is too often a nickname (Bob, Robert), a
    swapped field or a spelling of the other (the FEBRL and historical lists lost recall
    when they counted).

    ``keys``: each account's :class:`BirthKey` (None = nothing to tell it apart by).
    """

    keys: tuple[BirthKey | None, ...]
    years: int

    @classmethod
    def of(cls, members: pd.DataFrame, years: int | None) -> BirthGap | None:
        """The rule over ``members`` (normalised, in row order); None when it cannot tell
        anybody apart (``years`` None, or fewer than two accounts with a birth date and a
        given name in characters)."""
        need = {"birth_year", "birth_date", "given_chars"}
        if years is None or not need <= set(members.columns):
            return None
        cols = [c for c in (*need, "given_keys") if c in members]
        keys = tuple(
            BirthKey.of(dict(zip(cols, row, strict=True)))
            for row in zip(*(members[c] for c in cols), strict=True)
        )
        if sum(k is not None for k in keys) < 2:
            return None
        return cls(keys, int(years))

    def any_apart(self, left: Sequence[int], right: Sequence[int]) -> bool:
        """Whether an account of ``left`` and one of ``right`` are two people."""
        mine = [k for u in left if (k := self.keys[u]) is not None]
        if not mine:
            return False
        yours = [k for u in right if (k := self.keys[u]) is not None]
        return any(a.two_people(b, self.years) for a in mine for b in yours)


def _is_list(value: object) -> bool:
    return value is not None and not isinstance(value, str | float)


def _one_typo(a: str, b: str) -> bool:
    """Two dates of one format that differ in one character or one adjacent swap."""
    if len(a) != len(b):
        return False
    diff = [k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) <= 1:
        return True
    i, j = diff[0], diff[-1]
    return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]


def joinable_pairs(
    ids: pd.Series,
    pairs: pd.DataFrame,
    platforms: pd.Series | None,
    threshold: float,
    *,
    min_average: float = 0.0,
    blocking: BlockingKeys | None = None,
    apart: BirthGap | None = None,
) -> np.ndarray:
    """Which pairs at or above ``threshold`` join two persons, taken strongest first.

    A pair joins the two accounts' persons unless that would put two accounts of the same
    platform into one person (with ``platforms``), or the two persons' accounts, over every
    pair of them the model compared, average a match probability below ``min_average``: one
    strong link does not pull in accounts the model scored as someone else. Ties go in the
    pairs' order. Accounts with no platform never conflict. The result at a threshold is the
    prefix of the same pass, so a higher threshold never joins more.

    Pairs not in ``pairs`` do not count, unless ``blocking`` says the model compared them:
    then they were scored below ``keep_probability`` and count as 0. (Without it, a person
    ``岑梅蕾`` with a masked phone joins ``傅兰洁``, whose full phone fits the mask, by the one
    link of an account that has no name, although the model scored her named account
    against both of his near 0.)

    Args:
        ids: every account, once each.
        pairs: scored pairs (``unique_id_l, unique_id_r, match_probability``), the weak ones
            too: they are the evidence against a join.
        platforms: each account's platform, in ``ids`` order (None / NaN = unknown); None =
            no platform rule.
        threshold: the lowest probability taken.
        min_average: the lowest average probability of the compared pairs between two
            persons that may join (0 = no check).
        blocking: the accounts' blocking keys (:meth:`BlockingKeys.of`, in ``ids``
            order), to count the compared pairs ``pairs`` left out; None = count only
            ``pairs``.
        apart: the accounts' birth dates and given names (:meth:`BirthGap.of`, in ``ids``
            order): two persons holding two accounts it tells apart are not joined; None =
            no such rule.

    Returns:
        One boolean per row of ``pairs``: True where the pair joined two persons.
    """
    index = pd.Index(ids.astype(str))
    left = index.get_indexer(pairs["unique_id_l"].astype(str))
    right = index.get_indexer(pairs["unique_id_r"].astype(str))
    known = (left >= 0) & (right >= 0)
    p = pairs["match_probability"].to_numpy(dtype="float64")
    named = np.full(len(index), None, dtype=object) if platforms is None else platforms
    out = np.zeros(len(pairs), dtype=bool)
    out[known] = _joins(
        left[known], right[known], p[known], np.asarray(named, dtype=object), threshold,
        min_average=min_average, blocking=blocking, apart=apart,
    )  # fmt: skip
    return out


def _joins(
    left: np.ndarray,
    right: np.ndarray,
    p: np.ndarray,
    platforms: np.ndarray,
    lowest: float,
    *,
    min_average: float = 0.0,
    blocking: BlockingKeys | None = None,
    apart: BirthGap | None = None,
) -> np.ndarray:
    """:func:`joinable_pairs` on integer account positions.

    Union by size over the pairs at or above ``lowest``, strongest first: each person keeps
    its accounts and the set of its platforms as bits, every account its person's label.
    Where a join would merge two persons of which one has several accounts, the pairs
    between them are read from an index of every scored pair by account (both ways), and
    with ``blocking`` the pairs between them that are not scored are looked up there.
    """
    n = len(platforms)
    named = pd.Series(platforms, dtype=object)
    codes, _ = pd.factorize(named.where(named.notna() & (named.astype(str).str.strip() != "")))
    bits = [0 if c < 0 else 1 << int(c) for c in codes]  # Python ints: any number of platforms
    label = np.arange(n)
    members: dict[int, list[int]] = {}  # persons of two accounts or more
    if min_average > 0:  # every scored pair, both ways, grouped by account
        ends = np.concatenate([left, right])
        by = np.argsort(ends, kind="stable")
        owner, other = ends[by], np.concatenate([right, left])[by]
        both = np.concatenate([p, p])[by]
        start = np.searchsorted(owner, np.arange(n + 1))

    def average(small: list[int], big: int) -> float:
        """Mean probability of the compared pairs between accounts ``small`` and person
        ``big``: the scored ones, and with ``blocking`` the ones scored too low to keep (0)."""
        rows = np.concatenate([np.arange(start[u], start[u + 1]) for u in small])
        rows = rows[label[other[rows]] == big]
        compared = len(rows)
        theirs = members.get(big, [big])
        if blocking is not None and compared < len(small) * len(theirs):
            mine = np.repeat(np.asarray(small), len(theirs))
            yours = np.tile(np.asarray(theirs), len(small))
            scored = np.isin(mine * n + yours, owner[rows] * n + other[rows])
            compared += int(blocking.shared(mine[~scored], yours[~scored]).sum())
        return float(both[rows].sum()) / compared if compared else 1.0

    order = np.argsort(-p, kind="stable")
    order = order[p[order] >= lowest]
    joined = np.zeros(len(p), dtype=bool)
    lefts, rights = left.tolist(), right.tolist()
    for k in order.tolist():
        a, b = int(label[lefts[k]]), int(label[rights[k]])
        if a == b or bits[a] & bits[b]:
            continue
        accounts_a, accounts_b = members.get(a, [a]), members.get(b, [b])
        if len(accounts_a) < len(accounts_b):
            a, b, accounts_a, accounts_b = b, a, accounts_b, accounts_a
        if min_average > 0 and len(accounts_a) > 1 and average(accounts_b, a) < min_average:
            continue
        if apart is not None and apart.any_apart(accounts_a, accounts_b):
            continue
        label[accounts_b] = a  # the smaller person takes the larger one's label
        members[a] = accounts_a + accounts_b
        members.pop(b, None)
        bits[a] |= bits[b]
        joined[k] = True
    return joined


def cluster_pairs(
    ids: pd.Series,
    pairs: pd.DataFrame,
    threshold: float,
    *,
    platforms: pd.Series | None = None,
    joined: np.ndarray | None = None,
    min_average: float = 0.0,
) -> pd.DataFrame:
    """Persons as connected components of the pairs at or above ``threshold``.

    With ``platforms`` (each account's, in ``ids`` order) or ``min_average`` only the pairs
    of :func:`joinable_pairs` link accounts: a person never holds two accounts of one
    platform, and two persons whose compared pairs average below ``min_average`` stay
    apart. ``joined`` gives that pass already run (at ``threshold`` or below: a higher
    threshold's joins are a prefix of a lower one's), one boolean per row of ``pairs``.

    Returns:
        ``unique_id, person_id, cluster_size, match_probability`` per id, in ``ids`` order;
        ``person_id`` is the smallest account id of the person (a store's ids are carried
        across resolutions by :func:`models.person_ids.carry_person_ids`);
        ``match_probability`` is the strongest link of the account inside its person (NaN
        when alone).
    """
    from models.linkage_metrics import connected_components

    ids = pd.Index(ids.astype(str), name="unique_id")
    pairs = pairs.astype({"unique_id_l": str, "unique_id_r": str})
    if joined is not None:
        pairs = pairs[np.asarray(joined, dtype=bool)]
    elif platforms is not None or min_average > 0:
        keep = joinable_pairs(pd.Series(ids), pairs, platforms, threshold, min_average=min_average)
        pairs = pairs[keep]
    label = connected_components(pairs, ids, threshold)
    frame = pd.DataFrame({"unique_id": ids, "person_id": label.reindex(ids).to_numpy()})
    frame["cluster_size"] = frame.groupby("person_id")["unique_id"].transform("size")
    keep = pairs[pairs["match_probability"] >= threshold]
    ends = [
        keep[[side, "match_probability"]].set_axis(["unique_id", "p"], axis=1)
        for side in ("unique_id_l", "unique_id_r")
    ]
    strongest = pd.concat(ends).groupby("unique_id")["p"].max()
    frame["match_probability"] = frame["unique_id"].map(strongest)
    return frame


def waterfall(scored: pd.Series, settings: dict) -> pd.DataFrame:
    """Waterfall rows of one scored pair, from splink's intermediate columns.

    Args:
        scored: one row of splink's scored pairs with ``gamma_*``, ``mw_*`` and
            ``mw_tf_adj_*`` columns (``retain_intermediate_calculation_columns``).
        settings: the model dictionary (for the comparison level labels and the prior).

    Returns:
        ``step, level, match_weight, cumulative, match_probability``: the prior, one row per
        comparison (its level and its weight, term-frequency adjustment included) and the
        total, whose probability is the pair's.
    """
    prior = float(settings["probability_two_random_records_match"])
    rows = [{"step": "prior", "level": f"P(match) = {prior:.2g}",
             "match_weight": math.log2(prior / (1 - prior))}]  # fmt: skip
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        gamma = int(scored.get(f"gamma_{name}", -1))
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        # splink numbers every null level -1: say which ones it may have been
        nulls = [
            lvl["label_for_charts"]
            for lvl in comparison["comparison_levels"]
            if lvl.get("is_null_level")
        ]
        label = ", or ".join(nulls) or "missing or not comparable"
        if 0 <= gamma < len(levels):
            # splink numbers the non-null levels from the last (ELSE = 0) upwards
            label = levels[len(levels) - 1 - gamma]["label_for_charts"]
        weight = float(scored.get(f"mw_{name}", 0.0) or 0.0)
        weight += float(scored.get(f"mw_tf_adj_{name}", 0.0) or 0.0)
        rows.append({"step": name, "level": label, "match_weight": weight})
    out = pd.DataFrame(rows)
    out["cumulative"] = out["match_weight"].cumsum()
    total = float(out["cumulative"].iloc[-1])
    last = {"step": "total", "level": "", "match_weight": total, "cumulative": total}
    out = pd.concat([out, pd.DataFrame([last])], ignore_index=True)
    out["match_probability"] = np.nan
    out.loc[out.index[-1], "match_probability"] = 2.0**total / (1 + 2.0**total)
    return out


def resolution_summary(
    members: pd.DataFrame,
    clusters: pd.DataFrame,
    *,
    cost_per_account: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """What marketing reads first: accounts, persons, and spend on people already recruited.

    An account "was already recruited elsewhere" when its person had an earlier account
    (``registered_at``, else the order of ``members``) on another platform.

    Args:
        members: raw records: ``unique_id`` + optional ``platform`` and ``registered_at``.
        clusters: ``unique_id, person_id``.
        cost_per_account: recruitment cost of one account per platform; None = the same
            for every account (the share is then a share of accounts).

    Returns:
        ``accounts, persons, accounts_per_person, persons_on_2plus_platforms,
        duplicate_recruitment_share``.
    """
    data = members[["unique_id"]].astype(str)
    data["platform"] = members["platform"].to_numpy() if "platform" in members else None
    if "registered_at" in members:
        data["when"] = pd.to_datetime(members["registered_at"], errors="coerce").to_numpy()
    else:
        data["when"] = pd.NaT
    data["order"] = np.arange(len(data))
    data = data.merge(clusters[["unique_id", "person_id"]].astype(str), on="unique_id")
    data = data.sort_values(["person_id", "when", "order"], na_position="last")
    first_platform = data.groupby("person_id")["platform"].transform("first")
    elsewhere = data["platform"].notna() & (data["platform"] != first_platform)
    cost = (
        data["platform"].map(cost_per_account).fillna(0.0)
        if cost_per_account
        else pd.Series(1.0, index=data.index)
    )
    if cost_per_account:
        free = data.loc[data["platform"].notna() & ~data["platform"].isin(cost_per_account)]
        if len(free):
            logger.warning(
                "%d accounts are on platforms without a recruitment cost (%s): they count as "
                "free in the share of spend; give each platform a cost",
                len(free), ", ".join(sorted(free["platform"].astype(str).unique())),
            )  # fmt: skip
    platforms = data.groupby("person_id")["platform"].nunique()
    persons = data["person_id"].nunique()
    total = float(cost.sum())
    return {
        "accounts": float(len(data)),
        "persons": float(persons),
        "accounts_per_person": len(data) / persons if persons else float("nan"),
        "persons_on_2plus_platforms": float((platforms >= 2).sum()),
        "duplicate_recruitment_share": float(cost[elsewhere].sum()) / total if total else 0.0,
    }


# -- survivorship -------------------------------------------------------------------------------


#: Fields a golden record writes as one reaches (or addresses) a person with them, first
#: when any account has such a value (None: not usable that way).
_CONTACT = {"phone": contact_phone, "email": contact_email, "full_name": full_chinese_name}


def golden_records(
    members: pd.DataFrame,
    clusters: pd.DataFrame,
    *,
    trust_order: Sequence[str] = TRUST_ORDER,
    fields: Sequence[str] = GOLDEN_FIELDS,
) -> pd.DataFrame:
    """One golden record per person by survivorship rules.

    For each field, the value comes from the person's accounts ranked by: the most trusted
    channel (``trust_order``; unknown channels last), then the most complete account (most
    non-null fields), then the most recent (``registered_at``, when present), then the
    account id; the first account with a non-null value wins. A phone or e-mail one can
    reach comes before a masked or unreadable one, whatever the channel, and is written as
    it is dialled or mailed (``13812345678``, lower case); ``phone_reachable`` says whether
    the golden phone is one. A full name in Chinese characters comes before pinyin or a
    surname with an honorific (韦琴静 before 韦女士 or "Wei Qinjing").

    Args:
        members: raw member records: ``unique_id`` + any of ``fields`` + optional
            ``platform`` and ``registered_at``.
        clusters: ``unique_id, person_id`` (from :meth:`IdentityResolver.resolve`).

    Returns:
        One row per person: ``person_id``, the fields, ``source_accounts`` (the person's
        account ids, sorted, ``;``-separated), ``cluster_size`` (its accounts),
        ``platforms`` (sorted, ``;``-separated) and ``<field>_from`` naming the account each
        value came from.
    """
    if "unique_id" not in members.columns:
        raise ContractViolation("`golden_records` needs a `unique_id` column in `members`.")
    data = members.copy()
    data["unique_id"] = data["unique_id"].astype(str)
    ids = clusters[["unique_id", "person_id"]].astype(str)
    data = data.merge(ids, on="unique_id", how="inner")
    present = [f for f in fields if f in data.columns]
    rank = {p: i for i, p in enumerate(trust_order)}
    platform = data["platform"] if "platform" in data.columns else pd.Series(None, index=data.index)
    data["_trust"] = platform.map(rank).fillna(len(rank))
    data["_complete"] = -data[present].notna().sum(axis=1)
    recent = (
        pd.to_datetime(data["registered_at"], errors="coerce")
        if "registered_at" in data.columns
        else pd.Series(pd.NaT, index=data.index)
    )
    data["_recent"] = -(recent.astype("int64", errors="ignore").where(recent.notna(), 0))
    data = data.sort_values(["person_id", "_trust", "_complete", "_recent", "unique_id"])
    grouped = data.groupby("person_id", sort=True)
    out = pd.DataFrame(index=grouped.size().index)
    for f in present:
        has = data[data[f].notna()]
        contact = _CONTACT.get(f)
        if contact is not None:  # a reachable value first, in its clean form
            clean = has[f].map(contact)
            has = has.assign(**{f: clean.fillna(has[f]), "_unreachable": clean.isna()})
            has = has.sort_values(["person_id", "_unreachable"], kind="stable")
        first = has.groupby("person_id")[[f, "unique_id"]].first()
        out[f] = first[f]
        out[f"{f}_from"] = first["unique_id"]
        if f == "phone":
            reachable = ~has.groupby("person_id")["_unreachable"].first()
            out["phone_reachable"] = reachable.astype(bool).reindex(out.index, fill_value=False)
    out["source_accounts"] = grouped["unique_id"].agg(lambda s: ";".join(sorted(s)))
    out["cluster_size"] = grouped.size()
    if "platform" in data.columns:
        out["platforms"] = grouped["platform"].agg(lambda s: ";".join(sorted(set(s.dropna()))))
    return out.reset_index()


__all__ = [
    "DETERMINISTIC_RULES",
    "EM_RULES",
    "GOLDEN_FIELDS",
    "PREDICTION_RULES",
    "REGISTERED_NAME",
    "TRUST_ORDER",
    "BlockingKeys",
    "IdentityConfig",
    "IdentityResolver",
    "IncrementalMatcher",
    "Resolution",
    "choose_threshold",
    "cluster_pairs",
    "comparisons",
    "golden_records",
    "joinable_pairs",
    "resolution_summary",
    "waterfall",
]
