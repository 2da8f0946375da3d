"""The splink identity model: settings follow the data, clusters, explanations, incremental
matching, survivorship and the summary marketing reads.

One small synthetic member world (persons with 1–3 accounts written differently) is fitted
once per module; splink runs on its private in-memory DuckDB.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from features.errors import (
    ContractViolation,
    InvalidParameterError,
    NotFittedError,
    UnknownEntityError,
)
from features.identity import normalise_members
from models.identity import (
    AUTO_THRESHOLDS,
    BirthGap,
    BlockingKeys,
    IdentityConfig,
    IdentityResolver,
    choose_threshold,
    cluster_pairs,
    comparisons,
    golden_records,
    joinable_pairs,
    resolution_summary,
)
from models.linkage_metrics import pairwise_scores

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲"
TRAD = str.maketrans({"陈": "陳", "刘": "劉", "杨": "楊", "黄": "黃", "赵": "趙", "伟": "偉"})


def member_world(n_persons: int = 150, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Raw member records and each record's true person."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for p in range(n_persons):
        name = rng.choice(list(FAMILY)) + "".join(rng.choice(list(GIVEN), size=2))
        phone = f"1{rng.choice([38, 39, 58, 86])}{rng.integers(10**7, 10**8)}"
        email = f"user{p}@example.com"
        birth = f"19{rng.integers(60, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 28):02d}"
        for a in range(int(rng.integers(1, 4))):
            variant = rng.integers(0, 4)
            rows.append(
                {
                    "unique_id": f"p{p}a{a}",
                    "full_name": name.translate(TRAD) if variant == 1 else name,
                    "phone": f"{phone[:3]}****{phone[-4:]}" if variant == 2 else phone,
                    "email": email if variant != 3 else None,
                    "birth_date": birth.replace("-", "") if variant == 3 else birth,
                    "city": "深圳市",
                    "platform": ["tmall", "jd", "douyin"][a],
                    "registered_at": f"2024-0{a + 1}-01",
                }
            )
            truth.append(f"p{p}")
    return pd.DataFrame(rows), pd.Series(truth, index=[r["unique_id"] for r in rows])


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    raw, truth = member_world()
    return raw, normalise_members(raw), truth


@pytest.fixture(scope="module")
def fitted(world) -> IdentityResolver:
    _, members, _ = world
    return IdentityResolver(IdentityConfig(u_max_pairs=2e5)).fit(members)


# -- config and settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("threshold", 1.0),
        ("threshold", 0.0),
        ("threshold", "best"),
        ("threshold", True),
        ("name_similarity", (0.7, 0.9)),
        ("u_max_pairs", 10),
        ("prior_recall", 0.0),
        ("keep_probability", 0.95),
        ("min_group_probability", 1.0),
        ("min_group_probability", -0.1),
        ("max_pairs_per_record", 0),
    ],
)
def test_config_rejects_bad_values_with_the_parameter_named(param, value):
    with pytest.raises(InvalidParameterError, match=f"`{param}` parameter of `IdentityConfig`"):
        IdentityConfig(**{param: value})


def test_comparisons_follow_the_columns_present():
    names = {
        c["output_column_name"]
        for c in comparisons({"family_keys", "birth_date"}, IdentityConfig())
    }
    assert names == {"family_name", "birth_date"}
    every = {"family_keys", "given_keys", "phone_last4", "email", "birth_date", "city", "gender"}
    names = {c["output_column_name"] for c in comparisons(every, IdentityConfig())}
    assert names == {
        "family_name",
        "given_name",
        "phone",
        "email",
        "birth_date",
        "address",
        "gender",
    }
    # names both in characters have a comparison of their own, as whole names
    written = comparisons(every | {"name_chars", "family_chars", "given_chars"}, IdentityConfig())
    assert written[0]["output_column_name"] == "name_characters"
    family = next(c for c in written if c["output_column_name"] == "family_name")
    assert "name_chars_l IS NOT NULL" in family["comparison_levels"][0]["sql_condition"]


def test_fitted_model_is_plain_data_with_trained_weights(fitted, world):
    _, members, _ = world
    comps = {c["output_column_name"]: c for c in fitted.settings_["comparisons"]}
    assert {"family_name", "given_name", "phone", "email", "birth_date"} <= set(comps)
    exact_phone = comps["phone"]["comparison_levels"][1]
    assert exact_phone["m_probability"] > exact_phone["u_probability"] * 100
    copy = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(copy.predict(members), fitted.predict(members))


# -- resolve ------------------------------------------------------------------------------------


def test_resolve_finds_the_persons_behind_the_accounts(fitted, world):
    _, members, truth = world
    clusters = fitted.resolve(members).clusters
    scores = pairwise_scores(clusters["person_id"], truth.reindex(clusters["unique_id"]))
    assert scores["precision"] >= 0.95
    assert scores["recall"] >= 0.9
    # the masked phone and the traditional name of one person still land with the others
    assert clusters.set_index("unique_id")["cluster_size"].min() >= 1


def test_no_agreement_level_weighs_against_a_match_more_than_disagreeing():
    from models.identity import _agreement_never_counts_against

    def level(label, m, u, **extra):
        return {"label_for_charts": label, "m_probability": m, "u_probability": u, **extra}

    settings = {
        "comparisons": [
            {
                "output_column_name": "phone",
                "comparison_levels": [
                    {"label_for_charts": "missing", "is_null_level": True},
                    level("same number", 0.9, 1e-4),
                    level("same last 4", 0.0, 1e-4),  # EM never saw a match here
                    level("else", 0.1, 0.9998),
                ],
            }
        ]
    }
    levels = _agreement_never_counts_against(settings)["comparisons"][0]["comparison_levels"]
    weight = {lvl["label_for_charts"]: lvl["m_probability"] / lvl["u_probability"]
              for lvl in levels[1:]}  # fmt: skip
    assert weight["same last 4"] == pytest.approx(weight["else"])  # was 0: a weight of -inf
    assert weight["same number"] > weight["else"]
    assert sum(lvl["m_probability"] for lvl in levels[1:]) == pytest.approx(1.0)


def test_the_matches_are_taken_out_of_the_sampled_u():
    from models.identity import _u_without_matches

    def level(label, m, u):
        return {"label_for_charts": label, "m_probability": m, "u_probability": u}

    settings = {
        "comparisons": [
            {
                "output_column_name": "phone",
                "comparison_levels": [
                    {"label_for_charts": "missing", "is_null_level": True},
                    level("same number", 0.7, 1e-3),  # most sampled pairs were matches
                    level("same last 4", 0.2, 1e-4),  # λ·m above what was measured
                    level("else", 0.1, 0.9989),
                ],
            }
        ]
    }
    levels = _u_without_matches(settings, prior=1e-3)["comparisons"][0]["comparison_levels"]
    u = {lvl["label_for_charts"]: lvl["u_probability"] for lvl in levels[1:]}
    same, other = (1e-3 - 0.7e-3) / (1 - 1e-3), (0.9989 - 0.1e-3) / (1 - 1e-3)
    assert u["same number"] / u["else"] == pytest.approx(same / other)
    assert u["same last 4"] / u["else"] == pytest.approx(1e-5 / other)  # a tenth, no further
    assert sum(u.values()) == pytest.approx(1.0)


def test_scoring_in_chunks_gives_the_same_pairs(fitted, world):
    _, members, _ = world
    chunked = copy.copy(fitted)
    chunked.config = dataclasses.replace(fitted.config, pairs_per_chunk=1e4)
    chunked.expected_pairs_ = 5e4  # as if the list made 50k pairs: five chunks
    pd.testing.assert_frame_equal(chunked.predict(members), fitted.predict(members))


def test_every_splink_database_is_closed_when_its_step_ends(world, monkeypatch):
    # a linker's database held until the garbage collector ran took a million members' resolve
    # to 7.7 GiB; closed when its step ends, the peak is its own
    import duckdb
    from splink.backends.duckdb import DuckDBAPI

    opened = []

    class Tracked(DuckDBAPI):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self.duckdb_con)

    monkeypatch.setattr("splink.backends.duckdb.DuckDBAPI", Tracked)
    _, members, _ = world
    model = IdentityResolver(IdentityConfig(u_max_pairs=2e5)).fit(members)
    pairs = model.predict(members)
    model.explain(members, pairs["unique_id_l"].iloc[0], pairs["unique_id_r"].iloc[0])
    assert len(opened) >= 4  # fit's own, its blocking counts, predict, explain
    for con in opened:
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")


def test_em_passes_over_too_many_pairs_are_trained_on_a_sample(world, monkeypatch, caplog):
    import models.identity as identity

    _, members, truth = world
    real = identity._count_pairs
    # as if the largest EM pass blocked 40k pairs: the passes are trained on half the records
    monkeypatch.setattr(
        identity,
        "_count_pairs",
        lambda data, rules, marginal=False: (
            real(data, rules, marginal=True) if marginal else [4e4] * len(rules)
        ),
    )
    config = IdentityConfig(u_max_pairs=2e5, em_max_pairs=1e4)
    with caplog.at_level("INFO", logger="models.identity"):
        model = IdentityResolver(config).fit(members)
    assert f"EM passes trained on {round(len(members) / 2)} records" in caplog.text  # √(1e4/4e4)
    clusters = model.resolve(members).clusters
    scores = pairwise_scores(clusters["person_id"], truth.reindex(clusters["unique_id"]))
    assert scores["precision"] >= 0.9


def test_a_higher_threshold_never_merges_more(fitted, world):
    _, members, _ = world
    pairs = fitted.predict(members)
    loose = cluster_pairs(members["unique_id"], pairs, 0.5)["person_id"].nunique()
    strict = cluster_pairs(members["unique_id"], pairs, 0.99)["person_id"].nunique()
    assert strict >= loose


def _pairs(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "match_probability"])


def test_chosen_threshold_keeps_sure_pairs_and_refuses_a_chain():
    # a and b are sure; c–d–e–f–g–h is a chain of 0.55 links whose other pairs were never
    # compared: merging it puts 15 pairs inside one person, of which only 5 are likely
    ids = pd.Series(list("abcdefgh"))
    chain = [(x, y, 0.55) for x, y in zip("cdefg", "defgh", strict=True)]
    pairs = _pairs([("a", "b", 0.99), *chain])
    threshold, table = choose_threshold(ids, pairs)
    assert threshold > 0.55
    # the surest persons (at 0.975: a–b) have every pair compared: r = 0.99 / 1, so of the
    # never-compared pairs inside a person, TP_compared × 0.01 / 0.99 count true
    share = 0.01 / 0.99
    # by hand at 0.5: TP = 0.99 + 5 × 0.55 = 3.74 (+ 3.74 × share of the 10 never compared);
    # FP = 0.01 + 5 × 0.45 + (10 − 3.74 × share); FN = 0
    tp, fp = 3.74 * (1 + share), 0.01 + 2.25 + 10 - 3.74 * share
    at_half = table.set_index("threshold").loc[0.5]
    assert at_half["expected_f1"] == pytest.approx(2 * tp / (2 * tp + fp))
    assert at_half["persons"] == 2
    # and above 0.55: TP = 0.99, FP = 0.01, FN = 2.75
    above = table.set_index("threshold").loc[threshold]
    assert above["expected_f1"] == pytest.approx(2 * 0.99 / (2 * 0.99 + 0.01 + 2.75))
    assert list(table["threshold"]) == list(AUTO_THRESHOLDS)


def test_never_compared_pairs_count_true_as_often_as_blocking_misses_them():
    # a–b–c is sure (0.99 links), but a–c was never compared, as a third of the surest
    # persons' pairs: r = 1.98 / 3. Chained d–e–f at 0.6 is not compared d–f either.
    ids = pd.Series(list("abcdef"))
    pairs = _pairs([("a", "b", 0.99), ("b", "c", 0.99), ("d", "e", 0.6), ("e", "f", 0.6)])
    threshold, table = choose_threshold(ids, pairs)
    share = (1 - 1.98 / 3) / (1.98 / 3)
    rows = table.set_index("threshold")
    # at 0.975: TP 1.98 + min(1, 1.98 × share) = 2.98; FP 0.02; FN 1.2
    assert rows.loc[0.975, "expected_f1"] == pytest.approx(2 * 2.98 / (2 * 2.98 + 0.02 + 1.2))
    # at 0.6: of the 2 never-compared pairs, 3.18 × share (1.64) count true; FN 0
    missed = 3.18 * share
    tp, fp = 3.18 + missed, 0.02 + 0.8 + (2 - missed)
    assert rows.loc[0.6, "expected_f1"] == pytest.approx(2 * tp / (2 * tp + fp))
    assert threshold == 0.6  # the chain's persons are now worth merging


def test_chosen_threshold_merges_a_well_compared_group():
    # three accounts compared both ways at 0.7: merging them is the better bet
    ids = pd.Series(list("abcd"))
    pairs = _pairs([("a", "b", 0.7), ("b", "c", 0.7), ("a", "c", 0.7)])
    threshold, table = choose_threshold(ids, pairs)
    assert threshold == 0.7  # the highest candidate that still merges them (ties go up)
    assert table.set_index("threshold").loc[0.7, "persons"] == 2


def test_chosen_threshold_without_pairs_is_the_highest_candidate():
    threshold, table = choose_threshold(pd.Series(["a", "b"]), _pairs([]))
    assert threshold == max(AUTO_THRESHOLDS) and (table["expected_f1"] == 0).all()


def test_two_accounts_of_one_platform_are_never_one_person():
    # b1 and b2 are both Tmall accounts; a (JD) links strongly to b1 and a little less to
    # b2: the stronger link wins, the other is left out, so b2 stays apart
    ids = pd.Series(["a", "b1", "b2", "c"])
    platforms = pd.Series(["jd", "tmall", "tmall", None])
    pairs = _pairs([("a", "b1", 0.99), ("a", "b2", 0.97), ("b2", "c", 0.95)])
    assert joinable_pairs(ids, pairs, platforms, 0.5).tolist() == [True, False, True]
    persons = cluster_pairs(ids, pairs, 0.5, platforms=platforms).set_index("unique_id")
    assert persons.loc["a", "person_id"] == persons.loc["b1", "person_id"] == "a"
    assert persons.loc["b2", "person_id"] == persons.loc["c", "person_id"] == "b2"
    # the strongest link of each account counts only the links that joined it
    assert persons.loc["b2", "match_probability"] == 0.95
    # without platforms, one chain of four
    plain = cluster_pairs(ids, pairs, 0.5)
    assert plain["person_id"].nunique() == 1
    # an account with no platform never conflicts; a higher threshold never joins more
    assert joinable_pairs(ids, pairs, platforms, 0.98).tolist() == [True, False, False]


def test_one_strong_link_does_not_join_two_persons_the_model_scored_apart():
    # a1–a2 and b1–b2 are sure; a1–b1 is a strong link (a masked phone that fits both), but
    # the other compared pairs between the two say "someone else": average (0.85 + 0.13 +
    # 0.07) / 3 = 0.35 < 0.5, so the link is left out
    ids = pd.Series(["a1", "a2", "b1", "b2"])
    pairs = _pairs(
        [("a1", "a2", 0.99), ("b1", "b2", 0.99), ("a1", "b1", 0.85), ("a1", "b2", 0.13),
         ("a2", "b2", 0.07)]
    )  # fmt: skip
    apart = joinable_pairs(ids, pairs, None, 0.5, min_average=0.5)
    assert apart.tolist() == [True, True, False, False, False]
    persons = cluster_pairs(ids, pairs, 0.5, min_average=0.5).set_index("unique_id")["person_id"]
    assert persons.to_dict() == {"a1": "a1", "a2": "a1", "b1": "b1", "b2": "b1"}
    # without the check the strong link chains them into one
    assert joinable_pairs(ids, pairs, None, 0.5).tolist() == [True, True, True, False, False]
    assert cluster_pairs(ids, pairs, 0.5)["person_id"].nunique() == 1
    # the threshold choice sees the same persons
    _, table = choose_threshold(ids, pairs, min_average=0.5)
    assert table.set_index("threshold").loc[0.5, "persons"] == 2


def test_a_join_is_kept_when_the_compared_pairs_average_enough():
    # c links strongly to a and weakly to b, a–b is sure: (0.9 + 0.3) / 2 = 0.6 ≥ 0.5;
    # pairs that were never compared (d–a) do not count against a join
    ids = pd.Series(list("abcd"))
    pairs = _pairs([("a", "b", 0.99), ("a", "c", 0.9), ("b", "c", 0.3), ("c", "d", 0.8)])
    assert joinable_pairs(ids, pairs, None, 0.5, min_average=0.5).tolist() == [
        True, True, False, True
    ]  # fmt: skip
    # at 0.7 the same three links would not average enough: (0.9 + 0.3) / 2 < 0.7
    assert joinable_pairs(ids, pairs, None, 0.5, min_average=0.7).tolist() == [
        True, False, False, True
    ]  # fmt: skip


def test_blocking_keys_tell_which_pairs_splink_compared():
    members = pd.DataFrame(
        {
            "phone_e164": ["+8613800000001", "+8613800000001", None, None, "+8613900000002"],
            "family_keys": [["chen"], ["chan", "chen"], ["chen"], ["wang"], None],
            "birth_date": ["1990-01-02", "1991-01-01", "1990-01-02", "1990-01-02", None],
        }
    )
    rules = [("phone_e164",), ("family_keys", "birth_date"), ("email",)]  # no email column
    keys = BlockingKeys.of(members, rules)
    left, right = np.array([0, 0, 1, 2, 2, 3]), np.array([1, 2, 2, 3, 4, 4])
    # 0–1 same phone; 0–2 chen + same birthday; 1–2 chen but another birthday; 2–3 a
    # birthday but another name; null phones (2, 3) are never equal; 4 has only a phone
    assert keys.shared(left, right).tolist() == [True, True, False, False, False, False]
    assert keys.shared(np.array([], dtype=int), np.array([], dtype=int)).tolist() == []
    # two list columns: a key of each must be shared (the exploded join on both)
    names = pd.DataFrame(
        {
            "family_keys": [["chan", "chen"], ["chen"], ["chen"], None],
            "given_keys": [["tai"], ["dai", "tai"], ["man"], ["tai"]],
        }
    )
    keys = BlockingKeys.of(names, [("family_keys", "given_keys")])
    assert keys.shared(np.array([0, 0, 1, 0]), np.array([1, 2, 2, 3])).tolist() == [
        True, False, False, False
    ]  # fmt: skip


def test_a_pair_scored_too_low_to_keep_counts_against_a_join():
    # 岑梅蕾's named account a1 and her nameless a2 (masked phone 157****0420); 傅兰洁's b1, b2
    # (15769420420, which fits the mask). a2–b1 is strong on the phone alone; a1 was compared
    # with b1 and b2 (same phone pattern) and scored below keep_probability, so predict left
    # those pairs out: counted, the average is (0.85 + 0.13) / 4 < 0.3
    ids = pd.Series(["a1", "a2", "b1", "b2", "c", "d"])
    members = pd.DataFrame(
        {
            "unique_id": ids,
            "phone_pattern": ["157****0420"] * 4 + [None, "+8613900000002"],
            "family_keys": [["cen"], None, ["fu"], ["fu"], ["fu"], ["li"]],
        }
    )
    keys = BlockingKeys.of(members, [("phone_pattern",), ("family_keys",)])
    pairs = _pairs([("a1", "a2", 0.99), ("b1", "b2", 0.99), ("a2", "b1", 0.85),
                    ("a2", "b2", 0.13)])  # fmt: skip
    assert joinable_pairs(ids, pairs, None, 0.5, min_average=0.3).tolist()[2]
    apart = joinable_pairs(ids, pairs, None, 0.5, min_average=0.3, blocking=keys)
    assert apart.tolist() == [True, True, False, False]
    # c (no phone) was compared with b1 and b2 on "fu" and scored 0.9 with b1 only:
    # (0.9 + 0) / 2 < 0.5; d shares no key with b2, so that pair does not count: 0.9
    pairs = _pairs([("b1", "b2", 0.99), ("b1", "c", 0.9), ("b1", "d", 0.9)])
    joined = joinable_pairs(ids, pairs, None, 0.5, min_average=0.5, blocking=keys)
    assert joined.tolist() == [True, False, True]


def _family() -> pd.DataFrame:
    """A mother and her daughter on one phone, the daughter's second account, and one
    person whose birth year was typed over (one digit) on her second account."""
    return normalise_members(
        pd.DataFrame(
            {
                "unique_id": ["mum", "girl", "girl2", "x1", "x2", "y", "z"],
                "full_name": ["张秀英", "张月", "张月", "李娜", "李娜", "张玥", "Zhang Xiuying"],
                "phone": ["13290656837"] * 3 + ["13800000001", "13800000001", None, None],
                "birth_date": ["1964-08-18", "2000-10-22", None, "1985-03-12", "1995-03-12",
                               "1964-08-18", "2000-10-22"],
            }
        )
    )  # fmt: skip


def test_birth_dates_decades_apart_and_unalike_given_names_are_two_people():
    members = _family()
    gap = BirthGap.of(members, 10)
    pos = {u: k for k, u in enumerate(members["unique_id"])}

    def apart(u: str, v: str) -> bool:
        return gap.any_apart([pos[u]], [pos[v]])

    assert apart("mum", "girl")  # 36 years, 秀英 against 月
    assert not apart("x1", "x2")  # one typed digit: 1985 ~ 1995
    assert not apart("girl", "y")  # 36 years, but 月 and 玥 read alike (yue)
    # a romanised given name is never told apart (a nickname, a swapped field, a spelling)
    assert not apart("z", "mum")
    # an account without a birth date is never told apart: the daughter's second account
    assert not apart("girl2", "mum")
    assert gap.any_apart([pos["girl2"], pos["girl"]], [pos["mum"]])
    # a swapped pair of digits (1958 ~ 1985) is one typo; so is a date typed once
    one = normalise_members(
        pd.DataFrame({"unique_id": ["a", "b"], "full_name": ["王芳", "王伟"],
                      "birth_date": ["1985-03-12", "1958-03-12"]})
    )  # fmt: skip
    assert not BirthGap.of(one, 10).any_apart([0], [1])
    # nothing to tell apart: no rule
    assert BirthGap.of(members, None) is None
    assert BirthGap.of(members.drop(columns=["birth_year", "birth_date"]), 10) is None


def test_relatives_sharing_a_phone_stay_two_people():
    members = _family()
    ids = members["unique_id"]
    pairs = _pairs([("mum", "girl2", 0.99), ("girl", "girl2", 0.98), ("mum", "girl", 0.97),
                    ("x1", "x2", 0.9)])  # fmt: skip
    gap = BirthGap.of(members, 10)
    # mum–girl2 joins first (girl2 has no birth date); girl then cannot join that person
    assert joinable_pairs(ids, pairs, None, 0.5).tolist() == [True, True, False, True]
    assert joinable_pairs(ids, pairs, None, 0.5, apart=gap).tolist() == [True, False, False, True]


def test_the_resolver_keeps_relatives_apart_unless_told_not_to(fitted):
    members = _family()
    pairs = _pairs([("mum", "girl", 0.97), ("x1", "x2", 0.9)])
    persons = fitted.persons(members, pairs, 0.5)[0].set_index("unique_id")["person_id"]
    assert persons["mum"] != persons["girl"] and persons["x1"] == persons["x2"]
    plain = copy.copy(fitted)
    plain.config = dataclasses.replace(fitted.config, birth_gap_years=None)
    persons = plain.persons(members, pairs, 0.5)[0].set_index("unique_id")["person_id"]
    assert persons["mum"] == persons["girl"]
    with pytest.raises(InvalidParameterError, match="birth_gap_years"):
        IdentityConfig(birth_gap_years=0)


def test_group_check_and_platform_rule_work_together():
    ids = pd.Series(["a", "b1", "b2", "c"])
    platforms = pd.Series(["jd", "tmall", "tmall", "douyin"])
    # b2 cannot join a's person (a Tmall account is there); c's link to a averages with its
    # weak pair to b1: (0.9 + 0.05) / 2 < 0.5
    pairs = _pairs([("a", "b1", 0.99), ("a", "b2", 0.97), ("a", "c", 0.9), ("b1", "c", 0.05)])
    joined = joinable_pairs(ids, pairs, platforms, 0.5, min_average=0.5)
    assert joined.tolist() == [True, False, False, False]


def test_chosen_threshold_counts_the_pairs_kept_apart_by_platform():
    ids = pd.Series(["a", "b1", "b2"])
    pairs = _pairs([("a", "b1", 0.99), ("a", "b2", 0.97)])
    _, plain = choose_threshold(ids, pairs)
    _, apart = choose_threshold(ids, pairs, platforms=pd.Series(["jd", "tmall", "tmall"]))
    low = {
        "plain": plain.set_index("threshold").loc[0.5],
        "apart": apart.set_index("threshold").loc[0.5],
    }
    assert (low["plain"]["persons"], low["apart"]["persons"]) == (1, 2)
    # kept apart: TP 0.99, FP 0.01, FN 0.97 (the split pair); merged: the b1–b2 pair is false
    # but for the share blocking misses (the surest person, a–b1, was fully compared: r 0.99)
    assert low["apart"]["expected_f1"] == pytest.approx(2 * 0.99 / (2 * 0.99 + 0.01 + 0.97))
    missed = 1.96 * 0.01 / 0.99
    tp, fp = 1.96 + missed, 0.04 + 1 - missed
    assert low["plain"]["expected_f1"] == pytest.approx(2 * tp / (2 * tp + fp))


def test_choosing_the_threshold_runs_the_platform_pass_once(fitted, world, monkeypatch):
    import models.identity as identity

    _, members, _ = world
    pairs = fitted.predict(members)
    platforms = members["platform"]
    average = fitted.config.min_group_probability
    chosen, _ = choose_threshold(
        members["unique_id"], pairs, platforms=platforms, min_average=average
    )
    expected = cluster_pairs(
        members["unique_id"], pairs, chosen, platforms=platforms, min_average=average
    )
    calls = []
    counted = identity._joins
    monkeypatch.setattr(identity, "_joins", lambda *a, **k: calls.append(1) or counted(*a, **k))
    clusters, threshold = fitted.persons(members, pairs, "auto")
    assert len(calls) == 1
    assert threshold == chosen
    pd.testing.assert_frame_equal(clusters, expected)


def test_persons_count_the_pairs_the_model_compared_but_did_not_keep(fitted, world, monkeypatch):
    import models.identity as identity

    _, members, _ = world
    pairs = fitted.predict(members)
    seen = []
    real = identity.joinable_pairs
    monkeypatch.setattr(
        identity, "joinable_pairs", lambda *a, **k: seen.append(k["blocking"]) or real(*a, **k)
    )
    fitted.persons(members, pairs, 0.5)
    (keys,) = seen
    # the keys follow the model's own prediction rules: every kept pair shares one
    ids = pd.Index(members["unique_id"])
    left = ids.get_indexer(pairs["unique_id_l"])
    right = ids.get_indexer(pairs["unique_id_r"])
    assert isinstance(keys, BlockingKeys) and keys.shared(left, right).all()


def test_persons_at_several_thresholds_are_persons_at_each(fitted, world, monkeypatch):
    import models.identity as identity

    _, members, _ = world
    pairs = fitted.predict(members)
    thresholds = [0.9, 0.5, 0.7]
    expected = [fitted.persons(members, pairs, th)[0] for th in thresholds]
    passes = []
    real = identity.joinable_pairs
    monkeypatch.setattr(
        identity, "joinable_pairs", lambda *a, **k: passes.append(a[3]) or real(*a, **k)
    )
    found = fitted.persons_at(members, pairs, thresholds)
    assert passes == [0.5]  # one joining pass, at the lowest
    for got, want in zip(found, expected, strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert fitted.persons_at(members, pairs, []) == []


def test_auto_threshold_is_the_default_and_resolve_reports_it(fitted, world):
    _, members, truth = world
    assert IdentityConfig().threshold == "auto"
    resolution = fitted.resolve(members)
    platforms = members["platform"] if "platform" in members else None
    chosen, _ = choose_threshold(
        members["unique_id"],
        fitted.predict(members),
        platforms=platforms,
        min_average=fitted.config.min_group_probability,
    )
    assert resolution.threshold == chosen
    at_fixed = fitted.resolve(members, threshold=chosen)
    assert resolution.clusters.equals(at_fixed.clusters)
    scores = pairwise_scores(
        resolution.clusters["person_id"], truth.reindex(resolution.clusters["unique_id"])
    )
    assert scores["f1"] >= 0.8


def test_bad_inputs_say_what_to_fix(fitted, world):
    _, members, _ = world
    with pytest.raises(NotFittedError, match="Call `fit"):
        IdentityResolver().predict(members)
    with pytest.raises(ContractViolation, match="unique_id"):
        fitted.predict(members.drop(columns="unique_id"))
    twice = pd.concat([members.head(3), members.head(1)])
    with pytest.raises(ContractViolation, match="repeat the ids"):
        fitted.predict(twice)
    with pytest.raises(InvalidParameterError, match="at least 10"):
        IdentityResolver().fit(members.head(5))
    with pytest.raises(InvalidParameterError, match="threshold"):
        fitted.resolve(members, threshold=1.5)


def test_a_list_with_fewer_than_two_comparable_fields_is_rejected():
    raw = pd.DataFrame({"unique_id": [str(i) for i in range(20)], "platform": "jd"})
    with pytest.raises(InvalidParameterError, match="the records have nothing to compare"):
        IdentityResolver().fit(normalise_members(raw)[["unique_id", "platform"]])
    # one field: no EM pass has anything left to learn (splink failed on an empty weight)
    raw["phone"] = [f"1380013{i:04d}" for i in range(20)]
    with pytest.raises(InvalidParameterError, match="at least two fields.*have phone\\. Map"):
        IdentityResolver().fit(normalise_members(raw))


def test_a_small_list_whose_rules_find_no_pair_is_resolved():
    # splink's prior is 0 when the deterministic rules match no pair: scoring then took
    # log2(0) ("math domain error"); half a found pair is counted instead. Each person has
    # two accounts, the family name mistyped in the second, so no near-certain rule applies
    given = ["james", "mary", "john", "linda", "peter", "susan", "paul", "karen"]
    family = ["smith", "jones", "brown", "taylor", "wilson", "davies", "evans", "thomas"]
    raw = pd.DataFrame(
        {"unique_id": f"p{p}a{k}", "given_name": given[p], "family_name": family[p] + "e" * k,
         "phone": f"1390000{p:04d}"}
        for p in range(8)
        for k in range(2)
    )  # fmt: skip
    members = normalise_members(raw)
    model = IdentityResolver().fit(members)
    assert 1e-9 <= model.settings_["probability_two_random_records_match"] <= 0.5
    clusters = model.resolve(members).clusters
    truth = clusters["unique_id"].str.split("a").str[0]
    assert clusters.groupby(truth)["person_id"].nunique().max() == 1
    assert clusters["person_id"].nunique() == 8


def test_a_list_of_mostly_one_person_is_resolved():
    # the rules match more pairs than `prior_recall` allows, which splink refuses
    raw = pd.DataFrame(
        [{"unique_id": f"a{k}", "given_name": "james", "family_name": "smith",
          "phone": "13900001234", "email": "js@example.com"} for k in range(11)]
        + [{"unique_id": "b", "given_name": "mary", "family_name": "jones",
            "phone": "13900009999", "email": "mj@example.com"}]
    )  # fmt: skip
    members = normalise_members(raw)
    model = IdentityResolver().fit(members)
    assert model.settings_["probability_two_random_records_match"] == 0.5
    persons = model.resolve(members).clusters.set_index("unique_id")["person_id"]
    assert persons.drop("b").nunique() == 1 and persons["b"] != persons["a0"]


# -- explanations -------------------------------------------------------------------------------


def test_explanation_adds_up_to_the_pair_score(fitted, world):
    _, members, _ = world
    pairs = fitted.predict(members).sort_values("match_probability", ascending=False)
    top = pairs.iloc[0]
    steps = fitted.explain(members, top["unique_id_l"], top["unique_id_r"])
    assert steps["step"].iloc[0] == "prior" and steps["step"].iloc[-1] == "total"
    body = steps.iloc[:-1]
    assert body["match_weight"].sum() == pytest.approx(top["match_weight"], abs=1e-6)
    assert steps["match_probability"].iloc[-1] == pytest.approx(top["match_probability"])
    assert "same phone number" in set(body["level"]) or "same email" in set(body["level"])
    with pytest.raises(UnknownEntityError, match="nobody"):
        fitted.explain(members, "nobody", top["unique_id_r"])


def test_the_two_records_alone_explain_a_pair_as_the_whole_list_does(fitted, world):
    """Term frequencies are kept from the fit, so explaining needs only the pair's records
    (a store of a million accounts is not normalised again for one question)."""
    _, members, _ = world
    pairs = fitted.predict(members)
    assert fitted.term_frequencies_  # names and cities count by how common they are
    tf_levels = {
        level["label_for_charts"]
        for comparison in fitted.settings_["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    # a pair whose score counts how common a shared value is (a family name, a city)
    left = right = None
    for a, b in pairs.sort_values("match_probability")[["unique_id_l", "unique_id_r"]].values:
        if tf_levels & set(fitted.explain(members, a, b)["level"]):
            left, right = a, b
            break
    assert left is not None
    chosen = [*pairs.nlargest(3, "match_probability")[["unique_id_l", "unique_id_r"]].values]
    for a, b in [*chosen, (left, right)]:
        two = members[members["unique_id"].isin([a, b])]
        pd.testing.assert_frame_equal(fitted.explain(two, a, b), fitted.explain(members, a, b))
    # a model pickled before the frequencies were kept takes them from the records given:
    # the whole list gives the same answer, the pair alone does not
    old = copy.copy(fitted)
    del old.term_frequencies_
    whole = fitted.explain(members, left, right)
    pd.testing.assert_frame_equal(old.explain(members, left, right), whole)
    two = members[members["unique_id"].isin([left, right])]
    assert old.explain(two, left, right)["match_weight"].iloc[-1] != whole["match_weight"].iloc[-1]


def test_a_handle_that_only_spells_the_shared_name_is_not_counted_twice(fitted, world):
    _, members, _ = world
    strangers = normalise_members(
        pd.DataFrame(
            {
                "unique_id": ["x1", "x2", "x3"],
                "full_name": ["张军彬", "张军彬", None],
                "nickname": ["zhangjunbin931", "zhangjunbin383", "zhangjunbin_7"],
                "phone": ["13922611691", "13667888389", None],
            }
        )
    )
    both = pd.concat([members, strangers], ignore_index=True)

    def alias(left: str, right: str) -> pd.Series:
        steps = fitted.explain(both, left, right)
        return steps.set_index("step").loc["alias"]

    namesakes = alias("x1", "x2")  # two people called 张军彬: the name already counted
    assert namesakes["level"].endswith("the shared handle is only the name both accounts carry")
    assert namesakes["match_weight"] == 0
    nameless = alias("x1", "x3")  # the handle is all x3 says about its name
    assert nameless["level"] == "a handle spells the other's name"
    assert nameless["match_weight"] > 0


def test_names_in_characters_are_compared_once_as_a_whole(fitted, world):
    _, members, _ = world
    others = normalise_members(
        pd.DataFrame(
            {
                "unique_id": ["y1", "y2", "y3"],
                "full_name": ["歐陽志明", "欧阳志明", "AU YEUNG Chi Ming"],
                "platform": ["jd", "tmall", "douyin"],
            }
        )
    )
    both = pd.concat([members, others], ignore_index=True)
    written = fitted.explain(both, "y1", "y2").set_index("step")
    assert written.loc["name_characters", "level"] == "same name (characters)"
    assert written.loc["name_characters", "match_weight"] > 5
    # the family and given name comparisons leave the pair to the whole name
    assert written.loc[["family_name", "given_name"], "match_weight"].eq(0).all()
    romanised = fitted.explain(both, "y1", "y3").set_index("step")
    assert romanised.loc["name_characters", "match_weight"] == 0
    assert romanised.loc["family_name", "match_weight"] > 0


def test_the_model_is_learnt_among_accounts_of_different_platforms(world):
    _, members, truth = world
    model = IdentityResolver(IdentityConfig(u_max_pairs=2e5))
    some = members.assign(platform=members["platform"].where(members.index % 7 != 0))
    sources = model._sources(some)
    assert sources.iloc[1] == some["platform"].iloc[1]
    assert sources.iloc[0] == "(none) " + some["unique_id"].iloc[0]  # a platform of its own
    assert IdentityResolver(IdentityConfig(one_account_per_platform=False))._sources(some) is None
    model.fit(some)
    assert model.settings_["link_type"] == "dedupe_only"  # predictions score every pair
    clusters = model.resolve(some).clusters
    scores = pairwise_scores(clusters["person_id"], truth.reindex(clusters["unique_id"]))
    assert scores["f1"] > 0.9


# -- incremental --------------------------------------------------------------------------------


def test_a_new_signup_is_matched_to_the_person_it_is(fitted, world):
    raw, members, truth = world
    clusters = fitted.resolve(members).clusters
    resolved = members.merge(clusters[["unique_id", "person_id"]], on="unique_id")
    matcher = fitted.matcher(resolved)
    known = raw.iloc[0].to_dict() | {"unique_id": "new-1", "email": None}
    found = matcher.match(normalise_members(pd.DataFrame([known])).iloc[0].to_dict())
    person = clusters.set_index("unique_id").loc[raw["unique_id"].iloc[0], "person_id"]
    assert found["person_id"].iloc[0] == person
    assert found["match_probability"].iloc[0] > 0.9
    stranger = {"unique_id": "new-2", "full_name": "欧阳修", "phone": "13000000000",
                "birth_date": "1901-01-01"}  # fmt: skip
    found = matcher.match(normalise_members(pd.DataFrame([stranger])).iloc[0].to_dict())
    assert found.empty or found["match_probability"].max() < 0.5
    with pytest.raises(ContractViolation, match="person_id"):
        fitted.matcher(members)


def test_a_relative_signing_up_on_the_same_phone_is_told_apart(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    mother = raw.iloc[0].to_dict()
    year = int(mother["birth_date"][:4])
    given = next(g for g in GIVEN if g not in mother["full_name"])
    child = mother | {
        "unique_id": "new-child",
        "full_name": mother["full_name"][0] + given,
        "email": None,
        "birth_date": f"{year + 30}-06-15",
        "platform": "xiaohongshu",
    }
    (found,) = matcher.match_rows(normalise_members(pd.DataFrame([child])).to_dict("records"))
    person = clusters.set_index("unique_id").loc[mother["unique_id"], "person_id"]
    best = next(m for m in found if m.person_id == person)
    assert best.told_apart
    # however high the phone alone scores, the record is not taken as the mother
    assert matcher.person([best], 0.01, min_average=0) is None
    assert matcher.person([best._replace(told_apart=False)], 0.01, min_average=0) == person
    # the mother's own second account is hers
    again = child | {"full_name": mother["full_name"], "birth_date": mother["birth_date"]}
    (found,) = matcher.match_rows(normalise_members(pd.DataFrame([again])).to_dict("records"))
    assert not found[0].told_apart and matcher.person(found, 0.5) == person


def test_match_rows_are_the_rows_of_match_many_and_name_the_same_person(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    new = {"email": None, "platform": "xiaohongshu"}  # a platform its person is not on yet
    records = [raw.iloc[i].to_dict() | new | {"unique_id": f"new-{i}"} for i in (0, 5)]
    normalised = normalise_members(pd.DataFrame(records)).to_dict("records")
    frames, rows = matcher.match_many(normalised, top=3), matcher.match_rows(normalised, top=3)
    assert [list(f.itertuples(index=False, name=None)) for f in frames] == [
        [tuple(m) for m in found] for found in rows
    ]
    assert rows[0] and all(len(found) <= 3 for found in rows)
    for frame, found in zip(frames, rows, strict=True):
        assert matcher.person(found, 0.5) == matcher.person(frame, 0.5)
    assert matcher.person(rows[0], 0.5) is not None and matcher.person([], 0.5) is None


def test_a_signup_on_a_platform_its_person_already_uses_is_flagged_not_joined(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    account = raw.iloc[0].to_dict() | {"unique_id": "new-1", "email": None}
    person = clusters.set_index("unique_id").loc[raw["unique_id"].iloc[0], "person_id"]
    accounts = clusters.loc[clusters["person_id"] == person, "unique_id"]
    held = set(raw.loc[raw["unique_id"].isin(accounts), "platform"])

    def match(platform: str) -> pd.DataFrame:
        record = normalise_members(pd.DataFrame([account | {"platform": platform}]))
        return matcher.match(record.iloc[0].to_dict())

    again = match(sorted(held)[0])  # a second account on a platform the person uses
    assert again["person_id"].iloc[0] == person and again["same_platform"].iloc[0]
    assert matcher.person(again, 0.5) != person
    elsewhere = match("xiaohongshu")
    assert not elsewhere["same_platform"].iloc[0]
    assert matcher.person(elsewhere, 0.5) == person


def test_a_signup_is_not_taken_as_a_person_its_other_accounts_disagree_with(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    known = raw.iloc[0].to_dict() | {"unique_id": "new-1", "email": None}
    found = matcher.match(normalise_members(pd.DataFrame([known])).iloc[0].to_dict())
    best = found.iloc[0]
    # the mean over the person's compared accounts never passes its best account
    assert 0 < best["person_probability"] <= best["match_probability"]
    # one strong account, but the person's accounts average 0.2: not taken at 0.3
    doubtful = pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "unique_id": ["tmall:1", "jd:2"],
            "match_probability": [0.95, 0.6],
            "match_weight": [4.0, 0.5],
            "same_platform": [False, False],
            "person_probability": [0.2, 0.6],
        }
    )
    assert matcher.person(doubtful, 0.5) == "p2"
    assert matcher.person(doubtful, 0.5, min_average=0.0) == "p1"
    assert matcher.person(doubtful.iloc[:1], 0.5) is None


def test_a_model_saved_before_the_group_check_clusters_as_it_did():
    from models.identity import _min_group_probability

    config = IdentityConfig()
    object.__delattr__(config, "min_group_probability")  # as unpickled from an older model
    assert _min_group_probability(config) == 0.0
    assert _min_group_probability(IdentityConfig()) == 0.3


def _predict_between(fitted, members, records):
    """splink's own scores of each record against ``members``: unique_id_r → probability."""
    from splink import DuckDBAPI, Linker

    linker = Linker(DuckDBAPI().register(members), fitted.settings_)
    tf_columns = {
        level["tf_adjustment_column"]
        for comparison in fitted.settings_["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    for col in tf_columns:
        linker.table_management.compute_tf_table(col)
    existing = linker.table_management.register_table(members, "existing", overwrite=True)
    for record in records:
        new = linker.table_management.register_table(pd.DataFrame([record]), "new", overwrite=True)
        want = linker.inference.predict_between(new, existing, warning_mode="never")
        yield want.as_pandas_dataframe().set_index("unique_id_r")["match_probability"]


def test_the_matcher_scores_exactly_what_splinks_predict_between_scores(fitted, world):
    raw, members, _ = world
    resolved = members.assign(person_id=members["unique_id"])
    matcher = fitted.matcher(resolved)
    records = [
        normalise_members(raw.iloc[[i]].assign(unique_id=f"new-{i}")).iloc[0].to_dict()
        for i in (0, 3, 7, 11)
    ]
    for record, want in zip(records, _predict_between(fitted, members, records), strict=True):
        got = matcher.match(record, top=len(members))
        assert len(got) == len(want) > 0
        got = got.set_index("unique_id")["match_probability"]
        assert got.reindex(want.index).to_numpy() == pytest.approx(want.to_numpy(), abs=1e-12)


def test_a_match_lists_each_person_once_through_its_best_account(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    person_of = clusters.set_index("unique_id")["person_id"]
    keep = fitted.config.keep_probability
    records = [
        normalise_members(raw.iloc[[i]].assign(unique_id=f"new-{i}")).iloc[0].to_dict()
        for i in (0, 3, 7, 11)
    ]
    for record, want in zip(records, _predict_between(fitted, members, records), strict=True):
        got = matcher.match(record, top=len(members))
        people = person_of.reindex(want.index)
        assert got["person_id"].tolist() == list(dict.fromkeys(got["person_id"]))
        assert set(got["person_id"]) == set(people)
        assert got["match_weight"].is_monotonic_decreasing
        best = want.groupby(people.to_numpy()).max()
        average = want.where(want >= keep, 0.0).groupby(people.to_numpy()).mean()
        by_person = got.set_index("person_id")
        assert by_person["match_probability"].to_numpy() == pytest.approx(
            best.reindex(by_person.index).to_numpy(), abs=1e-12
        )
        assert by_person["person_probability"].to_numpy() == pytest.approx(
            average.reindex(by_person.index).to_numpy(), abs=1e-12
        )
        assert matcher.match(record, top=1)["person_id"].tolist() == got["person_id"][:1].tolist()


def test_records_matched_together_get_the_answers_they_get_alone(fitted, world):
    raw, members, _ = world
    clusters = fitted.resolve(members).clusters
    matcher = fitted.matcher(members.merge(clusters[["unique_id", "person_id"]], on="unique_id"))
    records = [
        normalise_members(raw.iloc[[i]].assign(unique_id=f"new-{i}")).iloc[0].to_dict()
        for i in (0, 3, 7, 11, 3)  # one record twice: both get its answer
    ]
    stranger = {"unique_id": "nobody", "full_name": "欧阳娜娜娜", "city": "拉萨市"}
    records.insert(2, normalise_members(pd.DataFrame([stranger])).iloc[0].to_dict())
    together = matcher.match_many(records, top=len(members))
    assert len(together) == len(records)
    for record, got in zip(records, together, strict=True):
        pd.testing.assert_frame_equal(got, matcher.match(record, top=len(members)))
    assert together[2].empty and not together[0].empty
    assert matcher.match_many([]) == []
    # ties in weight are listed by account id, whichever order the query gave them in
    for got in together:
        order = list(zip(-got["match_weight"], got["unique_id"], strict=True))
        assert order == sorted(order)


# -- survivorship and summary -------------------------------------------------------------------


def test_golden_record_takes_the_trusted_then_complete_then_recent_value():
    raw = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c", "d"],
            "platform": ["pinduoduo", "miniprogram", "jd", "tmall"],
            "full_name": ["王小明", None, "王晓明", "李雷"],
            "phone": ["13800000001", "13800000002", None, "13900000000"],
            "email": [None, None, "wxm@example.com", None],
            "registered_at": ["2024-01-01", "2024-03-01", "2024-02-01", "2024-01-01"],
        }
    )
    clusters = pd.DataFrame({"unique_id": ["a", "b", "c", "d"], "person_id": ["a", "a", "a", "d"]})
    gold = golden_records(raw, clusters).set_index("person_id")
    # the mini-program is trusted most but has no name: the next channel (jd) gives it
    assert gold.loc["a", "full_name"] == "王晓明" and gold.loc["a", "full_name_from"] == "c"
    assert gold.loc["a", "phone"] == "13800000002" and gold.loc["a", "phone_from"] == "b"
    assert gold.loc["a", "source_accounts"] == "a;b;c" and gold.loc["a", "cluster_size"] == 3
    assert gold.loc["a", "platforms"] == "jd;miniprogram;pinduoduo"
    assert gold.loc["d", "full_name"] == "李雷"


def test_golden_phone_and_email_are_ones_that_reach_the_person_in_their_clean_form():
    raw = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c", "d"],
            "platform": ["miniprogram", "tmall", "jd", "douyin"],
            # the most trusted channel shows the phone masked: the full one wins
            "phone": ["187****0244", "+86 187-1767-0244", "13800000001", "139****0000"],
            "email": ["LI.WEI@EXAMPLE.COM", None, "wei@example.com", None],
        }
    )
    clusters = pd.DataFrame({"unique_id": list("abcd"), "person_id": ["a", "a", "c", "d"]})
    gold = golden_records(raw, clusters).set_index("person_id")
    assert gold.loc["a", "phone"] == "18717670244" and gold.loc["a", "phone_from"] == "b"
    assert gold.loc["a", "email"] == "li.wei@example.com" and gold.loc["a", "email_from"] == "a"
    assert bool(gold.loc["a", "phone_reachable"])
    # nothing better than a masked phone: it is kept as exported, and said unreachable
    assert gold.loc["d", "phone"] == "139****0000" and not gold.loc["d", "phone_reachable"]


