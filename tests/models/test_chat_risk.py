"""The chat risk classifier on a small synthetic set, thresholds and the report on crafted cases."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from features.chats import ChatMessage, Conversation
from features.errors import InvalidParameterError, NotFittedError
from features.risk_rules import labelling_votes
from features.schema.vocab import ChatRole, RiskLabel, Severity
from models.chat_risk import (
    LABELS,
    RiskClassifier,
    RiskConfig,
    choose_thresholds,
    clauses,
    risk_score,
    severity_weighted,
)
from models.risk_metrics import risk_report

L = RiskLabel
COL = {label: j for j, label in enumerate(LABELS)}

COMPLAINT = [
    "我要去12315投诉你们",
    "再不处理我就打12315",
    "我要投诉你们",
    "我去消协投诉你们",
    "我已经投诉到12315了",
    "不解决我就去消协",
]
FAKE = ["东西是假货", "你们卖假货", "收到的是假货", "这是假货吧我要退", "明显是假货", "鞋子是假货"]
LOST = ["快递丢了", "我的快递丢了怎么办", "包裹丢了", "快递被弄丢了", "货丢了", "东西丢了"]
PLAIN = [
    "请问什么时候发货",
    "有没有红色的",
    "这个尺码合适吗",
    "好的谢谢",
    "可以开发票吗",
    "地址写错了能改吗",
    "麻烦发顺丰",
    "这个有货吗",
    "能便宜点吗",
    "质量怎么样",
]
GREETING = "亲,您好,请问有什么可以帮您"


def conversation(session_id: str, texts: list[str], roles: list[str] | None = None) -> Conversation:
    roles = roles or ["buyer"] * len(texts)
    return Conversation(
        session_id=session_id,
        platform="jd",
        messages=[ChatMessage(role=ChatRole(r), text=t) for r, t in zip(roles, texts, strict=True)],
    )


def training_set() -> list[Conversation]:
    """60 conversations: an agent greeting, a plain buyer question, then the buyer's point."""
    out = []
    for i in range(60):
        point = [COMPLAINT, FAKE, LOST, PLAIN][i % 4]
        out.append(
            conversation(
                f"T{i}",
                [GREETING, PLAIN[i % len(PLAIN)], point[i % len(point)]],
                ["agent", "buyer", "buyer"],
            )
        )
    return out


@pytest.fixture(scope="module")
def model() -> RiskClassifier:
    return RiskClassifier().fit(training_set())


def raised(assessment) -> list[RiskLabel]:
    return [r.scenario for r in assessment.risks]


# -- fitting -----------------------------------------------------------------------------------


def test_fit_learns_from_buyer_messages_only(model):
    assert model.n_messages_ == 120  # two buyer messages per conversation; greetings skipped
    assert model.training_counts_["complaint_threat"] == 15
    assert model.training_counts_["counterfeit"] == 15
    assert model.training_counts_["logistics_loss_damage"] == 15
    assert model.training_counts_["media_exposure"] == 0
    assert {L.COMPLAINT_THREAT, L.COUNTERFEIT, L.LOGISTICS_LOSS_DAMAGE} <= set(
        model.trained_labels_
    )
    assert L.MEDIA_EXPOSURE not in model.trained_labels_
    assert model.thresholds_ == {label: 0.5 for label in LABELS}
    assert model.version_ == f"{RiskConfig().version}+120msg+0conv"


def test_untrained_scenarios_never_fire(model):
    probabilities = model.message_probabilities(["我要找记者曝光你们"])
    assert probabilities.shape == (1, len(LABELS))
    assert probabilities[0, COL[L.MEDIA_EXPOSURE]] < 1e-9
    # and the model says which it can never raise, so training can say so
    assert L.MEDIA_EXPOSURE in model.undetected_labels
    assert set(model.undetected_labels).isdisjoint(model.trained_labels_)


