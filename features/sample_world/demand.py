"""Expected daily order lines per SKU × platform: a product of readable factors.

``λ[k, d] = rate · share · season · calendar · weekday · trend · drift · life · price · viral``

* rate: the SKU's velocity (fast mover … intermittent long tail), share: its platform's part;
* season: a yearly cycle per product type (sun cream peaks in July, body lotion in winter);
* calendar: Spring Festival, 618, Double 11/12 … per platform (:mod:`.calendar`);
* weekday and trend: per platform (Douyin grows, Tmall slowly shrinks, shops fill at weekends);
* drift: a slow random walk of each SKU's popularity;
* life: ramp-up after a launch, zero after discontinuation;
* price: ``(price / base)^elasticity`` with an extra lift while a promotion runs;
* viral: a few SKUs take off on one platform in the last weeks.

Counts are drawn around λ from a negative binomial whose dispersion depends on velocity.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sample_world.assortment import Assortment
from features.sample_world.calendar import annual_season, event_traffic
from features.sample_world.catalog import Catalog
from features.schema.vocab import Platform

P = Platform

_WEEKLY_ONLINE = (1.07, 0.98, 0.95, 0.95, 0.9, 1.02, 1.13)  # Monday first
_WEEKLY = {
    P.DOUYIN: (0.93, 0.91, 0.93, 0.98, 1.06, 1.11, 1.08),
    P.KUAISHOU: (0.93, 0.91, 0.93, 0.98, 1.06, 1.11, 1.08),
    P.POS: (0.72, 0.72, 0.78, 0.85, 1.08, 1.52, 1.33),
}
_GROWTH = {
    P.TMALL: -0.06,
    P.JD: 0.0,
    P.PINDUODUO: 0.15,
    P.DOUYIN: 0.45,
    P.KUAISHOU: 0.12,
    P.XIAOHONGSHU: 0.5,
    P.MINIPROGRAM: 0.25,
    P.POS: -0.03,
}
_VIRAL_PLATFORMS = (P.DOUYIN, P.KUAISHOU, P.XIAOHONGSHU)


@dataclass(frozen=True, slots=True)
class Viral:
    """Pairs that go viral: the pair index, first day and peak multiplier."""

    pair: np.ndarray
    first_day: np.ndarray
    peak: np.ndarray


@dataclass(slots=True)
class MonthDemand:
    """Expected lines and prices of every pair over one month's days."""

    lam: np.ndarray  # [K, Dm] expected order lines
    shelf: np.ndarray  # [K, Dm] shelf price, fen
    paid_price: np.ndarray  # [K, Dm] price after the promotion running that day, fen
    promo_id: np.ndarray  # [K, Dm] index into the promotions table, -1 without one


