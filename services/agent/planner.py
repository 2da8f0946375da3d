"""The offline planner: the butler's answers when no LLM endpoint is configured.

Question → intent (the registered intent model, ``butler train planner``) → slots from the
question and the store's master data (:mod:`features.question_slots`) → one tool call →
an answer from the templates in ``prompts/offline_answers.v*.yaml``, in the question's
language, stating its numbers, period, platforms and source, and saying it is offline.

A short question that only changes a slot ("那京东呢？", "and last month?") inherits the
previous turn's intent and slots from the conversation's memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from features.periods import Period, find_period
from features.question_slots import Catalogue, Slots, find_slots
from features.schema.vocab import PLATFORM_NAMES, Platform, RiskLabel
from services.agent.tools import Toolbox, ToolResult
from services.agent.types import CJK, AgentAnswer, Language, ToolCallRecord, Turn, language_of
from services.forecasting import passed_forecast_weeks

logger = logging.getLogger(__name__)

_FOLLOW_UP = re.compile(
    r"^\s*(?:看看?|按)\S{1,6}\s*[?？]?\s*$|"  # "看销售额", "按平台看": a few words only
    r"^\s*(?:那|那么|还有|再看看?|换成|改成|改为|放宽|只看|只要|仅看|and\b|what about|"
    r"how about|then\b|same for|now\b|make it|change it|instead|just\b|only\b)|"
    r"(?:呢|的呢)\s*[?？]?\s*$|\b(?:instead|too)\s*[?？]?\s*$",
    re.IGNORECASE,
)
_RISK_NAMES_ZH = {
    "complaint_threat": "投诉威胁", "media_exposure": "媒体曝光", "legal_threat": "法律威胁",
    "safety_injury": "安全伤害", "counterfeit": "假货质疑", "fraud_scam": "诈骗欺诈",
    "privacy_leak": "隐私泄露", "mass_complaint": "群体投诉", "refund_dispute": "退款纠纷",
    "price_protection": "价保纠纷", "logistics_loss_damage": "物流丢损",
    "abusive_language": "辱骂", "extreme_negative_churn": "极端不满/流失",
    "repeated_contact": "重复进线",
}  # fmt: skip
#: "What can you do?", "help", or a word that asks nothing yet ("帮我看看", "嗯"): answered
#: with what the butler can answer, rather than refused or guessed at.
_CAPABILITIES = re.compile(
    r"what (?:can|do) you (?:do|answer|help with|know)|what are you for|how do i use (?:you|this)|"
    r"你(?:能|会|可以)(?:做|干|回答|帮我?做?|问)(?:什么|些什么|啥|哪些)|(?:有|能)(?:什么|哪些)功能|"
    r"能问(?:什么|哪些|啥)|怎么用|使用说明|^\W*(?:help|帮助|帮我看看|看看|在吗|你好|您好|hi|hello|"
    r"hey|嗯+|啊+|哦+|\?+|？+)\W*$",
    re.IGNORECASE,
)
#: "数据最新到哪天？", "how up to date is the data?": answered with how far the data reaches.
_COVERAGE = re.compile(
    r"数据.{0,6}(?:最新|截止|截至|更新|导入)(?:到|至|于|在)?.{0,3}(?:哪|什么时候|几号|几月几|多久|何时)|"
    r"数据.{0,4}(?:到|至)(?:哪|什么时候|几号|何时)|"
    r"(?:最新|最近)的?(?:数据|销售数据|销量数据).{0,2}(?:是|到)(?:哪|什么时候|几号|何时)|"
    r"数据.{0,4}(?:什么时候|何时|哪天)(?:更新|导入|同步)|"
    r"(?:什么时候|何时|哪天).{0,4}(?:更新|导入)的?(?:数据|文件)|"
    r"数据(?:的)?(?:时间)?(?:范围|覆盖)|数据(?:新不新|是最新的吗|多新)|"
    r"\bhow (?:recent|fresh|up[- ]to[- ]date|current|old|stale) is (?:the |your |our |this )?"
    r"(?:data|store|sales data)\b|"
    r"\b(?:data|sales) (?:goes|runs|go|run|reach(?:es)?) (?:up )?(?:to|through|until|till) "
    r"(?:when|which|what)|"
    r"\bup to (?:which|what) (?:day|date)\b|"
    r"\b(?:when|what day) (?:was|were|is|did) (?:the )?(?:data|sales|files?|store) (?:last )?"
    r"(?:updated|loaded|ingested|refreshed|update|load)\b|"
    r"\bwhat(?:'s| is) the (?:latest|newest|last|most recent) (?:date|day) (?:in|of|with) "
    r"(?:the )?(?:data|store|sales)\b|"
    r"\bdata coverage\b|\b(?:date|time) range of (?:the |your )?data\b|"
    r"\bis the data up[- ]to[- ]date\b",
    re.IGNORECASE,
)  # fmt: skip
#: Requests to change data: the butler is read-only and refuses them outright.
_WRITE = re.compile(
    r"\b(?:delete\s+from|drop\s+(?:table|database)|truncate|update\s+\w+\s+set|insert\s+into|"
    r"alter\s+table)\b|删除|删掉|清空|篡改|修改.{0,6}(?:库存|价格|订单|数据|会员)|"
    r"(?:价格|库存|状态|金额).{0,8}改[成为]|取消.{0,10}订单|下架|标记.{0,8}(?:已处理|已解决)|"
    r"\bcancel\b.{0,30}\borders?\b|\bset\b.{0,30}\b(?:stock|price|inventory)\b.{0,20}\bto\b|"
    r"\bmark\b.{0,30}\bas (?:resolved|acknowledged|done|closed)\b|\btake\b.{0,30}\boffline\b|"
    r"\b(?:delete|drop|wipe|erase|modify)\b.{0,30}\b(?:orders?|tables?|"
    r"members?|stock|prices?|database|data|records?|alerts?)\b",
    re.IGNORECASE,
)
#: Requests for people's personal data (without a record of their own to match).
_PII = re.compile(
    r"(?:手机号|电话号码|电话|住址|地址|身份证|姓名).{0,8}(?:发给我|导出|给我|列出来|都给|打包)|"
    r"(?:导出|发给我|给我|列出).{0,12}(?:手机号|电话|住址|地址|身份证)|"
    r"\b(?:phone numbers?|addresses|home address|id numbers?|emails? addresses)\b|"
    r"\b(?:give|send|export|list|show)\b.{0,30}\b(?:names? and (?:phones?|numbers?)|"
    r"(?:their|customers'?|members'?) (?:names?|phones?|numbers?|addresses|emails?))\b",
    re.IGNORECASE,
)
#: Words that make a question about members, not sales.
_MEMBER_WORDS = re.compile(r"会员|用户|客户|顾客|粉丝|member|customer|people|person|account|user",
                           re.IGNORECASE)  # fmt: skip
#: Other companies' figures: the store holds only this retailer's own channels.
_COMPETITORS = re.compile(r"竞争对手|竞品|同行|友商|对手|competitors?'?s?\b|rivals?\b", re.I)
#: Figures the store cannot give (no visits, costs or repeat-purchase model), named so the
#: answer says which, rather than answering another figure.
_UNSUPPORTED = re.compile(
    r"复购率?|回购率?|留存|转化率|访客|流量|浏览量|点击率|毛利|利润|roi\b|roas\b|"
    r"repurchase|repeat (?:purchase|buyer|customer)s?|retention|churn rate|conversion|"
    r"traffic|visitors?|page ?views|click[- ]?through|\bctr\b|profit|margin",
    re.IGNORECASE,
)
#: One person's purchases: personal data, refused however it is asked.
_PERSON_ORDERS = re.compile(
    r"买了(?:什么|哪些|啥)|购买记录|订单记录|买过(?:什么|哪些|啥)|下过(?:什么|哪些)单|"
    r"purchase history|what (?:did|has) .{1,40} (?:buy|bought|order)|orders? of (?:this|that) "
    r"(?:customer|member|person)",
    re.IGNORECASE,
)
#: Words that ask about members joining.
_SIGN_UPS = re.compile(
    r"新增|新注册|注册|新会员|拉新|new (?:members?|customers?|sign-?ups?|accounts?)|"
    r"sign(?:ed)?[- ]?ups?|joined|registered",
    re.IGNORECASE,
)
#: Words that make a question about the chat patrol's alerts.
_ALERT_WORDS = re.compile(r"预警|告警|客诉|投诉|风险|alert|threat|complaint|escalation|risk",
                          re.IGNORECASE)  # fmt: skip
#: Words that name the patrol's alerts themselves: a question holding one asks about them,
#: whatever else it names (a platform, a period, "how many").
_ALERT_NOUNS = re.compile(r"预警|告警|\balerts?\b", re.IGNORECASE)
#: What each kind of question is about, to notice a question that asks two at once.
_ASKS = {
    "sales_metrics": r"销量|销售额|卖了|卖得|订单数|gmv|units|revenue|sold|sales",
    "member_stats": r"会员|用户数|粉丝|members?|customers? count",
    "risk_alerts": r"预警|告警|客诉|投诉|alerts?|complaints?",
    "replenishment_plan": r"补货|补多少|下单|reorder|replenish",
    "forecast_sku": r"预测|能卖多少|forecast",
    "oversell_risk": r"超卖|断货|缺货|oversell|stock-?out|run out",
}
_AND = re.compile(r"和|以及|还有|另外|同时|顺便|\band\b|\bplus\b|as well as|also", re.IGNORECASE)


def _second_question(head: str, answered: str) -> str | None:
    """The kind of question a two-part question asks besides the one answered: the parts
    either side of a joining word ask about different things ("天猫的销量和京东的会员数")."""
    parts = _AND.split(head)
    if len(parts) < 2:
        return None
    kinds = [{k for k, p in _ASKS.items() if re.search(p, part, re.I)} for part in parts]
    asked = [k for part in kinds for k in sorted(part) if k != answered]
    if (
        any(answered in part for part in kinds)
        and asked
        and any(part and answered not in part for part in kinds)
    ):
        return asked[0]
    return None


#: A follow-up comparing the previous answer's period with the one before ("和上上周比呢？").
_COMPARE_BACK = re.compile(
    r"(?:和|跟|与|同|对比|比较|相比)\s*(?:上上周|上上个?月|前一(?:周|个?月|期)|上一期)|"
    r"(?:compared? (?:with|to)|vs\.?|versus|against) (?:the )?(?:week|month|period) before|"
    r"(?:compared? (?:with|to)|vs\.?|versus|against) (?:the )?previous (?:week|month|period)",
    re.IGNORECASE,
)
#: A follow-up asking for the period just before the previous one.
_SHIFT_BACK = re.compile(
    r"the (?:week|month|day|period|quarter|year) before|(?:前|上)一(?:周|个?月|天|期|个?季度|年)|"
    r"previous one|one before",
    re.IGNORECASE,
)
#: A pasted line that starts with who said it ("买家：", "agent:").
_ROLE_LINE = re.compile(
    r"(?:^|\n)\s*(?:买家|顾客|客户|用户|客服|商家|卖家|buyer|customer|agent|seller|support)\s*[:：]",
    re.IGNORECASE,
)
#: Below this probability an out-of-scope guess asks to rephrase instead of refusing.
_SURE_OUT_OF_SCOPE = 0.6
#: Intents that call a tool (the intent model's other labels: out_of_scope).
TOOL_INTENTS = (
    "sales_metrics", "hot_items", "oversell_risk", "forecast_sku", "replenishment_plan",
    "member_stats", "match_member", "risk_alerts", "classify_conversation",
)  # fmt: skip
#: Tools that take ``platforms`` (and refuse one that is not a channel).
_PLATFORM_TOOLS = ("sales_metrics", "hot_items", "member_stats", "risk_alerts", "oversell_risk")
_WAREHOUSE_TOOLS = ("sales_metrics", "forecast_sku", "replenishment_plan", "oversell_risk")


@dataclass(frozen=True, slots=True)
class Plan:
    """What the planner decided: the intent, its confidence, the slots, the tool call."""

    intent: str
    confidence: float
    slots: Slots
    tool: str | None
    args: dict[str, Any]
    notes: list[str]
    follow_up: bool
    today: dt.date | None = None  # the day period words counted from


class OfflinePlanner:
    """Plans and answers one question with one tool call.

    Args:
        toolbox: the tools.
        intent_model: a fitted :class:`models.intent.IntentClassifier`.
        catalogue: the store's master data for slot filling.
        min_confidence: below this intent probability the planner asks to rephrase.
    """

    def __init__(
        self, toolbox: Toolbox, intent_model: Any, catalogue: Catalogue, min_confidence: float
    ) -> None:
        from prompts import load

        self.toolbox = toolbox
        self.intent_model = intent_model
        self.catalogue = catalogue
        self.min_confidence = min_confidence
        self.templates = load("offline_answers").data()
        self.prompt_id = load("offline_answers").id

    # -- planning -----------------------------------------------------------------------------

    def plan(self, question: str, history: list[Turn], today: dt.date) -> Plan:
        """The intent, slots and tool call for a question, given the conversation so far."""
        slots = find_slots(question, self.catalogue, today)
        ((intent, confidence),) = self.intent_model.predict([question])
        intent = str(intent)
        previous = next((t for t in reversed(history) if t.intent in TOOL_INTENTS), None)
        follow_up = False
        if previous is not None and self._is_follow_up(question, slots, confidence, intent):
            intent, confidence, follow_up = str(previous.intent), 1.0, True
            if _COMPARE_BACK.search(question) and intent == "sales_metrics":
                # "和上上周比呢": the same period as before, against the one before it
                slots.period, slots.compare = None, "previous_period"
            back = slots.period is None and _SHIFT_BACK.search(question) and not slots.compare
            slots = _merge(previous.slots, slots)
            if back and slots.period is not None:  # "and the week before?"
                slots.period = slots.period.shifted(1)
        elif slots.pasted and (
            re.search(r"对话|聊天|会话|客服|conversation|chat|transcript",
                      question.split("\n", 1)[0], re.I)
            or _ROLE_LINE.search(slots.pasted)
        ):  # fmt: skip
            intent, confidence = "classify_conversation", max(confidence, 0.9)
        elif (slots.phone or slots.email) and intent != "out_of_scope":
            intent, confidence = "match_member", max(confidence, 0.9)
        notes: list[str] = []
        head = question.strip().split("\n", 1)[0]
        if not follow_up and _CAPABILITIES.search(head) and not _names_anything(slots):
            return Plan("capabilities", 1.0, slots, None, {}, notes, follow_up)
        if not follow_up and _COVERAGE.search(head) and not _WRITE.search(head):
            return Plan("data_coverage", 1.0, slots, "data_coverage", {}, notes, False, today)
        if not follow_up and (_COMPETITORS.search(head) or _UNSUPPORTED.search(head)):
            # answered with what the store cannot give, not with another figure
            return Plan("not_in_store", 1.0, slots, None, {}, notes, False, today)
        intent, confidence = _checked_intent(intent, confidence, slots, head)
        if intent in ("out_of_scope", "unclear") or confidence < self.min_confidence:
            return Plan(intent, confidence, slots, None, {}, notes, follow_up)
        tool, args = self._tool_call(intent, slots, today, notes)
        if slots.unknown_platforms and tool in _PLATFORM_TOOLS:
            # "上周亚马逊卖了多少": the tool says Amazon is not a channel, rather than Butler
            # answering for every channel
            args["platforms"] = [*args.get("platforms", []), *slots.unknown_platforms]
        if slots.unknown_warehouses and tool in _WAREHOUSE_TOOLS:
            args["warehouses"] = [*args.get("warehouses", []), *slots.unknown_warehouses]
        return Plan(intent, confidence, slots, tool, args, notes, follow_up)

    @staticmethod
    def _is_follow_up(question: str, slots: Slots, confidence: float, intent: str) -> bool:
        """A short question that changes a slot and names no other task of its own."""
        short = len(question) <= 30 if CJK.search(question) else len(question.split()) <= 8
        changes = any(
            getattr(slots, name) not in (None, [], False)
            for name in ("platforms", "period", "skus", "unknown_skus", "warehouses",
                         "unknown_warehouses", "categories", "by", "metric", "compare",
                         "ascending", "top", "cover_days", "horizon", "service_level",
                         "percent", "phone", "email", "severity", "alert_status", "shops")
        )  # fmt: skip
        changes = changes or bool(_SHIFT_BACK.search(question))
        if not short or not changes or _WRITE.search(question):
            return False
        return bool(_FOLLOW_UP.search(question)) or confidence < 0.5 or intent == "out_of_scope"

    def _tool_call(
        self, intent: str, s: Slots, today: dt.date, notes: list[str]
    ) -> tuple[str | None, dict[str, Any]]:
        if intent == "sales_metrics":
            period = s.period or _last_week(today)
            if s.period is None:
                notes.append("assumed_period")
            asked = s.metrics or [s.metric or "units"]
            metrics = asked + [m for m in ("units", "revenue_yuan") if m not in asked]
            by = [s.by] if s.by else []
            if s.by == "sku_id" and s.skus and len(s.skus) == 1:
                by = []
            top = s.top or (20 if s.by == "platform" else 5)  # every platform when by platform
            if s.trend:
                top = 100  # the whole series, in time order
            args: dict[str, Any] = {
                "metrics": metrics, "by": by,
                "start": period.start.isoformat(), "end": period.end.isoformat(), "top": top,
            } | _given(
                platforms=s.platforms,
                skus=s.skus + s.unknown_skus,  # an unknown id fails in the tool, saying so
                categories=s.categories, warehouses=s.warehouses, shops=s.shops,
                compare=s.compare, ascending=s.ascending,
            )  # fmt: skip
            return "sales_metrics", args
        if intent == "hot_items":
            # hot items are weekly: a longer period ("上个月", 双十一) is its last week
            day = None
            if s.period is not None:
                longer = (s.period.end - s.period.start).days >= 7
                day = s.period.end if longer else s.period.start
                if longer:
                    notes.append("last_week_of_period")
            return "hot_items", _given(platforms=s.platforms, week=day and day.isoformat())
        if intent == "oversell_risk":
            as_of = s.period.end.isoformat() if s.period else None
            return "oversell_risk", _given(
                as_of=as_of, min_cover_days=s.cover_days, platforms=s.platforms,
                warehouses=s.warehouses, skus=(s.skus + s.unknown_skus)[:200],
            )  # fmt: skip
        if intent == "forecast_sku":
            if not s.skus and not s.unknown_skus:
                return None, {}
            args = {"skus": (s.skus or s.unknown_skus)[:50], "horizon": s.horizon or 4}
            return "forecast_sku", args | _given(warehouses=s.warehouses)
        if intent == "replenishment_plan":
            # the percentage said last wins: "same at 90%" after "…at a 98% service level"
            level = s.percent if s.percent and 0.5 < s.percent < 1 else s.service_level
            return "replenishment_plan", _given(
                skus=(s.skus + s.unknown_skus)[:200], warehouses=s.warehouses,
                service_level=level, limit=None if s.top is None else min(s.top, 200),
            )  # fmt: skip
        if intent == "member_stats":
            period = {}
            if s.period is not None:  # "上个月新增了多少会员": the accounts registered then
                period = {"since": s.period.start.isoformat(), "until": s.period.end.isoformat()}
            return "member_stats", _given(platforms=s.platforms) | period
        if intent == "match_member":
            args = _given(full_name=s.person_name, phone=s.phone, email=s.email,
                          birth_date=s.birth_date, city=s.city)  # fmt: skip
            if args and len(s.platforms) == 1:  # "a new Douyin sign-up, 138…"
                args["platform"] = s.platforms[0]
            return ("match_member", args) if args else (None, {})
        if intent == "risk_alerts":
            since = s.period.start.isoformat() if s.period else None
            # a period that ends before today ends there ("上周的客诉" is not "since Monday")
            until = s.period.end.isoformat() if s.period and s.period.end < today else None
            return "risk_alerts", _given(severity=s.severity, scenarios=s.scenarios,
                                         platforms=s.platforms, shops=s.shops, since=since,
                                         until=until, status=s.alert_status)  # fmt: skip
        if intent == "classify_conversation":
            if not s.pasted:  # asked to classify, and nothing pasted to classify
                return None, {}
            return "classify_conversation", {"text": s.pasted}
        return None, {}

    # -- answering ---------------------------------------------------------------------------

    def answer(
        self, question: str, history: list[Turn], today: dt.date
    ) -> tuple[AgentAnswer, Turn]:
        """Plan, call the tool, render the answer; also the turn to remember."""
        lang = language_of(question)
        t = self.templates[lang]
        plan = self.plan(question, history, today)
        calls: list[ToolCallRecord] = []
        sources: list[str] = []
        refused = False
        if plan.intent == "out_of_scope":
            text, refused = t["refusal"], True
        elif plan.slots.impossible_dates:  # not "last week" in place of a date that is wrong
            dates = ", ".join(plan.slots.impossible_dates)
            text = t["failed"].format(error=f"{dates}: no such date; write dates as YYYY-MM-DD")
        elif plan.intent == "capabilities":
            text = t["capabilities"]
        elif plan.intent == "not_in_store":
            head = question.strip().split("\n", 1)[0]
            if (found := _COMPETITORS.search(head)) is not None:
                text = t["no_competitors"].format(word=found[0])
            else:
                text = t["unsupported_figure"].format(word=_UNSUPPORTED.search(head)[0])
            refused = True  # nothing answered: said why
        elif plan.tool is None and plan.intent in ("forecast_sku",):
            text = t["forecast_need_sku"]
        elif plan.tool is None and plan.intent == "match_member":
            text = t["match_need_fields"]
        elif plan.tool is None and plan.intent == "classify_conversation":
            text = t["classify_need_text"]
        elif plan.tool is None:  # unclear, or not confident enough to call a tool
            text = t["clarify"]
        else:
            result = self.toolbox.call(plan.tool, plan.args)
            calls.append(ToolCallRecord(name=result.name, args=result.args, ok=result.ok))
            if result.ok:
                sources.append(f"{result.name}: {result.source}")
                text = self._render(plan, result, t, lang)
                other = _second_question(question.strip().split("\n", 1)[0], plan.tool)
                if other is not None:
                    text += "\n" + t["second_question"].format(kind=t["kinds"][other])
                text += "\n" + t["source"].format(tool=result.name, source=result.source)
            else:
                text = t["failed"].format(error=result.error)
        text += "\n" + t["offline_note"]
        answer = AgentAnswer(
            answer=text, mode="offline", tool_calls=calls, sources=sources, language=lang,
            refused=refused, notes=[f"intent {plan.intent} ({plan.confidence:.2f})"]
            + (["follow-up of the previous question"] if plan.follow_up else []),
        )  # fmt: skip
        turn = Turn(question=question, answer=text, mode="offline", intent=plan.intent,
                    slots=plan.slots.filled(), tool_calls=calls)  # fmt: skip
        return answer, turn

    def _render(self, plan: Plan, result: ToolResult, t: dict, lang: Language) -> str:
        render = getattr(self, f"_render_{result.name}")
        text = render(plan, result.data, t, lang)
        guesses = plan.slots.platform_guesses
        if guesses and result.name in _PLATFORM_TOOLS:
            said = ("、" if lang == "zh" else ", ").join(
                t["platform_guess"].format(word=w, platform=_platform_name(p, lang))
                for w, p in guesses
            )
            text = t["platform_guesses"].format(guesses=said) + "\n" + text
        if "assumed_period" in plan.notes and result.name == "sales_metrics":
            d = result.data
            words = "上周" if lang == "zh" else "last week"
            text = t["assumed_period"].format(words=words, start=d["start"], end=d["end"]) + (
                "\n" + text
            )
        if result.name in ("forecast_sku", "replenishment_plan") and plan.slots.platforms:
            # the forecaster sees each warehouse's demand from every channel together
            names = self._scope(plan.slots.platforms, t, lang)
            text = t["all_channels"].format(platforms=names) + "\n" + text
        return text

    # one renderer per tool ----------------------------------------------------------------

    def _scope(self, platforms: list[str] | None, t: dict, lang: Language) -> str:
        if not platforms:
            return t["all_platforms"]
        sep = "、" if lang == "zh" else ", "
        return sep.join(_platform_name(p, lang) for p in platforms)

    def _render_data_coverage(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        if d["sales_last_day"] is None:
            return t["coverage_empty"]
        last = d["sales_last_day"]
        text = t["coverage_sales"].format(first=d["sales_first_day"], last=last)
        by_platform = d["sales_last_day_by_platform"]
        if set(by_platform.values()) == {last}:
            text += t["coverage_same"].format(last=last)
        else:
            sep = "、" if lang == "zh" else ", "
            text += t["coverage_lagging"].format(by_platform=sep.join(
                f"{_platform_name(p, lang)} {day}" for p, day in by_platform.items()
            ))  # fmt: skip
        newest = {
            "stock": d["stock_last_day"],
            "chats": d["chats_last_at"],
            "members": d["members_last_registered_at"],
            "ingested": d["last_ingested_at_utc"],
        }
        others = [t["coverage_other"][k].format(value=v) for k, v in newest.items() if v]
        if others:
            sentence = ("，" if lang == "zh" else "; ").join(others)
            text += "\n" + (
                sentence + "。" if lang == "zh" else sentence[0].upper() + sentence[1:] + "."
            )
        if plan.today is not None:
            week = find_period("上周", plan.today)
            month = find_period("上个月", plan.today)
            text += "\n" + t["coverage_counting"].format(
                start=week.start, end=week.end, month_start=month.start, month_end=month.end
            )
        return text

    def _render_sales_metrics(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        metrics = plan.args["metrics"]
        words = plan.slots.period.words if plan.slots.period else (
            "上周" if lang == "zh" else "last week"
        )  # fmt: skip
        scope = self._scope(d["platforms"], t, lang)
        extra = [*plan.slots.shop_words, *plan.slots.products, *plan.slots.categories,
                 *plan.args.get("warehouses", [])]  # fmt: skip
        if plan.args.get("skus") and not plan.slots.products:
            extra = [*plan.args["skus"], *extra]
        if extra:
            scope += " " + (" ".join(extra) if lang == "zh" else ", ".join(extra))
        common = {"period_words": words, "start": d["start"], "end": d["end"], "scope": scope}
        rows = d["rows"]
        if not rows:
            text = t["sales_empty"].format(**common)
            covered = d.get("data_period")
            if covered and (d["end"] > covered[1] or d["start"] < covered[0]):
                text += t["sales_outside"].format(first=covered[0], last=covered[1])
            return text
        by = plan.args["by"]
        lines = []
        if not by:
            lines.append(
                t["sales_total"].format(**common, subject="", figures=_figures(rows[0], metrics, t))
                + _compare_text(rows[0], metrics, d, t)
            )
            return "\n".join(lines)
        if plan.slots.trend and by[0] in ("day", "week", "month"):
            lines.append(t["sales_trend"].format(
                **common, metric=t["metrics"][metrics[0]], unit=t["time_units"][by[0]]
            ))  # fmt: skip
            for row in sorted(rows, key=lambda r: str(r[by[0]])):
                lines.append(t["sales_trend_row"].format(
                    label=_label(row, by, lang), figures=_figures(row, metrics, t)
                ) + _compare_text(row, metrics, d, t))  # fmt: skip
            return "\n".join(lines)
        lines.append(t["sales_ranking"].format(
            **common, metric=t["metrics"][metrics[0]], n=len(rows), total=d["total_rows"]
        ))  # fmt: skip
        for rank, row in enumerate(rows, 1):
            label = _label(row, by, lang)
            lines.append(
                t["sales_row"].format(rank=rank, label=label, figures=_figures(row, metrics, t))
                + _compare_text(row, metrics, d, t)
            )
        unsold = d.get("unsold_listed")
        if unsold and unsold["skus"]:
            sep = "、" if lang == "zh" else ", "
            lines.append(t["sales_unsold"].format(
                n=unsold["skus"], examples=sep.join(unsold["examples"][:5]),
                more="…" if unsold["skus"] > 5 else "",
            ))  # fmt: skip
        return "\n".join(lines)

    def _render_hot_items(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        scope = self._scope(d["platforms"], t, lang)
        said = []
        if "last_week_of_period" in plan.notes and plan.slots.period is not None:
            said.append(t["hot_last_week_of"].format(period_words=plan.slots.period.words))
        if not d.get("week_complete", True):
            said.append(t["hot_partial"].format(newest=d["newest_day"]))
        if not d["rows"]:
            return "\n".join([*said, t["hot_empty"].format(week=d["week"], scope=scope)])
        lines = [*said, t["hot_header"].format(week=d["week"], scope=scope, total=d["total_rows"])]
        for rank, r in enumerate(d["rows"], 1):
            lines.append(t["hot_row"].format(
                rank=rank, sku_id=r["sku_id"], name=r["name"] or "",
                platform=_platform_name(r["platform"], lang), units=_num(r["units"]),
                baseline=_num(r["baseline"], 1), ratio=_num(r["ratio"], 1),
            ))  # fmt: skip
        return "\n".join(lines)

    def _render_oversell_risk(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        s = t["oversell_scope"]
        sep = "、" if lang == "zh" else ", "
        names = {
            "platforms": [_platform_name(p, lang) for p in d.get("platforms") or []],
            "warehouses": d.get("warehouses") or [],
            "skus": d.get("skus") or [],
        }
        parts = [s[k].format(names=sep.join(v)) for k, v in names.items() if v]
        scope = s["open"] + s["sep"].join(parts) + s["close"] if parts else ""
        if not d["rows"]:
            return t["oversell_empty"].format(
                as_of=d["as_of"], scope=scope, min_cover_days=d["min_cover_days"]
            )
        lines = [t["oversell_header"].format(
            as_of=d["as_of"], scope=scope, total=d["total_rows"], out_of_stock=d["out_of_stock"]
        )]  # fmt: skip
        for rank, r in enumerate(d["rows"], 1):
            lines.append(t["oversell_row"].format(
                rank=rank, sku_id=r["sku_id"], name=r["name"] or "",
                available=_num(r["available"]), in_transit=_num(r["in_transit"]),
                units_7d=_num(r["units_7d"]), days=_num(r["days_of_cover"], 1),
                risk=t["risk"].get(r["risk"], r["risk"]),
            ))  # fmt: skip
        return "\n".join(lines)

    def _render_forecast_sku(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        lines = [
            t["forecast_row"].format(
                sku_id=s["sku_id"], warehouse_id=s["warehouse_id"], first_week=s["first_week"],
                horizon=d["horizon"], total=_num(s["expected_total"], 1),
                p50=_num(s["next_week_p50"], 1), p90=_num(s["next_week_p90"], 1),
            )
            for s in d["series"]
        ]  # fmt: skip
        if d["missing"]:
            pairs = ", ".join(f"{m['sku_id']} @ {m['warehouse_id']}" for m in d["missing"][:10])
            lines.append(t["forecast_missing"].format(pairs=pairs))
        return "\n".join(lines)

    def _render_replenishment_plan(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        if not d["rows"]:
            asked = " ".join([*plan.args.get("skus", []), *plan.args.get("warehouses", [])])
            text = t["plan_empty"].format(asked=asked or ("" if lang == "zh" else "them"))
        else:
            lines = [t["plan_header"].format(
                as_of=d["as_of"], service_level=f"{d['service_level']:.0%}", lines=d["lines"],
                with_order=d["lines_with_order"], total=_num(d["total_order_qty"]),
            )]  # fmt: skip
            for rank, r in enumerate(d["rows"][:10], 1):
                lines.append(t["plan_row"].format(
                    rank=rank, sku_id=r["sku_id"], warehouse_id=r["warehouse_id"],
                    on_hand=_num(r["on_hand"]), in_transit=_num(r["in_transit"]),
                    order_qty=_num(r["order_qty"]), cases=r["cases"], reason=r["reason"],
                ))  # fmt: skip
            text = "\n".join(lines)
        if d["errors"]:
            reasons = "; ".join(e["reason"] for e in d["errors"][:5])
            text += "\n" + t["plan_errors"].format(n=len(d["errors"]), reasons=reasons)
        for warning in d.get("warnings", []):
            text += "\n" + self._plan_warning(warning, d, t)
        return text

    @staticmethod
    def _plan_warning(warning: str, d: dict, t: dict) -> str:
        """A plan's warning in the answer's language: the stale forecaster's from the plan's
        own days, any other as the service wrote it."""
        as_of = dt.date.fromisoformat(str(d["as_of"])) if d.get("as_of") else None
        start = dt.date.fromisoformat(str(d["forecast_start"])) if d.get("forecast_start") else None
        weeks = passed_forecast_weeks(as_of, start)
        if weeks is None:
            return t["plan_warning"].format(warning=warning)
        first, last, passed = weeks
        return t["plan_stale"].format(
            trained_until=first - dt.timedelta(days=1), as_of=as_of, passed=passed, first=first,
            last=last,
        )  # fmt: skip

    def _render_member_stats(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        sep = "、" if lang == "zh" else ", "
        by_platform = sep.join(
            f"{_platform_name(p, lang)} {_num(n)}" for p, n in d["accounts_by_platform"].items()
        )
        if d.get("persons") is None:
            text = t["members_unresolved"].format(accounts=_num(d["accounts"]),
                                                  by_platform=by_platform)  # fmt: skip
            if d.get("registered"):
                text = self._registered(d["registered"], plan, t, lang) + "\n" + text
            return text
        lines = [t["members_overview"].format(
            accounts=_num(d["accounts"]), by_platform=by_platform, persons=_num(d["persons"]),
            multi=_num(d["persons_on_2plus_platforms"]), per_person=d["accounts_per_person"],
        )]  # fmt: skip
        if d.get("registered"):
            lines.insert(0, self._registered(d["registered"], plan, t, lang))
        asked = []  # what the question asked about first: all the platforms, then each pair
        if d.get("persons_on_all") is not None:
            names = sep.join(_platform_name(p, lang) for p in d["persons_by_platform"])
            asked.append(t["members_all"].format(names=names, both=_num(d["persons_on_all"])))
        for pair in d.get("overlap", []):
            a, b = (_platform_name(p, lang) for p in pair["platforms"])
            both = pair["persons_on_both"]
            shares = [f"{both / n:.1%}" if n else "—" for n in pair["persons_on"]]
            asked.append(t["members_overlap"].format(
                a=a, b=b, both=_num(both), share_a=shares[0], share_b=shares[1]
            ))  # fmt: skip
        return "\n".join([*asked, *lines])

    @staticmethod
    def _registered(r: dict, plan: Plan, t: dict, lang: Language) -> str:
        """ "上个月（11-01至11-30）新注册会员账号113个（天猫 30、…）"."""
        period = plan.slots.period
        words = period.words if period is not None else ""
        sep = "、" if lang == "zh" else ", "
        by = sep.join(f"{_platform_name(p, lang)} {_num(n)}" for p, n in r["by_platform"].items())
        return t["members_registered"].format(
            period_words=words, start=r["since"] or "…", end=r["until"] or "…",
            accounts=_num(r["accounts"]), by_platform=by or "—",
        )  # fmt: skip

    def _render_match_member(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        best = d["candidates"][0] if d["candidates"] else None
        probability = f"{best['match_probability']:.2f}" if best else "0"
        if d["known"] and best:
            # the person taken need not be the closest account's (a second account, or one
            # whose other accounts disagree, is passed over)
            taken = next((c for c in d["candidates"] if c["person_id"] == d["person_id"]), best)
            return t["match_known"].format(
                person_id=d["person_id"], unique_id=taken["unique_id"],
                probability=f"{taken['match_probability']:.2f}", threshold=d["threshold"],
            )  # fmt: skip
        if best and best.get("same_platform"):
            return t["match_same_platform"].format(
                platform=_platform_name(d.get("platform") or "", lang), person_id=best["person_id"],
                unique_id=best["unique_id"], probability=probability,
            )  # fmt: skip
        if best and best.get("told_apart"):  # a relative on the same phone
            return t["match_told_apart"].format(
                person_id=best["person_id"], unique_id=best["unique_id"], probability=probability
            )
        # close enough, but the person's other accounts say someone else
        average = best.get("person_probability") if best else None
        floor = d.get("min_group_probability", 0.0)
        if best and best["match_probability"] >= d["threshold"] and (average or 0.0) < floor:
            return t["match_doubtful"].format(
                person_id=best["person_id"], unique_id=best["unique_id"], probability=probability,
                average=f"{average or 0.0:.2f}", floor=floor,
            )  # fmt: skip
        return t["match_new"].format(probability=probability, threshold=d["threshold"])

    def _render_risk_alerts(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        scope = self._scope(plan.args.get("platforms"), t, lang)
        if plan.slots.shop_words:  # a named shop, as the question named it
            scope += (" " if lang == "zh" else ", ") + " ".join(plan.slots.shop_words)
        status = t["status"].get(d["status"], d["status"])
        since = t["since"].format(since=d["since"]) if d["since"] else ""
        if d.get("until"):
            since = t["between"].format(since=d["since"] or "…", until=d["until"])
        kind = t["alert_kind"][d.get("severity") or "any"]
        names = ("、" if lang == "zh" else ", ").join(
            _scenario_name(s, lang) for s in plan.args.get("scenarios", [])
        )
        scenarios = t["alert_scenarios"].format(names=names) if names else ""
        said = {"scope": scope, "status": status, "since": since, "kind": kind,
                "scenarios": scenarios}  # fmt: skip
        if not d["alerts"]:
            return t["alerts_empty"].format(**said)
        sep = "，" if lang == "zh" else ", "
        if plan.slots.by == "platform" and d.get("by_platform"):
            # "哪个平台的预警最多" / "alerts on each platform": every platform, most first
            breakdown = sep.join(
                f"{_platform_name(k, lang)} {v}" for k, v in d["by_platform"].items()
            )
        else:
            breakdown = sep.join(
                f"{_scenario_name(k, lang)} {v}" for k, v in d["by_scenario"].items()
            )
        breakdown = (("：" if lang == "zh" else ": ") + breakdown) if breakdown else ""
        lines = [t["alerts_header"].format(
            **said, alerts=d["alerts"], conversations=d["conversations"], breakdown=breakdown,
        )]  # fmt: skip
        for rank, r in enumerate(d["rows"][:10], 1):
            lines.append(t["alerts_row"].format(
                rank=rank, severity=t["severity"].get(r["severity"], r["severity"]),
                scenario_name=_scenario_name(r["scenario"], lang),
                platform=_platform_name(r["platform"], lang), session_id=r["session_id"],
                probability=f"{r['probability']:.2f}", when=_last_message(r, t),
            ))  # fmt: skip
        return "\n".join(lines)

    def _render_classify_conversation(self, plan: Plan, d: dict, t: dict, lang: Language) -> str:
        common = {"messages": d["messages"], "buyer": d["buyer_messages"],
                  "score": f"{d['risk_score']:.2f}"}  # fmt: skip
        # the model learnt from Chinese customer service: other text it mostly cannot read
        caveat = [] if CJK.search(plan.args.get("text", "")) else [t["classify_not_chinese"]]
        if not d["risks"]:
            return "\n".join([t["classify_none"].format(**common), *caveat])
        lines = [t["classify_header"].format(**common)]
        for r in d["risks"]:
            evidence = " / ".join(e[:60] for e in r["evidence"][:2])
            lines.append(t["classify_row"].format(
                scenario_name=_scenario_name(r["scenario"], lang),
                severity=t["severity"].get(r["severity"], r["severity"]),
                probability=f"{r['probability']:.2f}", evidence=evidence,
            ))  # fmt: skip
        return "\n".join([*lines, *caveat])


# -- helpers ---------------------------------------------------------------------------------


def _last_message(row: dict, t: dict) -> str:
    """ ", last message 2025-12-31 09:30" (Beijing, as the tool gives it); blank when
    unknown."""
    return t["alerts_when"].format(when=row["last_message"]) if row.get("last_message") else ""


def _given(**values: Any) -> dict[str, Any]:
    """The arguments that hold something (None, [], "" and False mean "not said")."""
    return {
        k: v for k, v in values.items() if v is not None and v is not False and v not in ([], "")
    }


def _checked_intent(intent: str, confidence: float, slots: Slots, head: str) -> tuple[str, float]:
    """The intent model's guess, checked against what the question's first line says."""
    if _WRITE.search(head) or (_PII.search(head) and not (slots.phone or slots.email)):
        return "out_of_scope", 1.0  # read-only, and no one's personal data, however asked
    if (slots.phone or slots.email or slots.person_name) and _PERSON_ORDERS.search(head):
        return "out_of_scope", 1.0  # what one customer bought is their personal data
    if intent == "member_stats" and slots.metrics and not _MEMBER_WORDS.search(head):
        intent = "sales_metrics"  # units or revenue asked for, and no member in sight
    if intent == "sales_metrics" and _MEMBER_WORDS.search(head) and _SIGN_UPS.search(head):
        intent = "member_stats"  # "上个月新增了多少会员": sign-ups, not sales
    if intent not in ("risk_alerts", "classify_conversation") and _ALERT_NOUNS.search(head):
        return "risk_alerts", max(confidence, _SURE_OUT_OF_SCOPE)  # "alerts on Tmall since…"
    if intent == "out_of_scope" and confidence < _SURE_OUT_OF_SCOPE:
        intent = "unclear"  # ask to rephrase rather than refuse a question half understood
    if (
        intent in ("unclear", "risk_alerts")
        and (slots.scenarios or slots.severity)
        and _ALERT_WORDS.search(head)
    ):
        return "risk_alerts", max(confidence, _SURE_OUT_OF_SCOPE)  # a risk to look for named
    return intent, confidence


def _names_anything(slots: Slots) -> bool:
    """Whether the question names something to look up: then it is a question, not a
    request for help."""
    named = (slots.platforms, slots.period, slots.skus, slots.unknown_skus, slots.warehouses,
             slots.products, slots.categories, slots.phone, slots.email, slots.pasted,
             slots.scenarios)  # fmt: skip
    return any(value not in (None, [], "") for value in named)


def _last_week(today: dt.date) -> Period:
    start = today - dt.timedelta(days=today.weekday() + 7)
    return Period(start, start + dt.timedelta(days=6), "上周/last week")


def _merge(previous: dict[str, Any], new: Slots) -> Slots:
    """The previous turn's slots with whatever the follow-up names instead."""
    merged = Slots()
    for key, value in previous.items():
        if key == "period":
            value = Period(dt.date.fromisoformat(value["start"]), dt.date.fromisoformat(
                value["end"]), value["words"])  # fmt: skip
        if hasattr(merged, key):
            setattr(merged, key, value)
    for key, value in new.__dict__.items():
        if value not in (None, [], False):
            setattr(merged, key, value)
    if new.skus and not new.products:
        merged.products = []
    # "那火星仓呢" replaces the warehouses asked about, known or not; so do SKUs
    for known, unknown in (("warehouses", "unknown_warehouses"), ("skus", "unknown_skus")):
        if getattr(new, known) or getattr(new, unknown):
            setattr(merged, known, getattr(new, known))
            setattr(merged, unknown, getattr(new, unknown))
    return merged


