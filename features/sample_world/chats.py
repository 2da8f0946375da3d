"""Customer-service conversations per platform, with multi-label risk ground truth.

About a fifth of sessions are risky: a problem (injury, fake goods, refund dispute, lost
parcel …) and often an escalation (12315, 曝光, 律师, abuse, "再也不买") on top, worded from
phrase banks with product names, order ids, amounts, colloquial particles and typos. Some
sessions are near misses that share the words but not the risk ("可以投诉快递员吗", "退款
什么时候到", a pre-purchase 价保 question, a plain delay). The rest are ordinary questions.
The labels go to ``_truth/chats_truth.csv``.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import numpy as np
import pandas as pd

from features.sample_world import _phrases as ph
from features.sample_world.catalog import BRAND
from features.sample_world.ids import session_ids
from features.schema.vocab import Platform

RISK_LABELS = ph.RISK_LABELS

_RISKY_SHARE = 0.2
_NEAR_MISS_SHARE = 0.08
_PRIMARY = {
    "refund_dispute": 0.14,
    "logistics_loss_damage": 0.13,
    "complaint_threat": 0.11,
    "safety_injury": 0.08,
    "counterfeit": 0.08,
    "price_protection": 0.08,
    "abusive_language": 0.07,
    "extreme_negative_churn": 0.07,
    "repeated_contact": 0.07,
    "media_exposure": 0.05,
    "legal_threat": 0.05,
    "fraud_scam": 0.05,
    "privacy_leak": 0.04,
    "mass_complaint": 0.04,
}
_PROBLEM_FOR = {  # problems an escalation is most often about
    "complaint_threat": ("refund_dispute", "logistics_loss_damage", "counterfeit", "safety_injury"),
    "media_exposure": ("safety_injury", "counterfeit", "refund_dispute", "fraud_scam"),
    "legal_threat": ("safety_injury", "fraud_scam", "counterfeit", "privacy_leak"),
    "mass_complaint": ("safety_injury", "counterfeit", "logistics_loss_damage"),
    "abusive_language": ("refund_dispute", "logistics_loss_damage"),
    "extreme_negative_churn": ("refund_dispute", "price_protection", "logistics_loss_damage"),
    "repeated_contact": ("refund_dispute", "logistics_loss_damage", "price_protection"),
}


def build_chats(
    rng: np.random.Generator,
    samples: pd.DataFrame,
    accounts: pd.DataFrame,
    shops: dict[Platform, list[str]],
    platforms: list[Platform],
    n_sessions: int,
    start: dt.date,
    days: int,
) -> tuple[dict[Platform, pd.DataFrame], pd.DataFrame]:
    """Draw ``n_sessions`` sessions over ``platforms`` (weighted by their order volume).

    Returns:
        Chat messages per platform (unified chat fields) and the truth table (one row per
        session: platform, session_id, labels joined by ``|``, one 0/1 column per label,
        near_miss kind and topic).
    """
    if not platforms:
        return {}, pd.DataFrame(columns=["platform", "session_id", "labels"])
    py = random.Random(int(rng.integers(2**31)))
    counts = (
        (samples["platform"].value_counts() if len(samples) else pd.Series(dtype=int))
        .reindex([p.value for p in platforms], fill_value=0)
        .to_numpy(float)
    )
    weight = counts + counts.sum() * 0.03 + 1
    per_platform = rng.multinomial(n_sessions, weight / weight.sum())
    end = pd.Timestamp(start) + pd.Timedelta(days=days) - pd.Timedelta(hours=8)  # "now", UTC
    t0 = pd.Timestamp(start) - pd.Timedelta(hours=8)
    messages: dict[Platform, pd.DataFrame] = {}
    truth_rows = []
    for p, n in zip(platforms, per_platform, strict=True):
        if n == 0:
            continue
        mine = samples[samples["platform"] == p.value] if len(samples) else samples
        members = accounts.loc[accounts["platform"] == p.value, "platform_user_id"].to_numpy(object)
        sids = session_ids(p, np.arange(n))
        rows = []
        for i in range(n):
            kind, labels, topic = _draw_kind(py)
            order = (
                mine.iloc[py.randrange(len(mine))]
                if len(mine) and (kind != "ordinary" or py.random() < 0.6) and topic not in _PRESALE
                else None
            )
            if order is not None:
                shop, buyer, order_id = order["shop_id"], order["buyer_id"], order["order_id"]
                lag_days = py.uniform(2, 25) if kind == "risky" else py.uniform(0.2, 6)
                began = pd.Timestamp(order["created_at"]) + pd.Timedelta(days=lag_days)
                product = _short_product(order["title"])
                amount = int(order["paid_fen"]) / 100
                qty = int(order["quantity"])
            else:
                shop = shops[p][py.randrange(len(shops[p]))]
                buyer = (
                    members[py.randrange(len(members))]
                    if len(members) and py.random() < 0.5
                    else None
                )
                order_id = None
                began = t0 + pd.Timedelta(seconds=py.uniform(0, days * 86400))
                product, amount, qty = _random_product(py), py.choice((39.9, 59, 89, 129, 199)), 1
            if began >= end - pd.Timedelta(hours=1):
                began = end - pd.Timedelta(hours=py.uniform(1, 72))
            began = max(began, t0 + pd.Timedelta(minutes=5))
            slots = _slots(py, product, order_id, amount, qty, shop)
            turns = _conversation(py, kind, labels, topic, slots)
            t = began
            for seq, (role, text) in enumerate(turns, start=1):
                rows.append((sids[i], seq, shop, buyer, order_id, role, t, text))
                t = t + pd.Timedelta(
                    seconds=py.uniform(4, 50) if role == "buyer" else py.uniform(10, 240)
                )
            truth_rows.append(_truth_row(p, sids[i], kind, labels, topic))
        frame = pd.DataFrame(
            rows,
            columns=[
                "session_id",
                "seq",
                "shop_id",
                "buyer_id",
                "order_id",
                "role",
                "sent_at",
                "text",
            ],
        )
        frame["sent_at"] = pd.to_datetime(frame["sent_at"]).dt.floor("s").astype("datetime64[ns]")
        messages[p] = frame.sort_values(
            ["sent_at", "session_id", "seq"], kind="stable"
        ).reset_index(drop=True)
    return messages, pd.DataFrame(truth_rows)


_PRESALE = {
    "allergy_question",
    "authenticity_question",
    "blogger_recommend",
    "presale_price_protection",
    "规格",
    "优惠",
}


def _draw_kind(py: random.Random) -> tuple[str, list[str], str]:
    """``risky`` with its labels, ``near_miss`` with its kind, or ``ordinary`` with a topic."""
    u = py.random()
    if u < _RISKY_SHARE:
        primary = py.choices(list(_PRIMARY), weights=list(_PRIMARY.values()))[0]
        labels = [primary]
        if primary in ph.ESCALATIONS:
            if primary == "mass_complaint" or py.random() < 0.6:
                labels.insert(0, py.choice(_PROBLEM_FOR[primary]))
            if py.random() < 0.2:
                other = py.choice(
                    [e for e in ph.ESCALATIONS if e != primary and e != "mass_complaint"]
                )
                labels.append(other)
        elif py.random() < 0.35:
            labels.append(
                py.choice(
                    (
                        "complaint_threat",
                        "repeated_contact",
                        "extreme_negative_churn",
                        "abusive_language",
                        "media_exposure",
                        "legal_threat",
                    )
                )
            )
        if "safety_injury" in labels and py.random() < 0.15 and "mass_complaint" not in labels:
            labels.append("mass_complaint")
        return "risky", list(dict.fromkeys(labels)), labels[0]
    if u < _RISKY_SHARE + _NEAR_MISS_SHARE:
        return "near_miss", [], py.choice(list(ph.NEAR_MISS))
    return "ordinary", [], py.choice(list(ph.ORDINARY))


def _conversation(
    py: random.Random, kind: str, labels: list[str], topic: str, slots: dict[str, str]
) -> list[tuple[str, str]]:
    """Buyer and agent turns; 3–12 messages."""
    turns: list[tuple[str, str]] = []
    opener = py.choice(ph.BUYER_OPEN)
    if opener:
        turns.append(("buyer", opener))
        turns.append(("agent", _fill(py.choice(ph.AGENT_GREETING), slots)))
    if kind == "risky":
        problems = [lab for lab in labels if lab in ph.PROBLEMS]
        escalations = [lab for lab in labels if lab in ph.ESCALATIONS]
        if problems:
            for lab in problems:
                turns.append(("buyer", _say(py, lab, slots)))
                turns.append(
                    (
                        "agent",
                        _fill(py.choice(ph.AGENT_REPLY.get(lab, ph.AGENT_REPLY["default"])), slots),
                    )
                )
        else:
            turns.append(("buyer", _fill(py.choice(ph.GENERIC_PROBLEMS), slots)))
            turns.append(("agent", _fill(py.choice(ph.AGENT_CHECK), slots)))
        if escalations and py.random() < 0.4:
            turns.append(("buyer", py.choice(ph.BUYER_FILLER)))
        for lab in escalations:
            turns.append(("buyer", _say(py, lab, slots)))
            if py.random() < 0.7:
                turns.append(("agent", _fill(py.choice(ph.AGENT_REPLY["default"]), slots)))
    elif kind == "near_miss":
        turns.append(("buyer", _typo(py, _fill(py.choice(ph.NEAR_MISS[topic]), slots))))
        turns.append(("agent", _fill(py.choice(ph.NEAR_MISS_ANSWER[topic]), slots)))
        if py.random() < 0.5:
            turns.append(("buyer", py.choice(ph.BUYER_THANKS)))
    else:
        turns.append(("buyer", _typo(py, _fill(py.choice(ph.ORDINARY[topic]), slots))))
        if py.random() < 0.4:
            turns.append(("agent", _fill(py.choice(ph.AGENT_CHECK), slots)))
        turns.append(("agent", _fill(py.choice(ph.AGENT_ANSWER[topic]), slots)))
        if py.random() < 0.5:
            turns.append(("buyer", py.choice(ph.BUYER_THANKS)))
    if py.random() < 0.5:
        turns.append(("agent", py.choice(ph.AGENT_CLOSE)))
    while len(turns) < 3:
        turns.append(("buyer", py.choice(ph.BUYER_THANKS)))
    return turns[:12]


def _say(py: random.Random, label: str, slots: dict[str, str]) -> str:
    text = _fill(py.choice(ph.BUYER[label]), slots)
    text = py.choice(ph.INTENSIFIERS) + text + py.choice(ph.ENDINGS)
    if slots.get("order") and py.random() < 0.2:
        text = f"订单{slots['order']}，" + text
    return _typo(py, text)


def _typo(py: random.Random, text: str) -> str:
    if py.random() < 0.15:
        words = [w for w in ph.TYPOS if w in text]
        if words:
            word = py.choice(words)
            text = text.replace(word, py.choice(ph.TYPOS[word]), 1)
    return text


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format_map(slots) if "{" in template else template


def _slots(
    py: random.Random, product: str, order_id: str | None, amount: float, qty: int, shop: str
) -> dict[str, str]:
    refund = round(amount * py.uniform(0.3, 0.9), 2)
    return {
        "product": product,
        "order": order_id or "",
        "amount": f"{amount:g}",
        "amount2": f"{refund:g}",
        "diff": str(py.choice((5, 10, 15, 20, 30, 50))),
        "days": str(py.randint(2, 15)),
        "courier": py.choice(ph.COURIERS),
        "qty": str(max(qty, 2)),
        "qty1": str(max(qty, 2) - 1),
        "n": str(py.randint(2, 5)),
        "when": py.choice(ph.WHEN),
        "hours": py.choice(("24", "48", "72")),
        "city": py.choice(ph.CITIES),
        "shop": shop,
    }


_TITLE_NOISE = re.compile(r"【[^】]*】|官方正品|（[^）]*）|\|")


def _short_product(title: str) -> str:
    """What a buyer calls the product: the title without brand, tags and spec."""
    text = _TITLE_NOISE.sub("", str(title)).replace(BRAND, "").strip()
    return text.split(" ")[0][:12] or "这个"


def _random_product(py: random.Random) -> str:
    return py.choice(("洗发水", "沐浴露", "香薰蜡烛", "身体乳", "洗衣液", "牙膏", "面霜", "护手霜"))


def _truth_row(p: Platform, session_id: str, kind: str, labels: list[str], topic: str) -> dict:
    row = {
        "platform": p.value,
        "session_id": session_id,
        "labels": "|".join(labels),
        "risky": int(kind == "risky"),
        "near_miss": topic if kind == "near_miss" else "",
        "topic": topic,
    }
    row.update({lab: int(lab in labels) for lab in RISK_LABELS})
    return row
