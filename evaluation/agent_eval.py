"""Examine the business butler: tool choice, arguments, answers, refusals and latency.

The question set (``agent_questions.yaml`` next to this module) holds operator questions over
the sample world, each with the tool call expected and the true answer computed from the
store by independent SQL. :func:`evaluate` asks every question through an injected ``ask``
function (the offline planner, or the LLM agent when one is configured), times it, and
scores it. Nothing here imports ``services`` or ``training``: the agent is reached only
through ``ask``, the store only through ``sql``, and the planner is never tuned on these
questions.

Scoring, per question:

* **tool_ok** — the first tool call's name is ``expected.tool`` or in ``expected.also_ok``;
  when no tool is expected (a refusal or a clarifying answer) there is no call at all.
* **args_ok** — scored only when the tool is right: each expected argument matches the first
  call to ``expected.tool`` after normalisation (platform names to their values, dates as
  ISO strings, ``week`` as its Monday, phones as digits); lists match when the expected
  items are a subset of the actual ones, numbers within 1e-6. An argument named in
  ``expected.default_ok`` may be left out. A call to an ``also_ok`` tool is not checked.
* **answer_ok** — every value of the truth row appears in the answer text (see the contract
  below); None when the question has nothing to check.
* **refusal_ok** — the answer's ``refused`` flag equals ``expected.refuse``.
* **fully_correct** — all four hold (a None counts as holding).

The contract: what an answer must say to be scored right.

* Numbers are read from the answer text with thousands separators removed; ``万``/``亿``
  after a number multiply it; a number followed by ``%`` also counts as that fraction. A
  number matches a true value within half a unit of its last displayed decimal or 0.5 %
  of the value, whichever is larger; a negative truth (a fall) also matches its absolute
  value, since the sign may be said in words ("down 4.2%", "下降4.2%").
* Names and ids match as case-insensitive substrings. Platforms may be named by their value
  or any alias (天猫, Tmall, JD, 抖音 …), warehouses by id or region (WH-EC01, 华东, East
  China), categories by their store name or the English gloss in :data:`CATEGORY_NAMES`,
  days as ISO dates, ``M月D日`` or ``Dec 12``.
* Risk scenarios (``truth_labels``) are named by their label (``complaint_threat``,
  ``complaint threat``) or one of the names in :data:`RISK_LABEL_NAMES`.
* Membership (``truth_known``): the answer for a known person says so with one of
  :data:`KNOWN_PHRASES` or shows the person id (``P123``, ``jd:jd_123``); the answer for an
  unknown person uses one of :data:`UNKNOWN_PHRASES` ("no match", "not a member", "新会员").

Examples:
    >>> questions = load_questions()                                    # doctest: +SKIP
    >>> report = evaluate(ask, sql, questions, fingerprint=store_hash)  # doctest: +SKIP
    >>> report.summary["fully_correct"]                                  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.errors import ContractViolation, UnreadableFileError

logger = logging.getLogger(__name__)

QUESTIONS_PATH = Path(__file__).with_name("agent_questions.yaml")

Kind = Literal["answer", "follow_up", "ambiguous", "out_of_scope", "hostile"]

#: The butler's tools and their argument names (services/agent/tools.py, which this layer
#: may not import); used to catch a misspelt tool or argument in the question file.
TOOL_ARGS: dict[str, frozenset[str]] = {
    "sales_metrics": frozenset(
        "metrics by platforms skus categories warehouses start end compare top ascending".split()
    ),
    "hot_items": frozenset({"week", "platforms", "limit"}),
    "oversell_risk": frozenset({"as_of", "min_cover_days", "limit"}),
    "forecast_sku": frozenset({"skus", "warehouses", "horizon"}),
    "replenishment_plan": frozenset({"skus", "warehouses", "service_level", "limit"}),
    "member_stats": frozenset({"platforms"}),
    "match_member": frozenset({"full_name", "phone", "email", "birth_date", "city", "top"}),
    "risk_alerts": frozenset({"status", "severity", "scenarios", "platforms", "since", "limit"}),
    "classify_conversation": frozenset({"text"}),
    "query_store": frozenset({"sql"}),
}

#: Every spelling of a sales channel → its platform value.
PLATFORM_ALIASES: dict[str, tuple[str, ...]] = {
    "tmall": ("tmall", "天猫", "淘宝", "taobao", "天猫/淘宝", "tmall/taobao"),
    "jd": ("jd", "京东", "jd.com", "jingdong"),
    "pinduoduo": ("pinduoduo", "拼多多", "pdd"),
    "douyin": ("douyin", "抖音", "tiktok"),
    "kuaishou": ("kuaishou", "快手"),
    "xiaohongshu": ("xiaohongshu", "小红书", "red", "rednote"),
    "miniprogram": ("miniprogram", "小程序", "微信小程序", "mini-program", "mini program",
                    "wechat mini-program"),
    "pos": ("pos", "线下门店", "门店", "offline stores", "offline store", "offline pos"),
}  # fmt: skip
_PLATFORM = {
    alias.casefold(): value for value, names in PLATFORM_ALIASES.items() for alias in names
}
#: Names that may stand for a platform in an answer ("red" would match too many words).
_PLATFORM_SHOWN = {
    value: tuple(n for n in names if n != "red") for value, names in PLATFORM_ALIASES.items()
}

#: The sample world's warehouses: how an answer may name them.
WAREHOUSE_NAMES: dict[str, tuple[str, ...]] = {
    "WH-EC01": ("华东", "嘉兴", "east china"),
    "WH-NC01": ("华北", "天津", "north china"),
    "WH-SC01": ("华南", "东莞", "south china"),
    "WH-CC01": ("华中", "武汉", "central china"),
    "WH-SW01": ("西南", "成都", "southwest", "south-west", "south west"),
}

#: The sample world's categories (stored in Chinese) and their English glosses.
CATEGORY_NAMES: dict[str, tuple[str, ...]] = {
    "家居清洁": ("home cleaning", "household cleaning"),
    "面部护理": ("facial care", "face care", "skincare", "skin care"),
    "香氛家居": ("home fragrance", "fragrance"),
    "洗发护发": ("hair care", "shampoo"),
    "衣物洗护": ("laundry", "fabric care"),
    "口腔护理": ("oral care",),
    "沐浴身体": ("body care", "bath & body", "bath and body", "body wash"),
    "纸品湿巾": ("paper", "tissue", "wipes"),
}

#: Names an answer may use for each risk scenario, besides the label itself.
RISK_LABEL_NAMES: dict[str, tuple[str, ...]] = {
    "complaint_threat": ("投诉威胁", "监管投诉", "投诉风险", "regulator complaint"),
    "media_exposure": ("媒体曝光", "曝光威胁", "曝光风险", "media exposure"),
    "legal_threat": ("法律威胁", "法律风险", "诉讼威胁", "起诉威胁", "legal threat"),
    "safety_injury": ("安全伤害", "人身伤害", "安全风险", "安全问题", "safety", "injury"),
    "counterfeit": ("假货", "假冒", "疑似假货", "counterfeit"),
    "fraud_scam": ("诈骗", "欺诈", "fraud", "scam"),
    "privacy_leak": ("隐私泄露", "信息泄露", "privacy"),
    "mass_complaint": ("群体投诉", "集体投诉", "群诉", "mass complaint"),
    "refund_dispute": ("退款纠纷", "退款争议", "refund dispute"),
    "price_protection": ("价保", "保价", "price protection"),
    "logistics_loss_damage": ("物流丢损", "物流破损", "丢件", "破损", "物流问题",
                              "logistics", "lost or damaged"),
    "abusive_language": ("辱骂", "不文明用语", "言语攻击", "abusive"),
    "extreme_negative_churn": ("流失风险", "极端负面", "流失", "churn"),
    "repeated_contact": ("重复联系", "重复咨询", "多次联系", "重复进线", "repeated contact"),
}  # fmt: skip

#: How an answer says the person is an existing member.
KNOWN_PHRASES = ("known member", "existing member", "already a member", "is a member",
                 "matched member", "老会员", "已是会员", "已经是会员", "是我们的会员",
                 "匹配到会员", "已有会员")  # fmt: skip
#: How an answer says the person is not a member (checked first: "not a member" contains
#: "a member").
UNKNOWN_PHRASES = ("no match", "not a member", "not an existing member", "not a known member",
                   "not already a member", "is not a member", "isn't a member", "new member",
                   "new customer", "no matching member", "新会员", "新客户", "不是会员",
                   "不是我们的会员", "未匹配", "没有匹配", "没匹配", "未找到匹配",
                   "没有找到匹配")  # fmt: skip
_PERSON_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:P\d+|(?:" + "|".join(PLATFORM_ALIASES) + r"):[A-Za-z0-9_]+)"
)

#: Targets from the issue: offline planner >= 90 % tool selection, >= 85 % fully correct,
#: p95 latency under one second.
TARGETS = {"tool_selection": 0.90, "fully_correct": 0.85, "latency_p95_ms": 1000.0}

_SELECT = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE = re.compile(
    r"\b(INSERT|UPDATE|DELETE|DROP|ALTER|CREATE|ATTACH|DETACH|COPY|TRUNCATE|PRAGMA|INSTALL|"
    r"LOAD|EXPORT|IMPORT|CALL|SET|CHECKPOINT|VACUUM)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9.\-_])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)\s*(%|万|亿)?"
)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ANY_DAY = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_ISO_MONTH = re.compile(r"^\d{4}-\d{2}$")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS_LONG = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip


class Expected(BaseModel):
    """What the agent should do with a question."""

    model_config = ConfigDict(extra="forbid")

    tool: str | None = None
    also_ok: list[str | None] = Field(
        default_factory=list, description="Other acceptable first tools; None = no tool."
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="Only the arguments the question determines."
    )
    default_ok: list[str] = Field(
        default_factory=list,
        description="Arguments that may be left out: the tool's default is the expected value.",
    )
    refuse: bool = False

    @model_validator(mode="after")
    def _known_names(self) -> Expected:
        for tool in [self.tool, *self.also_ok]:
            if tool is not None and tool not in TOOL_ARGS:
                raise ValueError(f"unknown tool {tool!r}; use one of {', '.join(TOOL_ARGS)}")
        if self.tool is None and (self.args or self.default_ok):
            raise ValueError("`args` and `default_ok` need an expected tool")
        if self.tool is not None:
            unknown = sorted((set(self.args) | set(self.default_ok)) - TOOL_ARGS[self.tool])
            if unknown:
                raise ValueError(f"{self.tool} has no argument {unknown}")
        if self.refuse and self.tool is not None:
            raise ValueError("a refusal calls no tool: set `tool: null`")
        return self


class Question(BaseModel):
    """One operator question, what the agent should do, and how to find the true answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    lang: Literal["zh", "en"]
    conversation: str
    kind: Kind
    question: str = Field(min_length=1)
    expected: Expected
    truth_sql: str | None = Field(
        None, description="One SELECT returning one row; every value must be in the answer."
    )
    truth_contains: list[str] = Field(default_factory=list)
    truth_labels: list[str] = Field(default_factory=list)
    truth_known: bool | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.truth_sql is not None:
            problem = sql_problem(self.truth_sql)
            if problem:
                raise ValueError(f"truth_sql {problem}")
        unknown = sorted(set(self.truth_labels) - set(RISK_LABEL_NAMES))
        if unknown:
            raise ValueError(f"unknown risk labels {unknown}")
        if self.expected.refuse and (
            self.truth_sql
            or self.truth_contains
            or self.truth_labels
            or self.truth_known is not None
        ):
            raise ValueError("a refusal has no truth to check")
        return self

    @property
    def has_truth(self) -> bool:
        """Whether the answer text is checked at all."""
        return (
            bool(self.truth_sql or self.truth_contains or self.truth_labels)
            or self.truth_known is not None
        )