# -- assessing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("你们再这样我就打12315投诉", L.COMPLAINT_THREAT),
        ("这双鞋是假货", L.COUNTERFEIT),
        ("我的包裹丢了", L.LOGISTICS_LOSS_DAMAGE),
    ],
)
def test_assess_finds_the_scenario_of_a_held_out_paraphrase(model, text, label):
    [assessment] = model.assess([conversation("H", [text])])
    assert raised(assessment) == [label]
    finding = assessment.risks[0]
    assert finding.severity is label.severity
    assert finding.probability > 0.5
    assert finding.evidence == [0]
    assert assessment.probabilities[label.value] == finding.probability
    assert assessment.session_id == "H"
    assert assessment.platform == "jd"


def test_assess_raises_nothing_on_a_routine_question(model):
    [assessment] = model.assess([conversation("H", ["请问有没有蓝色的"])])
    assert assessment.risks == []
    assert assessment.risk_score < 0.5  # below any conversation with a raised risk


def test_evidence_points_to_the_buyer_message_not_the_agent(model):
    conv = conversation(
        "H",
        ["亲,这边已为您提交投诉工单", "好的", "我要去12315投诉你们"],
        ["agent", "buyer", "buyer"],
    )
    [assessment] = model.assess([conv])
    assert raised(assessment) == [L.COMPLAINT_THREAT]
    assert assessment.risks[0].evidence == [2]


def test_escalation_in_the_third_message_still_raises(model):
    calm = conversation("A", ["你好", "请问什么时候发货"])
    escalated = conversation("B", ["你好", "请问什么时候发货", "再不发货我就去12315投诉你们"])
    calm_assessment, escalated_assessment = model.assess([calm, escalated])
    assert calm_assessment.risks == []
    assert raised(escalated_assessment) == [L.COMPLAINT_THREAT]
    assert escalated_assessment.risks[0].evidence == [2]


def test_agent_only_text_raises_nothing(model):
    conv = conversation(
        "H",
        ["亲,您的快递丢了,我们已投诉到12315", "抱歉,是假货的话全额退款"],
        ["agent", "agent"],
    )
    [assessment] = model.assess([conv])
    assert assessment.risks == []
    assert assessment.risk_score == 0.0
    assert set(assessment.probabilities.values()) == {0.0}


def test_risk_score_ranks_high_severity_above_medium(model):
    high, medium, none = model.assess(
        [
            conversation("high", ["我要去12315投诉你们"]),
            conversation("medium", ["快递丢了"]),
            conversation("none", ["好的谢谢"]),
        ]
    )
    assert raised(high) == [L.COMPLAINT_THREAT]
    assert raised(medium) == [L.LOGISTICS_LOSS_DAMAGE]
    assert high.risk_score > medium.risk_score > 0.5 > none.risk_score


def test_several_risks_are_listed_high_severity_first(model):
    [assessment] = model.assess(
        [conversation("H", ["快递丢了", "收到的是假货", "我要去12315投诉你们"])]
    )
    found = raised(assessment)
    assert set(found) == {L.COMPLAINT_THREAT, L.COUNTERFEIT, L.LOGISTICS_LOSS_DAMAGE}
    assert found[-1] is L.LOGISTICS_LOSS_DAMAGE  # the only medium one comes last
    evidence = {r.scenario: r.evidence for r in assessment.risks}
    assert evidence[L.LOGISTICS_LOSS_DAMAGE] == [0]
    assert evidence[L.COUNTERFEIT] == [1]
    assert evidence[L.COMPLAINT_THREAT] == [2]


def test_adding_12315_raises_the_complaint_probability(model):
    plain, threat = model.assess(
        [conversation("A", ["东西坏了"]), conversation("B", ["东西坏了,我打12315"])]
    )
    assert threat.probabilities["complaint_threat"] > plain.probabilities["complaint_threat"]


def test_the_shop_name_does_not_change_the_assessment(model):
    a = conversation("A", ["我要去12315投诉你们"])
    b = a.model_copy(update={"shop_id": "another shop"})
    first, second = model.assess([a, b])
    assert first.probabilities == second.probabilities


def _pasted(text: str) -> str:
    """``text`` as pasted from a chat app: characters that show nothing between its own."""
    invisible = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
    return "".join(c + invisible[i % len(invisible)] for i, c in enumerate(text))


