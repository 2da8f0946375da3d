"""The slots of an operator's question: platforms, period, SKUs, warehouses, figures asked for.

Used by the butler's offline planner (and its intent model's text features): everything
here is read from the question and the store's own master data — platform aliases such as
天猫/淘宝/Tmall, SKU ids or a product named loosely ("燕麦面霜" for 森屿燕麦保湿面霜),
warehouses by id, name, region or city, period words (:mod:`features.periods`), the metric
and grouping a ranking question asks for, phones and e-mails of a member to look up.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cached_property

import pandas as pd

from features.periods import Period, count_of, find_period, period_spans
from features.schema.vocab import PLATFORM_NAMES, Platform, channel_named
from features.store import Store

#: Extra spellings operators use for platforms, beyond their display names.
PLATFORM_ALIASES: dict[str, str] = {
    "淘宝": "tmall", "天猫": "tmall", "tb": "tmall", "tmall": "tmall", "taobao": "tmall",
    "京东": "jd", "jd": "jd", "jingdong": "jd",
    "拼多多": "pinduoduo", "pdd": "pinduoduo", "pinduoduo": "pinduoduo", "多多": "pinduoduo",
    "抖音": "douyin", "douyin": "douyin", "tiktok": "douyin", "抖店": "douyin",
    "快手": "kuaishou", "kuaishou": "kuaishou",
    "小红书": "xiaohongshu", "xiaohongshu": "xiaohongshu", "red": "xiaohongshu",
    "rednote": "xiaohongshu", "红书": "xiaohongshu",
    "小程序": "miniprogram", "微信小程序": "miniprogram", "mini-program": "miniprogram",
    "mini program": "miniprogram", "miniprogram": "miniprogram", "wechat": "miniprogram",
    "线下门店": "pos", "线下": "pos", "门店": "pos", "pos": "pos", "offline": "pos",
    "stores": "pos",
}  # fmt: skip

#: English words for the categories a Chinese catalogue names, as a fragment of the name.
CATEGORY_WORDS: dict[str, str] = {
    "laundry": "衣物", "skincare": "面部", "skin care": "面部", "facial": "面部", "face": "面部",
    "oral": "口腔", "toothpaste": "口腔", "dental": "口腔", "hair": "洗发", "haircare": "洗发",
    "shampoo": "洗发", "body": "沐浴", "bath": "沐浴", "shower": "沐浴", "cleaning": "清洁",
    "household cleaning": "家居清洁", "home fragrance": "香氛", "fragrance": "香氛",
    "scent": "香氛", "tissue": "纸品", "tissues": "纸品", "paper": "纸品", "wipes": "湿巾",
}  # fmt: skip

CJK_WORD = re.compile(r"[\u4e00-\u9fff]+")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?(?:\d{4}|\*{4})[\s-]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SKU = re.compile(r"[A-Za-z]{1,6}\d{2,}(?:-\d{1,3})?")
# an id after an explicit cue ("SKU NOSUCH-999", "货号：AB-12", "货号 100234"): letters with
# digits, or 6+ digits (not "SKU 2024年"); asked about, so an unknown one is said to be unknown
_CUED_SKU = re.compile(
    r"(?:\bsku|货号|商品编码|商家编码)\s*(?:id|编号|号)?\s*[:：#]?\s*"
    r"((?=[\w-]*[a-z])(?=[a-z_-]*\d)[a-z0-9][\w-]{2,}|\d{6,})(?![\w-])",
    re.I | re.ASCII,
)
_TOP = re.compile(
    r"(?:前|top|最好的|best)\s*(\d{1,3}|[一二两三四五六七八九十]{1,2})"
    r"(?![\d周天日月年个]|\s*(?:weeks?|days?|months?))|"
    r"(\d{1,3}|[一二两三四五六七八九十]{1,2})\s*[个款]\s*(?:sku|商品|产品|单品|品)|"
    r"(?:which|bottom|worst|后|倒数)\s*(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b|"
    r"\b(\d{1,2}|two|three|four|five|ten)\s+(?:biggest|largest|highest|best|worst|smallest|"
    r"lowest|top)\b",
    re.I,
)
_HORIZON = re.compile(
    r"(?:未来|接下来|后面|next|coming)\s*(\d{1,2}|[一二两三四五六七八九十]{1,2}|two|three|four|"
    r"five|six|eight)\s*(?:个)?\s*(?:周|星期|weeks?)",
    re.IGNORECASE,
)


def _national(phone: str) -> str:
    """A mainland mobile number without spaces, dashes or the +86 prefix."""
    digits = re.sub(r"[\s-]", "", phone).removeprefix("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _alias_pattern() -> re.Pattern[str]:
    names = set(PLATFORM_ALIASES)
    for platform in Platform.channels():
        zh, en = PLATFORM_NAMES[platform]
        names.update(n.lower() for n in [*zh.split("/"), *en.split("/"), en])
    ordered = sorted(names, key=len, reverse=True)
    parts = [rf"(?<![a-z]){re.escape(n)}(?![a-z])" if n.isascii() else re.escape(n)
             for n in ordered]  # fmt: skip
    return re.compile("|".join(parts))


_PLATFORMS = _alias_pattern()


def platform_of(name: str) -> str | None:
    """The platform value of a spelling (天猫 → tmall), or None."""
    key = normalise(name).strip()
    if key in PLATFORM_ALIASES:
        return PLATFORM_ALIASES[key]
    channel = channel_named(key)
    return None if channel is None else channel.value


#: Marketplaces that are not Butler's channels, by the names operators use: a question about
#: one must not be answered for every channel.
OTHER_MARKETPLACES = {
    "亚马逊": "amazon", "amazon": "amazon", "ebay": "ebay", "虾皮": "shopee", "shopee": "shopee",
    "lazada": "lazada", "速卖通": "aliexpress", "aliexpress": "aliexpress", "temu": "temu",
    "shein": "shein", "唯品会": "vipshop", "苏宁": "suning", "得物": "dewu", "闲鱼": "xianyu",
    "美团": "meituan", "饿了么": "eleme", "微店": "weidian", "有赞": "youzan",
}  # fmt: skip
_OTHER_MARKETPLACES = re.compile(
    "|".join(
        rf"(?<![a-z]){re.escape(n)}(?![a-z])" if n.isascii() else re.escape(n)
        for n in sorted(OTHER_MARKETPLACES, key=len, reverse=True)
    )
)
# a date written out (2024-13-45, 2024/2/30, 2024年2月30日) whose month or day does not exist
_WRITTEN_DATE = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?!\d)")


def find_other_marketplaces(text: str) -> list[str]:
    """Marketplaces named in the text that are not Butler's channels (``amazon``, …)."""
    found = (OTHER_MARKETPLACES[m[0]] for m in _OTHER_MARKETPLACES.finditer(normalise(text)))
    return list(dict.fromkeys(found))