def sql_problem(sql: str) -> str | None:
    """Why ``sql`` is not a single read-only SELECT statement, or None when it is one."""
    body = sql.strip().rstrip(";").strip()
    if not _SELECT.match(body):
        return "must start with SELECT or WITH"
    if ";" in _without_literals(body):
        return "must be a single statement (no ';' inside)"
    found = _WRITE.search(_without_literals(body))
    if found:
        return f"must only read (found {found.group(0)!r})"
    return None


def load_questions(path: Path | None = None) -> list[Question]:
    """Read and check the question set.

    Args:
        path: a YAML file; None = the shipped ``evaluation/agent_questions.yaml``. Either a
            list of questions or a mapping with a ``questions`` list.

    Returns:
        The questions in file order (follow-ups right after the question they follow).

    Raises:
        UnreadableFileError: the file is missing or not YAML.
        ContractViolation: any entry is malformed; the message lists every bad entry by id.
    """
    path = QUESTIONS_PATH if path is None else Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UnreadableFileError(f"Cannot read the question set {path}: {exc}") from exc
    entries = raw.get("questions") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise ContractViolation(
            f"{path} must hold a list of questions (or a mapping with a `questions` list)."
        )
    questions: list[Question] = []
    problems: list[str] = []
    for i, entry in enumerate(entries):
        name = entry.get("id", f"entry #{i + 1}") if isinstance(entry, dict) else f"entry #{i + 1}"
        try:
            questions.append(Question.model_validate(entry))
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            problems.append(f"{name}: {details}")
    problems += _order_problems(questions)
    if problems:
        raise ContractViolation(
            f"The question set {path} has {len(problems)} bad entries; fix them:\n  "
            + "\n  ".join(problems)
        )
    return questions


