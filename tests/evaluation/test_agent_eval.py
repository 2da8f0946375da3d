"""The butler's examination: question file, truth, scoring of fake agents, number matching."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import duckdb
import pytest

from evaluation.agent_eval import (
    TOOL_ARGS,
    Question,
    arg_matches,
    evaluate,
    label_in_text,
    load_questions,
    number_in_text,
    says_known,
    sql_problem,
    value_in_text,
)
from features.errors import ContractViolation

METRICS = ("tool_selection", "argument_accuracy", "answer_correctness", "refusal_correctness")


@pytest.fixture
def sql():
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TABLE sales_daily (day DATE, platform VARCHAR, sku_id VARCHAR, units INTEGER,"
        " gross_fen BIGINT)"
    )
    con.execute(
        """INSERT INTO sales_daily VALUES
           ('2025-12-22', 'tmall', 'SK-1', 1200, 9000000),
           ('2025-12-23', 'tmall', 'SK-2', 34, 123450),
           ('2025-12-22', 'jd', 'SK-1', 7, 70000),
           ('2025-12-24', 'jd', 'SK-2', 5, 12345)"""
    )
    yield lambda query: con.execute(query).fetchall()
    con.close()


def _q(**fields: Any) -> Question:
    base = {"lang": "zh", "kind": "answer", "truth_sql": None}
    return Question.model_validate(base | fields)


@pytest.fixture
def questions() -> list[Question]:
    week = {"start": "2025-12-22", "end": "2025-12-28"}
    return [
        _q(id="t1", conversation="a", question="上周天猫卖了多少件？",
           expected={"tool": "sales_metrics", "args": {"platforms": ["tmall"], **week}},
           truth_sql="SELECT sum(units) FROM sales_daily WHERE platform = 'tmall'"),
        _q(id="t2", conversation="a", kind="follow_up", question="那京东呢？",
           expected={"tool": "sales_metrics", "args": {"platforms": ["jd"], **week}},
           truth_sql="SELECT sum(units) FROM sales_daily WHERE platform = 'jd'"),
        _q(id="t3", conversation="b", lang="en", question="Top SKU by revenue on JD last week?",
           expected={"tool": "sales_metrics",
                     "args": {"platforms": ["jd"], "by": ["sku_id"], **week}},
           truth_sql="SELECT sku_id, round(sum(gross_fen) / 100.0, 2) FROM sales_daily "
           "WHERE platform = 'jd' GROUP BY 1 ORDER BY 2 DESC LIMIT 1"),
        _q(id="t4", conversation="c", kind="out_of_scope", question="明天天气怎么样？",
           expected={"tool": None, "refuse": True}),
        _q(id="t5", conversation="d", lang="en", question="Classify: 买家：我要打12315投诉你们",
           expected={"tool": "classify_conversation"}, truth_labels=["complaint_threat"]),
        _q(id="t6", conversation="e", lang="en", question="Is 13800000000 a member?",
           expected={"tool": "match_member", "args": {"phone": "13800000000"}},
           truth_known=True),
    ]  # fmt: skip


def _text(q: Question, sql) -> str:
    """What a right answer says: the truth values, written the way operators read them."""
    parts: list[str] = []
    if q.truth_sql:
        for value in sql(q.truth_sql)[0]:
            parts.append(f"{value:,}" if isinstance(value, int | float) else str(value))
    parts += q.truth_labels
    if q.truth_known:
        parts.append("是老会员（P000123）")
    return "查到了：" + "，".join(parts) + "。"


def _fake(questions: list[Question], sql, *, break_id: str | None = None, how: str = ""):
    """An agent that answers every question right, except ``break_id`` in one way."""
    by_text = {q.question: q for q in questions}
    seen: list[tuple[str, str | None]] = []

    def ask(question: str, conversation_id: str | None) -> dict[str, Any]:
        seen.append((question, conversation_id))
        q = by_text[question]
        calls = [] if q.expected.tool is None else [
            {"name": q.expected.tool, "args": dict(q.expected.args), "ok": True}
        ]  # fmt: skip
        answer = {"answer": _text(q, sql), "mode": "offline", "tool_calls": calls,
                  "refused": q.expected.refuse}  # fmt: skip
        if q.id == break_id:
            if how == "tool":
                answer["tool_calls"] = [{"name": "hot_items", "args": {}, "ok": True}]
            elif how == "numbers":
                answer["answer"] = "上周天猫卖了 999 件。"
            elif how == "no_refusal":
                answer["refused"] = False
            elif how == "args":
                wrong = {**q.expected.args, "platforms": ["tmall"]}
                answer["tool_calls"] = [{"name": q.expected.tool, "args": wrong, "ok": True}]
        return answer

    ask.seen = seen  # type: ignore[attr-defined]
    return ask


def test_perfect_agent_scores_everything(questions, sql):
    report = evaluate(_fake(questions, sql), sql, questions, fingerprint=lambda: "same")
    s = report.summary
    assert s["n"] == 6
    assert all(s[m] == 1.0 for m in (*METRICS, "fully_correct"))
    assert s["store_unchanged"] is True
    assert report.failures() == []
    assert s["by_kind"]["follow_up"]["n"] == 1 and s["by_lang"]["en"]["n"] == 3
    assert s["latency_p95_ms"] >= s["latency_p50_ms"] >= 0
    assert '"fully_correct": true' in report.to_json()
    assert any("tool_selection" in line for line in report.table())


@pytest.mark.parametrize(
    ("break_id", "how", "dropped"),
    [
        ("t1", "tool", "tool_selection"),
        ("t1", "numbers", "answer_correctness"),
        ("t4", "no_refusal", "refusal_correctness"),
        ("t3", "args", "argument_accuracy"),
    ],
)
def test_each_fault_drops_exactly_its_metric(questions, sql, break_id, how, dropped):
    report = evaluate(_fake(questions, sql, break_id=break_id, how=how), sql, questions)
    s = report.summary
    assert s[dropped] < 1.0
    assert all(s[m] == 1.0 for m in METRICS if m != dropped)
    assert s["fully_correct"] == pytest.approx(5 / 6, abs=1e-3)
    assert [f["id"] for f in report.failures()] == [break_id]
    assert report.failures()[0]["problems"]


def test_follow_ups_share_the_conversation_id(questions, sql):
    ask = _fake(questions, sql)
    evaluate(ask, sql, questions, conversation_prefix="run1-")
    ids = dict(ask.seen)
    assert ids["上周天猫卖了多少件？"] == ids["那京东呢？"] == "run1-a"
    assert len(set(ids.values())) == 5
    # a fresh prefix per run, so a second run never continues the first run's conversations
    ask2 = _fake(questions, sql)
    evaluate(ask2, sql, questions)
    assert dict(ask2.seen)["那京东呢？"] != "run1-a"


def test_a_changed_store_and_a_crashing_agent_are_reported(questions, sql):
    states = iter(["before", "after"])

    def ask(question: str, conversation_id: str | None) -> dict[str, Any]:
        raise RuntimeError("boom")

    report = evaluate(ask, sql, questions[:2], fingerprint=lambda: next(states))
    assert report.summary["store_unchanged"] is False
    assert report.summary["errors"] == 2
    assert report.summary["fully_correct"] == 0.0


@pytest.mark.parametrize(
    ("text", "value", "found"),
    [
        ("上周一共卖了1,234件", 1234, True),
        ("GMV 为 ¥91,217.39 元", 91217.39, True),
        ("约9.1万元", 91217.39, True),
        ("环比增长12.5%，表现不错", 0.125, True),
        ("环比增长12.5%，表现不错", 12.46, True),
        ("销售额下降4.2%", -4.2, True),
        ("revenue 1,618,818.19 yuan", 1618818.19, True),
        ("卖了2379件", 2400, False),
        ("SKU SYSK01003-04 卖了57件", 1003, False),
        ("SKU SYSK01003-04 卖了57件", 4, False),
        ("共 5 个SKU有风险", 5, True),
        ("没有数字", 0, False),
    ],
)
def test_numbers_are_read_from_text(text, value, found):
    assert number_in_text(value, text) is found


def test_names_days_labels_and_membership():
    assert value_in_text("tmall", "天猫排第一") and value_in_text("jd", "JD leads")
    assert value_in_text("WH-EC01", "华东仓发货最多")
    assert value_in_text("2025-12-12", "最好的一天是12月12日") and value_in_text(
        "2025-12-12", "best day: Dec 12"
    )
    assert value_in_text("2025-11", "2025-11-01 那个月最多")
    assert value_in_text("口腔护理", "Oral care sold 1,172 units")
    assert not value_in_text("douyin", "天猫第一")
    assert label_in_text("complaint_threat", "风险：投诉威胁（高）")
    assert label_in_text("legal_threat", "legal threat, p=0.91")
    assert not label_in_text("media_exposure", "风险：投诉威胁")
    assert says_known("是老会员，person jd:jd_123") and says_known("Known member P00042")
    assert not says_known("No match: this is not a member (closest jd:jd_123, p=0.12)")
    assert not says_known("没有匹配到，是新会员")


def test_arguments_are_normalised():
    assert arg_matches("platforms", ["tmall"], ["天猫", "京东"])
    assert arg_matches("platforms", ["jd"], "JD")
    assert not arg_matches("platforms", ["tmall", "jd"], ["tmall"])
    assert arg_matches("start", "2025-12-22", "2025-12-22T00:00:00")
    assert arg_matches("week", "2025-12-22", "2025-12-25")  # any day of the week
    assert not arg_matches("week", "2025-12-22", "2025-12-29")
    assert arg_matches("service_level", 0.98, "0.98")
    assert arg_matches("birth_date", "2001-03-26", "2001/3/26")
    assert arg_matches("phone", "17323190560", "173-2319-0560")
    assert not arg_matches("ascending", True, 1)
    assert arg_matches("horizon", 8, 8.0)


def test_default_ok_lets_an_argument_be_left_out(sql):
    q = _q(id="d1", conversation="z", question="上周有啥爆品？",
           expected={"tool": "hot_items", "args": {"week": "2025-12-22", "platforms": ["jd"]},
                     "default_ok": ["week"]})  # fmt: skip

    def ask(args: dict[str, Any]):
        return lambda question, cid: {"answer": "", "tool_calls": [{"name": "hot_items",
                                                                     "args": args}]}  # fmt: skip

    assert evaluate(ask({"platforms": ["jd"]}), sql, [q]).rows[0].args_ok is True
    assert evaluate(ask({"week": "2025-12-23"}), sql, [q]).rows[0].args_ok is False


def test_a_bad_entry_is_reported_by_id(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "questions:\n"
        "- {id: ok1, lang: zh, conversation: c1, kind: answer, question: 你好,\n"
        "   expected: {tool: sales_metrics}}\n"
        "- {id: bad7, lang: fr, conversation: c2, kind: answer, question: salut,\n"
        "   expected: {tool: sales_metrix}}\n"
        "- {id: bad8, lang: en, conversation: c3, kind: follow_up, question: and JD,\n"
        "   expected: {tool: sales_metrics, args: {platform: [jd]}},\n"
        "   truth_sql: DELETE FROM orders}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContractViolation) as info:
        load_questions(bad)
    message = str(info.value)
    assert "bad7" in message and "bad8" in message and "ok1" not in message


def test_sql_problem_accepts_only_one_select():
    assert sql_problem("SELECT 1") is None
    assert sql_problem("WITH x AS (SELECT 1 AS a) SELECT a FROM x;") is None
    assert sql_problem("SELECT 'DROP TABLE x; --' AS s") is None  # inside a literal
    assert sql_problem("SELECT 1; DROP TABLE orders") is not None
    assert sql_problem("DELETE FROM orders") is not None


def test_the_shipped_question_set():
    questions = load_questions()
    assert len(questions) >= 100
    langs = collections.Counter(q.lang for q in questions)
    assert 0.4 <= langs["zh"] / len(questions) <= 0.6
    kinds = collections.Counter(q.kind for q in questions)
    assert kinds["follow_up"] >= 10 and kinds["ambiguous"] >= 6
    assert kinds["out_of_scope"] >= 10 and kinds["hostile"] >= 6
    tools = collections.Counter(q.expected.tool for q in questions)
    for tool in TOOL_ARGS:
        if tool != "query_store":
            assert tools[tool] >= 6, tool
    for q in questions:
        if q.truth_sql is not None:
            assert sql_problem(q.truth_sql) is None, q.id
        if q.kind in ("out_of_scope",):
            assert q.expected.refuse and q.expected.tool is None, q.id
        if q.kind == "follow_up":
            previous = questions[questions.index(q) - 1]
            assert previous.conversation == q.conversation, q.id
    assert len({q.id for q in questions}) == len(questions)
