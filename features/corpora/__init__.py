"""External text corpora as Butler conversations: the real chat pool and its hand-labelled sets.

The pool is real third-party customer-service text (``../shared/data/chats``; see its
README): Weibo helpdesk dialogues (STC-3, roles given), JD customer-service windows (JDDC,
no roles: :func:`features.chats.guess_roles`), Taobao sessions (ECD) and product reviews
(each a one-message conversation). Nothing here is copied into the repository: only the
labels of two hand-labelled sets are, beside this module — conversation ids, labels,
evidence message indices, the buyer turns of role-less windows, and notes:

* ``risk_dev_labels.csv``, the **development set** (400 conversations): 320 STC-3 dialogues
  at random, 40 JDDC windows at random and 40 JDDC windows among those holding a broad
  complaint word (退款, 投诉, 假, 丢, 坏了, 几次, …) so that JD's rarer scenarios appear at
  all. It only reports figures: it is never trained on and chooses nothing.
* ``risk_train_labels.csv``, the **hand-labelled training set** (5,714 conversations):
  every STC-3 dialogue of the pool outside the development set (1,080 drawn first at
  random, then the other 2,114), 120 JDDC windows drawn the same enriched way, and three
  draws of 600 more JDDC windows outside the sets before them (seeds 2026, 2027, 2028):
  each 300 at random, then 300 among the windows holding one of 退款 退货 退钱 投诉 假 丢 坏了
  破 几次 价保 保价 差价 没收到 未收到 少了 漏发 错发 骗 差评 举报 12315 律师 曝光 换货 质量
  (the third draw also 很多人 不止我 大家都 欺骗 虚假 垃圾 再也不 第几次 说好 催了, words of
  the scenarios the model reads worst); then 600 negative reviews (seed 2029, one buyer
  message each, ids ``os10:…`` and ``waimai:…``): 300 at random, 300 among those holding
  one of 假货 假的 正品 过敏 拉肚子 吃坏 中毒 骗 欺骗 虚假 再也不 垃圾 投诉 12315 律师
  曝光 起诉 烫伤 爆炸 漏电 着火 异物 发霉 变质 破损 差评 退款 举报, so that safety and
  counterfeit, which the dialogues hardly hold, have examples.

Both were labelled by reading each conversation against the scenario definitions (the
guide is the table of :class:`~features.schema.vocab.RiskLabel` in issue #5 with a few
notes that follow from it), in batches, by careful readers who wrote down the evidence
messages and, for JDDC, which messages the buyer wrote. No keyword rule or model proposed
a label. The 1,800 later JDDC windows and the reviews were read by four readers per draw
with the written guide beside this module (``risk_labelling_guide.md``) and, for JDDC, the
120 earlier JDDC windows as worked examples. The rest of the pool is labelled weakly, by
:mod:`features.risk_rules`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from features.chats import ChatMessage, Conversation, guess_roles
from features.errors import UnreadableFileError
from features.schema.vocab import ChatRole, RiskLabel

#: The files of the chat pool, by source.
POOL_FILES = {
    "stc3": "stc3_train.parquet",
    "jddc": "jddc_windows.parquet",
    "ecd": "ecd_sample.parquet",
    "reviews": "reviews.parquet",
}


def _read(folder: Path, source: str) -> pd.DataFrame:
    path = folder / POOL_FILES[source]
    if not path.is_file():
        raise UnreadableFileError(
            f"{path} is missing. Point --pool at the chat pool folder "
            "(../shared/data/chats), which holds " + ", ".join(POOL_FILES.values()) + "."
        )
    return pd.read_parquet(path)


def _conversation(session_id: str, roles: list[ChatRole], texts: list[str]) -> Conversation:
    messages = [
        ChatMessage.model_construct(role=role, text=str(text), ts=None)
        for role, text in zip(roles, texts, strict=True)
    ]
    return Conversation.model_construct(
        session_id=session_id, platform=None, shop_id=None, messages=messages
    )


def _stc3(frame: pd.DataFrame) -> dict[str, Conversation]:
    return {
        cid: _conversation(cid, [ChatRole(t["role"]) for t in turns], [t["text"] for t in turns])
        for cid, turns in zip(frame["id"], frame["turns"], strict=True)
    }


def _windows(frame: pd.DataFrame, with_response: bool) -> dict[str, Conversation]:
    out = {}
    for row in frame.itertuples(index=False):
        texts = [*row.context, row.response] if with_response else list(row.context)
        out[row.id] = _conversation(row.id, guess_roles(texts), texts)
    return out


def read_chat_pool(
    folder: Path,
    *,
    exclude: frozenset[str] = frozenset(),
    max_reviews: int = 20_000,
    seed: int = 0,
) -> list[Conversation]:
    """The pool's conversations, leaving out the ids in ``exclude`` (the development set).

    Reviews are single buyer messages; ``max_reviews`` of them are drawn (half negative
    where there are enough), since most carry no risk and they are not dialogues.

    Raises:
        UnreadableFileError: a pool file is missing.
    """
    pool = _stc3(_read(folder, "stc3"))
    pool |= _windows(_read(folder, "jddc"), with_response=False)
    pool |= _windows(_read(folder, "ecd"), with_response=True)
    reviews = _read(folder, "reviews")
    if len(reviews) > max_reviews:
        negative = reviews[reviews["label"] == 0]
        positive = reviews.drop(negative.index)
        take_positive = min(len(positive), max_reviews - min(len(negative), max_reviews // 2))
        reviews = pd.concat(
            [
                negative.sample(n=max_reviews - take_positive, random_state=seed),
                positive.sample(n=take_positive, random_state=seed),
            ]
        )
    for cid, text in zip(reviews["id"], reviews["review"], strict=True):
        pool[str(cid)] = _conversation(str(cid), [ChatRole.BUYER], [str(text)])
    return [conv for cid, conv in pool.items() if cid not in exclude]


#: Id prefixes of the reviews (``os10:…`` online shopping, ``waimai:…`` food delivery).
REVIEW_SOURCES = frozenset({"os10", "waimai"})

#: The hand-labelled sets and their label files.
LABELLED_SETS = {"dev": "risk_dev_labels.csv", "train": "risk_train_labels.csv"}


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """A hand-labelled set of pool conversations.

    Attributes:
        conversations: the conversations, with the readers' buyer turns for role-less ones.
        labels: conversations × labels (``RiskLabel`` order), 0/1.
        evidence: per conversation, each label's evidence message indices.
        source: per conversation, its id's prefix (``stc3``, ``jddcwin``).
    """

    conversations: list[Conversation]
    labels: np.ndarray
    evidence: list[dict[str, list[int]]]
    source: list[str]


def labels_table(name: str = "dev") -> pd.DataFrame:
    """A hand-labelled set's label file (id, labels, evidence, buyer_indices, note)."""
    file = resources.files(__package__).joinpath(LABELLED_SETS[name])
    return pd.read_csv(StringIO(file.read_text("utf-8")), keep_default_na=False, dtype=str)