def impossible_dates(text: str) -> list[str]:
    """Dates written in the text that do not exist (``2024-13-45``, ``2024-02-30``)."""
    bad = []
    for m in _WRITTEN_DATE.finditer(normalise(text)):
        try:
            dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            bad.append(m[0])
    return bad


def find_platforms(text: str) -> list[str]:
    """Platforms named in the text, in order of mention, without repeats."""
    found = [platform_of(m[0]) for m in _PLATFORMS.finditer(normalise(text))]
    return list(dict.fromkeys(p for p in found if p))


#: Platform names a misspelling is matched against: Chinese by sound, English by spelling.
_SPELT_ZH = ("天猫", "淘宝", "京东", "抖音", "快手", "拼多多", "小红书")
_SPELT_EN = ("tmall", "taobao", "jingdong", "pinduoduo", "douyin", "tiktok", "kuaishou",
             "xiaohongshu", "rednote", "miniprogram")  # fmt: skip


def misspelt_platforms(text: str) -> list[tuple[str, str]]:
    """Platform names written wrong, as ``(the words, platform)``: a Chinese word that
    sounds like one (天毛 → 天猫, 京冬 → 京东), or an English one a letter or two off (tmal).
    For a question that names no platform rightly, so the answer can say how it read it."""
    import difflib

    from pypinyin import lazy_pinyin

    text = normalise(text)
    found: list[tuple[str, str]] = []
    sounds = {"".join(lazy_pinyin(name)): name for name in _SPELT_ZH}
    sound_of = {c: lazy_pinyin(c)[0] for c in set(text) if CJK_WORD.fullmatch(c)}
    for size in (3, 2):
        for start in range(len(text) - size + 1):
            words = text[start : start + size]
            if not CJK_WORD.fullmatch(words) or any(words in w for w, _ in found):
                continue
            name = sounds.get("".join(sound_of[c] for c in words))
            if name is not None and name != words:
                found.append((words, PLATFORM_ALIASES[name]))
    for token in re.findall(r"[a-z]{4,}", text):
        close = difflib.get_close_matches(token, _SPELT_EN, n=1, cutoff=0.8)
        if close and close[0] != token:
            found.append((token, PLATFORM_ALIASES.get(close[0], close[0])))
    return list(dict.fromkeys(found))


def delexicalise(text: str) -> str:
    """The question with its entity values replaced by placeholders, for the intent model.

    Platforms → ``平台``, periods → ``时段``, phones/e-mails → ``号码``, ids → ``#``: the
    intent of "上周抖音卖得最好的" and "上个月京东卖得最好的" is the same, so the model
    should not have to learn it once per platform and period.

    Examples:
        >>> delexicalise("上周抖音哪个SKU卖爆了")
        '时段平台哪个sku卖爆了'
    """
    text = normalise(text)
    text = _EMAIL.sub("号码", _PHONE.sub("号码", text))
    spans = sorted(period_spans(text))
    out, last = [], 0
    for start, end in spans:
        if start >= last:
            out.append(text[last:start] + "时段")
            last = end
    text = "".join(out) + text[last:]
    text = _PLATFORMS.sub("平台", text)
    return _SKU.sub("#", text)