class DemandModel:
    """Builds λ month by month (whole-world arrays would not fit for the large world)."""

    def __init__(
        self,
        rng: np.random.Generator,
        catalog: Catalog,
        assortment: Assortment,
        platforms: list[Platform],
        start: dt.date,
        days: int,
        n_viral: int,
    ) -> None:
        self.start, self.days, self.platforms = start, days, platforms
        self.assortment = assortment
        skus = catalog.skus
        pairs = assortment.pairs
        self.sku = pairs["sku"].to_numpy()
        self.plat = pairs["pidx"].to_numpy()
        self.p0 = pairs["p0"].to_numpy().astype(np.float32)
        self.base = (skus["rate"].to_numpy()[self.sku] * pairs["share"].to_numpy()).astype(
            np.float32
        )
        self.nb_size = skus["nb_size"].to_numpy()[self.sku].astype(np.float32)
        self.elasticity = skus["elasticity"].to_numpy()[self.sku].astype(np.float32)
        self.lift = skus["promo_lift"].to_numpy()[self.sku].astype(np.float32)
        self.launch = skus["launch_day"].to_numpy()
        self.end = skus["end_day"].to_numpy()
        self.peak = skus["season_peak"].to_numpy()
        self.amp = skus["season_amp"].to_numpy()
        self.scale = 1.0
        dow0 = start.weekday()
        self.dow = (dow0 + np.arange(days)) % 7
        weekly = np.array([_WEEKLY.get(p, _WEEKLY_ONLINE) for p in platforms], dtype=np.float32)
        t = (np.arange(days) - days / 2) / 365.0
        trend = np.exp(np.outer([_GROWTH[p] for p in platforms], t)).astype(np.float32)
        shock = rng.lognormal(0.0, 0.06, (len(platforms), days)).astype(np.float32)
        traffic = event_traffic(start, days, platforms)
        self.platform_day = traffic * trend * shock * weekly[:, self.dow]  # [P, D]
        # slow popularity drift per SKU: weekly AR(1) in logs
        weeks = days // 7 + 2
        eps = rng.normal(0.0, 0.08, (len(skus), weeks)).astype(np.float32)
        drift = np.zeros_like(eps)
        drift[:, 0] = rng.normal(0.0, 0.25, len(skus))
        for w in range(1, weeks):
            drift[:, w] = 0.95 * drift[:, w - 1] + eps[:, w]
        self.drift = np.exp(drift - drift.mean(axis=1, keepdims=True))
        self.viral = self._pick_viral(rng, skus, platforms, n_viral)
        promos = assortment.promos
        self.promo_pair = promos["pair"].to_numpy()
        self.promo_first = promos["first_day"].to_numpy()
        self.promo_last = promos["last_day"].to_numpy()
        self.promo_price = promos["price_fen"].to_numpy()

    def month(self, d0: int, d1: int) -> MonthDemand:
        """λ and prices for days ``d0 … d1-1``."""
        k = len(self.sku)
        m = d1 - d0
        dd = np.arange(d0, d1)
        season = annual_season(self.start + dt.timedelta(days=d0), m, self.peak, self.amp)
        lam = self.base[:, None] * season[self.sku]
        lam *= self.platform_day[:, d0:d1][self.plat]
        lam *= self.drift[self.sku[:, None], (dd // 7)[None, :]]
        age = dd[None, :] - self.launch[self.sku][:, None]
        life = np.where(age < 0, 0.0, 1.0 - np.exp(-(age + 1) / 14.0)).astype(np.float32)
        life[dd[None, :] >= self.end[self.sku][:, None]] = 0.0
        lam *= life
        a = self.assortment
        seg = (dd[None, :, None] >= a.price_day[:, None, :]).sum(axis=2)
        shelf = np.take_along_axis(a.price_fen, seg, axis=1).astype(np.int64)
        paid = shelf.copy()
        promo_id = np.full((k, m), -1, dtype=np.int64)
        on = (self.promo_first <= d1 - 1) & (self.promo_last >= d0)
        idx = np.flatnonzero(on)
        if len(idx):
            first = np.maximum(self.promo_first[idx], d0)
            last = np.minimum(self.promo_last[idx], d1 - 1)
            lengths = last - first + 1
            rep = np.repeat(np.arange(len(idx)), lengths)
            day = (
                first[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            )
            rows = self.promo_pair[idx][rep]
            price = np.minimum(self.promo_price[idx][rep], shelf[rows, day - d0] - 1)
            # where promotions overlap, the deepest one sets the price
            cell = rows * m + (day - d0)
            order = np.lexsort((price, cell))
            first = np.r_[True, cell[order][1:] != cell[order][:-1]]
            win = order[first]
            paid.reshape(-1)[cell[win]] = price[win]
            promo_id.reshape(-1)[cell[win]] = idx[rep][win]
        ratio = paid.astype(np.float32) / self.p0[:, None]
        lam *= np.power(ratio, self.elasticity[:, None])
        lam *= np.where(promo_id >= 0, self.lift[:, None], np.float32(1.0))
        v = self.viral
        if len(v.pair):
            t = np.maximum(0, dd[None, :] - v.first_day[:, None])
            boost = 1.0 + (v.peak[:, None] - 1.0) * (1.0 - np.exp(-t / 4.0))
            lam[v.pair] *= np.where(dd[None, :] >= v.first_day[:, None], boost, 1.0)
        lam *= np.float32(self.scale)
        return MonthDemand(lam=lam, shelf=shelf, paid_price=paid, promo_id=promo_id)

    def calibrate(self, months: list[tuple[int, int]], target_lines: float) -> float:
        """Set the overall scale so that the world has about ``target_lines`` order lines."""
        self.scale = 1.0
        total = sum(float(self.month(d0, d1).lam.sum(dtype=np.float64)) for d0, d1 in months)
        self.scale = target_lines / max(total, 1e-9)
        return self.scale

    def draw(self, rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
        """Order-line counts around ``lam`` (negative binomial, velocity-dependent dispersion)."""
        size = np.broadcast_to(self.nb_size[:, None], lam.shape)
        return rng.negative_binomial(size, size / (size + lam)).astype(np.int32)

    def _pick_viral(
        self, rng: np.random.Generator, skus: pd.DataFrame, platforms: list[Platform], n: int
    ) -> Viral:
        vel = skus["velocity"].to_numpy()[self.sku]
        ok = np.isin(vel, ["regular", "fast"]) & (self.launch[self.sku] < self.days - 60)
        ok &= self.end[self.sku] > self.days
        social = [platforms.index(p) for p in _VIRAL_PLATFORMS if p in platforms]
        preferred = ok & np.isin(self.plat, social) if social else ok
        cand = np.flatnonzero(preferred) if preferred.sum() >= 4 * n else np.flatnonzero(ok)
        # among the pairs that already sell a fair amount, one pair per SKU
        cand = cand[self.base[cand] >= np.quantile(self.base[cand], 0.6)] if len(cand) else cand
        _, first = np.unique(self.sku[cand], return_index=True)
        cand = cand[first]
        pick = rng.choice(cand, min(n, len(cand)), replace=False) if len(cand) else cand
        first_day = np.maximum(0, self.days - rng.integers(14, 36, len(pick)))
        # the platform's jump is big, and big enough to empty the SKU's warehouses
        sku_total = np.bincount(self.sku, weights=self.base, minlength=len(skus))[self.sku[pick]]
        peak = np.maximum(rng.uniform(7.0, 16.0, len(pick)), 3.0 * sku_total / self.base[pick])
        return Viral(pair=pick, first_day=first_day, peak=np.minimum(peak, 60.0))
