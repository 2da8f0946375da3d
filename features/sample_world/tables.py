"""Unified frames of the world's end state: purchase orders, listings and promotions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.sample_world.assortment import Assortment
from features.sample_world.catalog import Catalog
from features.sample_world.geo import WAREHOUSES
from features.sample_world.ids import zpad
from features.sample_world.sales import SalesSimulation


def _local_day(start: dt.date, day: np.ndarray) -> pd.DatetimeIndex:
    return pd.Timestamp(start) + pd.to_timedelta(np.asarray(day), unit="D")


def _utc(start: dt.date, day: np.ndarray, seconds: np.ndarray | int = 0) -> np.ndarray:
    """Naive UTC of local (Asia/Shanghai) ``day`` + ``seconds``."""
    local = _local_day(start, day) + pd.to_timedelta(seconds, unit="s")
    return (local - pd.Timedelta(hours=8)).to_numpy()


def purchase_orders_frame(
    sim: SalesSimulation, catalog: Catalog, start: dt.date, days: int
) -> pd.DataFrame:
    """Every PO line, grouped into POs per warehouse, day and category, with its status as
    of the world's last day (received, in transit, just opened or cancelled)."""
    po = sim.stock.purchase_orders()
    if po.empty:
        return po
    slot = po["slot"].to_numpy()
    sku = sim.stock.sku[slot]
    wh = sim.stock.wh[slot]
    cat = catalog.skus["cat_code"].to_numpy(object)[sku]
    ordered = po["ordered_day"].to_numpy()
    day_text = pd.Series(_local_day(start, ordered)).dt.strftime("%Y%m%d").to_numpy(object)
    po_id = pd.Series(day_text) + "-" + pd.Series(wh + 1).astype(str) + pd.Series(cat)
    po_id = "PO" + po_id
    frame = pd.DataFrame({"po_id": po_id, "sku": sku, "wh": wh, "i": np.arange(len(po))})
    frame = frame.sort_values(["po_id", "sku", "i"], kind="stable")
    line_no = frame.groupby("po_id").cumcount().to_numpy() + 1
    order = frame["i"].to_numpy()
    arrival = po["arrival_day"].to_numpy()[order]
    cancelled = po["cancelled"].to_numpy()[order].astype(bool)
    status = np.where(
        cancelled,
        "cancelled",
        np.where(
            arrival <= days - 1,
            "received",
            np.where(ordered[order] >= days - 2, "open", "in_transit"),
        ),
    ).astype(object)
    received = np.where(status == "received", po["received"].to_numpy()[order], 0)
    return pd.DataFrame(
        {
            "po_id": frame["po_id"].to_numpy(object),
            "line_no": line_no,
            "sku_id": catalog.skus["sku_id"].to_numpy(object)[sku[order]],
            "warehouse_id": np.array([w[0] for w in WAREHOUSES], object)[wh[order]],
            "qty_ordered": po["qty"].to_numpy()[order],
            "qty_received": received,
            "ordered_on": _local_day(start, ordered[order]).to_numpy(),
            "expected_on": _local_day(start, po["expected_day"].to_numpy()[order]).to_numpy(),
            "status": status,
        }
    )


def listings_frame(
    sim: SalesSimulation,
    assortment: Assortment,
    catalog: Catalog,
    pidx: int,
    start: dt.date,
    days: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """What each shop of platform ``pidx`` lists at the end: listed or not, price, the stock the
    platform shows (synced from the warehouses, except where the sync broke: oversell)."""
    lst = assortment.listings
    lst = lst[lst["pidx"] == pidx].reset_index(drop=True)
    pair = lst["pair"].to_numpy()
    sku = lst["sku"].to_numpy()
    skus = catalog.skus
    seg = (days - 1 >= assortment.price_day[pair]).sum(axis=1)
    price = assortment.price_fen[pair, seg]
    active = (skus["launch_day"].to_numpy()[sku] < days) & (skus["end_day"].to_numpy()[sku] > days)
    listed = active & ~lst["delisted"].to_numpy()
    on_hand = np.bincount(sim.stock.sku, weights=sim.stock.on_hand, minlength=len(skus))
    share = rng.uniform(0.3, 1.0, len(lst))
    stock = np.floor(on_hand[sku] * share).astype(np.int64)
    stale = sim.oversell[pair]
    stock = np.where(stale, rng.integers(20, 300, len(lst)), stock)
    stock = np.where(listed, stock, 0)
    seconds = rng.integers(0, 86400, len(lst))
    return pd.DataFrame(
        {
            "shop_id": lst["shop_id"],
            "platform_item_id": lst["platform_item_id"],
            "platform_sku_id": lst["platform_sku_id"],
            "outer_sku_code": lst["outer_sku_code"],
            "sku_id": lst["sku_id"],
            "title": lst["title"],
            "listed": listed,
            "price_fen": price,
            "platform_stock": stock,
            "updated_at": _utc(start, np.full(len(lst), days - 1), seconds),
        }
    )


def promotions_frame(assortment: Assortment, pidx: int, start: dt.date, days: int) -> pd.DataFrame:
    """Promotions (calendar events and shops' deals) and price changes of ``platform``, one
    row per promotion × listing (``pidx``: the platform's position in the world's list)."""
    lst = assortment.listings
    lst = lst.loc[lst["pidx"] == pidx, ["pair", "shop_id", "platform_sku_id", "sku_id"]]
    promos = assortment.promos
    promos = promos[np.isin(promos["pair"].to_numpy(), lst["pair"].to_numpy())]
    rows = promos.merge(lst, on="pair", how="inner")
    first = rows["first_day"].to_numpy()
    last = rows["last_day"].to_numpy()
    promo = pd.DataFrame(
        {
            "shop_id": rows["shop_id"],
            "promo_id": rows["promo_id"],
            "name": rows["name"],
            "kind": "promotion",
            "platform_sku_id": rows["platform_sku_id"],
            "sku_id": rows["sku_id"],
            "price_fen": rows["price_fen"],
            "starts_at": _utc(start, first),
            "ends_at": _utc(start, last, 86399),
        }
    )
    # price changes: one row per change that happened inside the world
    pairs = lst["pair"].to_numpy()
    change_day = assortment.price_day[pairs]
    frames = [promo]
    for j in range(change_day.shape[1]):
        hit = change_day[:, j] < days
        if not hit.any():
            continue
        sub = lst[hit]
        d = change_day[hit, j]
        frames.append(
            pd.DataFrame(
                {
                    "shop_id": sub["shop_id"].to_numpy(object),
                    "promo_id": "GJ" + zpad(sub["pair"].to_numpy() * 4 + j, 9).to_numpy(object),
                    "name": "调价",
                    "kind": "price_change",
                    "platform_sku_id": sub["platform_sku_id"].to_numpy(object),
                    "sku_id": sub["sku_id"].to_numpy(object),
                    "price_fen": assortment.price_fen[sub["pair"].to_numpy(), j + 1],
                    "starts_at": _utc(start, d, 36000),
                    "ends_at": pd.NaT,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["ends_at"] = pd.to_datetime(out["ends_at"])
    return out.sort_values(["starts_at", "shop_id", "promo_id"], kind="stable").reset_index(
        drop=True
    )