def _order_problems(questions: Sequence[Question]) -> list[str]:
    problems, seen_ids, closed, current = [], set(), set(), None
    for q in questions:
        if q.id in seen_ids:
            problems.append(f"{q.id}: the id is used twice")
        seen_ids.add(q.id)
        if q.conversation != current:
            if q.conversation in closed:
                problems.append(f"{q.id}: conversation {q.conversation} must be contiguous")
            if current is not None:
                closed.add(current)
            current = q.conversation
            if q.kind == "follow_up":
                problems.append(f"{q.id}: a follow-up cannot open conversation {q.conversation}")
    return problems


# -- scoring --------------------------------------------------------------------------------------


@dataclass(slots=True)
class QuestionResult:
    """How the agent did on one question."""

    id: str
    lang: str
    kind: str
    conversation: str
    question: str
    expected_tool: str | None
    tool_calls: list[dict[str, Any]]
    answer: str
    mode: str | None
    refused: bool
    latency_ms: float
    truth: list[Any] | None
    tool_ok: bool
    args_ok: bool | None
    answer_ok: bool | None
    refusal_ok: bool
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def fully_correct(self) -> bool:
        """Right tool, right arguments, right answer and right refusal."""
        return (
            self.tool_ok
            and self.args_ok is not False
            and self.answer_ok is not False
            and self.refusal_ok
        )


