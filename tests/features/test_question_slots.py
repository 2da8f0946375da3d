"""Slots read from operators' questions, against a small hand-made catalogue.

SKU ids follow the sample world's shape (product ``SYMS01000``, SKUs ``SYMS01000-01``…), so
the id pattern is exercised on the ids the store really holds.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.periods import Period
from features.question_slots import (
    Catalogue,
    delexicalise,
    find_platforms,
    find_slots,
    platform_of,
)

D = dt.date
TODAY = D(2025, 12, 30)  # a Tuesday
LAST_WEEK = (D(2025, 12, 22), D(2025, 12, 28))

OATS = ["SYMS01000-01", "SYMS01000-02"]  # 森屿燕麦保湿面霜, two sizes


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    skus = pd.DataFrame(
        {
            "sku_id": [*OATS, "SYJH01001-01", "SYJM01002-01"],
            "product_id": ["SYMS01000", "SYMS01000", "SYJH01001", "SYJM01002"],
            "name": ["森屿燕麦保湿面霜", "森屿燕麦保湿面霜", "森屿玫瑰精华水", "森屿竹炭洁面乳"],
            "category": ["面霜", "面霜", "爽肤水", "洁面"],
            "spec": ["50g", "100g", "150ml", "120g"],
            "brand": ["森屿"] * 4,
        }
    )
    warehouses = pd.DataFrame(
        {
            "warehouse_id": ["WH-EC01", "WH-EC02", "WH-SC01", "WH-NC01"],
            "name": [
                "华东中心仓（嘉兴）",
                "华东二号仓（上海）",
                "华南仓（广州）",
                "华北中心仓（天津）",
            ],
            "region": ["华东", "华东", "华南", "华北"],
            "province": ["浙江省", "上海市", "广东省", "天津市"],
            "city": ["嘉兴市", "上海市", "广州市", "天津市"],
        }
    )
    shops = pd.DataFrame(
        {
            "platform": ["jd", "tmall", "jd", "douyin", "miniprogram"],
            "shop_id": ["森屿京东自营旗舰店", "森屿官方旗舰店", "森屿官方旗舰店", "森屿官方旗舰店",
                        "16103177"],
            "shop_name": ["森屿京东自营旗舰店", "森屿官方旗舰店", "森屿官方旗舰店",
                          "森屿官方旗舰店", "森屿官方商城"],
        }
    )  # fmt: skip
    return Catalogue(skus=skus, warehouses=warehouses, brand_prefixes=("森屿",), shops=shops)


def slots(question: str, catalogue: Catalogue):
    return find_slots(question, catalogue, TODAY)


# -- platforms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("天猫卖了多少", ["tmall"]),
        ("淘宝卖了多少", ["tmall"]),
        ("Tmall and Taobao", ["tmall"]),
        ("JD 和 京东", ["jd"]),
        ("ＪＤ的销量", ["jd"]),  # full-width letters
        ("抖音", ["douyin"]),
        ("PDD 的订单", ["pinduoduo"]),
        ("小红书", ["xiaohongshu"]),
        ("sales on the WeChat mini-program", ["miniprogram"]),
        ("mini-program", ["miniprogram"]),
        ("抖音 PDD 小红书 mini-program", ["douyin", "pinduoduo", "xiaohongshu", "miniprogram"]),
    ],
)
def test_find_platforms(text, expected):
    assert find_platforms(text) == expected


def test_find_platforms_keeps_the_order_of_mention_without_repeats():
    assert find_platforms("京东和天猫，还有淘宝和京东") == ["jd", "tmall"]
    assert find_platforms("天猫和京东") == ["tmall", "jd"]


@pytest.mark.parametrize(
    "text",
    ["I ordered two jars", "ordered from jdx", "hired", "the redo button", "stored in a box", ""],
)
def test_find_platforms_does_not_match_inside_words(text):
    assert find_platforms(text) == []


def test_find_platforms_matches_the_whole_word_red():
    assert find_platforms("red and JD") == ["xiaohongshu", "jd"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("天猫", "tmall"),
        ("淘宝", "tmall"),
        ("Taobao", "tmall"),
        ("JD", "jd"),
        ("京东", "jd"),
        (" 抖音 ", "douyin"),
        ("PDD", "pinduoduo"),
        ("WeChat mini-program", "miniprogram"),
        ("微信小程序", "miniprogram"),
        ("线下门店", "pos"),
        ("kuaishou", "kuaishou"),
        ("amazon", None),
        ("品牌ERP", None),  # the ERP is not a sales channel
    ],
)
def test_platform_of(name, expected):
    assert platform_of(name) == expected


# -- delexicalise --------------------------------------------------------------------------


def test_delexicalise_replaces_platforms_and_periods():
    assert delexicalise("上周抖音哪个SKU卖爆了") == "时段平台哪个sku卖爆了"
    assert delexicalise("上个月京东卖得最好的") == "时段平台卖得最好的"


def test_delexicalise_makes_the_same_intent_look_the_same():
    assert delexicalise("上周抖音卖得最好的") == delexicalise("近7天天猫卖得最好的")


def test_delexicalise_replaces_overlapping_period_words_once():
    assert delexicalise("上上周天猫") == "时段平台"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678 是谁", "号码 是谁"),
        ("+86 138 1234 5678 是谁", "号码 是谁"),
        ("138****5678 是谁", "号码 是谁"),
        ("查一下 li.si@example.com", "查一下 号码"),
    ],
)
def test_delexicalise_replaces_phones_and_emails(text, expected):
    assert delexicalise(text) == expected


def test_delexicalise_replaces_sku_ids():
    assert delexicalise("SYMS01000-01 的库存") == "# 的库存"


# -- SKUs and products ---------------------------------------------------------------------


def test_exact_sku_ids_in_any_case(catalogue):
    found = slots("SYMS01000-01 和 syjh01001-01 上周卖了多少", catalogue)
    assert found.skus == ["SYMS01000-01", "SYJH01001-01"]
    assert found.unknown_skus == []
    assert found.products == []


def test_product_id_expands_to_its_skus(catalogue):
    assert slots("SYMS01000 上周销量", catalogue).skus == OATS


def test_sku_and_its_product_are_not_repeated(catalogue):
    assert slots("SYMS01000-01 和 SYMS01000", catalogue).skus == OATS


def test_unknown_sku_ids_are_kept_apart(catalogue):
    found = slots("SYXX09999-01 和 SYMS01000-02 卖了多少", catalogue)
    assert found.skus == ["SYMS01000-02"]
    assert found.unknown_skus == ["SYXX09999-01"]


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("SKU NOSUCH-999 下周要补多少？", ["NOSUCH-999"]),
        ("货号：ab-12 还有多少库存", ["AB-12"]),
        ("货号 100234 的库存", ["100234"]),
        ("SKU SYMS01000-02 卖了多少", []),  # known: a SKU, not repeated
    ],
)
def test_an_id_after_a_sku_cue_is_taken_whatever_its_shape(question, unknown, catalogue):
    found = slots(question, catalogue)
    assert found.unknown_skus == unknown
    assert found.skus == ([] if unknown else ["SYMS01000-02"])


@pytest.mark.parametrize(
    "question", ["sku level forecast", "SKU 2024年卖了多少", "top sku by sales", "sku 12 weeks"]
)
def test_words_and_years_after_a_sku_cue_are_not_ids(question, catalogue):
    found = slots(question, catalogue)
    assert found.skus == [] and found.unknown_skus == []


@pytest.mark.parametrize("question", ["top10 SKU", "Q4 revenue", "前10的SKU"])
def test_rank_words_are_not_sku_ids(question, catalogue):
    found = slots(question, catalogue)
    assert found.skus == [] and found.unknown_skus == []


def test_loose_product_name_finds_the_product_skus(catalogue):
    found = slots("燕麦面霜库存还够吗", catalogue)
    assert found.products == ["森屿燕麦保湿面霜"]
    assert found.skus == OATS


def test_other_loose_product_name(catalogue):
    found = slots("玫瑰精华 卖得怎么样", catalogue)
    assert found.products == ["森屿玫瑰精华水"]
    assert found.skus == ["SYJH01001-01"]


def test_unrelated_chinese_names_no_product(catalogue):
    found = slots("上周天猫卖了多少", catalogue)
    assert found.products == [] and found.skus == []


def test_category(catalogue):
    assert slots("洁面 上周卖得怎么样", catalogue).categories == ["洁面"]
    assert slots("上周天猫卖了多少", catalogue).categories == []


# -- warehouses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("WH-EC01 库存", ["WH-EC01"]),
        ("wh-sc01 库存", ["WH-SC01"]),
        ("华东中心仓（嘉兴）库存", ["WH-EC01"]),
        ("华东中心仓 库存", ["WH-EC01"]),
        ("华东仓 库存", ["WH-EC01", "WH-EC02"]),
        ("嘉兴 的库存", ["WH-EC01"]),
        ("嘉兴仓缺货吗", ["WH-EC01"]),
        ("天津 库存", ["WH-NC01"]),
        ("East China warehouse stock", ["WH-EC01", "WH-EC02"]),
        ("South China warehouses", ["WH-SC01"]),
        ("上周天猫卖了多少", []),
    ],
)
def test_warehouses(question, expected, catalogue):
    assert slots(question, catalogue).warehouses == expected


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("火星仓下周要补多少", ["火星仓"]),
        ("上周深圳仓和火星仓卖了多少", ["深圳仓", "火星仓"]),
        ("去年火星仓库存", ["火星仓"]),
        # actions and kinds of warehouse, not places
        ("给我一个全仓的补货建议", []),
        ("近四周各个仓分别发了多少件货？哪个仓最多", []),
        ("哪些要补仓？清仓商品有哪些", []),
        ("京东仓和电商仓的库存", []),
        ("按仓统计上周销量", []),
    ],
)
def test_a_place_warehouse_the_store_lacks_is_kept_as_unknown(question, unknown, catalogue):
    found = slots(question, catalogue)
    assert found.unknown_warehouses == unknown and found.warehouses == []


def test_no_warehouse_is_unknown_when_a_known_one_is_named(catalogue):
    found = slots("广州仓上周卖了多少", catalogue)
    assert found.warehouses == ["WH-SC01"] and found.unknown_warehouses == []


# -- ranking, horizon, metric, grouping, comparison ----------------------------------------


@pytest.mark.parametrize(
    ("question", "top"),
    [("前5", 5), ("top 3 SKU", 3), ("top10", 10), ("前三名", 3), ("前十", 10), ("best 3", 3)],
)
def test_top(question, top, catalogue):
    assert slots(question, catalogue).top == top


def test_no_top_without_rank_words(catalogue):
    assert slots("上周天猫卖了多少", catalogue).top is None


def test_three_digit_top(catalogue):
    assert slots("top 100 SKU", catalogue).top == 100


def test_period_word_qian_san_zhou_is_not_a_ranking(catalogue):
    found = slots("前三周天猫的销量", catalogue)
    assert found.period is not None
    assert (found.top, found.by) == (None, None)


@pytest.mark.parametrize(
    ("question", "horizon"),
    [
        ("未来4周预测", 4),
        ("未来八周", 8),
        ("next 6 weeks forecast", 6),
        ("coming two weeks", 2),
        ("下周要补多少货", 1),
        ("下个月要补多少", 4),
        ("未来20周", 13),  # capped
    ],
)
def test_horizon(question, horizon, catalogue):
    assert slots(question, catalogue).horizon == horizon


def test_no_horizon_for_a_past_question(catalogue):
    assert slots("上周卖了多少", catalogue).horizon is None


@pytest.mark.parametrize(
    ("question", "metric"),
    [
        ("上周销售额", "revenue_yuan"),
        ("GMV last week", "revenue_yuan"),
        ("上周销量", "units"),
        ("how many units sold last week", "units"),
        ("订单数", "orders"),
        ("orders last week", "orders"),
        ("退款金额", "refund_yuan"),
        ("refunds last week", "refund_yuan"),
        ("退货多少件", "returned_units"),
        ("客单价", "avg_price_yuan"),
        ("库存还够吗", None),
    ],
)
def test_metric(question, metric, catalogue):
    assert slots(question, catalogue).metric == metric


@pytest.mark.parametrize("question", ["上周退款多少", "上周天猫退款多少钱"])
def test_plain_tuikuan_asks_for_refunds(question, catalogue):
    assert slots(question, catalogue).metric == "refund_yuan"


@pytest.mark.parametrize(
    ("question", "by"),
    [
        ("哪个平台卖得最好", "platform"),
        ("sales by platform", "platform"),
        ("哪个SKU卖得最好", "sku_id"),
        ("各品类销售额", "category"),
        ("哪个仓发货最多", "warehouse_id"),
        ("哪家店卖得多", "shop_id"),
        ("每周趋势", "week"),
        ("按月看", "month"),
        ("上周天猫卖了多少", None),
    ],
)
def test_by(question, by, catalogue):
    assert slots(question, catalogue).by == by


@pytest.mark.parametrize(
    ("question", "compare"),
    [
        ("上周销售额环比", "previous_period"),
        ("compared with the week before", "previous_period"),
        ("上周销量同比", "previous_year"),
        ("year over year", "previous_year"),
        ("上周销量", None),
    ],
)
def test_compare(question, compare, catalogue):
    assert slots(question, catalogue).compare == compare


@pytest.mark.parametrize(
    ("question", "ascending"),
    [("卖得最差的5个SKU", True), ("滞销的", True), ("worst sellers", True), ("卖得最好的", False)],
)
def test_ascending(question, ascending, catalogue):
    assert slots(question, catalogue).ascending is ascending


def test_ranking_question_fills_everything_together(catalogue):
    found = slots("上周抖音销售额前5的SKU", catalogue)
    assert found.platforms == ["douyin"]
    assert (found.period.start, found.period.end) == LAST_WEEK
    assert (found.metric, found.top, found.by) == ("revenue_yuan", 5, "sku_id")
    assert found.ascending is False


# -- people --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "phone"),
    [
        ("帮我查 13812345678 这个会员", "13812345678"),
        ("电话 138-1234-5678", "13812345678"),
        ("手机 138 1234 5678", "13812345678"),
        ("138****5678 是谁", "138****5678"),
    ],
)
def test_phone_in_any_form_loses_spaces_and_dashes(question, phone, catalogue):
    assert slots(question, catalogue).phone == phone


def test_phone_with_country_code_keeps_the_national_number(catalogue):
    phone = slots("手机 +86 138 1234 5678", catalogue).phone
    assert phone is not None and " " not in phone and phone.endswith("13812345678")


def test_phone_country_code_is_stripped(catalogue):
    assert slots("手机 +86 138 1234 5678", catalogue).phone == "13812345678"


def test_no_phone_in_a_sku_or_a_period(catalogue):
    found = slots("SYMS01000-01 在 2025-11-01 到 2025-11-30 卖了多少", catalogue)
    assert found.phone is None and found.email is None


@pytest.mark.parametrize(
    ("question", "shops", "platforms"),
    [
        ("京东自营旗舰店上周卖了多少？", ["森屿京东自营旗舰店"], ["jd"]),
        ("天猫官方旗舰店上周卖了多少", ["森屿官方旗舰店"], ["tmall"]),
        ("森屿官方旗舰店上周卖了多少", ["森屿官方旗舰店"], ["tmall", "jd", "douyin"]),
        ("官方商城的销量", ["16103177"], ["miniprogram"]),  # by its name, not its id
        ("上周天猫卖了多少", [], ["tmall"]),
    ],
)
def test_a_named_shop_is_a_shop_of_its_platforms(catalogue, question, shops, platforms):
    found = slots(question, catalogue)
    assert found.shops == shops and sorted(found.platforms) == sorted(platforms)


@pytest.mark.parametrize(
    ("question", "guesses"),
    [("上周天毛卖了多少件？", [("天毛", "tmall")]), ("京冬上周销量", [("京冬", "jd")]),
     ("tmal sales last week", [("tmal", "tmall")]), ("小红树的会员", [("小红树", "xiaohongshu")]),
     ("上周天猫卖了多少", []), ("online sales last week", []), ("有哪些高风险对话", [])],
)  # fmt: skip
def test_a_misspelt_platform_is_read_as_the_platform_it_sounds_or_looks_like(
    catalogue, question, guesses
):
    found = slots(question, catalogue)
    assert found.platform_guesses == guesses
    if guesses:
        assert found.platforms == [p for _, p in guesses]


def test_email(catalogue):
    assert slots("email me at li.si@example.com", catalogue).email == "li.si@example.com"


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("客户张三 13812345678 查一下", "张三"),
        ("我叫王小明，手机13912341234", "王小明"),
        ("my name is Li Lei, phone 13812345678", "Li Lei"),
        ("会员李四 li.si@example.com", "李四"),
        # after the phone, or before a bracketed birth date (the re-audit's phrasings)
        ("手机号18322478180的陈秀英（1972-03-08出生）是不是老会员？", "陈秀英"),
        ("陈秀英（1972-03-08出生），手机18322478180，是老会员吗", "陈秀英"),
        ("邮箱 li.na@example.com 的李娜是不是会员", "李娜"),
    ],
)
def test_person_name_with_a_phone_or_email(question, name, catalogue):
    assert slots(question, catalogue).person_name == name


@pytest.mark.parametrize(
    "question",
    ["这个手机号 18187098454 是老会员吗？", "wulong6665@qq.com 这个邮箱是会员吗？",
     "该用户 13812345678 是不是会员", "那个电话13900001111呢",
     "手机号13812345678的是老会员吗", "手机号13812345678的会员是不是老会员"],
)  # fmt: skip
def test_a_pointing_word_before_a_phone_or_email_is_no_name(question, catalogue):
    found = slots(question, catalogue)
    assert found.person_name is None and (found.phone or found.email)


def test_no_person_name_without_a_phone_or_email(catalogue):
    assert slots("客户张三 最近买了什么", catalogue).person_name is None


# -- pasted conversations and risk ---------------------------------------------------------


def test_pasted_text_after_a_colon_and_a_newline(catalogue):
    found = slots("帮我看看这段对话：\n买家：我在京东买的是假货，我要去12315投诉", catalogue)
    assert found.pasted == "买家：我在京东买的是假货，我要去12315投诉"
    # slots come from the question line, not from the pasted conversation
    assert found.platforms == [] and found.scenarios == []


def test_pasted_text_after_a_newline(catalogue):
    found = slots("这段聊天有没有高风险\n顾客：我要起诉你们", catalogue)
    assert found.pasted == "顾客：我要起诉你们"
    assert found.severity == "high"


def test_pasted_text_starting_with_a_role(catalogue):
    found = slots("客户：你们是骗子，我要报警", catalogue)
    assert found.pasted == "客户：你们是骗子，我要报警"


def test_no_pasted_text_in_a_plain_question(catalogue):
    assert slots("上周天猫卖了多少", catalogue).pasted is None


@pytest.mark.parametrize(
    ("question", "severity", "scenarios"),
    [
        ("高风险 会话 律师 曝光", "high", ["media_exposure", "legal_threat"]),
        ("最近有没有12315投诉的高风险会话", "high", ["complaint_threat"]),
        # 投诉 beside another scenario asks for complaints of that scenario
        ("中风险的过敏投诉", "medium", ["safety_injury"]),
        ("有多少顾客投诉假货？", None, ["counterfeit"]),
        ("假货投诉有多少条？", None, ["counterfeit"]),
        ("假货的12315投诉", None, ["complaint_threat", "counterfeit"]),
        ("urgent counterfeit complaints", "high", ["counterfeit"]),
        ("上周天猫卖了多少", None, []),
    ],
)
def test_severity_and_scenarios(question, severity, scenarios, catalogue):
    found = slots(question, catalogue)
    assert (found.severity, found.scenarios) == (severity, scenarios)


@pytest.mark.parametrize(
    ("question", "status"),
    [
        ("已处理的预警有多少？", "acknowledged"),
        ("已经处理的预警有哪些？", "acknowledged"),
        ("我们已经确认过的风险会话有几个？", "acknowledged"),
        ("还没处理的预警", None),
        ("全部预警", "all"),
        ("被撤回的预警有哪些？", "withdrawn"),
        ("Which alerts were withdrawn?", "withdrawn"),
    ],
)
def test_alert_status(question, status, catalogue):
    assert slots(question, catalogue).alert_status == status


def test_phone_digits_are_not_a_hotline(catalogue):
    assert slots("客户张三 13812345678 查一下", catalogue).scenarios == []


# -- Slots.filled --------------------------------------------------------------------------


def test_filled_holds_only_the_filled_slots(catalogue):
    filled = slots("上周抖音销量", catalogue).filled()
    assert filled == {
        "platforms": ["douyin"],
        "period": {"start": "2025-12-22", "end": "2025-12-28", "words": "上周"},
        "metric": "units",
        "metrics": ["units"],
    }


def test_period_slot_is_a_period(catalogue):
    assert slots("上周", catalogue).period == Period(*LAST_WEEK, "上周")


# -- what the development question set taught the planner ----------------------------------------


@pytest.mark.parametrize(
    ("question", "by"),
    [
        ("那抖音和快手各自是多少", "platform"),
        ("compare the platforms", "platform"),
        ("Which Tmall shop brought in the most revenue?", "shop_id"),
        ("Which of our offline stores sold the most?", "shop_id"),
        ("Which day in the last 7 days had the most units sold?", "day"),
        ("2025年哪个月GMV最高", "month"),
        ("华北仓今年卖出件数最多的是哪个商品？", "product"),
    ],
)
def test_the_grouping_a_ranking_asks_for(catalogue, question, by):
    assert slots(question, catalogue).by == by


def test_cover_days_service_level_horizon_and_top(catalogue):
    assert (
        slots("Show me every SKU with less than 10 days of stock cover", catalogue).cover_days == 10
    )
    assert slots("把阈值放宽到30天再看看", catalogue).cover_days == 30
    assert slots("按98%的服务水平出补货计划", catalogue).service_level == pytest.approx(0.98)
    assert slots("service level 97.5% please", catalogue).service_level == pytest.approx(0.975)
    assert slots("make it 12 weeks", catalogue).horizon == 12
    assert slots("next quarter's demand", catalogue).horizon == 13
    assert slots("上个月销售额最低的5个SKU", catalogue).top == 5
    assert slots("上个月销售额最低的5个SKU", catalogue).ascending


@pytest.mark.parametrize(
    ("question", "name", "birth", "city"),
    [
        ("帮我查下 吴龙 18187098454 是不是老会员", "吴龙", None, None),
        ("会员核验：戚蓉秀，手机13626280727，1995年8月9日生，武汉人", "戚蓉秀",
         "1995-08-09", "武汉"),
        ("Customer 杨丹丹, masked phone 182****5067, DOB 1997-01-08, lives in Beijing",
         "杨丹丹", "1997-01-08", "Beijing"),
        ("New sign-up: Zhou Xinyi, phone 135 0028 7741, born 1996-03-14", "Zhou Xinyi",
         "1996-03-14", None),
        ("手机号138 1234 5678的是不是老会员", None, None, None),
    ],
)  # fmt: skip
def test_a_member_to_match_names_its_person(catalogue, question, name, birth, city):
    found = slots(question, catalogue)
    assert (found.person_name, found.birth_date, found.city) == (name, birth, city)


def test_other_marketplaces_and_impossible_dates_are_found(catalogue):
    found = slots("上周亚马逊和Shopee在2024-13-45、2024年2月30日卖了多少", catalogue)
    assert found.unknown_platforms == ["amazon", "shopee"] and found.platforms == []
    assert found.impossible_dates == ["2024-13-45", "2024年2月30日"]
    fine = slots("2024-02-29 天猫卖了多少", catalogue)  # a leap day exists
    assert fine.impossible_dates == [] and fine.unknown_platforms == []