def test_characters_that_show_nothing_do_not_move_the_scores(model):
    texts = ["请问什么时候发货", "东西是假货", "我要去12315投诉你们"]
    clean = conversation("A", texts)
    pasted = conversation("A", [_pasted(t) for t in texts[:2]] + ["我要去12315投\u200b诉你们"])
    assert [m.text for m in pasted.messages] != texts
    first, second = model.assess([clean, pasted])
    assert raised(first) == [L.COMPLAINT_THREAT, L.COUNTERFEIT]
    assert first == second  # probabilities, risks with their evidence, risk score
    scores = [model.conversation_probabilities([c])[0] for c in (clean, pasted)]
    np.testing.assert_array_equal(scores[0], scores[1])


def test_a_buyer_message_of_characters_that_show_nothing_is_no_message(model):
    clean = conversation("A", ["我要去12315投诉你们"])
    padded = conversation("A", ["我要去12315投诉你们", "\u200b\ufeff"])
    first, second = model.assess([clean, padded])
    assert first.probabilities == second.probabilities


def test_characters_that_show_nothing_do_not_change_what_is_learnt(model):
    # chat_text drops them in training as in serving: the same vocabulary, the same weights
    pasted = [
        c.model_copy(
            update={
                "messages": [m.model_copy(update={"text": _pasted(m.text)}) for m in c.messages]
            }
        )
        for c in training_set()
    ]
    refit = RiskClassifier().fit(pasted)
    assert refit.vectoriser_.vocabulary_ == model.vectoriser_.vocabulary_
    np.testing.assert_array_equal(refit.weights_, model.weights_)
    np.testing.assert_array_equal(refit.intercepts_, model.intercepts_)


# -- long messages, read clause by clause ------------------------------------------------------


def _reading_whole(model: RiskClassifier) -> RiskClassifier:
    """``model``'s fitted state, reading every message whole (as before clause reading)."""
    whole = RiskClassifier(RiskConfig(clause_min_chars=0))
    whole.__dict__.update({k: v for k, v in model.__dict__.items() if k != "config"})
    return whole


# a long message of routine questions, the words the model knows best as "no risk"
LEAD_IN = "请问什么时候发货,有没有红色的,这个尺码合适吗,地址写错了能改吗,"


def test_a_risk_clause_inside_a_long_message_is_raised(model):
    whole = _reading_whole(model)
    long = conversation("L", ["你好", LEAD_IN + "我要去12315投诉你们"])
    [alone] = model.assess([conversation("S", ["我要去12315投诉你们"])])
    [diluted] = whole.assess([long])  # one TF-IDF vector over the whole message
    [assessment] = model.assess([long])
    assert L.COMPLAINT_THREAT not in raised(diluted)
    assert raised(assessment) == [L.COMPLAINT_THREAT]
    # the message scores as its risk clause does, and the evidence names the message
    assert assessment.probabilities["complaint_threat"] == alone.probabilities["complaint_threat"]
    assert assessment.risks[0].evidence == [1]


def test_short_messages_score_as_whole_messages(model):
    whole = _reading_whole(model)
    texts = ["好的,谢谢", "东西坏了,我打12315", "再不退款,我就找律师起诉", "请问什么时候发货"]
    assert all(len(t) <= RiskConfig().clause_min_chars for t in texts)
    np.testing.assert_array_equal(
        model.message_probabilities(texts), whole.message_probabilities(texts)
    )


def test_a_long_message_scores_at_least_as_high_as_read_whole(model):
    whole = _reading_whole(model)
    texts = [LEAD_IN + "这是假货吧我要退", LEAD_IN * 3, "请问什么时候发货," * 5]
    by_clause, read_whole = model.message_probabilities(texts), whole.message_probabilities(texts)
    assert (by_clause >= read_whole).all()
    assert (by_clause > read_whole).any()


def test_a_clause_counts_alone_only_for_a_scenario_a_rule_recognises_in_it(model):
    whole = _reading_whole(model)
    text = LEAD_IN + "真的太过分了,你们看着办吧"  # no rule's word in any clause
    assert not labelling_votes(clauses(text)).any()
    np.testing.assert_array_equal(
        model.message_probabilities([text]), whole.message_probabilities([text])
    )


