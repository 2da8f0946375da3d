"""``butler generate``: a realistic sample world written as every platform's own exports.

The world is one fictional home & personal-care brand selling on eight channels: its ERP
(shops, warehouses, SKUs, platform SKU mappings, daily stock, purchase orders), each
platform's orders, members, listings, promotions and customer-service chats. Ground truth
(which accounts are one person, which chats are risky, which SKUs went viral) goes under
``_truth/``, which ingest skips.

Stages: catalogue and shops → assortment, prices and promotions → persons and member
accounts → demand calibrated to the scale's order volume → month by month, orders and stock
→ the end state (purchase orders, listings, promotions) → chats → truth.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.adapters.base import PlatformAdapter
from features.adapters.registry import get_adapter
from features.sample_world import chats as chat_gen
from features.sample_world.assortment import Assortment, Shops, build_assortment, build_shops
from features.sample_world.calendar import peak_days, promo_windows
from features.sample_world.catalog import BRAND, Catalog, build_catalog
from features.sample_world.demand import DemandModel
from features.sample_world.exports import ExportWriter
from features.sample_world.geo import WAREHOUSES, Gazetteer
from features.sample_world.people import build_people, mask_phone
from features.sample_world.sales import ChannelShape, SalesSimulation
from features.sample_world.tables import (
    listings_frame,
    promotions_frame,
    purchase_orders_frame,
)
from features.sample_world.truth import write_truth
from features.schema.vocab import ExportKind, Platform

logger = logging.getLogger(__name__)

Scale = Literal["small", "medium", "large"]
K = ExportKind

#: Days after the world's end whose calendar promotions are already planned and exported.
PLANNED_DAYS = 91


@dataclass(frozen=True, slots=True)
class _ScaleSpec:
    skus: int
    lines_per_730_days: int  # order lines over two years (scaled by ``days``)
    accounts: int  # member accounts over all platforms
    sessions: int  # chat sessions
    warehouses: int
    stores: int
    daily_inventory: bool  # else weekly snapshots plus the last 14 days
    viral: int
    oversell: int  # SKUs whose platform stock stops syncing near the end
    workers: int  # processes that render and write while the world is simulated


_SCALES: dict[str, _ScaleSpec] = {
    "small": _ScaleSpec(300, 200_000, 5_000, 2_000, 5, 4, True, 3, 2, 0),
    "medium": _ScaleSpec(3_000, 1_500_000, 50_000, 10_000, 5, 8, False, 6, 4, 1),
    "large": _ScaleSpec(30_000, 10_000_000, 500_000, 40_000, 6, 12, False, 12, 6, 2),
}


@dataclass(slots=True)
class WorldSummary:
    """What :func:`generate` wrote.

    Attributes:
        rows: rows written per platform and export kind.
        files: every export file written (the ``_truth`` files not included).
    """

    out: Path
    scale: str
    seed: int
    start: dt.date
    days: int
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    order_lines: int = 0
    orders: int = 0
    members: int = 0
    persons: int = 0
    chat_sessions: int = 0
    chat_messages: int = 0
    seconds: float = 0.0


#: The first day of a sample world unless ``start`` says otherwise.
DEFAULT_START = dt.date(2024, 1, 1)


def generate(
    out: Path,
    *,
    scale: Scale = "small",
    seed: int = 0,
    start: dt.date | None = None,
    days: int = 730,
    on_progress: Callable[[int, int], None] | None = None,
    platforms: list[Platform] | None = None,
) -> WorldSummary:
    """Generate the sample world under ``out``.

    Args:
        out: folder to write into (created; files already there are overwritten).
        scale: ``small`` (~300 SKUs, ~200k order lines over two years, 5k member accounts),
            ``medium`` (~3k SKUs, ~1.5M lines) or ``large`` (~30k SKUs, ~10M lines, 500k
            accounts).
        seed: the same seed (with the same scale, start and days) writes the same files;
            other days draw another world, not the same one made longer.
        start: first day (Asia/Shanghai); default :data:`DEFAULT_START`, 2024-01-01.
        days: number of days; the world covers ``start`` … ``start + days - 1`` and "now" is
            the end of its last day. Order volume scales with it.
        on_progress: called with (steps done, steps total).
        platforms: the channels to write (default all eight); the ERP is always written.

    Returns:
        Counts of what was written.

    Raises:
        ValueError: an unknown scale, or fewer than 28 days.

    Examples:
        >>> summary = generate(Path("demo"), scale="small", seed=0)   # doctest: +SKIP
        >>> summary.order_lines                                          # doctest: +SKIP
    """
    if scale not in _SCALES:
        raise ValueError(
            f"The `scale` parameter of `generate` must be one of {list(_SCALES)}. "
            f"Got {scale!r} instead."
        )
    if days < 28:
        raise ValueError(
            f"The `days` parameter of `generate` must be at least 28. Got {days} instead."
        )
    began = time.perf_counter()
    spec = _SCALES[scale]
    start = start or DEFAULT_START
    channels = [Platform(p) for p in (platforms or Platform.channels())]
    channels = [p for p in channels if p is not Platform.ERP]
    adapters = {p: get_adapter(p) for p in [*channels, Platform.ERP]}  # fail early
    months = _months(start, days)
    progress = _Progress(len(months) + 5, on_progress)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    rng_catalog, rng_shops, rng_assort, rng_people, rng_demand, rng_sales, rng_chats, rng_misc = (
        rngs
    )
    out.mkdir(parents=True, exist_ok=True)
    summary = WorldSummary(out=out, scale=scale, seed=seed, start=start, days=days)
    end = start + dt.timedelta(days=days)

    created = dt.datetime(end.year, end.month, end.day, 9, 30)
    # the writer process (medium, large) starts first, while this process is still quiet
    with ExportWriter(out, created=created, workers=spec.workers) as writer:
        # the brand: catalogue, shops, what each shop lists, its prices and promotions
        gaz = Gazetteer.build()
        catalog = build_catalog(rng_catalog, spec.skus, days, start.toordinal())
        by_name = {p: _shop_id_is_name(adapters[p]) for p in channels}
        shops = build_shops(rng_shops, channels, spec.stores, by_name, start, gaz, spec.warehouses)
        windows = promo_windows(start, days, channels)
        # the calendar promotions of the next 13 weeks are already planned (and exported)
        planned = [
            w for w in promo_windows(start, days + PLANNED_DAYS, channels) if w.first_day >= days
        ]
        assortment = build_assortment(rng_assort, catalog, shops, channels, days, windows, planned)
        active = {p: shops.of(p)["shop_id"].tolist() for p in channels}
        weights = {p: _norm(shops.of(p)["weight"].to_numpy()) for p in channels}
        people = build_people(
            rng_people, seed, spec.accounts, channels, active, weights, start, days, gaz
        )
        summary.members, summary.persons = len(people.accounts), len(people.persons)

        _write_master_data(writer, catalog, shops, assortment, spec.warehouses)
        _write_members(writer, people.accounts, channels, adapters)
        progress()

        demand = DemandModel(rng_demand, catalog, assortment, channels, start, days, spec.viral)
        demand.calibrate(months, spec.lines_per_730_days * days / 730)
        paused = _plan_shortages(rng_misc, catalog, demand, days)
        sim = SalesSimulation(
            rng_sales, catalog, shops, assortment, demand, people.accounts, channels,
            {p: _shape(adapters[p]) for p in channels}, start, days, gaz, spec.warehouses,
            _snapshot_days(start, days, spec.daily_inventory), demand.viral.pair,
            spec.oversell, max(20, 3 * spec.sessions // len(months) // max(1, len(channels))),
        )  # fmt: skip
        for sku, first, last in paused:
            sim.pause(sku, first, last)
        sim.pool(demand.sku[demand.viral.pair], np.maximum(0, demand.viral.first_day - 10))
        # what the rest needs of the people (the simulation copied its own part)
        people.accounts = people.accounts[["platform", "platform_user_id", "person_id"]]
        people.persons = people.persons[["person_id", "name", "phone", "email", "birth_date"]]
        progress()

        samples = []
        for month in sim.months(months, peak_days(start, days)):
            for p, frame in month.orders:
                writer.write(p, K.ORDERS, frame, month.label)
                summary.order_lines += len(frame)
                summary.orders += frame["order_id"].nunique()
            writer.write(Platform.ERP, K.INVENTORY, month.inventory, month.label)
            samples.extend(month.samples)
            progress()

        writer.write(
            Platform.ERP, K.PURCHASE_ORDERS, purchase_orders_frame(sim, catalog, start, days)
        )
        last_day = (end - dt.timedelta(days=1)).strftime("%Y%m%d")
        for i, p in enumerate(channels):
            if _exports(adapters[p], K.LISTINGS):
                frame = listings_frame(sim, assortment, catalog, i, start, days, rng_misc)
                writer.write(p, K.LISTINGS, frame, last_day)
            if _exports(adapters[p], K.PROMOTIONS):
                frame = promotions_frame(assortment, i, start, days)
                for year, part in frame.groupby(frame["starts_at"].dt.year):
                    writer.write(p, K.PROMOTIONS, part.reset_index(drop=True), str(year))
        progress()

        chat_platforms = [p for p in channels if _exports(adapters[p], K.CHATS)]
        messages, chat_truth = chat_gen.build_chats(
            rng_chats, pd.concat(samples, ignore_index=True), people.accounts, active,
            chat_platforms, spec.sessions, start, days,
        )  # fmt: skip
        for p, frame in messages.items():
            for year, part in frame.groupby(frame["sent_at"].dt.year):
                writer.write(p, K.CHATS, part.reset_index(drop=True), str(year))
        summary.chat_sessions = len(chat_truth)
        summary.chat_messages = sum(len(f) for f in messages.values())
        progress()

    counts = {
        "order_lines": summary.order_lines, "orders": summary.orders,
        "members": summary.members, "persons": summary.persons,
        "chat_sessions": summary.chat_sessions, "chat_messages": summary.chat_messages,
    }  # fmt: skip
    write_truth(
        out,
        parameters={"scale": scale, "seed": seed, "start": start.isoformat(), "days": days,
                    "spec": asdict(spec)},
        counts=counts, channels=channels, catalog=catalog, shops=shops, assortment=assortment,
        demand=demand, people=people, sim=sim, paused=paused, chat_truth=chat_truth,
    )  # fmt: skip
    progress()
    summary.rows = writer.rows()
    summary.files = [f.path for f in writer.files]
    summary.seconds = time.perf_counter() - began
    logger.info(
        "sample world: %s order lines in %s files, %.1fs",
        summary.order_lines, len(summary.files), summary.seconds,
    )  # fmt: skip
    return summary


class _Progress:
    def __init__(self, total: int, report: Callable[[int, int], None] | None) -> None:
        self.done, self.total, self.report = 0, total, report

    def __call__(self) -> None:
        self.done += 1
        if self.report:
            self.report(self.done, self.total)


def _months(start: dt.date, days: int) -> list[tuple[int, int]]:
    """Day ranges of the calendar months the world covers."""
    edges = [0]
    d = start
    end = start + dt.timedelta(days=days)
    while True:
        d = (d.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        if d >= end:
            break
        edges.append((d - start).days)
    edges.append(days)
    return list(zip(edges[:-1], edges[1:], strict=True))


def _snapshot_days(start: dt.date, days: int, daily: bool) -> np.ndarray:
    d = np.arange(days)
    if daily:
        return d
    monday = (start.weekday() + d) % 7 == 0
    return d[monday | (d >= days - 14)]


def _shop_id_is_name(adapter: type[PlatformAdapter]) -> bool:
    """Whether the platform writes shops by name (店铺名称, 门店) or by a code (mp_shop_id)."""
    for contract in adapter.contracts:
        for col in contract.columns:
            if col.field == "shop_id":
                return not re.search(r"id|编码|编号|代码", col.header, flags=re.IGNORECASE)
    return True


def _shape(adapter: type[PlatformAdapter]) -> ChannelShape:
    fields = {c.field for c in adapter.contract(K.ORDERS).columns}
    return ChannelShape(
        masks_phones=bool(adapter.masks_phones), split_address="receiver_province" in fields
    )


def _exports(adapter: type[PlatformAdapter], kind: ExportKind) -> bool:
    return any(c.kind is kind for c in adapter.contracts)


def _norm(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


def _plan_shortages(
    rng: np.random.Generator, catalog: Catalog, demand: DemandModel, days: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Which SKUs' reordering pauses when: viral SKUs from just before they take off (their
    stock runs out and they oversell), and supplier disruptions of about 5 % of the sellers
    for 5–10 weeks (stock-outs)."""
    skus = catalog.skus
    viral = demand.viral
    vel = skus["velocity"].to_numpy()
    active = skus["end_day"].to_numpy() > days
    sellers = np.flatnonzero(np.isin(vel, ["fast", "regular"]) & active)
    viral_skus = demand.sku[viral.pair]
    paused = []
    if len(viral.pair):
        until = np.full(len(viral_skus), days)
        paused.append((viral_skus, np.maximum(0, viral.first_day - 10), until))
    rest = np.setdiff1d(sellers, viral_skus)
    hit = rest[rng.random(len(rest)) < 0.05]
    if len(hit):
        lo = min(10, days // 4)
        first = rng.integers(lo, max(lo + 1, days - 40), len(hit))
        paused.append((hit, first, first + rng.integers(35, 71, len(hit))))
    return paused


def _write_master_data(
    writer: ExportWriter, catalog: Catalog, shops: Shops, assortment: Assortment, n_wh: int
) -> None:
    erp = Platform.ERP
    writer.write(erp, K.SHOPS, shops.frame)
    warehouses = pd.DataFrame(
        [w[:5] for w in WAREHOUSES[:n_wh]],
        columns=["warehouse_id", "name", "region", "province", "city"],
    )
    writer.write(erp, K.WAREHOUSES, warehouses)
    writer.write(erp, K.PRODUCTS, catalog.skus.assign(brand=BRAND))
    lst = assortment.listings
    mapped = lst[lst["mapped"]].drop_duplicates(["platform", "platform_sku_id"])
    writer.write(erp, K.SKU_MAP, mapped.reset_index(drop=True))


def _write_members(
    writer: ExportWriter,
    accounts: pd.DataFrame,
    channels: list[Platform],
    adapters: dict[Platform, type[PlatformAdapter]],
) -> None:
    for p in channels:
        if not _exports(adapters[p], K.MEMBERS):
            continue
        frame = accounts[accounts["platform"] == p.value].reset_index(drop=True)
        if adapters[p].masks_phones:
            frame = frame.assign(phone=mask_phone(frame["phone"].to_numpy(object)))
        writer.write(p, K.MEMBERS, frame)