@dataclass
class Catalogue:
    """The store's master data the slots are matched against."""

    skus: pd.DataFrame  # sku_id, product_id, name (product), category, spec
    warehouses: pd.DataFrame  # warehouse_id, name, region, province, city
    brand_prefixes: tuple[str, ...] = ()
    shops: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["platform", "shop_id", "shop_name"])
    )

    @classmethod
    def from_store(cls, store: Store) -> Catalogue:
        """Read SKUs, products, warehouses and shops from the store."""
        skus = store.sql(
            "SELECT s.sku_id, s.product_id, p.name, p.category, s.spec, p.brand "
            "FROM skus s LEFT JOIN products p USING (product_id) ORDER BY s.sku_id"
        ).df()
        warehouses = store.sql(
            "SELECT warehouse_id, name, region, province, city FROM warehouses "
            "ORDER BY warehouse_id"
        ).df()
        brands = tuple(sorted({str(b) for b in skus["brand"].dropna()}, key=len, reverse=True))
        shops = store.sql(
            "SELECT platform, shop_id, coalesce(shop_name, shop_id) AS shop_name FROM shops "
            "ORDER BY platform, shop_id"
        ).df()
        return cls(skus=skus, warehouses=warehouses, brand_prefixes=brands, shops=shops)

    def shop_names(self, text: str) -> list[tuple[str, str, str]]:
        """The shops whose name (or the name without the brand: 京东自营旗舰店) the text
        holds, as ``(platform, shop_id, the words matched)``; a longer name wins."""
        found: list[tuple[str, str, str]] = []
        for row in self.shops.itertuples(index=False):
            name = str(row.shop_name)
            short = next((name[len(b) :] for b in self.brand_prefixes if name.startswith(b)), name)
            for words in dict.fromkeys([name, short]):
                if len(words) >= 4 and words.lower() in text:
                    found.append((str(row.platform), str(row.shop_id), words))
                    break
        # "森屿官方旗舰店" also holds "官方旗舰店": a name inside a longer one said is not said
        return [f for f in found if not any(f[2] != g[2] and f[2] in g[2] for g in found)]

    @cached_property
    def romanised_warehouses(self) -> dict[str, list[str]]:
        """Each warehouse's city in pinyin ("tianjin", "chengdu"), as English questions say it."""
        from pypinyin import lazy_pinyin

        out = {}
        for row in self.warehouses.itertuples():
            cities = {re.split(r"[（(]", str(row.name))[-1].rstrip("）)"), str(row.city or "")}
            names = {"".join(lazy_pinyin(c.removesuffix("市"))).lower() for c in cities if c}
            out[str(row.warehouse_id)] = sorted(n for n in names if n.isascii() and len(n) >= 3)
        return out

    @property
    def categories(self) -> list[str]:
        return sorted({str(c) for c in self.skus["category"].dropna()})


