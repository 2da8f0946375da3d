"""Shops, warehouses, what each shop lists, at what price, and its promotions.

A *pair* is one SKU on one platform (demand, price and promotions live there); a *listing*
is one pair in one shop (its platform ids, title and merchant code). Prices follow a path of
a few price changes per pair; promotions are calendar events (Double 11, 618 …) and the
shops' own short deals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sample_world.calendar import PromoWindow
from features.sample_world.catalog import BRAND, BRAND_EN, Catalog
from features.sample_world.geo import WAREHOUSES, Gazetteer, cat
from features.sample_world.ids import item_ids, sku_ids, zpad
from features.schema.vocab import Platform

P = Platform

_SHOP_NAMES = {
    P.TMALL: ("官方旗舰店", "个护专营店", "家清专卖店"),
    P.JD: ("京东自营旗舰店", "官方旗舰店", "日化专营店"),
    P.PINDUODUO: ("官方旗舰店", "日化专营店", "家清工厂店"),
    P.DOUYIN: ("官方旗舰店", "生活好物店", "香氛直播间"),
    P.KUAISHOU: ("官方旗舰店", "好物优选店"),
    P.XIAOHONGSHU: ("官方店", "香氛生活馆"),
    P.MINIPROGRAM: ("官方商城", "会员福利社"),
}
_STORES = (
    ("上海南京西路店", "上海市"),
    ("杭州湖滨银泰店", "杭州市"),
    ("北京三里屯店", "北京市"),
    ("成都太古里店", "成都市"),
    ("广州天河城店", "广州市"),
    ("深圳万象城店", "深圳市"),
    ("武汉楚河汉街店", "武汉市"),
    ("南京新街口店", "南京市"),
    ("西安大悦城店", "西安市"),
    ("重庆解放碑店", "重庆市"),
    ("苏州观前街店", "苏州市"),
    ("长沙五一广场店", "长沙市"),
)
_N_SHOPS = {
    P.TMALL: 3,
    P.JD: 2,
    P.PINDUODUO: 2,
    P.DOUYIN: 3,
    P.KUAISHOU: 2,
    P.XIAOHONGSHU: 2,
    P.MINIPROGRAM: 2,
}
_SHOP_WEIGHT = (1.0, 0.35, 0.15)
_SHOP_LISTS = (1.0, 0.45, 0.25)  # chance that shop j lists a SKU its platform sells
_LISTED = {
    P.TMALL: 0.95,
    P.JD: 0.85,
    P.PINDUODUO: 0.6,
    P.DOUYIN: 0.6,
    P.KUAISHOU: 0.4,
    P.XIAOHONGSHU: 0.4,
    P.MINIPROGRAM: 0.75,
    P.POS: 0.5,
}
_PRICE_FACTOR = {
    P.TMALL: 1.0,
    P.JD: 1.0,
    P.PINDUODUO: 0.92,
    P.DOUYIN: 0.97,
    P.KUAISHOU: 0.95,
    P.XIAOHONGSHU: 1.0,
    P.MINIPROGRAM: 0.98,
    P.POS: 1.0,
}
#: overall weight of each channel in the brand's sales
CHANNEL_WEIGHT = {
    P.TMALL: 1.0,
    P.JD: 0.65,
    P.PINDUODUO: 0.7,
    P.DOUYIN: 0.75,
    P.KUAISHOU: 0.45,
    P.XIAOHONGSHU: 0.4,
    P.MINIPROGRAM: 0.3,
    P.POS: 0.35,
}
_DEAL_NAMES = {
    P.TMALL: ("聚划算", "店铺满减", "限时折扣", "品牌会员日"),
    P.JD: ("京东秒杀", "店铺满减", "PLUS会员专享", "品类日"),
    P.PINDUODUO: ("限时秒杀", "百亿补贴", "多件优惠"),
    P.DOUYIN: ("直播间专享价", "达人专属价", "限时秒杀"),
    P.KUAISHOU: ("直播间专享价", "品牌日特惠"),
    P.XIAOHONGSHU: ("薯店专享", "新品尝鲜价"),
    P.MINIPROGRAM: ("会员日", "拼团价", "新人专享"),
    P.POS: ("会员日", "周末特惠"),
}
_TITLE = {
    P.TMALL: "{brand}{name}{claim} {spec} 官方正品",
    P.JD: "{brand}（{en}）{name} {spec} {claim}",
    P.PINDUODUO: "【{pdd}】{brand}{name}{claim}{spec}",
    P.DOUYIN: "【直播专享】{brand}{name} {spec}",
    P.KUAISHOU: "{brand}{name}{claim}{spec}",
    P.XIAOHONGSHU: "{brand} | {name} {spec}",
    P.MINIPROGRAM: "{name} {spec}",
    P.POS: "{name} {spec}",
}


@dataclass(slots=True)
class Shops:
    """Shops of every platform (channels) with their weights and ids."""

    frame: pd.DataFrame  # platform, shop_id, shop_name, expected, opened_on, silent, weight, ...
    silent: tuple[str, str] | None  # (platform, shop_id) declared but delivering nothing

    def of(self, platform: Platform, *, active: bool = True) -> pd.DataFrame:
        f = self.frame[self.frame["platform"] == platform.value]
        return f[~f["silent"]] if active else f


@dataclass(slots=True)
class Assortment:
    """Pairs (SKU × platform), listings (pair × shop), price paths and promotions."""

    pairs: pd.DataFrame  # sku, platform_idx, share, p0 …
    pair_listing: np.ndarray  # [K, max shops] listing index or -1
    pair_shop_cum: np.ndarray  # [K, max shops] cumulative shop choice weights
    price_day: np.ndarray  # [K, 3] day of each price change (sentinel: beyond the world)
    price_fen: np.ndarray  # [K, 4] price before and after each change
    listings: pd.DataFrame
    promos: pd.DataFrame  # pair, first_day, last_day, price_fen, name, promo_id, key


def build_shops(
    rng: np.random.Generator,
    platforms: list[Platform],
    n_stores: int,
    shop_id_is_name: dict[Platform, bool],
    start: dt.date,
    gaz: Gazetteer,
    n_warehouses: int,
) -> Shops:
    """Two or three shops per platform, ``n_stores`` POS stores, and one declared shop that
    delivers no data (so a "silent shop" check has something to find)."""
    rows = []
    wh_of_place = gaz.warehouse_of(list(WAREHOUSES[:n_warehouses]))
    channels = [p for p in platforms if p is not P.POS]
    silent_platform = P.JD if P.JD in channels else (channels[0] if channels else None)
    for p in platforms:
        if p is P.POS:
            names = [(f"{BRAND}{n}", city) for n, city in _STORES[:n_stores]]
        else:
            names = [(f"{BRAND}{n}", None) for n in _SHOP_NAMES[p][: _N_SHOPS[p]]]
        weights = (
            rng.lognormal(0, 0.4, len(names))
            if p is P.POS
            else np.array(_SHOP_WEIGHT[: len(names)])
        )
        for j, (name, city) in enumerate(names):
            code = (
                f"S{j + 1:03d}" if p is P.POS else str(10_000_000 + int(rng.integers(1, 9_000_000)))
            )
            place = int(np.flatnonzero(gaz.city == city)[0]) if city else -1
            rows.append(
                (
                    p.value,
                    name if shop_id_is_name[p] else code,
                    name,
                    j,
                    float(weights[j]),
                    False,
                    place,
                    int(wh_of_place[place]) if city else -1,
                )
            )
        if p is silent_platform:
            name = f"{BRAND}家居日用专营店"
            code = str(10_000_000 + int(rng.integers(1, 9_000_000)))
            rows.append(
                (p.value, name if shop_id_is_name[p] else code, name, len(names), 0.0, True, -1, -1)
            )
    frame = pd.DataFrame(
        rows,
        columns=["platform", "shop_id", "shop_name", "slot", "weight", "silent", "place", "wh"],
    )
    frame["expected"] = True
    opened = rng.integers(200, 2000, len(frame))
    frame["opened_on"] = pd.Timestamp(start) - pd.to_timedelta(opened, unit="D")
    frame.loc[frame["silent"], "opened_on"] = pd.Timestamp(start) + pd.Timedelta(days=20)
    silent = frame[frame["silent"]]
    return Shops(
        frame=frame,
        silent=(silent["platform"].iat[0], silent["shop_id"].iat[0]) if len(silent) else None,
    )


def build_assortment(
    rng: np.random.Generator,
    catalog: Catalog,
    shops: Shops,
    platforms: list[Platform],
    days: int,
    windows: list[PromoWindow],
    planned: list[PromoWindow] | None = None,
) -> Assortment:
    """Decide what each platform and shop sells, its ids, titles, prices and promotions.

    ``planned`` are calendar promotions that start after the world's last day: shops sign
    up for them ahead, so the promotions exports already hold them (they sell nothing
    inside the world).
    """
    skus = catalog.skus
    n = len(skus)
    cats = catalog.categories
    fast = skus["velocity"].isin(["fast", "regular"]).to_numpy()
    pair_rows = []
    for pi, p in enumerate(platforms):
        aff = cats[f"aff_{p.value}"].to_numpy()[skus["cat_idx"].to_numpy()]
        prob = np.clip(_LISTED[p] * (0.6 + 0.4 * aff) * np.where(fast, 1.2, 0.9), 0.02, 1.0)
        on = np.flatnonzero(rng.random(n) < prob)
        share = aff[on] * CHANNEL_WEIGHT[p] * rng.lognormal(0, 0.5, len(on))
        pair_rows.append(pd.DataFrame({"sku": on, "pidx": pi, "share": share}))
    pairs = pd.concat(pair_rows, ignore_index=True)
    # a SKU's demand is split over the platforms that sell it
    pairs["share"] /= pairs.groupby("sku")["share"].transform("sum")
    k = len(pairs)
    sku = pairs["sku"].to_numpy()
    plat = pairs["pidx"].to_numpy()
    factor = np.array([_PRICE_FACTOR[p] for p in platforms])[plat]
    p0 = _round_price(skus["list_price_fen"].to_numpy()[sku] * factor)
    pairs["p0"] = p0
    price_day, price_fen = _price_paths(rng, skus, sku, p0, days)
    listings, pair_listing, pair_cum = _listings(rng, skus, shops, platforms, pairs)
    promos = _promotions(
        rng, skus, pairs, platforms, windows, price_day, price_fen, days, planned or []
    )
    del k
    return Assortment(pairs, pair_listing, pair_cum, price_day, price_fen, listings, promos)


def _round_price(fen: np.ndarray) -> np.ndarray:
    """Prices end like shelf prices: …9.9 under 30 yuan, whole …9 yuan above."""
    yuan = fen / 100.0
    low = (np.floor(yuan) + 0.9) * 100
    high = (np.floor(yuan / 10) * 10 + 9) * 100
    return np.where(yuan < 30, low, high).round().astype(np.int64)


def _price_paths(
    rng: np.random.Generator, skus: pd.DataFrame, sku: np.ndarray, p0: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to three price changes per pair: a brand-wide list-price change shared by every
    platform of a SKU, and the platform's own changes."""
    k = len(sku)
    n = len(skus)
    brand_day = np.where(rng.random(n) < 0.3, rng.integers(30, max(31, days - 20), n), days + 9999)
    brand_factor = rng.uniform(1.04, 1.12, n)
    own = np.where(
        rng.random((k, 2)) < 0.35, rng.integers(10, max(11, days - 5), (k, 2)), days + 9999
    )
    change_day = np.concatenate([brand_day[sku][:, None], own], axis=1)
    factors = np.concatenate([brand_factor[sku][:, None], rng.uniform(0.88, 1.1, (k, 2))], axis=1)
    order = np.argsort(change_day, axis=1)
    change_day = np.take_along_axis(change_day, order, axis=1)
    factors = np.take_along_axis(factors, order, axis=1)
    prices = np.empty((k, 4), dtype=np.int64)
    prices[:, 0] = p0
    for j in range(3):
        prices[:, j + 1] = _round_price(prices[:, j] * factors[:, j])
    return change_day.astype(np.int64), prices


