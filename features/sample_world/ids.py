"""Identifiers in each platform's own style, unique and vectorised.

An id is ``prefix + unique part + filler digits``: the unique part is an affine bijection
of a running counter (so ids never collide yet do not look sequential); the filler digits
are a hash of the counter, so the same account or order always gets the same id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schema.vocab import Platform

P = Platform

# (prefix, random digits after the 9-digit unique part); "hex" = 24 hex chars (Mongo-style)
_USER = {
    P.TMALL: ("tb", 1),
    P.JD: ("jd_", 3),
    P.PINDUODUO: ("", 1),
    P.DOUYIN: ("", 6),
    P.KUAISHOU: ("", 1),
    P.XIAOHONGSHU: ("hex", 0),
    P.MINIPROGRAM: ("openid", 0),
    P.POS: ("VIP", 0),
}
_ORDER = {
    P.TMALL: ("2", 9),
    P.JD: ("3", 2),
    P.PINDUODUO: ("date-", 6),
    P.DOUYIN: ("69", 8),
    P.KUAISHOU: ("2", 6),
    P.XIAOHONGSHU: ("P7", 8),
    P.MINIPROGRAM: ("WXdate", 0),
    P.POS: ("store-date", 0),
}
_OWN_LINE_IDS = {P.TMALL: ("3", 9), P.DOUYIN: ("68", 8), P.KUAISHOU: ("1", 6)}
_ITEM = {
    P.TMALL: ("6", 2),
    P.JD: ("100", 0),
    P.PINDUODUO: ("5", 1),
    P.DOUYIN: ("36", 8),
    P.KUAISHOU: ("2", 1),
    P.XIAOHONGSHU: ("hex", 0),
    P.MINIPROGRAM: ("SPU", 0),
    P.POS: ("", 0),
}
_SKU = {
    P.TMALL: ("5", 3),
    P.JD: ("1000", 0),
    P.PINDUODUO: ("1", 2),
    P.DOUYIN: ("17", 2),
    P.KUAISHOU: ("3", 1),
    P.XIAOHONGSHU: ("hex", 0),
    P.MINIPROGRAM: ("M", 0),
    P.POS: ("barcode", 0),
}
_SESSION = {
    P.TMALL: ("TB", 6),
    P.JD: ("JD", 4),
    P.PINDUODUO: ("PDD", 5),
    P.DOUYIN: ("DY", 6),
    P.KUAISHOU: ("KS", 5),
    P.XIAOHONGSHU: ("XHS", 4),
    P.MINIPROGRAM: ("MP", 4),
    P.POS: ("POS", 0),
}

_MOD = 10**9
_B62 = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"))


def _salt(platform: Platform, base: int) -> int:
    return base + 101 * list(Platform).index(platform)


def scramble(idx: np.ndarray, salt: int) -> np.ndarray:
    """A bijection of 0 … 10⁹−1: unique inputs give unique, unordered-looking outputs."""
    a = 387_420_489 + 20 * (salt % 97)  # 3¹⁸ + 20k stays odd and ≡ 4 (mod 5): coprime to 10⁹
    b = (salt * 7_919_993) % _MOD
    return (a * (np.asarray(idx, dtype=np.int64) % _MOD) + b) % _MOD


def zpad(values: np.ndarray, width: int) -> pd.Series:
    """Non-negative integers below ``10**width`` as zero-padded text."""
    v = np.asarray(values, dtype=np.int64)
    if len(v) and (v.min() < 0 or v.max() >= 10**width):
        raise ValueError(f"zpad: values must be in [0, 10**{width}).")
    text = np.strings.slice((v + 10**width).astype(str), 1, None)
    return pd.Series(text.astype(object), dtype=object)


def hash_u64(x: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 of ``x`` and ``salt``: a reproducible pseudo-random uint64 per input."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_uniform(x: np.ndarray, salt: int) -> np.ndarray:
    """Reproducible uniforms in [0, 1) from integers (the same input, the same number)."""
    return (hash_u64(x, salt) >> np.uint64(11)).astype(np.float64) / float(2**53)


def _filler(idx: np.ndarray, salt: int, k: int) -> pd.Series | str:
    if k <= 0:
        return ""
    return zpad((hash_u64(idx, salt) % np.uint64(10**k)).astype(np.int64), k)


def _hex24(idx: np.ndarray, salt: int) -> pd.Series:
    stamp = 0x5F000000 + (hash_u64(idx, salt + 1) % np.uint64(0x07000000)).astype(np.int64)
    unique = scramble(idx, salt)
    tail = (hash_u64(idx, salt + 2) % np.uint64(16**7)).astype(np.int64)
    return (
        pd.Series(stamp).map("{:08x}".format)
        + pd.Series(unique).map("{:09x}".format)
        + pd.Series(tail).map("{:07x}".format)
    )


def _styled(style: tuple[str, int], idx: np.ndarray, salt: int) -> pd.Series:
    prefix, extra = style
    idx = np.asarray(idx, dtype=np.int64)
    if prefix == "hex":
        return _hex24(idx, salt)
    if prefix == "openid":
        h = hash_u64(idx, salt + 3)
        picks = [(h >> np.uint64(6 * j)) % np.uint64(64) for j in range(10)]
        chars = _B62[np.stack(picks, axis=1).astype(np.int64)] if len(idx) else np.empty((0, 10))
        body = pd.Series(chars.astype("<U1").view("<U10").ravel() if len(idx) else [], dtype=object)
        return "o" + pd.Series(scramble(idx, salt)).map("{:09x}".format) + "-" + body
    return prefix + zpad(scramble(idx, salt), 9) + _filler(idx, salt, extra)


def user_ids(platform: Platform, idx: np.ndarray) -> np.ndarray:
    """Account ids (会员名, uid, openid …) for account numbers ``idx`` (unique per platform)."""
    # each platform its own salt: the same account number must not give look-alike ids
    return np.asarray(_styled(_USER[platform], idx, _salt(platform, 11)), dtype=object)


def order_ids(
    platform: Platform,
    idx: np.ndarray,
    yymmdd: np.ndarray,
    store_code: np.ndarray | None = None,
) -> np.ndarray:
    """Order ids for order numbers ``idx``; ``yymmdd`` (per order) for date-stamped styles."""
    prefix, extra = _ORDER[platform]
    unique = zpad(scramble(idx, _salt(platform, 23)), 9)
    day = pd.Series(yymmdd, dtype=object)
    if prefix == "date-":
        out = day + "-" + _filler(idx, 29, extra) + unique
    elif prefix == "WXdate":
        out = "WX20" + day + unique
    elif prefix == "store-date":
        codes = pd.Series(store_code if store_code is not None else "S", dtype=object)
        out = codes + "20" + day + unique
    else:
        out = prefix + unique + _filler(idx, 29, extra)
    return np.asarray(out, dtype=object)


def line_ids(
    platform: Platform, idx: np.ndarray, order_id: np.ndarray, line_no: np.ndarray
) -> np.ndarray:
    """Order-line ids: the platform's own sub-order numbers, or ``order-lineNo``."""
    if platform in _OWN_LINE_IDS:
        return np.asarray(_styled(_OWN_LINE_IDS[platform], idx, _salt(platform, 31)), dtype=object)
    if platform is P.POS:  # a receipt numbers its lines 1, 2, …
        return np.asarray(pd.Series(line_no).astype(str), dtype=object)
    return np.asarray(
        pd.Series(order_id, dtype=object) + "-" + pd.Series(line_no).astype(str), dtype=object
    )


def item_ids(platform: Platform, idx: np.ndarray) -> np.ndarray:
    """Platform item (SPU) ids."""
    if platform is P.POS:
        return np.full(len(idx), None, dtype=object)
    return np.asarray(_styled(_ITEM[platform], idx, _salt(platform, 41)), dtype=object)


def sku_ids(platform: Platform, idx: np.ndarray, barcode: np.ndarray) -> np.ndarray:
    """Platform SKU ids (POS tills scan the barcode)."""
    if platform is P.POS:
        return np.asarray(barcode, dtype=object)
    return np.asarray(_styled(_SKU[platform], idx, _salt(platform, 53)), dtype=object)


def session_ids(platform: Platform, idx: np.ndarray) -> np.ndarray:
    """Customer-service session ids."""
    return np.asarray(_styled(_SESSION[platform], idx, _salt(platform, 67)), dtype=object)