@dataclass(slots=True)
class AgentReport:
    """Per-question results and the summary of one run over the question set."""

    rows: list[QuestionResult]
    summary: dict[str, Any]

    def to_json(self) -> str:
        """The report as JSON: ``{"summary": …, "rows": […]}``."""
        rows = [asdict(r) | {"fully_correct": r.fully_correct} for r in self.rows]
        return json.dumps(
            {"summary": self.summary, "rows": rows}, ensure_ascii=False, indent=2, default=str
        )

    def failures(self) -> list[dict[str, Any]]:
        """The questions not fully correct: what was expected and what the agent did."""
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "lang": r.lang,
                "question": r.question,
                "expected_tool": r.expected_tool,
                "got_tools": [c.get("name") for c in r.tool_calls],
                "got_args": r.tool_calls[0].get("args") if r.tool_calls else None,
                "truth": r.truth,
                "answer": r.answer,
                "refused": r.refused,
                "problems": r.problems,
            }
            for r in self.rows
            if not r.fully_correct
        ]

    def table(self) -> list[str]:
        """The summary as printable lines (metric, value, target)."""
        s = self.summary
        lines = [f"{'metric':<22}{'value':>10}  target"]
        for key in ("tool_selection", "argument_accuracy", "answer_correctness",
                    "refusal_correctness", "fully_correct"):  # fmt: skip
            target = f">= {TARGETS[key]:.0%}" if key in TARGETS else ""
            lines.append(f"{key:<22}{_pct(s[key]):>10}  {target}")
        for key in ("latency_p50_ms", "latency_p95_ms", "latency_max_ms"):
            target = f"< {TARGETS[key]:.0f}" if key in TARGETS else ""
            lines.append(f"{key:<22}{s[key]:>10.1f}  {target}")
        unchanged = s.get("store_unchanged")
        lines.append(f"{'store_unchanged':<22}{'n/a' if unchanged is None else unchanged!s:>10}")
        lines.append(f"{'questions':<22}{s['n']:>10}  errors {s['errors']}, modes {s['modes']}")
        for group in ("by_kind", "by_lang", "by_tool"):
            for name, part in s[group].items():
                lines.append(
                    f"  {group[3:]}={name:<22} n={part['n']:<4} tool {_pct(part['tool_selection'])}"
                    f"  answer {_pct(part['answer_correctness'])}"
                    f"  fully {_pct(part['fully_correct'])}"
                )
        return lines