def _platform_name(value: str, lang: Language) -> str:
    try:
        zh, en = PLATFORM_NAMES[Platform(value)]
    except ValueError:
        return value
    return zh if lang == "zh" else en


def _scenario_name(value: str, lang: Language) -> str:
    if lang == "zh":
        return _RISK_NAMES_ZH.get(value, value)
    try:
        return RiskLabel(value).value.replace("_", " ")
    except ValueError:
        return value


def _num(value: Any, decimals: int = 0) -> str:
    if value is None:
        return "—"
    if decimals == 0:
        return f"{round(float(value)):,}"
    return f"{float(value):,.{decimals}f}"


def _figure(value: Any, metric: str, t: dict) -> str:
    if metric.endswith("_rate"):
        return "—" if value is None else f"{float(value):.1%}"
    if metric.endswith("_yuan"):
        return f"¥{float(value or 0):,.2f}"
    return _num(value) + t["units_suffix"].get(metric, "")


def _figures(row: dict, metrics: list[str], t: dict) -> str:
    """ "销量 47件，销售额 ¥1,050.20" / "47 units, revenue ¥1,050.20"."""
    zh = "件" in t["units_suffix"].get("units", "")
    parts = []
    for m in metrics:
        value = _figure(row.get(m), m, t)
        counted = bool(t["units_suffix"].get(m))  # "47 units" already says what it counts
        parts.append(value if counted and not zh else f"{t['metrics'][m]} {value}")
    return ("，" if zh else ", ").join(parts)


def _compare_text(row: dict, metrics: list[str], d: dict, t: dict) -> str:
    if not d.get("previous"):
        return ""
    m = metrics[0]
    change = row.get(f"{m}_change")
    return t["compare_row"].format(
        previous_start=d["previous"][0], previous_end=d["previous"][1],
        previous=_figure(row.get(f"{m}_previous"), m, t),
        change="—" if change is None else f"{change:+.1%}",
    )  # fmt: skip


def _label(row: dict, by: list[str], lang: Language) -> str:
    parts = []
    if "shop_id" in by or "shop" in by:  # a shop by its name and its platform
        by = [d for d in by if d not in ("platform", "shop_id", "shop")] + ["shop"]
    for dim in by:
        value = row.get(dim)
        if dim == "shop":
            platform = _platform_name(str(row.get("platform")), lang)
            value = f"{value}（{platform}）" if lang == "zh" else f"{value} ({platform})"
        elif dim == "platform":
            value = _platform_name(str(value), lang)
        elif dim == "warehouse_id" and not value:
            value = "未指定仓库" if lang == "zh" else "no warehouse"
        parts.append(str(value))
    if "sku_id" in by and row.get("product"):
        parts.append(str(row["product"]))
    return " ".join(parts)
