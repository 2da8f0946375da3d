"""Persons and their member accounts on 1–4 platforms, written differently on each.

A person has one true name, phone, e-mail, birthday and home; each platform account keeps its
own version of them, as real member lists do: pinyin or traditional characters for the name,
a typo, "王女士", a second phone number, a masked phone, an address without its province, "栋"
for "号楼", a moved home, a nickname, missing fields. The true person behind each account is
the ground truth of identity resolution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from features.sample_world.geo import Gazetteer, StreetAddress, cat, random_streets
from features.sample_world.ids import user_ids
from features.schema.vocab import Platform

P = Platform

_MALE = (
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳洋峰成东亮晨博文志建国"
    "昊然轩睿哲翔瑞泽宏彬"
)
_FEMALE = (
    "芳娜敏静丽艳娟霞秀玲桂英兰萍红梅琳雪慧婷颖欣怡佳璐瑶萱雨涵梓琪晶燕倩蕾薇"
    "洁丹妍悦诗月彤楠璇莉菲露蓉琴"
)
_TYPO = dict(
    zip(
        "伟丽静明华林杰军娜芳峰磊敏涛艳霞平红梅刚辉玲婷雪慧波建文宇浩晨欣怡佳琳蕾洁丹悦彤",
        "玮莉婧铭骅琳洁君那方锋垒闵韬燕侠萍虹玫钢晖铃亭学惠博健雯雨皓辰馨仪嘉霖雷杰单越桐",
        strict=True,
    )
)
_SURNAME_PINYIN = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "盖": "ge",
    "覃": "qin",
    "缪": "miao",
    "乐": "yue",
    "尉": "yu",
}
_NICK_A = (
    "快乐的",
    "小",
    "爱吃",
    "一只",
    "努力的",
    "元气",
    "温柔",
    "暴躁",
    "可爱的",
    "佛系",
    "开心",
    "懒懒的",
    "追光的",
    "奶茶",
    "今天也要",
    "不吃香菜的",
    "早睡",
    "认真",
)
_NICK_B = (
    "小鹿",
    "猫咪",
    "鱼",
    "喵",
    "兔子",
    "星星",
    "橘子",
    "柠檬",
    "桃子",
    "熊",
    "企鹅",
    "团子",
    "阿狸",
    "云朵",
    "月亮",
    "小胖",
    "饭团",
    "布丁",
    "大白",
    "太阳",
)
_NICK_DEFAULT = {
    P.TMALL: "tb",
    P.JD: "jd_",
    P.PINDUODUO: "pdd",
    P.DOUYIN: "用户",
    P.KUAISHOU: "快手用户",
    P.XIAOHONGSHU: "小红薯",
    P.MINIPROGRAM: "微信用户",
    P.POS: "会员",
}
_MOBILE = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        186,
        187,
        188,
        189,
        191,
        198,
        199,
    ]
)
_DOMAINS = np.array(
    ["qq.com"] * 9
    + ["163.com"] * 5
    + ["126.com"] * 2
    + ["sina.com", "gmail.com", "foxmail.com", "outlook.com", "hotmail.com", "139.com"],
    dtype=object,
)

# how likely each platform's member list leaves a field empty
_MISSING = {  # name, phone, email, birth, gender, address
    P.TMALL: (0.25, 0.05, 0.55, 0.35, 0.1, 0.15),
    P.JD: (0.2, 0.03, 0.45, 0.4, 0.15, 0.1),
    P.PINDUODUO: (0.45, 0.05, 0.95, 0.7, 0.3, 0.2),
    P.DOUYIN: (0.55, 0.1, 0.9, 0.5, 0.2, 0.3),
    P.KUAISHOU: (0.55, 0.1, 0.95, 0.55, 0.25, 0.3),
    P.XIAOHONGSHU: (0.5, 0.15, 0.7, 0.4, 0.1, 0.4),
    P.MINIPROGRAM: (0.6, 0.1, 0.9, 0.5, 0.2, 0.35),
    P.POS: (0.05, 0.0, 0.85, 0.3, 0.05, 0.6),
}
_PLATFORM_POPULARITY = {
    P.TMALL: 0.2,
    P.JD: 0.15,
    P.PINDUODUO: 0.17,
    P.DOUYIN: 0.17,
    P.KUAISHOU: 0.08,
    P.XIAOHONGSHU: 0.08,
    P.MINIPROGRAM: 0.08,
    P.POS: 0.07,
}


@dataclass(frozen=True, slots=True)
class NamePools:
    surname: np.ndarray
    surname_p: np.ndarray
    surname_py: np.ndarray
    surname_tr: np.ndarray
    given: np.ndarray  # male chars then female chars
    given_py: np.ndarray
    given_tr: np.ndarray
    given_typo: np.ndarray  # a homophone, or the char itself
    n_male: int


@cache
def name_pools() -> NamePools:
    from faker.providers.person.zh_CN import Provider
    from opencc import OpenCC
    from pypinyin import lazy_pinyin

    s2t = OpenCC("s2t")
    names = list(Provider.last_names.keys())[:300]
    weights = np.array([Provider.last_names[n] for n in names], dtype=float)
    given = list(_MALE) + list(_FEMALE)

    def py(text: str) -> str:
        return "".join(lazy_pinyin(text))

    return NamePools(
        surname=np.array(names, dtype=object),
        surname_p=weights / weights.sum(),
        surname_py=np.array([_SURNAME_PINYIN.get(n, py(n)) for n in names], dtype=object),
        surname_tr=np.array([s2t.convert(n) for n in names], dtype=object),
        given=np.array(given, dtype=object),
        given_py=np.array([py(c) for c in given], dtype=object),
        given_tr=np.array([s2t.convert(c) for c in given], dtype=object),
        given_typo=np.array([_TYPO.get(c, c) for c in given], dtype=object),
        n_male=len(_MALE),
    )


@dataclass(slots=True)
class People:
    """Persons (the truth) and their accounts (what the platforms export)."""

    persons: pd.DataFrame
    accounts: pd.DataFrame  # one row per (platform, platform_user_id), unified member fields


def build_people(
    rng: np.random.Generator,
    faker_seed: int,
    n_accounts: int,
    platforms: list[Platform],
    shops: dict[Platform, list[str]],
    shop_weights: dict[Platform, np.ndarray],
    start: dt.date,
    days: int,
    gaz: Gazetteer,
) -> People:
    """Draw persons and about ``n_accounts`` member accounts on ``platforms``."""
    n_persons = max(10, int(n_accounts / 1.85))
    persons = _persons(rng, faker_seed, n_persons, gaz, start)
    # how many platforms each person is on (1–4), and which (Gumbel top-k, weighted)
    n_on = rng.choice([1, 2, 3, 4], n_persons, p=[0.45, 0.3, 0.17, 0.08])
    n_on = np.minimum(n_on, len(platforms))
    pop = np.array([_PLATFORM_POPULARITY[p] for p in platforms])
    keys = np.log(pop)[None, :] + rng.gumbel(size=(n_persons, len(platforms)))
    order = np.argsort(-keys, axis=1)
    take = np.arange(len(platforms))[None, :] < n_on[:, None]
    person_idx = np.repeat(np.arange(n_persons), n_on)
    plat_idx = order[take]
    frames = []
    for pi, platform in enumerate(platforms):
        sel = person_idx[plat_idx == pi]
        frames.append(_accounts(rng, persons, sel, platform, shops, shop_weights, start, days, gaz))
    accounts = pd.concat(frames, ignore_index=True)
    return People(persons=persons, accounts=accounts)


def _persons(
    rng: np.random.Generator, faker_seed: int, n: int, gaz: Gazetteer, start: dt.date
) -> pd.DataFrame:
    from faker import Faker

    pools = name_pools()
    fake = Faker("zh_CN")
    fake.seed_instance(faker_seed)
    female = rng.random(n) < 0.64
    sur = rng.choice(len(pools.surname), n, p=pools.surname_p)
    lo = np.where(female, pools.n_male, 0)
    hi = np.where(female, len(pools.given), pools.n_male)
    g1 = (lo + rng.random(n) * (hi - lo)).astype(np.int64)
    g2 = (lo + rng.random(n) * (hi - lo)).astype(np.int64)
    g2 = np.where(rng.random(n) < 0.72, g2, -1)
    name = cat(pools.surname[sur], pools.given[g1], _opt(pools.given, g2))
    age_days = (rng.gamma(6.0, 1.1, n) * 365 + 18 * 365).astype(np.int64)
    birth = pd.Timestamp(start) - pd.to_timedelta(age_days, unit="D")
    place = rng.choice(len(gaz), n, p=gaz.weight)
    moved_place = np.where(rng.random(n) < 0.7, place, rng.choice(len(gaz), n, p=gaz.weight))
    street, street2 = random_streets(rng, n), random_streets(rng, n)
    # e-mail user names: pinyin + digits, initials + birth year, or a QQ number
    full_py = cat(pools.surname_py[sur], pools.given_py[g1], _opt(pools.given_py, g2))
    year = pd.Series(birth.year).astype(str).to_numpy(object)
    style = rng.random(n)
    qq = pd.Series(rng.integers(10**7, 3 * 10**9, n)).astype(str).to_numpy(object)
    digits = pd.Series(rng.integers(1, 9999, n)).astype(str).to_numpy(object)
    user = np.where(
        style < 0.4, qq, np.where(style < 0.75, cat(full_py, digits), cat(full_py, year))
    )
    domain = np.where(style < 0.4, "qq.com", _DOMAINS[rng.integers(0, len(_DOMAINS), n)])
    words = np.array([fake.user_name() for _ in range(max(50, n // 40))], dtype=object)
    alt_user = cat(words[rng.integers(0, len(words), n)], digits)
    nick = cat(
        np.array(_NICK_A, object)[rng.integers(0, len(_NICK_A), n)],
        np.array(_NICK_B, object)[rng.integers(0, len(_NICK_B), n)],
    )
    return pd.DataFrame(
        {
            "person_id": "P" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(7),
            "female": female,
            "sur": sur,
            "g1": g1,
            "g2": g2,
            "name": name,
            "pinyin": full_py,
            "birth_date": birth.normalize(),
            "place": place,
            "place2": moved_place,
            "phone": _phones(rng, n),
            "phone2": np.where(rng.random(n) < 0.2, _phones(rng, n), None),
            "email": cat(user, "@", domain),
            "email2": cat(alt_user, "@", _DOMAINS[rng.integers(0, len(_DOMAINS), n)]),
            "nickname": nick,
            "device_id": _hex(rng, n, 32).str.upper(),
            "union_id": "oUn" + _hex(rng, n, 25),
            **_street_cols(street, "s_"),
            **_street_cols(street2, "t_"),
        }
    )


def _accounts(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    sel: np.ndarray,
    platform: Platform,
    shops: dict[Platform, list[str]],
    shop_weights: dict[Platform, np.ndarray],
    start: dt.date,
    days: int,
    gaz: Gazetteer,
) -> pd.DataFrame:
    pools = name_pools()
    per = persons.iloc[sel].reset_index(drop=True)
    n = len(per)
    miss = _MISSING[platform]
    u = rng.random((n, 12))
    # -- name ------------------------------------------------------------------------------
    sur, g1, g2 = per["sur"].to_numpy(), per["g1"].to_numpy(), per["g2"].to_numpy()
    given_py = cat(pools.given_py[g1], _opt(pools.given_py, g2))
    variants = {
        "pinyin": cat(pools.surname_py[sur], " ", given_py),
        "pinyin_cap": cat(_title(pools.surname_py[sur]), " ", _title(given_py)),
        "trad": cat(pools.surname_tr[sur], pools.given_tr[g1], _opt(pools.given_tr, g2)),
        "typo": cat(pools.surname[sur], _typo_given(pools, g1, g2, rng)),
        "title": cat(pools.surname[sur], np.where(per["female"], "女士", "先生")),
        "spaced": cat(pools.surname[sur], " ", pools.given[g1], _opt(pools.given, g2)),
    }
    name = per["name"].to_numpy(object).copy()
    cuts = np.cumsum([0.04, 0.03, 0.05, 0.06, 0.04, 0.03])
    for (_, values), lo, hi in zip(variants.items(), np.r_[0, cuts[:-1]], cuts, strict=True):
        pick = (u[:, 0] >= lo) & (u[:, 0] < hi)
        name[pick] = values[pick]
    full_name = np.where(u[:, 1] < miss[0], None, name)
    # -- phone -------------------------------------------------------------------------------
    phone = per["phone"].to_numpy(object).copy()
    second = per["phone2"].notna().to_numpy() & (u[:, 2] < 0.35)
    phone[second] = per["phone2"].to_numpy(object)[second]
    plain = phone.copy()
    fmt = u[:, 3]
    phone = np.where(fmt < 0.04, cat("+86 ", phone), phone)
    dashed = cat(_s(plain).str[:3], "-", _s(plain).str[3:7], "-", _s(plain).str[7:])
    phone = np.where((fmt >= 0.04) & (fmt < 0.08), dashed, phone)
    phone = np.where(u[:, 4] < miss[1], None, phone)
    # -- e-mail ------------------------------------------------------------------------------
    email = np.where(u[:, 5] < 0.65, per["email"], per["email2"]).astype(object)
    typo = _s(email).str.replace(r"\.com$", ".con", regex=True).to_numpy(object)
    email = np.where(u[:, 6] < 0.04, typo, email)
    email = np.where((u[:, 6] >= 0.04) & (u[:, 6] < 0.1), _s(email).str.upper(), email)
    email = np.where(u[:, 7] < miss[2], None, email)
    # -- birthday, gender ---------------------------------------------------------------------
    birth = pd.Series(per["birth_date"].to_numpy())
    off = rng.choice([-365, 365, 31, -31], n)
    birth = birth.where(~(u[:, 8] < 0.03), birth + pd.to_timedelta(off, unit="D"))
    birth = birth.where(~(u[:, 8] > 1 - miss[3]))
    gender = np.where(per["female"], "F", "M").astype(object)
    gender = np.where(u[:, 9] < miss[4] * 0.5, "U", np.where(u[:, 9] < miss[4], None, gender))
    # -- address -----------------------------------------------------------------------------
    moved = rng.random(n) < 0.12
    place = np.where(moved, per["place2"], per["place"])
    street = _street_of(per, moved)
    addr = _address_variants(rng, gaz, place, street)
    no_addr = u[:, 10] < miss[5]
    for key in ("province", "city", "district", "address_line"):
        addr[key] = np.where(no_addr, None, addr[key])
    # -- account ----------------------------------------------------------------------------
    acc_idx = np.arange(n)
    registered = _registered_at(rng, n, start, days)
    nick = _nicknames(rng, per, platform, acc_idx)
    shop_list = shops[platform]
    shop = np.array(shop_list, dtype=object)[
        rng.choice(len(shop_list), n, p=shop_weights[platform])
    ]
    app = platform in (P.DOUYIN, P.KUAISHOU, P.XIAOHONGSHU)
    device = np.where(rng.random(n) < 0.7, per["device_id"], _hex(rng, n, 32).str.upper())
    union = (
        per["union_id"].to_numpy(object)
        if platform is P.MINIPROGRAM
        else np.where(rng.random(n) < 0.5, per["union_id"], None)
        if platform is P.POS
        else None
    )
    recv_name = np.where(rng.random(n) < 0.85, per["name"], name)
    recv_phone = np.where(per["phone2"].notna() & (rng.random(n) < 0.25), per["phone2"], plain)
    frame = pd.DataFrame(
        {
            "platform": platform.value,
            "platform_user_id": user_ids(platform, acc_idx),
            "person_id": per["person_id"].to_numpy(object),
            "shop_id": shop,
            "nickname": nick,
            "full_name": full_name,
            "phone": phone,
            "phone_plain": plain,
            "email": email,
            "birth_date": birth.to_numpy(),
            "gender": gender,
            **addr,
            "device_id": device if app else None,
            "union_id": union,
            "registered_at": registered,
            "activity": rng.lognormal(0.0, 1.0, n),
            "recv_name": recv_name,
            "recv_phone": recv_phone,
            "recv_place": place,
            "recv_line": _canonical_line(street),
        }
    )
    return frame


# -- helpers -------------------------------------------------------------------------------


def _s(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype=object).astype(str)


def _opt(pool: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``pool[idx]``, or "" where ``idx`` is -1 (one-character given names)."""
    return np.where(idx >= 0, pool[np.maximum(idx, 0)], "")


