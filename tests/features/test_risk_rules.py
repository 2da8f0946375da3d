"""The labelling functions and keyword rules, one scenario at a time, on chat_text of a message."""

from __future__ import annotations

import numpy as np
import pytest

from features.chats import chat_text
from features.risk_rules import (
    KEYWORD_RULES,
    LABELLING_FUNCTIONS,
    keyword_votes,
    labelling_votes,
)
from features.schema.vocab import RiskLabel

L = RiskLabel
_BY_LABEL = {lf.label: lf for lf in LABELLING_FUNCTIONS}


def _labels(text: str) -> set[RiskLabel]:
    """The scenarios the labelling functions vote for on one raw buyer message."""
    [row] = labelling_votes([chat_text(text)])
    return {label for label, vote in zip(RiskLabel, row, strict=True) if vote}


# -- every scenario: messages that must be labelled ----------------------------------------------

POSITIVES: list[tuple[RiskLabel, str]] = [
    (L.COMPLAINT_THREAT, "我要去12315投诉你们"),
    (L.COMPLAINT_THREAT, "再不处理我就打消协电话"),
    (L.COMPLAINT_THREAT, "我要投訴你們"),  # traditional
    (L.COMPLAINT_THREAT, "我要打１２３１５"),  # full-width digits
    (L.COMPLAINT_THREAT, "我要举报你们店"),
    (L.COMPLAINT_THREAT, "不给解决我就找市场监督管理局"),  # the regulator's full name
    (L.MEDIA_EXPOSURE, "我要找记者曝光你们"),
    (L.MEDIA_EXPOSURE, "大家帮忙转发扩散"),
    (L.MEDIA_EXPOSURE, "@新浪财经 你们管管"),
    (L.MEDIA_EXPOSURE, "我已经在微博上发了帖子，等着上热搜吧"),
    (L.MASS_COMPLAINT, "已经拉了一个维权群，一百多人了"),
    (L.MASS_COMPLAINT, "我们这一大片都停电了"),
    (L.LEGAL_THREAT, "我要起诉你们"),
    (L.LEGAL_THREAT, "我已经报警了"),
    (L.LEGAL_THREAT, "再不解决就打110"),
    (L.LEGAL_THREAT, "我会请律师走法律途径"),
    (L.SAFETY_INJURY, "用了以后脸上过敏红肿"),
    (L.SAFETY_INJURY, "充电宝炸了"),
    (L.SAFETY_INJURY, "吃了拉肚子进了急诊"),
    (L.SAFETY_INJURY, "孩子脸上起了一大片红疹，已经去医院了"),
    (L.SAFETY_INJURY, "孩子误食了你们的洗衣凝珠，现在在医院洗胃"),
    (L.SAFETY_INJURY, "精华液我用了三天脸就烂了，已经在皮肤科住院"),
    (L.SAFETY_INJURY, "我是敏感肌，用了你们的面霜脸上红肿"),  # a veto word, a clear injury
    (L.COUNTERFEIT, "你们卖的是假货"),
    (L.COUNTERFEIT, "收到的手机是翻新机"),
    (L.COUNTERFEIT, "这不是正品"),
    (L.FRAUD_SCAM, "你们这是诈骗"),
    (L.FRAUD_SCAM, "莫名其妙扣了我20元话费"),
    (L.FRAUD_SCAM, "纯属虚假宣传"),
    (L.PRIVACY_LEAK, "我的个人信息被泄露了"),
    (L.PRIVACY_LEAK, "天天接到骚扰电话"),
    (L.PRIVACY_LEAK, "你们怎么知道我的电话"),
    (L.MASS_COMPLAINT, "很多人都遇到这个问题"),
    (L.MASS_COMPLAINT, "不止我一个人这样"),
    (L.MASS_COMPLAINT, "整个小区都断网了"),
    (L.REFUND_DISPUTE, "退款被拒绝了"),
    (L.REFUND_DISPUTE, "凭什么不给我退"),
    (L.REFUND_DISPUTE, "退款一直没到账"),
    (L.PRICE_PROTECTION, "买了三天就降价了,要求价保"),
    (L.PRICE_PROTECTION, "刚买就降了50元"),
    (L.PRICE_PROTECTION, "申请退差价"),
    (L.PRICE_PROTECTION, "昨天买的今天降了100元,有价保吗?"),  # not a pre-purchase question
    (L.LOGISTICS_LOSS_DAMAGE, "快递丢了"),
    (L.LOGISTICS_LOSS_DAMAGE, "显示签收了但是我没收到"),
    (L.LOGISTICS_LOSS_DAMAGE, "收到的杯子碎了"),
    (L.LOGISTICS_LOSS_DAMAGE, "少发了一件"),
    (L.ABUSIVE_LANGUAGE, "你们是傻逼吗"),
    (L.ABUSIVE_LANGUAGE, "垃圾客服"),
    (L.ABUSIVE_LANGUAGE, "你他妈的"),
    (L.ABUSIVE_LANGUAGE, "SB客服"),  # lower-cased by chat_text
    (L.EXTREME_NEGATIVE_CHURN, "再也不买你们家的东西了"),
    (L.EXTREME_NEGATIVE_CHURN, "我要携号转网"),
    (L.EXTREME_NEGATIVE_CHURN, "非常失望"),
    (L.REPEATED_CONTACT, "这是我第三次联系你们了"),
    (L.REPEATED_CONTACT, "已经三天了还没处理"),
    (L.REPEATED_CONTACT, "上次说好的给我回电话"),
]