def test_a_model_pickled_before_clause_reading_reads_whole_messages(model):
    old = pickle.loads(pickle.dumps(model))
    for name in ("clause_min_chars", "clause_merge_chars", "clause_max_chars"):
        object.__delattr__(old.config, name)  # as a config pickled before the fields existed
    whole = _reading_whole(model)
    texts = [LEAD_IN + "我要去12315投诉你们"]
    np.testing.assert_array_equal(
        old.message_probabilities(texts), whole.message_probabilities(texts)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要去12315投诉你们", []),  # one clause: read whole only
        (
            "好的,快递三天都没到,再不退款我就找律师起诉",
            ["好的,快递三天都没到,", "再不退款我就找律师起诉"],
        ),
        (
            "快递三天都没到。客服也不回!!! 我要投诉",
            ["快递三天都没到。", "客服也不回!!!", "我要投诉"],
        ),
        ("快递三天都没到,客服也不回,好吧", ["快递三天都没到,", "客服也不回,好吧"]),
    ],
)
def test_clauses_split_on_sentence_marks_and_merge_short_ones(text, expected):
    assert clauses(text) == expected


def test_clauses_of_a_sentence_without_punctuation_are_windows():
    text = "商品规格颜色尺码" * 6 + "我要去12315投诉你们"
    windows = clauses(text, max_chars=20)
    assert all(len(w) <= 20 for w in windows)
    assert any("12315投诉你们" in w for w in windows)
    assert clauses(text) == []


def test_config_rejects_negative_clause_lengths():
    with pytest.raises(InvalidParameterError, match="clause_min_chars"):
        RiskConfig(clause_min_chars=-1)


def test_assess_of_no_conversations_is_empty(model):
    assert model.assess([]) == []


# -- thresholds ---------------------------------------------------------------------------------


def test_set_thresholds_changes_what_is_raised():
    fitted = RiskClassifier().fit(training_set())
    conv = conversation("H", ["我要去12315投诉你们"])
    probability = fitted.assess([conv])[0].probabilities["complaint_threat"]
    assert probability < 0.999
    fitted.set_thresholds({L.COMPLAINT_THREAT: 0.999, "counterfeit": 0.3})
    assert fitted.thresholds_[L.COMPLAINT_THREAT] == 0.999
    assert fitted.thresholds_[L.COUNTERFEIT] == 0.3
    assert fitted.thresholds_[L.LEGAL_THREAT] == 0.5  # others keep theirs
    assert fitted.assess([conv])[0].risks == []


@pytest.mark.parametrize("value", [0.0, 1.0, 1.2, -0.1])
def test_set_thresholds_rejects_values_outside_0_1(model, value):
    with pytest.raises(InvalidParameterError, match=r"\(0, 1\)"):
        model.set_thresholds({L.COMPLAINT_THREAT: value})
    assert model.thresholds_[L.COMPLAINT_THREAT] == 0.5


def test_a_rejected_set_thresholds_changes_nothing():
    fitted = RiskClassifier().fit(training_set())
    with pytest.raises(InvalidParameterError):
        fitted.set_thresholds({L.COMPLAINT_THREAT: 0.3, L.LEGAL_THREAT: 1.2})
    assert fitted.thresholds_[L.COMPLAINT_THREAT] == 0.5


def test_a_second_fit_replaces_the_first():
    fitted = RiskClassifier().fit(training_set())
    fitted.set_thresholds({L.COMPLAINT_THREAT: 0.9})
    fitted.fit(training_set()[:40])
    assert fitted.n_messages_ == 80
    assert fitted.thresholds_[L.COMPLAINT_THREAT] == 0.5


# -- misuse ------------------------------------------------------------------------------------


def test_an_unfitted_model_raises_not_fitted():
    unfitted = RiskClassifier()
    with pytest.raises(NotFittedError):
        unfitted.assess([conversation("H", ["我要投诉"])])
    with pytest.raises(NotFittedError):
        unfitted.message_probabilities(["我要投诉"])
    with pytest.raises(NotFittedError):
        unfitted.set_thresholds({L.COMPLAINT_THREAT: 0.5})
    with pytest.raises(SklearnNotFittedError):
        _ = unfitted.version_