def test_golden_name_is_the_full_chinese_name_before_pinyin_or_an_honorific():
    raw = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c", "d", "e", "f"],
            "platform": ["pos", "tmall", "jd", "pos", "xiaohongshu", "pos"],
            "full_name": ["韦女士", "Wei Qinjing", "韦琴静", "田 平超", "田平超", "Lin Hong"],
        }
    )
    clusters = pd.DataFrame({"unique_id": list("abcdef"), "person_id": list("aaaddf")})
    gold = golden_records(raw, clusters).set_index("person_id")
    assert gold.loc["a", "full_name"] == "韦琴静" and gold.loc["a", "full_name_from"] == "c"
    assert gold.loc["d", "full_name"] == "田平超" and gold.loc["d", "full_name_from"] == "d"
    assert gold.loc["f", "full_name"] == "Lin Hong"  # the only name it has, as given


def test_summary_counts_recruitment_of_people_already_recruited_elsewhere():
    raw = pd.DataFrame(
        {
            "unique_id": ["a", "b", "c", "d", "e"],
            "platform": ["tmall", "jd", "tmall", "douyin", "jd"],
            "registered_at": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-01", "2024-01-01"],
        }
    )
    clusters = pd.DataFrame({"unique_id": list("abcde"), "person_id": list("aaadd")})
    out = resolution_summary(raw, clusters)
    # person a: tmall first, then jd (elsewhere) and tmall again (same channel); person d:
    # douyin, then jd (elsewhere) → 2 of 5 accounts
    assert out["accounts"] == 5 and out["persons"] == 2
    assert out["persons_on_2plus_platforms"] == 2
    assert out["duplicate_recruitment_share"] == pytest.approx(2 / 5)
    costly = resolution_summary(raw, clusters, cost_per_account={"tmall": 1, "jd": 3, "douyin": 1})
    assert costly["duplicate_recruitment_share"] == pytest.approx(6 / 9)


