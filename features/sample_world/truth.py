"""Ground truth of the sample world, under ``_truth/`` (ingest skips folders starting with _).

* ``members_truth.csv``: platform, platform_user_id, person_id (identity resolution);
* ``persons_truth.csv``: the true name, phone, e-mail and birthday of each person;
* ``chats_truth.csv``: risk labels of every chat session (:mod:`.chats`);
* ``world.json``: the parameters, and what the detectors should find (viral SKUs, SKUs that
  oversell, supplier disruptions, the silent shop, unmapped platform SKUs).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from features.sample_world.assortment import Assortment, Shops
from features.sample_world.calendar import SPRING_FESTIVAL
from features.sample_world.catalog import BRAND, Catalog
from features.sample_world.demand import DemandModel
from features.sample_world.people import People
from features.sample_world.sales import SalesSimulation
from features.schema.vocab import Platform


def write_truth(
    out: Path,
    *,
    parameters: dict[str, object],
    counts: dict[str, int],
    channels: list[Platform],
    catalog: Catalog,
    shops: Shops,
    assortment: Assortment,
    demand: DemandModel,
    people: People,
    sim: SalesSimulation,
    paused: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    chat_truth: pd.DataFrame,
) -> None:
    """Write the truth files of a generated world into ``out/_truth``."""
    truth = out / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    people.accounts[["platform", "platform_user_id", "person_id"]].to_csv(
        truth / "members_truth.csv", index=False
    )
    people.persons[["person_id", "name", "phone", "email", "birth_date"]].to_csv(
        truth / "persons_truth.csv", index=False
    )
    chat_truth.to_csv(truth / "chats_truth.csv", index=False)
    start = dt.date.fromisoformat(str(parameters["start"]))
    days = int(parameters["days"])  # type: ignore[call-overload]
    sku_id = catalog.skus["sku_id"].to_numpy(object)
    pair_sku = assortment.pairs["sku"].to_numpy()
    pair_platform = assortment.pairs["pidx"].to_numpy()

    def day(d: int) -> str:
        return (start + dt.timedelta(days=int(d))).isoformat()

    def pair(k: int) -> dict[str, str]:
        return {"sku_id": sku_id[pair_sku[k]], "platform": channels[pair_platform[k]].value}

    viral = demand.viral
    stocktake_day, stocktake_skus = sim.stocktake
    lst = assortment.listings
    info = {
        "generator": "features.sample_world",
        "brand": BRAND,
        **parameters,
        "last_day": day(days - 1),
        "platforms": [p.value for p in channels],
        "silent_shop": list(shops.silent) if shops.silent else None,
        "spring_festival": {str(y): d.isoformat() for y, d in SPRING_FESTIVAL.items()},
        "viral": [
            {**pair(k), "from": day(f), "peak_multiplier": round(float(m), 2)}
            for k, f, m in zip(viral.pair, viral.first_day, viral.peak, strict=True)
        ],
        "oversell": [pair(k) for k in np.flatnonzero(sim.oversell)],
        "stocktake_losses": {
            "day": day(stocktake_day) if stocktake_day < days else None,
            "sku_ids": [sku_id[s] for s in stocktake_skus],
        },
        "supplier_disruptions": [
            {"sku_id": sku_id[s], "from": day(f), "to": day(min(t, days - 1))}
            for skus, firsts, lasts in paused
            for s, f, t in zip(skus, firsts, lasts, strict=True)
        ],
        "unmapped_platform_skus": lst.loc[
            ~lst["mapped"], ["platform", "platform_sku_id", "sku_id"]
        ].to_dict("records"),
        "counts": counts,
        "demand_scale": demand.scale,
    }
    (truth / "world.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