def evaluate(
    ask: Callable[[str, str | None], dict[str, Any]],
    sql: Callable[[str], list[tuple]],
    questions: Sequence[Question],
    *,
    fingerprint: Callable[[], str] | None = None,
    conversation_prefix: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> AgentReport:
    """Ask every question, compute its truth, and score the answers.

    Args:
        ask: ``ask(question, conversation_id) -> answer JSON`` (``answer``, ``mode``,
            ``tool_calls`` of ``{name, args, ok}``, ``refused``, …), as ``butler ask --json``
            prints it.
        sql: runs one read-only query on the store and returns its rows.
        questions: from :func:`load_questions`, in order (follow-ups after their question).
        fingerprint: a digest of the store; called before and after the run to report
            ``store_unchanged``.
        conversation_prefix: prepended to every conversation id so that a run never
            continues an earlier run's conversations; None = a fresh random prefix.
        on_progress: called with (questions done, total) after each question.

    Returns:
        The per-question results and the summary.
    """
    prefix = f"eval-{uuid.uuid4().hex[:8]}-" if conversation_prefix is None else conversation_prefix
    before = fingerprint() if fingerprint else None
    rows = []
    for i, q in enumerate(questions):
        rows.append(_ask_one(ask, sql, q, prefix + q.conversation))
        if on_progress:
            on_progress(i + 1, len(questions))
    after = fingerprint() if fingerprint else None
    summary = _summarise(rows)
    summary["store_unchanged"] = None if fingerprint is None else before == after
    if summary["store_unchanged"] is False:
        logger.warning("the store changed during the agent evaluation")
    return AgentReport(rows=rows, summary=summary)


def _ask_one(
    ask: Callable[[str, str | None], dict[str, Any]],
    sql: Callable[[str], list[tuple]],
    q: Question,
    conversation_id: str,
) -> QuestionResult:
    problems: list[str] = []
    truth = None
    if q.truth_sql:
        rows = sql(q.truth_sql)
        if len(rows) != 1:
            problems.append(f"the truth query returned {len(rows)} rows, not 1")
        truth = [_plain(v) for v in rows[0]] if rows else None
    started = time.perf_counter()
    error = None
    try:
        answer = ask(q.question, conversation_id)
    except Exception as exc:  # one crashing question must not end the examination
        logger.warning("%s: the agent failed: %s: %s", q.id, type(exc).__name__, exc)
        answer, error = {}, f"{type(exc).__name__}: {exc}"
        problems.append(f"the agent failed: {error}")
    latency_ms = (time.perf_counter() - started) * 1000
    calls = [c for c in answer.get("tool_calls") or [] if isinstance(c, dict)]
    text = str(answer.get("answer") or "")
    refused = bool(answer.get("refused"))

    tool_ok = _tool_ok(q.expected, calls, problems)
    args_ok = _args_ok(q.expected, calls, problems) if tool_ok else None
    answer_ok = _answer_ok(q, truth, text, problems) if q.has_truth else None
    refusal_ok = refused == q.expected.refuse
    if not refusal_ok:
        problems.append(f"refused={refused}, expected {q.expected.refuse}")
    return QuestionResult(
        id=q.id, lang=q.lang, kind=q.kind, conversation=conversation_id, question=q.question,
        expected_tool=q.expected.tool, tool_calls=calls, answer=text,
        mode=answer.get("mode"), refused=refused, latency_ms=latency_ms, truth=truth,
        tool_ok=tool_ok, args_ok=args_ok, answer_ok=answer_ok, refusal_ok=refusal_ok,
        problems=problems, error=error,
    )  # fmt: skip


def _tool_ok(expected: Expected, calls: list[dict[str, Any]], problems: list[str]) -> bool:
    acceptable = {expected.tool, *expected.also_ok}
    first = calls[0].get("name") if calls else None
    if first in acceptable:
        return True
    want = " or ".join(str(t) if t else "no tool" for t in acceptable)
    problems.append(f"first tool {first or 'none'}, expected {want}")
    return False


def _args_ok(expected: Expected, calls: list[dict[str, Any]], problems: list[str]) -> bool:
    call = next((c for c in calls if c.get("name") == expected.tool), None)
    if call is None:  # no tool expected and none called, or an acceptable alternative
        return True
    actual = call.get("args") or {}
    ok = True
    for name, want in expected.args.items():
        got = actual.get(name)
        if got is None:
            if name not in expected.default_ok:
                problems.append(f"argument {name} missing, expected {want!r}")
                ok = False
            continue
        if not arg_matches(name, want, got):
            problems.append(f"argument {name}={got!r}, expected {want!r}")
            ok = False
    return ok


def arg_matches(name: str, expected: Any, actual: Any) -> bool:
    """Whether a tool argument matches its expected value after normalisation.

    Lists match when the expected items are a subset of the actual ones; a scalar actual
    counts as a one-item list. Numbers match within 1e-6.
    """
    if isinstance(expected, list | tuple):
        items = actual if isinstance(actual, list | tuple) else [actual]
        have = [_norm_arg(name, a) for a in items]
        return all(any(_same(_norm_arg(name, e), h) for h in have) for e in expected)
    if isinstance(actual, list | tuple):
        return len(actual) == 1 and arg_matches(name, expected, actual[0])
    return _same(_norm_arg(name, expected), _norm_arg(name, actual))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-6)
    return a == b