def test_fit_messages_with_the_wrong_label_shape():
    texts = ["我要投诉", "你好", "快递丢了"]
    with pytest.raises(InvalidParameterError, match=r"3 × 14"):
        RiskClassifier().fit_messages(texts, np.zeros((3, 13), dtype=np.int8))
    with pytest.raises(InvalidParameterError):
        RiskClassifier().fit_messages(texts, np.zeros((2, 14), dtype=np.int8))


def test_fit_without_buyer_messages():
    with pytest.raises(InvalidParameterError, match="no buyer messages"):
        RiskClassifier().fit([conversation("A", ["您好"], ["agent"])])
    with pytest.raises(InvalidParameterError):
        RiskClassifier().fit_messages([], np.zeros((0, 14)))


def test_config_to_params_is_flat():
    params = RiskConfig(ngram_range=(2, 4), class_weight=None).to_params()
    assert params["ngram_range"] == "2-4"
    assert params["class_weight"] == "None"
    assert params["min_recall_high"] == 0.85
    assert all(isinstance(v, str | int | float) for v in params.values())


# -- the ranking score ---------------------------------------------------------------------------


def test_severity_weighted_downweights_medium_scenarios():
    weighted = severity_weighted(np.ones(len(LABELS)))
    assert weighted[COL[L.COMPLAINT_THREAT]] == 1.0
    assert weighted[COL[L.REFUND_DISPUTE]] == pytest.approx(0.6)
    assert (weighted == 1.0).sum() == sum(label.severity is Severity.HIGH for label in LABELS)


def test_risk_score_by_hand():
    p = np.zeros(len(LABELS))
    p[COL[L.COMPLAINT_THREAT]] = 0.8
    p[COL[L.REFUND_DISPUTE]] = 0.9
    nothing = np.zeros(len(LABELS), dtype=bool)
    assert risk_score(p, nothing) == pytest.approx(0.4)  # 0.5 × max(0.8, 0.9 × 0.6)
    one = nothing.copy()
    one[COL[L.COMPLAINT_THREAT]] = True
    assert risk_score(p, one) == pytest.approx(0.9)  # 0.5 + 0.5 × 0.8
    two = one.copy()
    two[COL[L.REFUND_DISPUTE]] = True
    assert risk_score(p, two) == pytest.approx(0.95)  # + 0.05 for the second risk
    assert risk_score(np.ones(len(LABELS)), np.ones(len(LABELS), dtype=bool)) == 1.0


# -- choose_thresholds ---------------------------------------------------------------------------

# four positives, five negatives: F1 is best (6/7) over (0.5, 0.7], where recall is 3/4
_POSITIVE = [0.9, 0.8, 0.7, 0.15]
_NEGATIVE = [0.5, 0.4, 0.3, 0.2, 0.1]


def _dev_set() -> tuple[np.ndarray, np.ndarray]:
    n = len(_POSITIVE) + len(_NEGATIVE)
    probabilities = np.zeros((n, len(LABELS)))
    labels = np.zeros((n, len(LABELS)), dtype=np.int8)
    for label in (L.REFUND_DISPUTE, L.COMPLAINT_THREAT):
        probabilities[:, COL[label]] = _POSITIVE + _NEGATIVE
        labels[: len(_POSITIVE), COL[label]] = 1
    # media exposure: a high-severity label whose recall floor cannot be reached
    probabilities[:, COL[L.MEDIA_EXPOSURE]] = [0.9, 0.01, 0.3, 0, 0, 0, 0, 0, 0]
    labels[:2, COL[L.MEDIA_EXPOSURE]] = 1
    # counterfeit scores high everywhere, but no conversation has it
    probabilities[:, COL[L.COUNTERFEIT]] = 0.9
    return probabilities, labels


def test_choose_thresholds_picks_the_f1_best_threshold_for_a_medium_label():
    chosen = choose_thresholds(*_dev_set())
    assert chosen[L.REFUND_DISPUTE] == pytest.approx(0.51)  # the lowest grid point over 0.5