def _title(values: np.ndarray) -> np.ndarray:
    return _s(values).str.capitalize().to_numpy(object)


def _typo_given(
    pools: NamePools, g1: np.ndarray, g2: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The given name with one character swapped for a homophone (or the last one dropped)."""
    second = (g2 >= 0) & (rng.random(len(g1)) < 0.5)
    a = np.where(second, pools.given[g1], pools.given_typo[g1])
    b = np.where(second, _opt(pools.given_typo, g2), _opt(pools.given, g2))
    return cat(a, b)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    head = _MOBILE[rng.integers(0, len(_MOBILE), n)]
    return cat(head, _s(rng.integers(0, 10**8, n)).str.zfill(8).to_numpy(object))


def mask_phone(phone: np.ndarray) -> np.ndarray:
    """``13812345678`` → ``138****5678``, as platforms that hide buyers' numbers export them."""
    s = pd.Series(phone, dtype=object)
    digits = s.str.replace(r"\D", "", regex=True).str[-11:]
    out = digits.str[:3] + "****" + digits.str[-4:]
    return np.asarray(out.where(s.notna() & (digits.str.len() == 11), s), dtype=object)


def _hex(rng: np.random.Generator, n: int, width: int) -> pd.Series:
    chars = np.array(list("0123456789abcdef"))[rng.integers(0, 16, (n, width))]
    return pd.Series(chars.view(f"<U{width}").ravel() if n else [], dtype=object)


def _street_cols(street: StreetAddress, prefix: str) -> dict[str, np.ndarray]:
    return {prefix + k: getattr(street, k) for k in StreetAddress.__slots__}


def _street_of(per: pd.DataFrame, moved: np.ndarray) -> StreetAddress:
    parts = {}
    for k in StreetAddress.__slots__:
        parts[k] = np.where(moved, per["t_" + k], per["s_" + k])
    return StreetAddress(**parts)


def _canonical_line(st: StreetAddress) -> np.ndarray:
    return cat(
        st.road, st.number, "号", st.community, st.building, "号楼", st.unit, "单元", st.room, "室"
    )


def _address_variants(
    rng: np.random.Generator, gaz: Gazetteer, place: np.ndarray, st: StreetAddress
) -> dict[str, np.ndarray]:
    """Province / city / district / street line as one account writes them."""
    n = len(place)
    u = rng.random((n, 4))
    prov_full, prov_short = gaz.province[place], gaz.province_short[place]
    city_full = gaz.city[place]
    city_short = _s(city_full).str.replace(r"市$", "", regex=True).to_numpy(object)
    district = gaz.district[place]
    canonical = _canonical_line(st)
    lines = [
        canonical,
        cat(st.road, st.number, "号", st.community, st.building, "-", st.unit, "-", st.room),
        cat(st.community, st.building, "栋", st.unit, "单元", st.room),
        cat(
            _s(st.road).str.replace(r"(路|街)$", r"\1口", regex=True).to_numpy(object),
            st.number,
            "号",
            st.community,
            st.building,
            "幢",
            st.room,
            "室",
        ),
        cat(prov_full, city_full, district, canonical),
        cat(city_short, district, st.road, st.number, "号", st.building, "号楼", st.room),
    ]
    pick = np.searchsorted(
        np.cumsum([0.35, 0.15, 0.15, 0.07, 0.16, 0.12]), u[:, 0] * 0.9999, side="right"
    )
    line = np.choose(pick, lines)
    province = np.where(u[:, 1] < 0.6, prov_full, np.where(u[:, 1] < 0.92, prov_short, None))
    city = np.where(u[:, 2] < 0.7, city_full, city_short)
    district = np.where(u[:, 3] < 0.85, district, None)
    return {"province": province, "city": city, "district": district, "address_line": line}


def _registered_at(rng: np.random.Generator, n: int, start: dt.date, days: int) -> np.ndarray:
    first = pd.Timestamp(start) - pd.Timedelta(days=3 * 365)
    span = (days + 3 * 365 - 1) * 86400
    seconds = (rng.random(n) ** 0.8 * span).astype(np.int64)
    # local time → naive UTC
    return (first + pd.to_timedelta(seconds, unit="s") - pd.Timedelta(hours=8)).to_numpy()


def _nicknames(
    rng: np.random.Generator, per: pd.DataFrame, platform: Platform, idx: np.ndarray
) -> np.ndarray:
    n = len(per)
    u = rng.random(n)
    default = cat(_NICK_DEFAULT[platform], _s(rng.integers(10**6, 10**9, n)).to_numpy(object))
    pinyin = cat(per["pinyin"], _s(rng.integers(1, 999, n)).to_numpy(object))
    cute = cat(
        np.array(_NICK_A, object)[rng.integers(0, len(_NICK_A), n)],
        np.array(_NICK_B, object)[rng.integers(0, len(_NICK_B), n)],
    )
    del idx
    return np.where(
        u < 0.3, per["nickname"], np.where(u < 0.55, default, np.where(u < 0.75, pinyin, cute))
    )