def labelled_ids(name: str = "dev") -> frozenset[str]:
    """Ids of a hand-labelled set's conversations (never train on the ``dev`` ones)."""
    return frozenset(labels_table(name)["id"])


def read_labelled_set(folder: Path, name: str = "dev") -> LabelledSet:
    """A hand-labelled set's conversations from the pool ``folder``, with their labels.

    Raises:
        UnreadableFileError: a pool file is missing, or lacks a labelled conversation.
    """
    table = labels_table(name)
    stc3 = _read(folder, "stc3").set_index("id")
    jddc = _read(folder, "jddc").set_index("id")
    reviews = None
    columns = {label.value: j for j, label in enumerate(RiskLabel)}
    conversations, evidence, sources = [], [], []
    y = np.zeros((len(table), len(RiskLabel)), dtype=np.int8)
    for i, row in enumerate(table.itertuples(index=False)):
        source = row.id.split(":", 1)[0]
        if source in REVIEW_SOURCES and reviews is None:
            reviews = _read(folder, "reviews").set_index("id")["review"]
        frame = {"stc3": stc3, "jddcwin": jddc}.get(source, reviews)
        if frame is None or row.id not in frame.index:
            raise UnreadableFileError(f"The chat pool in {folder} has no conversation {row.id}.")
        if source == "stc3":
            conversations.append(_stc3(frame.loc[[row.id]].reset_index())[row.id])
        elif source in REVIEW_SOURCES:
            conversations.append(_conversation(row.id, [ChatRole.BUYER], [str(frame.at[row.id])]))
        else:
            texts = list(frame.at[row.id, "context"])
            buyer = {int(k) for k in row.buyer_indices.split("|") if k}
            roles = [ChatRole.BUYER if k in buyer else ChatRole.AGENT for k in range(len(texts))]
            conversations.append(_conversation(row.id, roles, texts))
        for label in filter(None, row.labels.split("|")):
            y[i, columns[label]] = 1
        evidence.append(json.loads(row.evidence or "{}"))
        sources.append(source)
    return LabelledSet(conversations=conversations, labels=y, evidence=evidence, source=sources)