@dataclass
class Slots:
    """What a question names. Empty fields: the question does not say."""

    platforms: list[str] = field(default_factory=list)
    period: Period | None = None
    skus: list[str] = field(default_factory=list)
    unknown_skus: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # product names matched
    categories: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    shops: list[str] = field(default_factory=list)  # shop ids named (with their platforms)
    shop_words: list[str] = field(default_factory=list)  # the words that named them
    top: int | None = None
    horizon: int | None = None
    metric: str | None = None  # the first figure asked for
    metrics: list[str] = field(default_factory=list)  # every figure asked for, in order
    by: str | None = None
    compare: str | None = None
    ascending: bool = False
    phone: str | None = None
    email: str | None = None
    person_name: str | None = None
    pasted: str | None = None
    trend: bool = False  # by day/week/month in time order, not ranked
    severity: str | None = None
    alert_status: str | None = None  # acknowledged / all (alerts); None = the open ones
    scenarios: list[str] = field(default_factory=list)
    cover_days: float | None = None
    percent: float | None = None  # a bare percentage ("same at 90%")
    service_level: float | None = None
    birth_date: str | None = None
    city: str | None = None
    unknown_platforms: list[str] = field(default_factory=list)  # amazon: not a channel
    platform_guesses: list[tuple[str, str]] = field(default_factory=list)  # (天毛, tmall)
    unknown_warehouses: list[str] = field(default_factory=list)  # 火星仓: not a warehouse
    impossible_dates: list[str] = field(default_factory=list)  # 2024-13-45

    def filled(self) -> dict[str, object]:
        """The slots that hold something (for memory and logs)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            if value in (None, [], False):
                continue
            if isinstance(value, Period):
                value = {"start": value.start.isoformat(), "end": value.end.isoformat(),
                         "words": value.words}  # fmt: skip
            out[key] = value
        return out


_METRICS = [
    ("refund_yuan", r"退款|退了多少钱|refund"),
    ("return_rate", r"退货率|退货比例|return rate|rate of returns?"),
    ("returned_units", r"退货(?!率|比例)|退了多少件|returns?\b(?! rate)|returned"),
    ("avg_price_yuan", r"均价|平均价|平均售价|客单价|(?:average|avg\.?) (?:selling |sale )?price|"
                       r"\basp\b"),
    ("orders", r"订单数|订单量|多少单|几单|orders?\b"),
    ("revenue_yuan", r"销售额|营业额|成交额|gmv|收入|卖了多少钱|金额|revenue|sales value|turnover|"
                     r"多少钱|yuan|rmb"),
    ("units", r"销量|件数|卖了多少件|多少件|几件|units|pieces|how many .*sold|卖了多少|卖得|"
              r"sold|sell"),
]  # fmt: skip
_BY = [
    ("category", r"品类|类目|哪类|哪个类|categor"),
    ("platform", r"哪个平台|哪些平台|各平台|每个平台|分平台|按平台|平台对比|哪个渠道|各渠道|"
                 r"各个渠道|渠道对比|which platform|which channel|by platform|per platform|"
                 r"each platform|"
                 r"across platforms|platforms compare|compare (?:the )?(?:platforms|channels)|"
                 r"by channel|per channel|each channel|which (?:\w+ ){0,2}(?:platforms|channels)"),
    ("warehouse_id", r"哪个仓|各仓|每个仓|按仓|分仓|which warehouse|by warehouse|per warehouse|"
                     r"each warehouse"),
    ("shop_id", r"哪家.{0,6}店|哪个.{0,6}店|各店|每家店|店铺|门店排名|"
                r"which (?:of our )?(?:\w+ ){0,2}(?:shops?|stores?)|by shop|per shop|each shop|"
                r"by store|per store|\b(?:rank|ranking|compare)\b.{0,20}\b(?:shops|stores)\b|"
                r"\bour (?:\w+ )?shops\b"),
    ("day", r"哪天|哪一天|每天|每日|按天|按日|which day|what day|by day|per day|daily|each day"),
    ("month", r"哪个月|哪一个月|每月|按月|月度|which month|by month|per month|monthly|each month"),
    ("week", r"哪周|哪一周|每周|按周|周趋势|趋势|which week|weekly|by week|per week|trend"),
    ("product", r"哪个商品|哪款商品|哪个产品|哪款产品|哪些商品|哪些产品|"
                r"which (?:\w+ ){0,2}products?|what products?|by product|per product"),
    ("sku_id", r"哪个|哪些|哪款|哪几|前\s*(?:\d+|[一二三四五六七八九十]+)(?![\d周天日月年个])|"
               r"最好|最多|最差|最少|最高|最低|卖爆|排行|排名|which|what sold|top|best|worst|most|"
               r"least|slowest|highest|lowest|ranking|rank"),
]  # fmt: skip
_EACH = re.compile(r"各自|分别|各是|each|respectively|separately", re.I)
#: "抖音和快手哪个卖得多": of the platforms named, which one (not which SKU).
_WHICH_OF_THEM = re.compile(
    r"哪个(?:平台)?(?:卖得|更|多|高|好)|哪家(?:卖得|更|多)|谁(?:卖得)?(?:多|更)|"
    r"which (?:one|of (?:them|the two))|which sold more|who sold more", re.I)  # fmt: skip
#: A time series asked for in order ("每天的销量趋势"), not the best day.
_TREND = re.compile(
    r"趋势|走势|每天|每日|逐日|每周|每月|变化|trend|over time|day by day|daily|weekly|monthly|"
    r"per day|per week|per month|each (?:day|week|month)",
    re.I,
)
_COMPARE = [
    ("previous_year", r"同比|去年同期|去年同一|比去年|和去年比|year over year|yoy|"
                      r"same (?:day|week|month|period|time) (?:last|a) year|(?:vs|than) last year|"
                      r"compared? (?:with|to) last year"),
    ("previous_period", r"环比|比上|相比|对比上|较上|compared? (?:with|to)|versus|vs\.?|"
                        r"\bwow\b|\bmom\b|week[- ]over[- ]week|week[- ]on[- ]week|"
                        r"month[- ]over[- ]month|month[- ]on[- ]month|"
                        r"than the previous|growth|增长|下降|涨了|跌了|变化"),
]  # fmt: skip
#: Ranks from the smallest figure up.
_LEAST = re.compile(r"最少|最低|最小|least|fewest|lowest|smallest|bottom|倒数", re.I)
#: "Worst" ranks from the smallest sales up, but from the largest refunds or returns down.
_WORST = re.compile(r"最差|卖不动|滞销|垫底|worst|slowest", re.I)
_COVER_DAYS = re.compile(
    r"(?:少于|不到|低于|小于|阈值|放宽到|改成|撑不过|不够|under|less than|below|fewer than|"
    r"within)\s*(?:a|an|one)?\s*(\d{1,2}(?:\.\d)?|two|three|four|five|six|seven|ten)?\s*"
    r"(天|days?|周|个?星期|weeks?)",
    re.I,
)
_SERVICE_LEVEL = re.compile(
    r"(\d{2}(?:\.\d+)?)\s*%\s*(?:的)?\s*(?:服务水平|服务率|service[- ]level)|"
    r"(?:服务水平|service[- ]level)\s*(?:of|为|是|按|=|:|：)?\s*(\d{2}(?:\.\d+)?)\s*%",
    re.I,
)
_BIRTH = re.compile(
    r"(?:(?:born|dob|birth(?:day| date)?|生日|出生)[:：]?\s*(?:on\s+)?)?"
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*(?:生|出生)?",
    re.I,
)
_CITY = re.compile(r"([\u4e00-\u9fff]{2,3})人(?![\u4e00-\u9fff])|lives? in ([A-Z][a-z]+)|"
                   r"(?:住在|来自)([\u4e00-\u9fff]{2,3})")  # fmt: skip
_LOOSE_NAME = re.compile(
    r"(?:^|[\s:：，,、])([\u4e00-\u9fff]{2,4})[\s,，、]*(?:手机|电话|邮箱|phone|e-?mail|\+?86|1[3-9]\d|"
    r"[\w.+-]+@)|"
    r"(?:^|[:：]\s*|customer\s+|sign-?up[^:：]*[:：]\s*)([A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2})"
    r"(?=\s*[,，]|\s+(?:phone|tel|mobile|\d))"
)
#: Words that a loose name match may catch but that are never a person's name.
_NOT_NAMES = ("手机", "电话", "号码", "会员", "邮箱", "查", "帮", "是不是", "核验", "客户", "用户")
#: How a loose match that is a pointing word, not a name, starts: "这个手机号…", "该用户".
_NOT_NAME_START = re.compile(r"^(?:这|那|该|此|哪|某|每|请问|麻烦|新注册|新的)")
_NAME = re.compile(
    r"(?:我叫|姓名[:：]?|名字(?:是|叫)?[:：]?|客户|会员|顾客|[Cc]ustomer|[Mm]ember)\s*"
    r"([\u4e00-\u9fff]{2,3})(?=[，,、\s手电邮]|$)|"
    r"(?:name(?: is)?[:：]?|named)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,3})"
)
#: A name that follows a phone or e-mail ("手机号181…的陈秀英") or comes right before a birth
#: date in brackets ("陈秀英（1972-03-08出生）").
_NAME_NEAR = re.compile(
    r"(?:\d{7,}|@[\w.-]+)\s*的\s*([\u4e00-\u9fff]{2,3})(?=[（(，,、\s]|是|出生|生日|$)|"
    r"([\u4e00-\u9fff]{2,3})\s*[（(]\s*(?:生日|出生)?[:：]?\s*\d{4}[-/.年]"
)
#: One quoted turn written inline: 买家说"再不退款我就投诉"，customer said "…".
_QUOTED_TURN = re.compile(
    r"(买家|顾客|客户|用户|客服|商家|buyer|customer|agent|seller)\s*"
    r"(?:说|问|回复|回答|表示|said|says|asked|replied|wrote)?\s*[:：]?\s*[“\"「『](.+?)[”\"」』]",
    re.IGNORECASE,
)
_CHAT_WORDS = re.compile(r"对话|聊天|会话|客服记录|conversation|chat|transcript", re.I)
_PASTED = re.compile(r"[:：]\s*\n|\n|(?:买家|顾客|客户|buyer|customer)\s*[:：]", re.I)
_ALERT_STATUS = [
    (
        "acknowledged",
        r"已经?处理|处理过|处理完|已经?确认|确认过|已经?解决|已经?关闭|"
        r"acknowledged|handled|dealt with|closed",
    ),
    ("withdrawn", r"撤回|撤销的预警|withdrawn"),
    ("all", r"全部预警|所有预警|所有的预警|all (?:the )?alerts|every alert"),
]
#: "…that nobody has handled yet", "还没处理的": the open ones, whatever word follows.
_NOT_HANDLED = re.compile(
    r"未处理|没处理|没有处理|还没|尚未|待处理|nobody|no one|not (?:yet )?(?:been )?"
    r"(?:handled|acknowledged|dealt with)|unhandled|unacknowledged|yet to be|still open",
    re.IGNORECASE,
)
_SEVERITY = [("high", r"高风险|严重|紧急|high[- ](?:risk|severity)|severe|urgent|critical|serious"),
             ("medium", r"中风险|medium")]  # fmt: skip
_SCENARIOS = [
    ("complaint_threat", r"(?<!\d)(?:12315|12345)(?!\d)|投诉|监管|消协|工商|regulator|"
                         r"formal complaint"),  # 投诉 alone: see _COMPLAINT_WORD
    ("media_exposure", r"媒体|曝光|微博|记者|media|press|viral|expos"),
    ("legal_threat", r"律师|起诉|法院|报警|告你们|lawyer|lawsuit|sue|legal|police|court"),
    ("safety_injury", r"安全|受伤|过敏|烫伤|爆炸|injur|safety|allerg|burn"),
    ("counterfeit", r"假货|假的|正品|山寨|counterfeit|fake"),
    ("fraud_scam", r"诈骗|骗子|欺诈|虚假宣传|scam|fraud|phishing"),
    ("privacy_leak", r"隐私|信息泄露|泄露|privacy|data leak"),
    ("mass_complaint", r"很多人|集体|大面积|mass complaint|many customers"),
    ("refund_dispute", r"退款纠纷|退款争议|退款被拒|refund disput"),
    ("price_protection", r"价保|保价|退差价|price protection|price[- ]drop"),
    ("logistics_loss_damage", r"丢件|破损|快递丢|物流|lost parcel|damaged|logistics"),
    ("abusive_language", r"辱骂|骂人|脏话|abusive|insult|swear"),
    ("extreme_negative_churn", r"流失|再也不买|极端|churn|never again"),
    ("repeated_contact", r"反复|多次联系|重复进线|repeated|again and again"),
]  # fmt: skip


#: The everyday word for a complaint, which also names the complaint-threat scenario.
_COMPLAINT_WORD = re.compile(r"投诉")


def find_slots(question: str, catalogue: Catalogue, today: dt.date) -> Slots:
    """Every slot the question fills, matched against the store's master data."""
    text = normalise(question)
    slots = Slots()
    slots.pasted = _pasted_text(question)
    head = normalise(question.split("\n", 1)[0]) if slots.pasted else text
    slots.platforms = find_platforms(head)
    slots.unknown_platforms = find_other_marketplaces(head)
    if not slots.platforms and not slots.unknown_platforms:
        slots.platform_guesses = misspelt_platforms(head)
        slots.platforms = list(dict.fromkeys(p for _, p in slots.platform_guesses))
    slots.impossible_dates = impossible_dates(head)
    slots.period = find_period(head, today)
    slots.phone = (m := _PHONE.search(question)) and _national(m[0])
    slots.email = (m := _EMAIL.search(question)) and m[0]
    if slots.phone or slots.email:
        _person(question, slots)
    _entities(head, catalogue, slots)
    if (m := _TOP.search(head)) is not None:
        slots.top = min(count_of(next(g for g in m.groups() if g)), 100)
    if (m := _HORIZON.search(head)) is not None:
        slots.horizon = min(max(count_of(m[1]), 1), 13)
    elif (m := re.search(r"(?:make it|改成|换成|改为|看)\s*(\d{1,2})\s*(?:个)?\s*(?:周|weeks?)|"
                         r"\b(\d{1,2})\s*weeks?\s+(?:out|ahead)",
                         head, re.I)) is not None:  # fmt: skip
        slots.horizon = min(max(int(m[1] or m[2]), 1), 13)
    elif re.search(
        r"下个?季度|一个季度|next quarter|coming quarter|未来三个月|next (?:3|three) months", head
    ):
        slots.horizon = 13
    elif re.search(r"下周|next week|下星期", head):
        slots.horizon = 1
    elif re.search(r"下个?月|next month|一个月|a month", head):
        slots.horizon = 4
    said = [(m.start(), name) for name, p in _METRICS if (m := re.search(p, head))]
    slots.metrics = [name for _, name in sorted(said)]
    if (
        "units" in slots.metrics
        and len(slots.metrics) > 1
        and not re.search(r"销量|件数|多少件|几件|units|pieces", head)
    ):  # "sold"/"卖了" only says sales were asked about, not which figure
        slots.metrics.remove("units")
    slots.metric = slots.metrics[0] if slots.metrics else None
    slots.by = next((name for name, p in _BY if re.search(p, head, re.I)), None)
    if (
        len(slots.platforms) >= 2
        and slots.by in (None, "sku_id")
        and (_EACH.search(head) or _WHICH_OF_THEM.search(head))
    ):
        slots.by = "platform"  # "抖音和快手各自是多少", "…哪个卖得多": a row per platform named
    slots.trend = slots.by in ("day", "week", "month") and bool(_TREND.search(head))
    platforms_compared = len(slots.platforms) >= 2 and re.search(
        r"\bvs\.?|versus|against|compared?|对比|比较|相比|和.{1,6}比", head, re.I
    )
    if (m := _COVER_DAYS.search(head)) is not None:
        days = float(m[1]) if m[1] and m[1][0].isdigit() else float(count_of(m[1] or "1"))
        slots.cover_days = days * (7 if re.match(r"周|个?星期|week", m[2], re.I) else 1)
    if (m := re.search(r"(?<![\d.])(\d{2}(?:\.\d+)?)\s*%", head)) is not None:
        slots.percent = float(m[1]) / 100
    if (m := _SERVICE_LEVEL.search(head)) is not None:
        level = float(m[1] or m[2]) / 100
        slots.service_level = level if 0.5 < level < 1 else None
    slots.compare = next((name for name, p in _COMPARE if re.search(p, head)), None)
    if platforms_compared and slots.compare == "previous_period":
        # "PDD vs Tmall" compares the platforms named, not this period with the last
        slots.by, slots.compare = "platform", None
    bad_figure = slots.metric in ("refund_yuan", "returned_units", "return_rate")
    slots.ascending = bool(_LEAST.search(head)) or (bool(_WORST.search(head)) and not bad_figure)
    slots.severity = next((name for name, p in _SEVERITY if re.search(p, head)), None)
    slots.alert_status = next((n for n, p in _ALERT_STATUS if re.search(p, head, re.I)), None)
    if slots.alert_status == "acknowledged" and _NOT_HANDLED.search(head):
        slots.alert_status = None
    slots.scenarios = [name for name, p in _SCENARIOS if re.search(p, head)]
    if len(slots.scenarios) > 1 and "complaint_threat" in slots.scenarios:
        # "投诉假货" asks for counterfeit complaints: 投诉 alone names no scenario of its own
        # beside another one
        if not re.search(_SCENARIOS[0][1], _COMPLAINT_WORD.sub("", head)):
            slots.scenarios.remove("complaint_threat")
    return slots