def test_choose_thresholds_keeps_recall_for_a_high_severity_label():
    probabilities, labels = _dev_set()
    chosen = choose_thresholds(probabilities, labels)
    # recall ≥ 0.85 needs the positive at 0.15: best F1 among those thresholds is (0.1, 0.15]
    assert chosen[L.COMPLAINT_THREAT] == pytest.approx(0.11)
    predicted = probabilities[:, COL[L.COMPLAINT_THREAT]] >= chosen[L.COMPLAINT_THREAT]
    assert predicted[: len(_POSITIVE)].all()


def test_choose_thresholds_recall_floor_is_a_parameter():
    chosen = choose_thresholds(*_dev_set(), min_recall_high=0.7)
    assert chosen[L.COMPLAINT_THREAT] == pytest.approx(0.51)


def test_choose_thresholds_falls_back_to_best_f1_when_the_floor_is_unreachable():
    chosen = choose_thresholds(*_dev_set())
    assert chosen[L.MEDIA_EXPOSURE] == pytest.approx(0.31)


def test_choose_thresholds_skips_labels_absent_from_the_truth():
    chosen = choose_thresholds(*_dev_set())
    assert set(chosen) == {L.REFUND_DISPUTE, L.COMPLAINT_THREAT, L.MEDIA_EXPOSURE}


def test_choose_thresholds_on_a_custom_grid():
    chosen = choose_thresholds(*_dev_set(), grid=np.array([0.25, 0.6, 0.85]))
    assert chosen[L.REFUND_DISPUTE] == 0.6
    assert chosen[L.COMPLAINT_THREAT] == 0.6  # no grid point reaches recall 0.85: best F1


# -- risk_report --------------------------------------------------------------------------------


def _report_case():
    truth = np.zeros((4, len(LABELS)), dtype=np.int8)
    predicted = np.zeros_like(truth)
    scores = np.zeros((4, len(LABELS)))
    c, f, r, a = (
        COL[x] for x in (L.COMPLAINT_THREAT, L.COUNTERFEIT, L.REFUND_DISPUTE, L.ABUSIVE_LANGUAGE)
    )
    truth[0, [c, r]] = 1
    truth[1, c] = 1
    truth[2, f] = 1
    predicted[0, c] = 1
    predicted[1, [c, f]] = 1
    predicted[3, [r, a]] = 1
    scores[3, a] = 0.9  # false
    scores[0, c] = 0.8  # true
    scores[1, f] = 0.7  # false
    scores[1, c] = 0.6  # true
    scores[3, r] = 0.5  # false
    scores[2, f] = 0.99  # not raised: must not count as an alert
    return truth, predicted, scores


def test_risk_report_per_label_by_hand():
    report = risk_report(*_report_case())
    rows = report.per_label.set_index("label")
    assert list(report.per_label["label"]) == [label.value for label in LABELS]
    assert rows.loc["complaint_threat", ["support", "predicted"]].tolist() == [2, 2]
    assert rows.loc["complaint_threat", ["precision", "recall", "f1"]].tolist() == [1.0, 1.0, 1.0]
    assert rows.loc["counterfeit", ["support", "predicted", "f1"]].tolist() == [1, 1, 0.0]
    assert rows.loc["refund_dispute", ["support", "predicted", "recall"]].tolist() == [1, 1, 0.0]
    assert rows.loc["abusive_language", ["support", "predicted", "precision"]].tolist() == [
        0,
        1,
        0.0,
    ]
    assert rows.loc["refund_dispute", "severity"] == "medium"
    assert rows.loc["counterfeit", "severity"] == "high"


def test_risk_report_macro_and_micro_use_present_labels_only():
    report = risk_report(*_report_case())
    assert report.macro_f1 == pytest.approx(1 / 3)  # complaint 1, counterfeit 0, refund 0
    # present labels: 2 true of 4 raised, 2 found of 4 true; the abusive alert is left out
    assert report.micro_f1 == pytest.approx(0.5)
    assert report.high_recall_min == 0.0  # counterfeit was missed


@pytest.mark.parametrize(("k", "expected"), [(1, 0.0), (2, 0.5), (3, 1 / 3), (4, 0.5), (20, 0.4)])
def test_risk_report_top_k_precision(k, expected):
    report = risk_report(*_report_case(), k=k)
    assert report.k == k
    assert report.top_k_precision == pytest.approx(expected)