def test_platforms_without_a_recruitment_cost_are_said_to_count_as_free(caplog):
    raw = pd.DataFrame({"unique_id": list("abc"), "platform": ["tmall", "jd", "douyin"]})
    clusters = pd.DataFrame({"unique_id": list("abc"), "person_id": list("aac")})
    with caplog.at_level("WARNING", logger="models.identity"):
        resolution_summary(raw, clusters, cost_per_account={"tmall": 35})
    assert "2 accounts are on platforms without a recruitment cost (douyin, jd)" in caplog.text


def test_blocking_rules_past_the_pair_budget_are_left_out(world, caplog):
    _, members, _ = world
    roomy = IdentityResolver(IdentityConfig(u_max_pairs=2e5)).fit(members)
    # one pair per record cannot hold "same city" style blocks of a 300-record list
    tight = IdentityResolver(IdentityConfig(u_max_pairs=2e5, max_pairs_per_record=1)).fit(members)
    assert set(tight.blocking_rules_) < set(roomy.blocking_rules_)
    assert "left out" in caplog.text
    assert len(tight.predict(members)) <= len(roomy.predict(members))


def test_names_mistyped_after_their_first_letters_are_still_compared(fitted, world):
    _, members, _ = world
    # the same person, name mistyped past its third letter, no date, city or phone in common:
    # only the name prefixes block the pair
    pair = normalise_members(
        pd.DataFrame(
            {
                "unique_id": ["x1", "x2"],
                "family_name": ["Blackwood", "Blackwodo"],
                "given_name": ["Alexandra", "Alexandrs"],
                "gender": ["f", "f"],
                "platform": ["tmall", "jd"],
            }
        )
    )
    assert ("family_prefix", "given_prefix") in fitted.blocking_rules_
    scored = fitted.predict(pd.concat([members, pair], ignore_index=True))
    assert ((scored["unique_id_l"] == "x1") & (scored["unique_id_r"] == "x2")).any()