def _person(question: str, slots: Slots) -> None:
    """Name, birth date and city of a member to look up, when the question gives them."""
    found = _NAME.search(question) or _NAME_NEAR.search(question) or _LOOSE_NAME.search(question)
    if found:
        name = next((g for g in found.groups() if g), None)
        if (
            name
            and not any(word in name for word in _NOT_NAMES)
            and not (found.re is not _NAME and _NOT_NAME_START.match(name))
        ):
            slots.person_name = name.strip()
    if (m := _BIRTH.search(question)) is not None:
        try:
            slots.birth_date = dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            pass
    if (m := _CITY.search(question)) is not None:
        slots.city = next(g for g in m.groups() if g)


def _pasted_text(question: str) -> str | None:
    """A conversation pasted into the question: what follows the first colon or line break,
    or its quoted turns written inline (买家说"…"，客服说"…") as one line each."""
    quoted = _QUOTED_TURN.findall(question)
    if quoted:
        return "\n".join(f"{role}：{text.strip()}" for role, text in quoted)
    found = _PASTED.search(question)
    if not found:
        head, colon, rest = question.partition("：" if "：" in question else ":")
        if colon and _CHAT_WORDS.search(head) and len(rest.strip()) >= 4:
            return rest.strip()  # "对话：买家…" on one line
        return None
    role_first = re.match(r"\s*(?:买家|顾客|客户|buyer|customer)", found[0], re.I)
    start = found.start() if role_first else found.end()
    body = question[start:].strip()
    return body if len(body) >= 4 else None