def _listings(
    rng: np.random.Generator,
    skus: pd.DataFrame,
    shops: Shops,
    platforms: list[Platform],
    pairs: pd.DataFrame,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    k = len(pairs)
    max_shops = max(len(shops.of(p)) for p in platforms)
    pair_listing = np.full((k, max_shops), -1, dtype=np.int64)
    weights = np.zeros((k, max_shops), dtype=np.float64)
    frames = []
    offset = 0
    sku_all = pairs["sku"].to_numpy()
    for pi, p in enumerate(platforms):
        rows = np.flatnonzero(pairs["pidx"].to_numpy() == pi)
        active = shops.of(p)
        sel_pair, sel_slot = [], []
        for j in range(len(active)):
            takes = (
                np.ones(len(rows), bool)
                if p is P.POS or j == 0
                else (rng.random(len(rows)) < _SHOP_LISTS[min(j, 2)])
            )
            sel_pair.append(rows[takes])
            sel_slot.append(np.full(int(takes.sum()), j))
        lp = np.concatenate(sel_pair)
        ls = np.concatenate(sel_slot)
        m = len(lp)
        idx = np.arange(offset, offset + m)
        pair_listing[lp, ls] = idx
        weights[lp, ls] = active["weight"].to_numpy()[ls]
        s = sku_all[lp]
        sk = skus.iloc[s]
        # the shop's items group a product's SKUs: one item id per (shop, product)
        item_key = pd.Series(ls * 10_000_000 + sk["pidx"].to_numpy())
        item_idx = item_key.map({v: i for i, v in enumerate(item_key.unique())}).to_numpy()
        title = _titles(rng, p, sk)
        mapped = rng.random(m) >= (0.015 if p is not P.POS else 0.0)
        outer = sk["sku_id"].to_numpy(object).copy()
        u = rng.random(m)
        outer[(u < 0.08) & mapped] = None
        low = mapped & (u >= 0.08) & (u < 0.12)
        outer[low] = pd.Series(outer[low], dtype=object).str.lower().to_numpy(object)
        plat_sku = sku_ids(p, idx if p is not P.POS else s, sk["barcode"].to_numpy(object))
        frames.append(
            pd.DataFrame(
                {
                    "listing": idx,
                    "pair": lp,
                    "platform": p.value,
                    "pidx": pi,
                    "shop_id": active["shop_id"].to_numpy(object)[ls],
                    "slot": ls,
                    "sku": s,
                    "sku_id": sk["sku_id"].to_numpy(object),
                    "platform_item_id": item_ids(p, item_idx + offset),
                    "platform_sku_id": plat_sku,
                    "outer_sku_code": outer,
                    "title": title,
                    "mapped": mapped,
                    "delisted": rng.random(m) < 0.03,
                }
            )
        )
        offset += m
    listings = pd.concat(frames, ignore_index=True)
    total = weights.sum(axis=1, keepdims=True)
    cum = np.cumsum(weights / np.where(total > 0, total, 1.0), axis=1)
    cum[:, -1] = 1.0
    return listings, pair_listing, cum


def _titles(rng: np.random.Generator, p: Platform, sk: pd.DataFrame) -> np.ndarray:
    template = _TITLE[p]
    name = sk["name"].str.replace(BRAND, "", regex=False).to_numpy(object)
    pdd = np.where(rng.random(len(sk)) < 0.5, "百亿补贴", "官方正品")
    parts = template.replace("{", "|{").replace("}", "}|").split("|")
    values = {
        "{brand}": BRAND,
        "{en}": BRAND_EN,
        "{name}": name,
        "{claim}": sk["claim"].to_numpy(object),
        "{spec}": sk["spec"].to_numpy(object),
        "{pdd}": pdd,
    }
    return cat(*[values.get(part, part) for part in parts if part])


def _promotions(
    rng: np.random.Generator,
    skus: pd.DataFrame,
    pairs: pd.DataFrame,
    platforms: list[Platform],
    windows: list[PromoWindow],
    price_day: np.ndarray,
    price_fen: np.ndarray,
    days: int,
    planned: list[PromoWindow],
) -> pd.DataFrame:
    """Calendar promotions (a share of each platform's pairs join) and shops' own deals,
    then the calendar promotions planned after the world's end (drawn last, so the world's
    own draws do not depend on them)."""
    vel = skus["velocity"].to_numpy()[pairs["sku"].to_numpy()]
    joins = np.select([vel == "fast", vel == "regular", vel == "slow"], [1.2, 1.0, 0.5], 0.25)
    plat = pairs["pidx"].to_numpy()

    def calendar(w: PromoWindow) -> pd.DataFrame | None:
        if w.platform not in platforms:
            return None
        rows = np.flatnonzero(plat == platforms.index(w.platform))
        share = w.participation * (0.5 if w.platform is P.POS else 1.0)
        rows = rows[rng.random(len(rows)) < share * joins[rows]]
        if not len(rows):
            return None
        return pd.DataFrame(
            {
                "pair": rows,
                "first_day": w.first_day,
                "last_day": w.last_day,
                "discount": rng.uniform(*w.discount, len(rows)),
                "name": w.name,
                "promo_id": f"HD{w.year}{w.key.upper()}",
                "key": w.key,
            }
        )

    frames = [f for f in map(calendar, windows) if f is not None]
    # shops' own short deals: about two a year for sellers, fewer for the long tail
    k = len(pairs)
    lam = np.select([vel == "fast", vel == "regular"], [3.0, 2.0], 0.6) * days / 365
    if P.POS in platforms:  # stores run few deals of their own (and write one row per store)
        lam = np.where(plat == platforms.index(P.POS), lam * 0.25, lam)
    count = rng.poisson(lam)
    pair = np.repeat(np.arange(k), count)
    m = len(pair)
    first = rng.integers(0, max(1, days - 2), m)
    length = rng.integers(2, 10, m)
    names = np.empty(m, dtype=object)
    for pi, p in enumerate(platforms):
        here = plat[pair] == pi
        choices = np.array(_DEAL_NAMES[p], dtype=object)
        names[here] = choices[rng.integers(0, len(choices), int(here.sum()))]
    frames.append(
        pd.DataFrame(
            {
                "pair": pair,
                "first_day": first,
                "last_day": np.minimum(first + length, days - 1),
                "discount": rng.uniform(0.08, 0.25, m),
                "name": names,
                "promo_id": "D" + zpad(np.arange(m) * 7 + 1_000_003, 9),
                "key": "deal",
            }
        )
    )
    frames += [f for f in map(calendar, planned) if f is not None]
    promos = pd.concat(frames, ignore_index=True)
    pair_arr = promos["pair"].to_numpy()
    shelf = price_on_arrays(price_day, price_fen, pair_arr, promos["first_day"].to_numpy())
    price = _round_price(shelf * (1 - promos["discount"].to_numpy()))
    promos["price_fen"] = np.maximum(np.minimum(price, shelf - 100), 90)
    return promos


def price_on_arrays(
    price_day: np.ndarray, price_fen: np.ndarray, pair: np.ndarray, day: np.ndarray
) -> np.ndarray:
    seg = (day[:, None] >= price_day[pair]).sum(axis=1)
    return price_fen[pair, seg]