def test_risk_report_summary_lists_present_labels():
    summary = risk_report(*_report_case(), k=3).summary()
    assert summary["top3_precision"] == pytest.approx(1 / 3)
    assert summary["complaint_threat_recall"] == 1.0
    assert "refund_dispute_f1" in summary
    assert "abusive_language_f1" not in summary
    assert "media_exposure_f1" not in summary


def test_risk_report_without_alerts_or_high_labels():
    truth = np.zeros((3, len(LABELS)), dtype=np.int8)
    truth[0, COL[L.REFUND_DISPUTE]] = 1
    report = risk_report(truth, np.zeros_like(truth), np.zeros(truth.shape))
    assert math.isnan(report.top_k_precision)
    assert math.isnan(report.high_recall_min)
    assert report.macro_f1 == 0.0
    assert report.micro_f1 == 0.0


def test_risk_report_perfect_predictions():
    truth, _, scores = _report_case()
    report = risk_report(truth, truth, scores + 0.01)
    assert report.macro_f1 == 1.0
    assert report.micro_f1 == 1.0
    assert report.top_k_precision == 1.0
    assert report.high_recall_min == 1.0


# -- the conversation stage ----------------------------------------------------------------------


def _hand_labelled() -> tuple[list[Conversation], np.ndarray]:
    """Readers' labels that the rules miss: "第三次来问了" is a repeated contact."""
    convs, rows = [], []
    for i in range(40):
        repeat = i % 2 == 0
        texts = [PLAIN[i % len(PLAIN)], "这是我第三次来问了还没人管" if repeat else "好的谢谢"]
        convs.append(conversation(f"H{i}", texts))
        row = np.zeros(len(LABELS), dtype=np.int8)
        row[COL[L.REPEATED_CONTACT]] = repeat
        rows.append(row)
    return convs, np.array(rows)


STAGE_2 = RiskConfig(conversation_min_positives=10)


def test_the_conversation_stage_learns_what_readers_label():
    model = RiskClassifier(STAGE_2).fit(training_set())
    convs, labels = _hand_labelled()
    before, _, _ = model.conversation_probabilities(convs)
    model.fit_conversations(convs, labels)
    after, _, _ = model.conversation_probabilities(convs)
    j = COL[L.REPEATED_CONTACT]
    assert set(model.conversation_models_) == {j}  # only scenarios with enough examples
    assert (
        RiskClassifier().fit(training_set()).fit_conversations(convs, labels).conversation_models_
        == {}
    )  # 20 < 30
    assert after[labels[:, j] == 1, j].min() > 0.5 > after[labels[:, j] == 0, j].max()
    assert before[:, j].max() < 0.5  # the message stage alone did not know it
    others = [k for k in range(len(LABELS)) if k != j]
    np.testing.assert_allclose(after[:, others], before[:, others])  # untouched
    assert model.version_.endswith("+40conv")
    [found] = model.assess([conversation("x", ["请问什么时候发货", "这是我第三次来问了还没人管"])])
    [risk] = [r for r in found.risks if r.scenario is L.REPEATED_CONTACT]
    assert risk.evidence == [1]


def test_a_model_saved_before_the_stacked_stage_scores_the_same():
    """Registered models pickled before ``conversation_stage_`` existed still load and
    score alike: the stage is stacked from ``conversation_models_`` on first use."""
    model = RiskClassifier(STAGE_2).fit(training_set())
    convs, labels = _hand_labelled()
    model.fit_conversations(convs, labels)
    fresh, _, _ = model.conversation_probabilities(convs)
    old = pickle.loads(pickle.dumps(model))
    del old.conversation_stage_
    again, _, _ = old.conversation_probabilities(convs)
    np.testing.assert_array_equal(again, fresh)
    assert old.conversation_stage_.columns == [COL[L.REPEATED_CONTACT]]


def test_the_conversation_stage_never_raises_on_agent_only_text():
    model = RiskClassifier(STAGE_2).fit(training_set())
    model.fit_conversations(*_hand_labelled())
    [found] = model.assess([conversation("a", ["这是我第三次来问了还没人管"], ["agent"])])
    assert found.risks == []