@pytest.mark.parametrize(("label", "text"), POSITIVES)
def test_labelling_function_votes_for_its_scenario(label, text):
    assert _BY_LABEL[label](chat_text(text))
    assert label in _labels(text)


def test_every_scenario_has_a_positive_case():
    assert {label for label, _ in POSITIVES} == set(RiskLabel)


# -- the near misses each veto (or the vote pattern) exists for ------------------------------

NEAR_MISSES: list[tuple[RiskLabel, str]] = [
    (L.COMPLAINT_THREAT, "可以投诉快递员吗"),
    (L.COMPLAINT_THREAT, "怎么投诉快递员"),
    (L.COMPLAINT_THREAT, "能举报骑手吗"),
    (L.COMPLAINT_THREAT, "请问什么时候发货"),
    (L.LEGAL_THREAT, "诉讼费用是多少"),
    (L.LEGAL_THREAT, "律师费是谁出"),
    (L.SAFETY_INJURY, "这个会过敏吗?"),
    (L.SAFETY_INJURY, "会不会漏电?"),
    # questions before buying (the supervisor audit found them raised as injuries)
    (L.SAFETY_INJURY, "我皮肤容易过敏，这个刺激吗"),
    (L.SAFETY_INJURY, "敏感肌能用吗？会不会过敏"),
    (L.SAFETY_INJURY, "孕妇能用吗"),
    (L.MASS_COMPLAINT, "孩子脸上起了一大片红疹"),  # a rash, not an area
    (L.MEDIA_EXPOSURE, "我发了个微博"),  # a post by itself is no exposure
    (L.COUNTERFEIT, "这个是正品吗"),
    (L.COUNTERFEIT, "请问是正品吗"),
    (L.FRAUD_SCAM, "谨防诈骗"),
    (L.FRAUD_SCAM, "防骗指南在哪看"),
    (L.REFUND_DISPUTE, "退款什么时候到账?"),
    (L.REFUND_DISPUTE, "退货怎么办理?"),
    (L.REFUND_DISPUTE, "退款多久能到?"),
    (L.REFUND_DISPUTE, "退款退到银行卡几天到?"),
    (L.PRICE_PROTECTION, "有价保吗?"),
    (L.PRICE_PROTECTION, "支持价保吗"),
    (L.PRICE_PROTECTION, "这个可以保价吗?"),
    (L.LOGISTICS_LOSS_DAMAGE, "还没收到呢"),
    (L.LOGISTICS_LOSS_DAMAGE, "还没有收到吗"),
    (L.LOGISTICS_LOSS_DAMAGE, "快递还没收到呢"),
    (L.LOGISTICS_LOSS_DAMAGE, "什么时候能到"),
    (L.ABUSIVE_LANGUAGE, "垃圾短信太多"),
    (L.ABUSIVE_LANGUAGE, "垃圾邮件"),
    (L.ABUSIVE_LANGUAGE, "垃圾电话"),
    (L.ABUSIVE_LANGUAGE, "usb接口松了"),  # "sb" inside a word
]


