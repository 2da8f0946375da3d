"""The fictional brand's catalogue: categories, products and SKUs with their demand traits.

森屿 (Senyu) is a home & personal-care brand. Each category has product types with their
sizes, price band and season; each product has 1–4 SKUs (size, scent or pack). Every SKU gets
a velocity class (fast mover … intermittent long tail), a base rate, a price elasticity, a
launch date and, for a few, a discontinuation date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema.vocab import Platform

BRAND = "森屿"
BRAND_EN = "SENYU"

# category: (code, types, platform affinity tmall, jd, pdd, douyin, kuaishou, xhs, mini, pos)
# type: (name, sizes, base price yuan (low, high) for the first size, season peak doy, amp)
_CATEGORIES: tuple[tuple[str, str, tuple, tuple[float, ...]], ...] = (
    (
        "洗发护发",
        "HC",
        (
            ("氨基酸洗发水", ("300ml", "500ml", "750ml", "1L"), (39, 89), None, 0.0),
            ("控油蓬松洗发露", ("400ml", "600ml", "1L"), (45, 99), 200, 0.15),
            ("修护护发素", ("300ml", "500ml"), (39, 79), None, 0.0),
            ("发膜", ("200g", "500g"), (49, 129), None, 0.0),
            ("头皮精华液", ("50ml", "100ml"), (99, 229), None, 0.0),
        ),
        (1.2, 1.0, 0.9, 1.1, 0.7, 0.6, 0.5, 0.7),
    ),
    (
        "沐浴身体",
        "BD",
        (
            ("香氛沐浴露", ("400ml", "750ml", "1L"), (39, 89), 190, 0.2),
            ("身体乳", ("200ml", "400ml"), (59, 139), 360, 0.45),
            ("磨砂膏", ("200g", "350g"), (49, 109), 170, 0.2),
            ("护手霜", ("30ml", "50ml", "75ml"), (19, 49), 5, 0.5),
            ("香皂", ("100g", "3块装"), (12, 29), None, 0.0),
        ),
        (1.2, 0.9, 1.0, 1.2, 0.8, 0.8, 0.6, 0.9),
    ),
    (
        "面部护理",
        "SK",
        (
            ("氨基酸洁面乳", ("100g", "150g"), (59, 119), None, 0.0),
            ("保湿爽肤水", ("150ml", "300ml"), (79, 169), None, 0.0),
            ("烟酰胺精华液", ("30ml", "50ml"), (149, 329), None, 0.0),
            ("保湿面霜", ("50g",), (129, 299), 330, 0.25),
            ("补水面膜", ("5片装", "10片装"), (49, 129), None, 0.0),
            ("清爽防晒霜", ("40ml", "60ml"), (79, 159), 190, 0.7),
        ),
        (1.3, 0.8, 0.6, 1.5, 0.8, 1.6, 0.7, 1.0),
    ),
    (
        "口腔护理",
        "OC",
        (
            ("益生菌牙膏", ("120g", "180g", "3支装"), (19, 49), None, 0.0),
            ("软毛牙刷", ("2支装", "4支装"), (15, 39), None, 0.0),
            ("漱口水", ("250ml", "500ml"), (29, 59), None, 0.0),
            ("牙线棒", ("50支", "100支"), (12, 29), None, 0.0),
        ),
        (0.9, 1.3, 1.4, 0.8, 0.9, 0.3, 0.6, 0.5),
    ),
    (
        "家居清洁",
        "HH",
        (
            ("厨房油污净", ("500ml", "2瓶装"), (19, 39), 20, 0.25),
            ("洗洁精", ("1kg", "1.5kg", "2瓶装"), (12, 29), None, 0.0),
            ("地板清洁剂", ("1L", "2L"), (25, 55), 20, 0.2),
            ("除菌喷雾", ("300ml", "500ml"), (29, 59), 45, 0.2),
            ("驱蚊液", ("45ml", "3瓶装"), (25, 59), 200, 0.9),
        ),
        (0.8, 1.3, 1.6, 0.7, 1.0, 0.3, 0.8, 0.4),
    ),
    (
        "衣物洗护",
        "LD",
        (
            ("香氛洗衣液", ("1kg", "2kg", "3kg"), (29, 69), None, 0.0),
            ("洗衣凝珠", ("30颗", "52颗"), (39, 79), None, 0.0),
            ("衣物柔顺剂", ("1L", "2L"), (29, 59), 350, 0.2),
            ("内衣洗衣液", ("300ml", "500ml"), (25, 49), None, 0.0),
        ),
        (1.0, 1.2, 1.5, 0.9, 1.1, 0.3, 0.7, 0.4),
    ),
    (
        "纸品湿巾",
        "PP",
        (
            ("抽纸", ("6包", "12包", "24包"), (19, 49), None, 0.0),
            ("卷纸", ("10卷", "27卷"), (29, 69), None, 0.0),
            ("湿厕纸", ("40抽", "3包装"), (12, 35), 200, 0.2),
            ("洗脸巾", ("80抽", "3包装"), (15, 45), None, 0.0),
        ),
        (0.7, 1.1, 2.0, 0.8, 1.3, 0.2, 0.6, 0.3),
    ),
    (
        "香氛家居",
        "FR",
        (
            ("香薰蜡烛", ("200g", "礼盒装"), (89, 239), 345, 0.45),
            ("无火香薰", ("150ml", "250ml"), (79, 189), 345, 0.3),
            ("车载香薰", ("1个", "替换装"), (49, 129), None, 0.0),
            ("衣物香氛喷雾", ("100ml", "200ml"), (49, 99), 140, 0.15),
        ),
        (1.1, 0.6, 0.4, 1.3, 0.6, 1.8, 0.8, 1.6),
    ),
)

_SERIES = (
    "白茶",
    "山茶花",
    "海盐",
    "小苍兰",
    "雪松",
    "玫瑰",
    "柠檬",
    "薄荷",
    "竹炭",
    "樱花",
    "青柠",
    "茉莉",
    "鼠尾草",
    "乌木",
    "无花果",
    "栀子",
    "檀香",
    "蜜桃",
    "柚子",
    "积雪草",
    "茶树",
    "燕麦",
    "椰子",
    "橙花",
    "薰衣草",
    "苦橙",
    "琥珀",
    "绿茶",
    "依兰",
    "桂花",
)
_CLAIMS = {
    "HC": ("控油蓬松", "去屑止痒", "柔顺修护", "无硅油", "滋养发根", "清爽持久留香"),
    "BD": ("持久留香", "滋润保湿", "温和清洁", "去角质", "秋冬补水", "清爽不黏腻"),
    "SK": ("补水保湿", "舒缓修护", "温和不刺激", "提亮肤色", "敏感肌可用", "控油清爽"),
    "OC": ("清新口气", "亮白护龈", "温和低泡", "防蛀固齿", "深层清洁"),
    "HH": ("强力去污", "除菌99.9%", "温和不伤手", "植物配方", "家庭装"),
    "LD": ("持久留香", "深层洁净", "护色防串色", "除菌除螨", "低泡易漂"),
    "PP": ("原生木浆", "加厚柔韧", "母婴可用", "家庭装", "亲肤柔软"),
    "FR": ("持久扩香", "居家卧室", "生日礼物", "精油香氛", "送女友"),
}
_VARIANTS = ("", "", "", "Pro", "二代", "升级款", "经典款", "限定款")

#: velocity classes: name, share, log-rate mean, log-rate sd, NB size (dispersion)
_VELOCITY = (
    ("fast", 0.04, 3.0, 0.5, 8.0),
    ("regular", 0.36, 0.8, 0.6, 3.0),
    ("slow", 0.35, -1.0, 0.6, 1.5),
    ("intermittent", 0.25, -3.2, 0.5, 0.5),
)

CHANNELS = Platform.channels()


@dataclass(slots=True)
class Catalog:
    """Products and SKUs (one row per SKU) plus the category table."""

    skus: pd.DataFrame
    categories: pd.DataFrame  # code, name, affinity_<platform>...

    @property
    def n(self) -> int:
        return len(self.skus)


def build_catalog(rng: np.random.Generator, n_skus: int, days: int, start_ordinal: int) -> Catalog:
    """Draw a catalogue of about ``n_skus`` SKUs.

    Args:
        rng: the random stream.
        n_skus: target number of SKUs.
        days: length of the world, for launch and discontinuation days.
        start_ordinal: ``date.toordinal()`` of day 0, for launch dates.
    """
    cats = pd.DataFrame(
        [(code, name) for name, code, _, _ in _CATEGORIES], columns=["code", "name"]
    )
    for i, p in enumerate(CHANNELS):
        cats[f"aff_{p.value}"] = [c[3][i] for c in _CATEGORIES]
    types = [
        (ci, ti, t) for ci, (_, _, tlist, _) in enumerate(_CATEGORIES) for ti, t in enumerate(tlist)
    ]
    n_products = max(len(types), int(round(n_skus / 2.3)))
    # every type appears; the rest are drawn, skin care and hair care more often
    type_weight = np.array(
        [1.4 if _CATEGORIES[ci][1] in ("SK", "HC") else 1.0 for ci, _, _ in types]
    )
    drawn = rng.choice(len(types), n_products - len(types), p=type_weight / type_weight.sum())
    product_type = np.concatenate([np.arange(len(types)), drawn])
    rng.shuffle(product_type)
    n_sku_per = rng.choice([1, 2, 3, 4], n_products, p=[0.3, 0.3, 0.25, 0.15])
    rows = []
    seen: dict[str, int] = {}
    for pi, (ti, k) in enumerate(zip(product_type, n_sku_per, strict=True)):
        ci, _, (tname, sizes, (lo, hi), peak, amp) = types[ti]
        name, code = _CATEGORIES[ci][0], _CATEGORIES[ci][1]
        series = _SERIES[rng.integers(len(_SERIES))]
        base = f"{BRAND}{series}{tname}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        if count:
            base += _VARIANTS[3 + count % 5] if count < 5 else f"{count + 1}代"
        claim = _CLAIMS[code][rng.integers(len(_CLAIMS[code]))]
        price0 = float(rng.uniform(lo, hi))
        specs = _specs(sizes, int(k))
        product_id = f"SY{code}{1000 + pi:05d}"
        for si, (spec, scale) in enumerate(specs):
            rows.append(
                (
                    pi,
                    f"{product_id}-{si + 1:02d}",
                    product_id,
                    base,
                    name,
                    code,
                    spec,
                    claim,
                    _marketing_price(price0 * scale),
                    peak if peak is not None else 1,
                    amp,
                )
            )
    skus = pd.DataFrame(
        rows,
        columns=[
            "pidx",
            "sku_id",
            "product_id",
            "name",
            "category",
            "cat_code",
            "spec",
            "claim",
            "list_price_fen",
            "season_peak",
            "season_amp",
        ],
    )
    n = len(skus)
    skus["cat_idx"] = skus["cat_code"].map({c: i for i, c in enumerate(cats["code"])})
    skus["unit_cost_fen"] = (
        (skus["list_price_fen"] * rng.uniform(0.22, 0.42, n)).round().astype(np.int64)
    )
    skus["case_pack"] = rng.choice([6, 12, 12, 24, 24, 36, 48], n)
    skus["moq"] = skus["case_pack"] * rng.choice([2, 4, 5, 10], n)
    skus["lead_time_days"] = rng.choice([7, 10, 14, 14, 21, 30, 45], n)
    skus["barcode"] = _ean13(rng, n)
    # demand traits
    vel = rng.choice(len(_VELOCITY), n, p=[v[1] for v in _VELOCITY])
    skus["velocity"] = np.array([v[0] for v in _VELOCITY], dtype=object)[vel]
    mu = np.array([v[2] for v in _VELOCITY])[vel]
    sd = np.array([v[3] for v in _VELOCITY])[vel]
    skus["rate"] = np.exp(rng.normal(mu, sd)).astype(np.float64)
    skus["nb_size"] = np.array([v[4] for v in _VELOCITY])[vel]
    skus["elasticity"] = rng.uniform(-2.8, -1.2, n)
    skus["promo_lift"] = rng.uniform(1.1, 1.5, n)
    # launches: most SKUs sell from day 0, some appear during the world (whole products)
    launch = np.where(
        rng.random(n_products) < 0.14,
        rng.integers(30, max(31, days - 45), n_products),
        -rng.integers(60, 1500, n_products),
    )
    pidx = skus["pidx"].to_numpy()
    skus["launch_day"] = launch[pidx]
    end = np.where(
        rng.random(n_products) < 0.05,
        rng.integers(days // 3, max(days // 3 + 1, days - 30), n_products),
        days + 10_000,
    )
    skus["end_day"] = np.maximum(end[pidx], skus["launch_day"].to_numpy() + 60)
    skus["launched_on"] = pd.to_datetime(start_ordinal + skus["launch_day"] - 719163, unit="D")
    return Catalog(skus=skus, categories=cats)


def _specs(sizes: tuple[str, ...], k: int) -> list[tuple[str, float]]:
    """``k`` specs for one product: sizes of it, or scents/packs of one size."""
    out: list[tuple[str, float]] = []
    use = list(sizes[: min(k, len(sizes))])
    for i, size in enumerate(use):
        out.append((size, (1.0 + 0.55 * i)))
    while len(out) < k:
        extra = ("两件装", "三件装", "补充装", "礼盒装", "旅行装")[len(out) % 5]
        scale = {"两件装": 1.85, "三件装": 2.6, "补充装": 0.8, "礼盒装": 1.6, "旅行装": 0.45}[extra]
        out.append((f"{use[0]} {extra}", scale))
    return out


def _marketing_price(yuan: float) -> int:
    """A shelf price in fen that ends like Chinese shelf prices do (…9 or …9.9)."""
    if yuan < 30:
        return int(round(np.floor(yuan) + 0.9, 1) * 100)
    return int((np.floor(yuan / 10) * 10 + 9) * 100)


def _ean13(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique EAN-13 codes with the brand's 69x company prefix and a valid check digit."""
    body = (
        6_934_567_000_000 // 10 + rng.permutation(100_000)[:n].astype(np.int64)
        if n <= 100_000
        else (6_934_560_000_000 // 10 + rng.permutation(1_000_000)[:n].astype(np.int64))
    )
    digits = np.stack([(body // 10**k) % 10 for k in range(11, -1, -1)], axis=1)
    weights = np.array([1, 3] * 6)
    check = (10 - (digits * weights).sum(axis=1) % 10) % 10
    return (body * 10 + check).astype(str).astype(object)