def test_the_conversation_stage_checks_its_labels(model):
    convs, labels = _hand_labelled()
    with pytest.raises(InvalidParameterError, match="40 × 14"):
        RiskClassifier().fit(training_set()).fit_conversations(convs, labels[:, :3])
    with pytest.raises(NotFittedError):
        RiskClassifier().fit_conversations(convs, labels)


def test_choose_thresholds_will_not_buy_recall_below_the_precision_floor():
    # recall 1.0 for complaint threat costs precision 4/8 = 0.5: allowed at 0.5, not at 0.6
    assert choose_thresholds(*_dev_set())[L.COMPLAINT_THREAT] == pytest.approx(0.11)
    chosen = choose_thresholds(*_dev_set(), min_precision_high=0.6)
    assert chosen[L.COMPLAINT_THREAT] == pytest.approx(0.51)  # the best-F1 threshold


# -- calibration -------------------------------------------------------------------------------


def test_calibrate_learns_what_overconfident_scores_stand_for():
    model = RiskClassifier().fit(training_set())
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.01, 0.99, size=(20_000, len(LABELS)))
    j = COL[L.FRAUD_SCAM]
    # the true probability is lower than the score says: logit p = 0.5 logit s - 1
    logit = np.log(scores[:, j] / (1 - scores[:, j]))
    labels = np.zeros(scores.shape, dtype=np.int8)
    labels[:, j] = rng.uniform(size=len(scores)) < 1 / (1 + np.exp(-(0.5 * logit - 1)))
    labels[:5, COL[L.PRIVACY_LEAK]] = 1  # 5 positives: too few to learn a map from
    model.calibrate(scores, labels)
    slope, intercept = model.calibration_[j]
    assert slope == pytest.approx(0.5, abs=0.05) and intercept == pytest.approx(-1, abs=0.1)
    shown = model.calibrated(scores)
    for low, high in ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6)):
        in_bin = (shown[:, j] >= low) & (shown[:, j] < high)
        assert labels[in_bin, j].mean() == pytest.approx(shown[in_bin, j].mean(), abs=0.03)
    k = COL[L.PRIVACY_LEAK]
    np.testing.assert_allclose(shown[:, k], scores[:, k], rtol=1e-9)  # kept as it was


def test_calibration_changes_the_probabilities_shown_not_what_is_raised(model):
    convs = [
        conversation("a", ["这是假货，我要投诉到12315"]),
        conversation("b", ["快递丢了，一直没人处理"]),
        conversation("c", ["请问什么时候发货"]),
    ]
    calibrated = pickle.loads(pickle.dumps(model))
    scores = np.full((40, len(LABELS)), 0.9)
    labels = np.zeros(scores.shape, dtype=np.int8)
    labels[::4] = 1  # a score of 0.9 is right a quarter of the time
    scores[1::2] = 0.1
    labels[1::2] = 0
    calibrated.calibrate(scores, labels)
    before, after = model.assess(convs), calibrated.assess(convs)
    assert [raised(a) for a in before] == [raised(a) for a in after]
    complaint = before[0].probabilities["complaint_threat"]
    assert after[0].probabilities["complaint_threat"] < complaint
    with pytest.raises(InvalidParameterError, match="conversations ×"):
        calibrated.calibrate(scores[:, :3], labels)


def test_risk_report_calibration_figures_by_hand():
    truth = np.zeros((4, len(LABELS)), dtype=np.int8)
    j = COL[L.REFUND_DISPUTE]
    truth[:2, j] = 1
    predicted = np.zeros_like(truth)
    predicted[:, j] = 1  # four alerts, two true
    probabilities = np.zeros(truth.shape)
    probabilities[:, j] = 0.8
    report = risk_report(truth, predicted, probabilities, probabilities)
    assert report.alert_probability == pytest.approx(0.8)
    assert report.alert_precision == pytest.approx(0.5)
    assert report.calibration_error == pytest.approx(0.3)
    # present label only: (2 × 0.2² + 2 × 0.8²) / 4
    assert report.brier == pytest.approx((2 * 0.04 + 2 * 0.64) / 4)
    assert report.summary()["alert_precision"] == pytest.approx(0.5)
    assert "brier" not in risk_report(truth, predicted, probabilities).summary()