def _norm_arg(name: str, value: Any) -> Any:
    if name == "phone" and value is not None:
        return re.sub(r"[^0-9*]", "", str(value))
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
    elif isinstance(value, str) and (found := _ANY_DAY.match(value.strip())):
        day = dt.date(*map(int, found.groups()))
    else:
        text = str(value).strip()
        if name == "platforms":
            return _PLATFORM.get(text.casefold(), text.casefold())
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text)
        return text.casefold()
    if name == "week":
        day -= dt.timedelta(days=day.weekday())
    return day.isoformat()


def _answer_ok(q: Question, truth: list[Any] | None, text: str, problems: list[str]) -> bool:
    ok = True
    if q.truth_sql:
        if truth is None:
            problems.append("no truth row to compare with")
            ok = False
        for value in truth or []:
            if not value_in_text(value, text):
                problems.append(f"the answer does not say {value!r}")
                ok = False
    for item in q.truth_contains:
        if not value_in_text(item, text):
            problems.append(f"the answer does not mention {item!r}")
            ok = False
    for label in q.truth_labels:
        if not label_in_text(label, text):
            problems.append(f"the answer does not name the risk {label}")
            ok = False
    if q.truth_known is not None and says_known(text) is not q.truth_known:
        problems.append(
            "the answer does not say the person is "
            + ("an existing member" if q.truth_known else "not a member")
        )
        ok = False
    return ok


def numbers_in(text: str) -> list[tuple[float, float]]:
    """Every number shown in ``text`` as (value, tolerance from its displayed precision).

    Thousands separators are removed; ``万``/``亿`` multiply; ``12.5%`` gives both 12.5 and
    0.125. Digits inside ids (``SYSK01003-04``) are not numbers.
    """
    found = []
    for match in _NUMBER.finditer(text):
        shown, suffix = match.group(1).replace(",", ""), match.group(2)
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        value, half = float(shown), 0.5 * 10.0**-decimals
        scale = {"万": 1e4, "亿": 1e8}.get(suffix or "", 1.0)
        found.append((value * scale, half * scale))
        if suffix == "%":
            found.append((value / 100, half / 100))
    return found


def number_in_text(value: float, text: str) -> bool:
    """Whether ``text`` shows ``value``: within half a unit of the shown precision or 0.5 %."""
    targets = [value, abs(value)] if value < 0 else [value]
    for shown, half in numbers_in(text):
        for target in targets:
            if abs(shown - target) <= max(half, 0.005 * abs(target)) + 1e-9:
                return True
    return False