def _entities(text: str, catalogue: Catalogue, slots: Slots) -> None:
    known = set(catalogue.skus["sku_id"])
    for found in _SKU.finditer(text):
        token = found[0].upper()
        if token in known:
            slots.skus.append(token)
            continue
        prefixed = sorted(s for s in known if s.startswith(token + "-"))
        if prefixed:
            slots.skus.extend(prefixed)
        elif not re.fullmatch(r"(?:TOP|Q|P|W|H|V|NO)\d{1,3}", token):  # top10, P90: not SKUs
            slots.unknown_skus.append(token)
    for found in _CUED_SKU.finditer(text):
        token = found[1].upper()
        listed = token in slots.skus or token in slots.unknown_skus
        if not listed and not any(s.startswith(token + "-") for s in slots.skus):
            (slots.skus if token in known else slots.unknown_skus).append(token)
    if not slots.skus:
        slots.products, product_skus = _products(text, catalogue)
        slots.skus = product_skus
    slots.skus = list(dict.fromkeys(slots.skus))
    slots.categories = [c for c in catalogue.categories if c.lower() in text]
    if not slots.categories:
        for word, fragment in CATEGORY_WORDS.items():
            if re.search(rf"\b{word}\b", text):
                slots.categories += [c for c in catalogue.categories if fragment in c]
        slots.categories = list(dict.fromkeys(slots.categories))
    for row in catalogue.warehouses.itertuples():
        names = [str(row.warehouse_id).lower(), str(row.name).lower()]
        short = re.split(r"[（(]", str(row.name))[0]
        names += [short.lower(), str(row.region or "") + "仓", str(row.city or "").rstrip("市")]
        if str(row.city or "").endswith("市"):
            names.append(str(row.city).rstrip("市") + "仓")
        if any(n and len(n) >= 2 and n in text for n in names):
            slots.warehouses.append(str(row.warehouse_id))
    for warehouse_id, names in catalogue.romanised_warehouses.items():
        if any(re.search(rf"\b{name}\b", text) for name in names):
            slots.warehouses.append(warehouse_id)
    english = {"east china": "华东", "north china": "华北", "south china": "华南",
               "central china": "华中", "southwest": "西南"}  # fmt: skip
    for words, region in english.items():
        if words in text:
            ids = catalogue.warehouses.loc[catalogue.warehouses["region"] == region, "warehouse_id"]
            slots.warehouses.extend(str(i) for i in ids)
    slots.warehouses = list(dict.fromkeys(slots.warehouses))
    if not slots.warehouses:
        slots.unknown_warehouses = _unknown_warehouses(text)
    named = catalogue.shop_names(text)
    if slots.platforms:  # "天猫官方旗舰店": that platform's shop of that name
        named = [s for s in named if s[0] in slots.platforms] or named
    if named:
        slots.shops = list(dict.fromkeys(shop_id for _, shop_id, _ in named))
        slots.shop_words = list(dict.fromkeys(words for _, _, words in named))
        if not slots.platforms:
            slots.platforms = list(dict.fromkeys(platform for platform, _, _ in named))