@pytest.mark.parametrize(("label", "text"), NEAR_MISSES)
def test_labelling_function_leaves_the_near_miss(label, text):
    assert not _BY_LABEL[label](chat_text(text))
    assert label not in _labels(text)


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (L.COMPLAINT_THREAT, "能举报骑手吗"),
        (L.COMPLAINT_THREAT, "怎么举报快递员"),
        (L.REFUND_DISPUTE, "退款退到银行卡几天到?"),
        (L.PRICE_PROTECTION, "有价保吗?"),
        (L.LOGISTICS_LOSS_DAMAGE, "快递还没收到呢"),
        (L.SAFETY_INJURY, "这个会过敏吗?"),
        (L.LEGAL_THREAT, "律师费是谁出"),
    ],
)
def test_these_near_misses_are_stopped_by_the_veto_not_by_the_vote(label, text):
    lf = _BY_LABEL[label]
    normalised = chat_text(text)
    assert lf.vote.search(normalised)
    assert lf.veto is not None and lf.veto.search(normalised)


def test_the_routine_question_with_an_order_number_raises_nothing():
    assert _labels("请问订单[ORDERID_10001352]什么时候发货?") == set()


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (L.COMPLAINT_THREAT, "我已经打12315了,另外怎么投诉快递员?"),
        (L.LOGISTICS_LOSS_DAMAGE, "快递丢了,什么时候发货?"),
        (L.LEGAL_THREAT, "我要起诉你们,律师费是你们出"),
    ],
)
def test_a_veto_does_not_cancel_a_clear_vote_in_the_same_message(label, text):
    assert label in _labels(text)


@pytest.mark.parametrize(
    "text", ["退款被拒绝了,退款什么时候到账?", "你们凭什么不给我退款?退款多久能到?"]
)
def test_the_refund_veto_covers_only_a_message_that_is_just_the_routine_question(text):
    assert L.REFUND_DISPUTE in _labels(text)


# -- shapes, dtypes, one function and one keyword rule per scenario -----------------------------


def test_every_scenario_has_exactly_one_labelling_function_and_a_keyword_rule():
    labels = [lf.label for lf in LABELLING_FUNCTIONS]
    assert sorted(labels) == sorted(RiskLabel)
    assert len(labels) == len(set(labels)) == 14
    assert list(KEYWORD_RULES) == list(RiskLabel)
    assert all(KEYWORD_RULES[label] for label in RiskLabel)


def test_labelling_votes_shape_dtype_and_column_order():
    texts = [chat_text(t) for t in ["我要去12315投诉你们", "你好", "快递丢了,垃圾客服"]]
    votes = labelling_votes(texts)
    assert votes.shape == (3, len(RiskLabel))
    assert votes.dtype == np.int8
    assert set(np.unique(votes)) <= {0, 1}
    column = list(RiskLabel).index
    expected = np.zeros((3, 14), dtype=np.int8)
    expected[0, column(L.COMPLAINT_THREAT)] = 1
    expected[2, column(L.LOGISTICS_LOSS_DAMAGE)] = 1
    expected[2, column(L.ABUSIVE_LANGUAGE)] = 1
    expected[2, column(L.EXTREME_NEGATIVE_CHURN)] = 1  # 垃圾 is also a churn mark
    np.testing.assert_array_equal(votes, expected)


def test_keyword_votes_shape_dtype_and_column_order():
    texts = ["我要投诉", "你好", "还没到,又要等"]
    votes = keyword_votes(texts)
    assert votes.shape == (3, len(RiskLabel))
    assert votes.dtype == np.int8
    column = list(RiskLabel).index
    expected = np.zeros((3, 14), dtype=np.int8)
    expected[0, column(L.COMPLAINT_THREAT)] = 1
    expected[2, column(L.REPEATED_CONTACT)] = 1  # 还没, 又
    np.testing.assert_array_equal(votes, expected)


def test_votes_of_no_messages_are_empty():
    assert labelling_votes([]).shape == (0, 14)
    assert keyword_votes([]).shape == (0, 14)


@pytest.mark.parametrize("label", list(RiskLabel))
def test_each_keyword_fires_its_own_column(label):
    words = KEYWORD_RULES[label]
    votes = keyword_votes(list(words))
    j = list(RiskLabel).index(label)
    assert votes[:, j].tolist() == [1] * len(words)


def test_keyword_rules_have_no_context_unlike_the_labelling_functions():
    # the supervisor's keyword fires on the routine refund question the labelling function leaves
    text = chat_text("退款什么时候到账?")
    j = list(RiskLabel).index(L.REFUND_DISPUTE)
    assert keyword_votes([text])[0, j] == 1
    assert labelling_votes([text])[0, j] == 0