def value_in_text(value: Any, text: str) -> bool:
    """Whether ``text`` states one truth value (a number, a day, a name or an id)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float | Decimal):
        return number_in_text(float(value), text)
    if isinstance(value, dt.date):
        value = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    folded = text.casefold()
    return any(name.casefold() in folded for name in _spellings(str(value).strip()))


def _spellings(value: str) -> list[str]:
    if _ISO_DAY.match(value):
        day = dt.date.fromisoformat(value)
        m, d, mon = day.month, day.day, _MONTHS[day.month - 1]
        return [value, day.strftime("%Y/%m/%d"), f"{m}月{d}日", f"{m}月{d}号", f"{m}/{d}",
                f"{mon} {d}", f"{_MONTHS_LONG[m - 1]} {d}", f"{d} {mon}"]  # fmt: skip
    if _ISO_MONTH.match(value):
        year, month = int(value[:4]), int(value[5:])
        return [value, f"{year}年{month}月", f"{year}/{month:02d}",
                f"{_MONTHS[month - 1]} {year}", f"{_MONTHS_LONG[month - 1]} {year}"]  # fmt: skip
    if value.casefold() in _PLATFORM:
        return list(_PLATFORM_SHOWN[_PLATFORM[value.casefold()]])
    if value.upper() in WAREHOUSE_NAMES:
        return [value, *WAREHOUSE_NAMES[value.upper()]]
    if value in CATEGORY_NAMES:
        return [value, *CATEGORY_NAMES[value]]
    return [value]


def label_in_text(label: str, text: str) -> bool:
    """Whether ``text`` names the risk scenario ``label``."""
    folded = text.casefold()
    names = (label, label.replace("_", " "), *RISK_LABEL_NAMES.get(label, ()))
    return any(name.casefold() in folded for name in names)


def says_known(text: str) -> bool:
    """Whether a match_member answer says the person is an existing member (see the contract)."""
    folded = text.casefold()
    if any(p.casefold() in folded for p in UNKNOWN_PHRASES):
        return False
    return any(p.casefold() in folded for p in KNOWN_PHRASES) or bool(_PERSON_ID.search(text))


# -- summary ----------------------------------------------------------------------------------


def _summarise(rows: Sequence[QuestionResult]) -> dict[str, Any]:
    latencies = [r.latency_ms for r in rows]
    summary: dict[str, Any] = {"n": len(rows), **_rates(rows)}
    if latencies:
        p50, p95 = np.percentile(latencies, [50, 95])
        summary |= {"latency_p50_ms": round(float(p50), 1), "latency_p95_ms": round(float(p95), 1),
                    "latency_max_ms": round(max(latencies), 1)}  # fmt: skip
    else:
        summary |= {"latency_p50_ms": 0.0, "latency_p95_ms": 0.0, "latency_max_ms": 0.0}
    summary["errors"] = sum(r.error is not None for r in rows)
    modes: dict[str, int] = {}
    for r in rows:
        modes[str(r.mode)] = modes.get(str(r.mode), 0) + 1
    summary["modes"] = modes
    for group, key in (("by_kind", "kind"), ("by_lang", "lang"), ("by_tool", "expected_tool")):
        names = sorted({str(getattr(r, key)) for r in rows})
        summary[group] = {
            name: {"n": sum(str(getattr(r, key)) == name for r in rows),
                   **_rates([r for r in rows if str(getattr(r, key)) == name])}
            for name in names
        }  # fmt: skip
    summary["targets_met"] = bool(rows) and (
        summary["tool_selection"] >= TARGETS["tool_selection"]
        and summary["fully_correct"] >= TARGETS["fully_correct"]
        and summary["latency_p95_ms"] < TARGETS["latency_p95_ms"]
    )
    return summary


def _rates(rows: Sequence[QuestionResult]) -> dict[str, float | None]:
    def mean(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "tool_selection": mean([r.tool_ok for r in rows]),
        "argument_accuracy": mean([r.args_ok for r in rows if r.args_ok is not None]),
        "answer_correctness": mean([r.answer_ok for r in rows if r.answer_ok is not None]),
        "refusal_correctness": mean([r.refusal_ok for r in rows]),
        "fully_correct": mean([r.fully_correct for r in rows]),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _without_literals(sql: str) -> str:
    """``sql`` with its string literals emptied, so keywords inside them do not count."""
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
