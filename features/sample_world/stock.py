"""Warehouse stock per SKU × warehouse, day by day: sales take it, purchase orders refill it.

Each stocked (SKU, warehouse) — a *slot* — is reviewed once a week: when stock on hand plus
on order falls below the demand expected over lead time plus a week, a purchase order tops it
up to cover a few more weeks (rounded to case packs, at least the MOQ). POs arrive after the
SKU's lead time plus the trip to the warehouse, some late, a few short or cancelled. Supplier
disruptions stop the reordering of some slots for weeks, so their stock runs out and sales
from that warehouse stop until stock returns. Vectorised over slots; the loop is over days.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_RING = 80  # days ahead a receipt can be scheduled (longest lead + transit + delay < 80)
_ALPHA = 0.12  # weight of today's demand in the expected daily demand
_RESTOCK_DAYS = 7  # returned goods are back on the shelf a week later


@dataclass(slots=True)
class _Log:
    po: list[np.ndarray] = field(default_factory=list)
    snapshots: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)


class Stock:
    """Stock of every slot, its open purchase orders, and the snapshots taken so far."""

    def __init__(
        self,
        rng: np.random.Generator,
        skus: pd.DataFrame,
        stocked: np.ndarray,
        daily_units: np.ndarray,
        days: int,
        transit_days: np.ndarray,
    ) -> None:
        """Start with about a month and a half of stock in every slot.

        Args:
            rng: random stream.
            skus: the catalogue (lead_time_days, case_pack, moq).
            stocked: ``[S, W]`` whether a warehouse carries a SKU.
            daily_units: ``[S, W]`` expected units per day at the start, for the first stock.
            days: days in the world.
            transit_days: ``[W]`` extra days from supplier to each warehouse.
        """
        self.rng = rng
        self.days = days
        s_idx, w_idx = np.nonzero(stocked)
        self.slot_of = np.full(stocked.shape, -1, dtype=np.int64)
        self.slot_of[s_idx, w_idx] = np.arange(len(s_idx))
        self.sku, self.wh = s_idx, w_idx
        n = len(s_idx)
        self.n = n
        self.lead = skus["lead_time_days"].to_numpy()[s_idx] + transit_days[w_idx]
        self.case = skus["case_pack"].to_numpy()[s_idx]
        self.moq = skus["moq"].to_numpy()[s_idx]
        self.cover = rng.integers(14, 36, n)
        self.expected = daily_units[s_idx, w_idx].astype(np.float64)
        start = self.expected * (self.lead + 7 + self.cover * 0.6) * rng.uniform(0.8, 1.3, n)
        self.on_hand = (np.ceil(start / self.case) * self.case).astype(np.int64)
        self.on_order = np.zeros(n, dtype=np.int64)
        self.ring_in = np.zeros((_RING, n), dtype=np.int32)  # units arriving (receipts, returns)
        self.ring_po = np.zeros((_RING, n), dtype=np.int32)  # ordered units whose PO lands
        self.review_day = (np.arange(n) * 5 + rng.integers(0, 7, n)) % 7
        self.pause_from = np.full(n, days + 1)
        self.pause_to = np.full(n, days + 1)
        self.shipped_today = np.zeros(n, dtype=np.int64)
        self.log = _Log()

    # -- setup ---------------------------------------------------------------------------

    def pause(self, slots: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        """Place no purchase orders for ``slots`` from day ``first`` to ``last``."""
        self.pause_from[slots] = first
        self.pause_to[slots] = last

    # -- one day ---------------------------------------------------------------------------

    def open_day(self, day: int) -> None:
        """Receive what arrives today."""
        r = day % _RING
        self.on_hand += self.ring_in[r]
        self.on_order -= self.ring_po[r]
        self.ring_in[r] = 0
        self.ring_po[r] = 0

    def transfer(self, source: np.ndarray, target: np.ndarray) -> None:
        """Move all stock of slots ``source`` to slots ``target`` (same SKU, another place)."""
        np.add.at(self.on_hand, target, self.on_hand[source])
        self.on_hand[source] = 0

    def sell(
        self,
        slot: np.ndarray,
        units: np.ndarray,
        consumes: np.ndarray,
        may_oversell: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decide which of today's order lines (sorted by slot) stock allows.

        A line that needs stock is kept while the slot's stock covers it; where stock is
        gone the SKU shows as sold out and no line is placed, except for SKUs whose platform
        stock was not synced (``may_oversell``): those sell anyway and wait for stock.

        Returns:
            ``keep`` (the line exists) and ``short`` (kept although stock could not cover it).
        """
        need = units * consumes
        starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
        group = np.cumsum(np.r_[True, slot[1:] != slot[:-1]]) - 1
        csum = np.cumsum(need)
        before = (csum - need)[starts]
        within = csum - before[group]
        avail = self.on_hand[slot]
        fits = within <= avail
        keep = np.where(consumes, fits, avail > 0) | may_oversell
        short = consumes & ~fits & may_oversell
        taken = np.add.reduceat(need * (fits & consumes), starts)
        touched = slot[starts]
        self.on_hand[touched] -= taken
        self.shipped_today[touched] += taken
        demand = np.add.reduceat(units, starts)
        self.expected *= 1 - _ALPHA
        self.expected[touched] += _ALPHA * demand
        return keep, short

    def cancel_open_orders(self, slots: np.ndarray, day: int) -> None:
        """Cancel the purchase orders of ``slots`` that have not arrived by ``day``."""
        self.on_order[slots] = 0
        self.ring_in[:, slots] = 0  # returns due back are lost with them: a small write-off
        self.ring_po[:, slots] = 0
        for po in self.log.po:  # columns: slot, ordered, qty, received, expected, arrival, …
            hit = np.isin(po[:, 0], slots) & (po[:, 5] > day) & (po[:, 6] == 0)
            po[hit, 6] = 1

    def no_sales(self) -> None:
        self.expected *= 1 - _ALPHA

    def returns(self, day: int, slot: np.ndarray, units: np.ndarray) -> None:
        """Returned units go back on the shelf a week after ``day``."""
        np.add.at(self.ring_in[(day + _RESTOCK_DAYS) % _RING], slot, units)

    def close_day(self, day: int, weekday: int, snapshot: bool) -> None:
        """Review today's slots for purchase orders and take the stock snapshot."""
        if snapshot:
            reserved = np.minimum(self.on_hand, (self.shipped_today * 0.35).astype(np.int64))
            self.log.snapshots.append((day, self.on_hand.copy(), reserved))
        self.shipped_today[:] = 0
        cand = np.flatnonzero(self.review_day == weekday)
        paused = (day >= self.pause_from[cand]) & (day <= self.pause_to[cand])
        cand = cand[~paused]
        position = self.on_hand[cand] + self.on_order[cand]
        rate = self.expected[cand]
        lead = self.lead[cand]
        # reorder point: demand over lead time and a week, plus safety stock
        over_lead = rate * (lead + 7)
        need = position < over_lead * 1.15 + 1.65 * np.sqrt(over_lead) + 1
        cand, position, rate, lead = cand[need], position[need], rate[need], lead[need]
        if not len(cand):
            return
        target = rate * (lead + 7 + self.cover[cand])
        case = self.case[cand]
        qty = np.ceil(np.maximum(target - position, 1) / case) * case
        qty = np.maximum(qty, self.moq[cand]).astype(np.int64)
        rng = self.rng
        n = len(cand)
        late = np.where(rng.random(n) < 0.1, rng.integers(3, 16, n), 0)
        arrive = day + lead + late
        cancelled = rng.random(n) < 0.02
        short = rng.random(n) < 0.05
        received = np.where(short, np.floor(qty * rng.uniform(0.85, 0.98, n)), qty).astype(np.int64)
        ok = ~cancelled
        r = arrive[ok] % _RING
        np.add.at(self.ring_in, (r, cand[ok]), received[ok])
        np.add.at(self.ring_po, (r, cand[ok]), qty[ok])
        self.on_order[cand[ok]] += qty[ok]
        self.log.po.append(
            np.stack([cand, np.full(n, day), qty, received, day + lead, arrive, cancelled], axis=1)
        )

    # -- results ---------------------------------------------------------------------------

    def take_snapshots(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """The snapshots taken since the last call (and forget them)."""
        out, self.log.snapshots = self.log.snapshots, []
        return out

    def purchase_orders(self) -> pd.DataFrame:
        """Every PO line placed: slot, ordered/expected/arrival day, quantities, cancelled."""
        cols = [
            "slot",
            "ordered_day",
            "qty",
            "received",
            "expected_day",
            "arrival_day",
            "cancelled",
        ]
        if not self.log.po:
            return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in cols})
        return pd.DataFrame(np.concatenate(self.log.po), columns=cols)
