"""Order lines month by month: demand → orders → stock → statuses, all vectorised.

For each month: draw line counts per SKU × platform × day around λ (:mod:`.demand`), spread
them over the platform's shops, group them into orders, give each order a buyer (a member
account or a passing buyer), a receiver, a time of day and a shipping warehouse, then walk
the days through :class:`~.stock.Stock` (a sold-out SKU takes no orders) and settle statuses
(recent orders paid or shipped, some cancelled, refunded or returned) and money.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sample_world.assortment import Assortment, Shops
from features.sample_world.catalog import Catalog
from features.sample_world.demand import DemandModel, MonthDemand
from features.sample_world.geo import WAREHOUSES, Gazetteer, cat, streets_from_uniforms
from features.sample_world.ids import hash_uniform, line_ids, order_ids, user_ids
from features.sample_world.people import mask_phone, name_pools
from features.sample_world.stock import Stock
from features.schema.vocab import Platform

P = Platform
logger = logging.getLogger(__name__)

_MEMBER_SHARE = {
    P.TMALL: 0.35,
    P.JD: 0.35,
    P.PINDUODUO: 0.25,
    P.DOUYIN: 0.3,
    P.KUAISHOU: 0.3,
    P.XIAOHONGSHU: 0.35,
    P.MINIPROGRAM: 0.6,
    P.POS: 0.45,
}
_CANCEL = {
    P.TMALL: 0.05,
    P.JD: 0.04,
    P.PINDUODUO: 0.06,
    P.DOUYIN: 0.08,
    P.KUAISHOU: 0.08,
    P.XIAOHONGSHU: 0.05,
    P.MINIPROGRAM: 0.05,
    P.POS: 0.0,
}
_REFUND_BEFORE_SHIPPING = {
    P.TMALL: 0.015,
    P.JD: 0.012,
    P.PINDUODUO: 0.03,
    P.DOUYIN: 0.03,
    P.KUAISHOU: 0.03,
    P.XIAOHONGSHU: 0.02,
    P.MINIPROGRAM: 0.01,
    P.POS: 0.0,
}
_RETURN = {
    P.TMALL: 0.04,
    P.JD: 0.03,
    P.PINDUODUO: 0.06,
    P.DOUYIN: 0.09,
    P.KUAISHOU: 0.09,
    P.XIAOHONGSHU: 0.05,
    P.MINIPROGRAM: 0.03,
    P.POS: 0.01,
}
_COUPON = {
    P.TMALL: 0.3,
    P.JD: 0.3,
    P.PINDUODUO: 0.45,
    P.DOUYIN: 0.35,
    P.KUAISHOU: 0.35,
    P.XIAOHONGSHU: 0.25,
    P.MINIPROGRAM: 0.4,
    P.POS: 0.0,
}
_REGION_TILT = {
    P.PINDUODUO: {"华中": 1.35, "西南": 1.3, "华东": 0.8},
    P.KUAISHOU: {"东北": 1.8, "华北": 1.3, "华东": 0.8},
    P.XIAOHONGSHU: {"华东": 1.3, "华南": 1.2},
    P.JD: {"华北": 1.3},
}
_HOURS_ONLINE = (
    3,
    1.5,
    0.8,
    0.4,
    0.3,
    0.4,
    0.8,
    1.5,
    2.5,
    4,
    5,
    5,
    4.5,
    4,
    4.5,
    4.5,
    4.5,
    4.5,
    4.5,
    5,
    6,
    7,
    7,
    5,
)
_HOURS_LIVE = (
    3,
    1.5,
    0.8,
    0.4,
    0.3,
    0.3,
    0.5,
    1,
    1.5,
    2,
    2.5,
    3,
    3,
    2.5,
    2.5,
    2.5,
    2.5,
    3,
    4,
    6.5,
    9,
    10,
    9,
    6,
)
_HOURS_POS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 5, 4, 4, 5, 6, 7, 8, 8, 6, 3, 0, 0)
_MULTI_BUY = {"PP": 0.35, "HH": 0.3, "LD": 0.3, "OC": 0.3}  # share of lines with 2+ units
_STATUS = np.array(["completed", "shipped", "paid", "cancelled", "pending_payment"], dtype=object)
_COMPLETED, _SHIPPED, _PAID, _CANCELLED, _PENDING = range(5)
_OVERSELL_DAYS = 10  # viral SKUs oversell in the world's last days
_SYNC_BREAKS = 22  # days before the end when some SKUs' platform stock stops syncing


@dataclass(frozen=True, slots=True)
class ChannelShape:
    """What a platform's order export holds, read from its adapter's contract."""

    masks_phones: bool
    split_address: bool  # province and city in their own columns


@dataclass(slots=True)
class MonthOutput:
    """One month of the world: order lines per platform (unified fields, built as they are
    iterated), stock snapshots, and a sample of the orders (filled while ``orders`` is
    iterated) for the chat generator."""

    label: str  # YYYYMM
    orders: Iterator[tuple[Platform, pd.DataFrame]]
    inventory: pd.DataFrame
    samples: list[pd.DataFrame]


class SalesSimulation:
    """Runs the world's months in order (the stock carries from one month to the next)."""

    def __init__(
        self,
        rng: np.random.Generator,
        catalog: Catalog,
        shops: Shops,
        assortment: Assortment,
        demand: DemandModel,
        accounts: pd.DataFrame,
        platforms: list[Platform],
        shapes: dict[Platform, ChannelShape],
        start: dt.date,
        days: int,
        gaz: Gazetteer,
        n_warehouses: int,
        snapshot_days: np.ndarray,
        oversell_pairs: np.ndarray,
        n_oversell: int,
        samples_per_month: int,
    ) -> None:
        self.rng, self.catalog, self.assortment, self.demand = rng, catalog, assortment, demand
        self.platforms, self.shapes, self.start, self.days = platforms, shapes, start, days
        self.gaz = gaz
        self.warehouses = WAREHOUSES[:n_warehouses]
        self.snapshot_days = set(int(d) for d in snapshot_days)
        self.samples_per_month = samples_per_month
        skus = catalog.skus
        pairs = assortment.pairs
        self.pair_sku = pairs["sku"].to_numpy()
        self.pair_plat = pairs["pidx"].to_numpy()
        self.multi_buy = skus["cat_code"].map(_MULTI_BUY).fillna(0.15).to_numpy(float)
        # from this day on a pair sells although its stock is gone (platform stock not synced)
        self.oversell_from = np.full(len(pairs), days + 1, dtype=np.int64)
        self.oversell_from[oversell_pairs] = days - _OVERSELL_DAYS
        self.n_oversell = n_oversell
        self.sync_broken = False
        self.stocktake: tuple[int, np.ndarray] = (days + 1, np.zeros(0, dtype=np.int64))
        # from this day on a SKU's stock is pulled into the central warehouse and ships
        # from there (transfers to follow a hot item); viral SKUs are pooled
        self.pool_from = np.full(len(skus), days + 1, dtype=np.int64)
        self.wh_of_place = gaz.warehouse_of(list(self.warehouses))
        self.place_cdf = {p: _tilted_cdf(gaz, _REGION_TILT.get(p, {})) for p in platforms}
        self._setup_shops(shops)
        self._setup_accounts(accounts)
        self._setup_listings()
        self.stock = self._setup_stock(rng, skus)
        days_text = pd.date_range(start, periods=days, freq="D").strftime("%y%m%d")
        self.yymmdd = np.asarray(days_text, dtype=object)
        self.order_counter = {p: 0 for p in platforms}
        self.line_counter = {p: 0 for p in platforms}
        self.anon_pool = {p: 1000 for p in platforms}
        self.peak_days = set()

    # -- setup --------------------------------------------------------------------------------

    def _setup_shops(self, shops: Shops) -> None:
        self.max_shops = self.assortment.pair_listing.shape[1]
        self.shop_ids: dict[int, np.ndarray] = {}
        self.store_wh: dict[int, np.ndarray] = {}
        self.store_place: dict[int, np.ndarray] = {}
        for pi, p in enumerate(self.platforms):
            active = shops.of(p)
            self.shop_ids[pi] = active["shop_id"].to_numpy(object)
            self.store_wh[pi] = active["wh"].to_numpy()
            self.store_place[pi] = active["place"].to_numpy()

    def _setup_accounts(self, accounts: pd.DataFrame) -> None:
        self.acc: dict[int, dict[str, np.ndarray]] = {}
        for pi, p in enumerate(self.platforms):
            a = accounts[accounts["platform"] == p.value]
            w = a["activity"].to_numpy(float)
            reg = (pd.to_datetime(a["registered_at"]) - self._utc0()).dt.total_seconds()
            self.acc[pi] = {
                "cdf": np.cumsum(w) / w.sum() if len(w) else np.array([1.0]),
                "reg_s": reg.to_numpy(float) + 8 * 3600,  # local seconds since day 0
                "id": a["platform_user_id"].to_numpy(object),
                "name": a["recv_name"].to_numpy(object),
                "phone": a["recv_phone"].to_numpy(object),
                "place": a["recv_place"].to_numpy().astype(np.int64),
                "line": a["recv_line"].to_numpy(object),
            }

    def _setup_listings(self) -> None:
        lst = self.assortment.listings
        self.l_cols = {
            c: lst[c].to_numpy(object)
            for c in (
                "shop_id",
                "sku_id",
                "platform_item_id",
                "platform_sku_id",
                "outer_sku_code",
                "title",
            )
        }

    def _setup_stock(self, rng: np.random.Generator, skus: pd.DataFrame) -> Stock:
        n, w = len(skus), len(self.warehouses)
        vel = skus["velocity"].to_numpy()
        stocked = np.zeros((n, w), bool)
        # every SKU sits in the central warehouse; fast movers in all, the rest in some
        share = np.select([vel == "fast", vel == "regular", vel == "slow"], [1.0, 0.55, 0.2], 0.0)
        stocked[:, 1:] = rng.random((n, w - 1)) < share[:, None]
        stocked[:, 0] = True
        self.stocked = stocked
        # expected units per SKU × warehouse at the start, from the first four weeks of demand
        first = self.demand.month(0, min(28, self.days)).lam.mean(axis=1) * 1.3
        share = self._warehouse_share()
        units = np.zeros((n, w))
        np.add.at(units, self.pair_sku, first[:, None] * share[self.pair_plat])
        units[:, 0] += np.where(~stocked, units, 0).sum(axis=1)
        units[~stocked] = 0
        transit = np.array([0, 2, 2, 3, 2, 4][:w])
        return Stock(rng, skus, stocked, units, self.days, transit)

    def _warehouse_share(self) -> np.ndarray:
        w = len(self.warehouses)
        out = np.zeros((len(self.platforms), w))
        for pi, p in enumerate(self.platforms):
            if p is P.POS:
                np.add.at(out[pi], np.maximum(self.store_wh[pi], 0), 1.0)
            else:
                pdf = np.diff(np.r_[0.0, self.place_cdf[p]])
                np.add.at(out[pi], self.wh_of_place, pdf)
        return out / out.sum(axis=1, keepdims=True)

    def pause(self, sku: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        """Stop reordering ``sku`` in every warehouse that stocks it, ``first``…``last``."""
        slots = self.stock.slot_of[sku]
        ok = slots >= 0
        rows = np.nonzero(ok)
        self.stock.pause(slots[ok], np.asarray(first)[rows[0]], np.asarray(last)[rows[0]])

    def _utc0(self) -> pd.Timestamp:
        return pd.Timestamp(self.start) - pd.Timedelta(hours=8)

    # -- months -------------------------------------------------------------------------------

    def months(self, months: list[tuple[int, int]], peak_days: np.ndarray) -> Iterator[MonthOutput]:
        """Simulate ``months`` (day ranges) in order, yielding each one's output."""
        self.peak_days = set(int(d) for d in peak_days)
        for d0, d1 in months:
            yield self._month(d0, d1)

    def _month(self, d0: int, d1: int) -> MonthOutput:
        rng = self.rng
        if not self.sync_broken and d1 > self.days - _SYNC_BREAKS:
            self._break_stock_sync(d0, max(d0, self.days - _SYNC_BREAKS))
        md = self.demand.month(d0, d1)
        counts = self.demand.draw(rng, md.lam)
        m = d1 - d0
        flat = counts.reshape(-1)
        nz = np.flatnonzero(flat)
        cell = np.repeat(nz, flat[nz])
        del counts, flat
        pair = cell // m
        day = d0 + cell % m
        n = len(cell)
        # shop: by the shops' weights among those listing the pair
        slot = (rng.random(n)[:, None] > self.assortment.pair_shop_cum[pair]).sum(axis=1)
        slot = np.minimum(slot, self.max_shops - 1)
        listing = self.assortment.pair_listing[pair, slot]
        missing = listing < 0
        slot[missing] = 0
        listing[missing] = self.assortment.pair_listing[pair[missing], 0]
        plat = self.pair_plat[pair]
        sku = self.pair_sku[pair]
        # orders: lines of one platform, shop and day, grouped at random (1.3 lines each)
        key = (plat * self.max_shops + slot) * self.days + day
        o = np.lexsort((rng.random(n), key))
        pair, day, slot, listing, plat, sku, key = (
            pair[o],
            day[o],
            slot[o],
            listing[o],
            plat[o],
            sku[o],
            key[o],
        )
        new = np.r_[True, key[1:] != key[:-1]] | (rng.random(n) < 0.75)
        order = np.cumsum(new) - 1
        first = np.flatnonzero(new)
        orders = self._orders(plat[first], slot[first], day[first])
        qty = self._quantities(sku, plat)
        # lines
        o_status = orders["status"][order]
        wh = orders["wh"][order]
        wh = np.where(self.stocked[sku, wh] & (day < self.pool_from[sku]), wh, 0)
        slot_g = self.stock.slot_of[sku, wh]
        refund = self._refund_kinds(plat, orders["age_h"][order], o_status)
        consumes = (o_status <= _PAID) & (refund != 1)
        keep, short = self._walk_stock(d0, d1, day, slot_g, qty, consumes, pair, refund)
        lines = {
            "pair": pair,
            "day": day,
            "listing": listing,
            "plat": plat,
            "sku": sku,
            "qty": qty,
            "order": order,
            "wh": wh,
            "refund": refund,
            "short": short,
            "status": o_status,
        }
        lines = {k: v[keep] for k, v in lines.items()}
        money = self._money(md, d0, lines, orders)
        samples: list[pd.DataFrame] = []

        def frames() -> Iterator[tuple[Platform, pd.DataFrame]]:
            # one platform's frame at a time: a month of the large world's strings is big
            for pi, p in enumerate(self.platforms):
                sel = lines["plat"] == pi
                if sel.any():
                    part = {k: v[sel] for k, v in lines.items()}
                    paid = {k: v[sel] for k, v in money.items()}
                    frame = self._frame(pi, p, part, paid, orders)
                    samples.append(self._sample(p, frame))
                    yield p, frame

        label = (self.start + dt.timedelta(days=d0)).strftime("%Y%m")
        return MonthOutput(
            label=label, orders=frames(), inventory=self._snapshots(), samples=samples
        )

    def _orders(self, plat: np.ndarray, slot: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
        """Per order: time, buyer, receiver, warehouse, status by age."""
        rng = self.rng
        n = len(plat)
        seconds = np.empty(n, dtype=np.int64)
        member = np.full(n, -1, dtype=np.int64)
        anon = np.full(n, -1, dtype=np.int64)
        place = np.zeros(n, dtype=np.int64)
        wh = np.zeros(n, dtype=np.int64)
        u = rng.random((n, 4))
        peak = np.isin(day, list(self.peak_days))
        for pi, p in enumerate(self.platforms):
            sel = np.flatnonzero(plat == pi)
            if not len(sel):
                continue
            hours = (
                _HOURS_POS
                if p is P.POS
                else _HOURS_LIVE
                if p in (P.DOUYIN, P.KUAISHOU)
                else _HOURS_ONLINE
            )
            cdf = np.cumsum(hours) / np.sum(hours)
            hour = np.searchsorted(cdf, u[sel, 0], side="right")
            if p is not P.POS:  # the big festivals open at midnight
                hour = np.where(peak[sel] & (u[sel, 1] < 0.3), 0, hour)
            seconds[sel] = day[sel] * 86400 + hour * 3600 + rng.integers(0, 3600, len(sel))
            acc = self.acc[pi]
            is_member = (u[sel, 2] < _MEMBER_SHARE[p]) & (len(acc["id"]) > 0)
            pick = np.minimum(np.searchsorted(acc["cdf"], rng.random(len(sel))), len(acc["id"]) - 1)
            if len(acc["id"]):
                is_member &= acc["reg_s"][np.maximum(pick, 0)] <= seconds[sel]
            member[sel] = np.where(is_member, pick, -1)
            pool = self.anon_pool[p] = max(self.anon_pool[p], int(len(sel) * 0.6))
            a = (pool * rng.random(len(sel)) ** 1.7).astype(np.int64) + len(acc["id"])
            anon[sel] = np.where(is_member, -1, a)
            if p is P.POS:
                store = slot[sel]
                place[sel] = self.store_place[pi][store]
                wh[sel] = self.store_wh[pi][store]
                anon[sel] = np.where(is_member | (u[sel, 3] < 0.6), -1, anon[sel])
            else:
                hashed = np.searchsorted(self.place_cdf[p], hash_uniform(a, 5 + pi))
                place[sel] = np.where(
                    is_member, acc["place"][np.maximum(pick, 0)] if len(acc["id"]) else 0, hashed
                )
                wh[sel] = self.wh_of_place[place[sel]]
        age_h = (self.days * 86400 - seconds) / 3600.0
        pos = plat == self.platforms.index(P.POS) if P.POS in self.platforms else np.zeros(n, bool)
        cancel_p = np.array([_CANCEL[p] for p in self.platforms])[plat]
        ship_h = np.where(pos, 0.0, rng.lognormal(np.log(18), 0.6, n))
        done_h = ship_h + np.where(pos, 0.0, rng.uniform(36, 96, n) + rng.uniform(24, 240, n))
        status = np.where(age_h < ship_h, _PAID, np.where(age_h < done_h, _SHIPPED, _COMPLETED))
        cancel = rng.random(n) < cancel_p
        status = np.where(cancel, np.where(age_h < 1.0, _PENDING, _CANCELLED), status)
        return {
            "plat": plat,
            "slot": slot,
            "day": day,
            "seconds": seconds,
            "member": member,
            "anon": anon,
            "place": place,
            "wh": wh,
            "age_h": age_h,
            "status": status,
        }

    def _quantities(self, sku: np.ndarray, plat: np.ndarray) -> np.ndarray:
        rng = self.rng
        n = len(sku)
        multi = self.multi_buy[sku]
        u = rng.random(n)
        qty = np.where(u < multi, 2 + rng.geometric(0.55, n) - 1, 1)
        if P.POS in self.platforms:
            qty = np.where(plat == self.platforms.index(P.POS), np.minimum(qty, 3), qty)
        return np.minimum(qty, 12).astype(np.int64)

    def _refund_kinds(self, plat: np.ndarray, age_h: np.ndarray, status: np.ndarray) -> np.ndarray:
        """0 none, 1 refund before shipping, 2 full return, 3 partial return, 4 requested,
        5 rejected."""
        rng = self.rng
        n = len(plat)
        pre = np.array([_REFUND_BEFORE_SHIPPING[p] for p in self.platforms])[plat]
        ret = np.array([_RETURN[p] for p in self.platforms])[plat]
        u = rng.random(n)
        kind = np.zeros(n, dtype=np.int8)
        live = status <= _PAID
        kind[live & (age_h > 24) & (u < pre)] = 1
        band = (u >= pre) & (u < pre + ret) & (status == _COMPLETED)
        kind[band] = np.where(rng.random(int(band.sum())) < 0.7, 2, 3)
        kind[(u >= pre + ret) & (u < pre + ret + 0.03) & (status == _SHIPPED)] = 4
        kind[(u >= pre + ret) & (u < pre + ret + 0.006) & (status == _COMPLETED)] = 5
        return kind

    def _walk_stock(
        self,
        d0: int,
        d1: int,
        day: np.ndarray,
        slot: np.ndarray,
        qty: np.ndarray,
        consumes: np.ndarray,
        pair: np.ndarray,
        refund: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(day)
        o = np.lexsort((slot, day))
        ds, gs, us, cs, ps = day[o], slot[o], qty[o], consumes[o], pair[o]
        returned = np.where(np.isin(refund[o], (2, 3)), np.where(refund[o] == 2, us, 1), 0)
        bounds = np.searchsorted(ds, np.arange(d0, d1 + 1))
        keep_s = np.zeros(n, bool)
        short_s = np.zeros(n, bool)
        start_dow = self.start.weekday()
        st = self.stock
        pooled = np.flatnonzero((self.pool_from[st.sku] < d1) & (st.wh != 0))
        to = st.slot_of[st.sku[pooled], 0]
        since = self.pool_from[st.sku[pooled]]
        for i, d in enumerate(range(d0, d1)):
            self.stock.open_day(d)
            if d == self.stocktake[0]:
                lost = np.isin(st.sku, self.stocktake[1])
                left = st.expected[lost] * self.rng.uniform(0.5, 3.0, int(lost.sum()))
                st.cancel_open_orders(np.flatnonzero(lost), d)  # the stuck supplier's too
                st.on_hand[lost] = np.minimum(st.on_hand[lost], np.round(left).astype(np.int64))
            if len(pooled):
                now = since <= d
                self.stock.transfer(pooled[now], to[now])
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                vs = self.oversell_from[ps[lo:hi]] <= d
                k, s = self.stock.sell(gs[lo:hi], us[lo:hi], cs[lo:hi], vs)
                keep_s[lo:hi], short_s[lo:hi] = k, s
                back = k & ~s & (returned[lo:hi] > 0)
                if back.any():
                    self.stock.returns(d, gs[lo:hi][back], returned[lo:hi][back])
            else:
                self.stock.no_sales()
            self.stock.close_day(d, (start_dow + d) % 7, d in self.snapshot_days)
        keep = np.empty(n, bool)
        short = np.empty(n, bool)
        keep[o], short[o] = keep_s, short_s
        return keep, short

    def _break_stock_sync(self, now: int, day: int) -> None:
        """Pick the SKUs whose platform stock stops syncing from ``day``: good sellers with
        little on order. A stock-take on ``day`` finds most of their stock gone (damaged,
        lost), their stock is pulled into one warehouse, reordering stays stuck, and from
        then on their platforms sell what is not there."""
        self.sync_broken = True
        st = self.stock
        n_sku = len(self.catalog.skus)
        rate = np.bincount(st.sku, weights=st.expected, minlength=n_sku)
        ordered = np.bincount(st.sku, weights=st.on_order, minlength=n_sku)
        taken = np.zeros(n_sku, bool)
        taken[self.pair_sku[self.oversell]] = True
        top = np.flatnonzero((rate >= np.quantile(rate, 0.85)) & ~taken)
        cand = top[np.argsort(ordered[top], kind="stable")][: 4 * self.n_oversell]
        pick = self.rng.choice(cand, min(self.n_oversell, len(cand)), replace=False)
        self.oversell_from[np.isin(self.pair_sku, pick)] = day
        self.pause(pick, np.full(len(pick), now), np.full(len(pick), self.days))
        self.pool(pick, np.full(len(pick), day))
        self.stocktake = (day, pick)

    @property
    def oversell(self) -> np.ndarray:
        """Pairs that oversell at some point (their platform stock stopped syncing)."""
        return self.oversell_from <= self.days

    def pool(self, sku: np.ndarray, first: np.ndarray) -> None:
        """Ship ``sku`` from the central warehouse from day ``first`` on, its stock with it."""
        self.pool_from[sku] = np.minimum(self.pool_from[sku], first)

    def _money(
        self, md: MonthDemand, d0: int, lines: dict[str, np.ndarray], orders: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        rng = self.rng
        pair, day, qty = lines["pair"], lines["day"] - d0, lines["qty"]
        shelf = md.shelf[pair, day]
        price = md.paid_price[pair, day]
        n = len(pair)
        coupon_p = np.array([_COUPON[p] for p in self.platforms])[lines["plat"]]
        coupon = np.where(rng.random(n) < coupon_p, rng.uniform(0.03, 0.12, n), 0.0)
        if P.POS in self.platforms:  # members get 5 % off in the stores
            is_pos = lines["plat"] == self.platforms.index(P.POS)
            coupon = np.where(is_pos & (orders["member"][lines["order"]] >= 0), 0.05, coupon)
        discount = (shelf - price) * qty + np.round(price * qty * coupon).astype(np.int64)
        paid = shelf * qty - discount
        kind = lines["refund"]
        returned = np.select([kind == 2, kind == 3], [qty, np.maximum(1, qty // 2)], 0)
        kind = np.where((kind == 3) & (qty < 2), 2, kind)
        returned = np.where(kind == 2, qty, returned)
        refund = np.select(
            [np.isin(kind, (1, 2)), kind == 3],
            [paid, np.round(paid * returned / np.maximum(qty, 1)).astype(np.int64)],
            0,
        )
        short = lines["short"]
        kind = np.where(short, 0, kind)
        refund = np.where(short, 0, refund)
        returned = np.where(short, 0, returned)
        status = _STATUS[lines["status"]].copy()
        status[np.isin(kind, (1, 2))] = "refunded"
        status[short] = "paid"
        refund_status = np.array(
            ["none", "refunded", "refunded", "refunded", "requested", "rejected"], dtype=object
        )[kind]
        return {
            "unit_price_fen": shelf,
            "paid_fen": paid,
            "discount_fen": discount,
            "refund_fen": refund,
            "returned_qty": returned,
            "status_text": status,
            "refund_status": refund_status,
        }

    def _frame(
        self,
        pi: int,
        p: Platform,
        lines: dict[str, np.ndarray],
        money: dict[str, np.ndarray],
        orders: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        o = lines["order"]
        uniq, o_rank = np.unique(o, return_inverse=True)
        numbers = self.order_counter[p] + np.arange(len(uniq))
        self.order_counter[p] += len(uniq)
        o_day = orders["day"][uniq]
        yymmdd = self.yymmdd[o_day]
        stores = None
        if p is P.POS:
            stores = np.array([f"S{j + 1:03d}" for j in range(self.max_shops)], object)[
                orders["slot"][uniq]
            ]
        oid = order_ids(p, numbers, yymmdd, stores)[o_rank]
        first_of = np.r_[True, o[1:] != o[:-1]]
        pos_in = np.arange(len(o)) - np.maximum.accumulate(np.where(first_of, np.arange(len(o)), 0))
        line_no = pos_in + 1
        lnum = self.line_counter[p] + np.arange(len(o))
        self.line_counter[p] += len(o)
        lid = line_ids(p, lnum, oid, line_no)
        utc0 = self._utc0()
        seconds = orders["seconds"][o]
        created = utc0 + pd.to_timedelta(seconds, unit="s")
        status = money["status_text"]
        paid_delay = self.rng.lognormal(np.log(40), 1.0, len(o)).astype(np.int64)
        paid_at = pd.Series(created + pd.to_timedelta(paid_delay, unit="s"))
        paid_at[np.isin(status, ("cancelled", "pending_payment"))] = pd.NaT
        buyer, recv = self._buyers(pi, p, orders, uniq)
        lst = lines["listing"]
        frame = pd.DataFrame(
            {
                "order_id": oid,
                "line_id": lid,
                "shop_id": self.l_cols["shop_id"][lst],
                "buyer_id": buyer[o_rank],
                "title": self.l_cols["title"][lst],
                "platform_item_id": self.l_cols["platform_item_id"][lst],
                "platform_sku_id": self.l_cols["platform_sku_id"][lst],
                "outer_sku_code": self.l_cols["outer_sku_code"][lst],
                "sku_id": self.l_cols["sku_id"][lst],
                "quantity": lines["qty"],
                "unit_price_fen": money["unit_price_fen"],
                "paid_fen": money["paid_fen"],
                "discount_fen": money["discount_fen"],
                "status": status,
                "refund_status": money["refund_status"],
                "refund_fen": money["refund_fen"],
                "returned_qty": money["returned_qty"],
                "created_at": created.to_numpy(),
                "paid_at": paid_at.to_numpy(),
                **{k: v[o_rank] for k, v in recv.items()},
                "warehouse_id": np.array([w[0] for w in self.warehouses], object)[lines["wh"]],
            }
        )
        # as the back office lists them: by creation time, an order's lines together
        order = np.lexsort((line_no, o_rank, seconds))
        return frame.take(order).reset_index(drop=True)

    def _buyers(
        self, pi: int, p: Platform, orders: dict[str, np.ndarray], uniq: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Buyer ids and receivers of orders ``uniq`` of platform ``p``."""
        acc = self.acc[pi]
        member = orders["member"][uniq]
        anon = orders["anon"][uniq]
        place = orders["place"][uniq]
        is_m = member >= 0
        m = np.maximum(member, 0)
        n = len(uniq)
        buyer = np.full(n, None, dtype=object)
        if len(acc["id"]):
            buyer[is_m] = acc["id"][m[is_m]]
        has_anon = anon >= 0
        buyer[has_anon] = user_ids(p, anon[has_anon])
        if p is P.POS:
            return buyer, {}
        pools = name_pools()
        key = np.maximum(anon, 0)
        h = [hash_uniform(key, 100 + j) for j in range(16)]
        sur = np.minimum(np.searchsorted(np.cumsum(pools.surname_p), h[0]), len(pools.surname) - 1)
        female = h[1] < 0.62
        lo = np.where(female, pools.n_male, 0)
        span = np.where(female, len(pools.given) - pools.n_male, pools.n_male)
        g1 = lo + (h[2] * span).astype(np.int64)
        g2 = np.where(h[3] < 0.72, lo + (h[4] * span).astype(np.int64), -1)
        name = cat(
            pools.surname[sur],
            pools.given[g1],
            np.where(g2 >= 0, pools.given[np.maximum(g2, 0)], ""),
        )
        phone = cat(
            np.array([138, 139, 136, 158, 159, 186, 187, 135, 150, 177, 189, 199])[
                (h[5] * 12).astype(int)
            ],
            pd.Series((h[6] * 1e8).astype(np.int64)).astype(str).str.zfill(8).to_numpy(object),
        )
        street = streets_from_uniforms(np.stack(h[7:16], axis=1))
        line = cat(
            street.road,
            street.number,
            "号",
            street.community,
            street.building,
            "号楼",
            street.unit,
            "单元",
            street.room,
            "室",
        )
        if len(acc["id"]):
            name = np.where(is_m, acc["name"][m], name)
            phone = np.where(is_m, acc["phone"][m], phone)
            line = np.where(is_m, acc["line"][m], line)
        if self.shapes[p].masks_phones:
            phone = mask_phone(phone)
        gaz = self.gaz
        prov, city, dist = gaz.province[place], gaz.city[place], gaz.district[place]
        if self.shapes[p].split_address:
            address = cat(dist, line)
        else:
            address = cat(prov, " ", city, " ", dist, " ", line)
        recv = {
            "receiver_name": name,
            "receiver_phone": phone,
            "receiver_province": prov,
            "receiver_city": city,
            "receiver_address": address,
        }
        return buyer, recv

    def _sample(self, p: Platform, frame: pd.DataFrame) -> pd.DataFrame:
        """A few orders (first line of each) for customer-service chats about them."""
        firsts = frame.drop_duplicates("order_id")
        firsts = firsts[firsts["buyer_id"].notna()]
        k = min(len(firsts), self.samples_per_month)
        pick = np.sort(self.rng.choice(len(firsts), k, replace=False)) if k else []
        out = firsts.iloc[pick][
            [
                "order_id",
                "shop_id",
                "buyer_id",
                "title",
                "quantity",
                "paid_fen",
                "status",
                "refund_status",
                "created_at",
            ]
        ].copy()
        out.insert(0, "platform", p.value)
        return out

    def _snapshots(self) -> pd.DataFrame:
        snaps = self.stock.take_snapshots()
        if not snaps:
            return pd.DataFrame()
        st = self.stock
        n = st.n
        sku_id = self.catalog.skus["sku_id"].to_numpy(object)[st.sku]
        wh_id = np.array([w[0] for w in self.warehouses], object)[st.wh]
        dates = pd.Timestamp(self.start) + pd.to_timedelta([d for d, _, _ in snaps], unit="D")
        return pd.DataFrame(
            {
                "snapshot_date": np.repeat(dates.to_numpy(), n),
                "warehouse_id": np.tile(wh_id, len(snaps)),
                "sku_id": np.tile(sku_id, len(snaps)),
                "on_hand": np.concatenate([h for _, h, _ in snaps]),
                "reserved": np.concatenate([r for _, _, r in snaps]),
            }
        )


def _tilted_cdf(gaz: Gazetteer, tilt: dict[str, float]) -> np.ndarray:
    w = gaz.weight * np.array([tilt.get(r, 1.0) for r in gaz.region])
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return cdf