# "<place>仓" names a warehouse; a word before 仓 with one of these characters is an action
# or a kind (分仓, 补仓, 清仓, 各仓, 哪个仓, 总仓, 云仓, 库存仓 …) or too short a place
# to tell (上海 is known by its city when it is a warehouse): never read as a place
_NOT_A_PLACE_CHARS = frozenset(
    "的了在个各每哪按分补清建加减平满空爆出入进回调移转总主全本此该某这那云号库存货发我你"
    "他她您们有无没是和与及或从到往向给对把被让要想会能可多少几所部其别再还都也就上下去来"
    "里中内外大小新老旧备周月年天日季"
)
# two-character kinds of warehouse, and platforms' own ones (京东仓 is JD's, not the brand's)
_NOT_A_PLACE_WORDS = frozenset(
    {"电商", "门店", "海外", "保税", "自营", "平台", "前置", "第三", "直营", "本地", "国内",
     "菜鸟", "京东", "天猫", "淘宝", "抖音", "快手", "拼多", "多多", "红书", "区域", "成品",
     "原料", "退货", "次品", "良品", "样品", "赠品", "虚拟", "共享", "冷链", "常温"}
)  # fmt: skip
_PLACE_WAREHOUSE = re.compile(r"([\u4e00-\u9fff]{2})仓(?!位)")


def _unknown_warehouses(text: str) -> list[str]:
    """``<place>仓`` words of a question that named no known warehouse (火星仓, 深圳仓):
    the tool says they are not warehouses, rather than Butler answering for all of them."""
    found = []
    for m in _PLACE_WAREHOUSE.finditer(text):
        place = m[1]
        if place in _NOT_A_PLACE_WORDS or _NOT_A_PLACE_CHARS.intersection(place):
            continue
        if platform_of(place) is None:
            found.append(place + "仓")
    return list(dict.fromkeys(found))


def _products(text: str, catalogue: Catalogue) -> tuple[list[str], list[str]]:
    """Products named loosely: the product whose core name best covers a part of the text."""
    chinese = "".join(re.findall(r"[\u4e00-\u9fff]+", text))
    if len(chinese) < 2:
        return [], []
    names = catalogue.skus.drop_duplicates("product_id")
    best: tuple[float, str, str] | None = None
    for row in names.itertuples():
        core = str(row.name)
        for prefix in catalogue.brand_prefixes:
            core = core.removeprefix(prefix)
        matcher = SequenceMatcher(None, core, chinese, autojunk=False)
        covered = sum(block.size for block in matcher.get_matching_blocks() if block.size >= 2)
        score = covered / len(core)
        if covered >= 3 and score >= 0.5 and (best is None or score > best[0]):
            best = (score, str(row.product_id), str(row.name))
    if best is None:
        return [], []
    rows = catalogue.skus[catalogue.skus["product_id"] == best[1]]
    compact = text.replace(" ", "")
    named = rows[[bool(spec) and spec.replace(" ", "").lower() in compact
                  for spec in rows["spec"].fillna("").astype(str)]]  # fmt: skip
    return [best[2]], [str(s) for s in (named if len(named) else rows)["sku_id"]]
