"""The packaged hand-label files, and the chat pool read from a tiny fake pool in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import features.corpora as corpora
from features.corpora import (
    POOL_FILES,
    REVIEW_SOURCES,
    LabelledSet,
    labelled_ids,
    labels_table,
    read_chat_pool,
    read_labelled_set,
)
from features.errors import UnreadableFileError
from features.schema.vocab import ChatRole, RiskLabel

_VALID = {label.value for label in RiskLabel}

# -- the packaged label files ------------------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "train"])
def table(request) -> pd.DataFrame:
    return labels_table(request.param)


def _labels(cell: str) -> list[str]:
    return [x for x in cell.split("|") if x]


def test_label_file_columns_and_sizes():
    assert list(labels_table("dev").columns) == [
        "id",
        "labels",
        "evidence",
        "buyer_indices",
        "note",
    ]
    assert len(labels_table("dev")) == 400
    assert len(labels_table("train")) > 0
    assert list(labels_table("train").columns) == list(labels_table("dev").columns)


def test_label_file_ids_are_unique_and_from_known_sources(table):
    assert table["id"].is_unique
    assert (table["id"] != "").all()
    assert set(table["id"].str.split(":").str[0]) <= {"stc3", "jddcwin", *REVIEW_SOURCES}


def test_label_file_labels_are_risk_labels_without_repeats(table):
    for cell in table["labels"]:
        labels = _labels(cell)
        assert set(labels) <= _VALID, cell
        assert len(labels) == len(set(labels)), cell


def test_label_file_evidence_keys_equal_the_labels(table):
    for row in table.itertuples(index=False):
        evidence = json.loads(row.evidence or "{}")
        assert isinstance(evidence, dict), row.id
        assert set(evidence) == set(_labels(row.labels)), row.id
        for indices in evidence.values():
            assert indices, row.id  # a label names at least one message
            assert all(isinstance(k, int) and k >= 0 for k in indices), row.id


def test_label_file_jddc_rows_name_their_buyer_turns(table):
    jddc = table[table["id"].str.startswith("jddc")]
    assert len(jddc) > 0
    for row in jddc.itertuples(index=False):
        buyer = [int(k) for k in row.buyer_indices.split("|") if k]
        assert buyer, row.id
        assert buyer == sorted(set(buyer)), row.id
        # evidence is what the buyer wrote, never the agent's words
        for indices in json.loads(row.evidence or "{}").values():
            assert set(indices) <= set(buyer), row.id


def test_dev_and_train_ids_are_disjoint():
    dev, train = labelled_ids("dev"), labelled_ids("train")
    assert len(dev) == 400
    assert dev.isdisjoint(train)


def test_the_dev_set_holds_some_of_every_source():
    sources = labels_table("dev")["id"].str.split(":").str[0].value_counts().to_dict()
    assert sources == {"stc3": 320, "jddcwin": 80}


def test_labels_table_of_an_unknown_set_fails():
    with pytest.raises(KeyError):
        labels_table("test")


# -- a tiny fake chat pool ---------------------------------------------------------------------


def _reviews(n_negative: int, n_positive: int) -> pd.DataFrame:
    n = n_negative + n_positive
    return pd.DataFrame(
        {
            "id": [f"rev:{i}" for i in range(n)],
            "review": [f"review {i}" for i in range(n)],
            "label": [0] * n_negative + [1] * n_positive,
        }
    )


def write_pool(folder: Path, reviews: pd.DataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "id": ["stc3:1", "stc3:2"],
            "turns": [
                [
                    {"role": "buyer", "text": "我要去12315投诉你们"},
                    {"role": "agent", "text": "非常抱歉"},
                    {"role": "buyer", "text": "我还要请律师"},
                ],
                [{"role": "buyer", "text": "手机信号差"}, {"role": "agent", "text": "请重启"}],
            ],
        }
    ).to_parquet(folder / POOL_FILES["stc3"], index=False)
    pd.DataFrame(
        {
            "id": ["jddcwin:test:1", "jddcwin:test:2"],
            "context": [
                ["我的快递丢了", "亲,这边帮您查一下", "一直没人管", "请您稍等"],
                ["在吗", "您好,在的"],
            ],
        }
    ).to_parquet(folder / POOL_FILES["jddc"], index=False)
    pd.DataFrame(
        {
            "id": ["ecd:1"],
            "context": [["这个是正品吗", "亲,保证正品哦"]],
            "response": ["好的我拍了"],
        }
    ).to_parquet(folder / POOL_FILES["ecd"], index=False)
    (_reviews(3, 2) if reviews is None else reviews).to_parquet(
        folder / POOL_FILES["reviews"], index=False
    )
    return folder


@pytest.fixture
def pool(tmp_path) -> Path:
    return write_pool(tmp_path / "chats")


def _roles(conversation) -> list[str]:
    return [m.role.value for m in conversation.messages]


def _texts(conversation) -> list[str]:
    return [m.text for m in conversation.messages]


def test_read_chat_pool_reads_every_source(pool):
    conversations = read_chat_pool(pool)
    by_id = {c.session_id: c for c in conversations}
    assert [c.session_id for c in conversations] == [
        "stc3:1",
        "stc3:2",
        "jddcwin:test:1",
        "jddcwin:test:2",
        "ecd:1",
        "rev:0",
        "rev:1",
        "rev:2",
        "rev:3",
        "rev:4",
    ]
    stc3 = by_id["stc3:1"]
    assert _roles(stc3) == ["buyer", "agent", "buyer"]  # roles given
    assert _texts(stc3) == ["我要去12315投诉你们", "非常抱歉", "我还要请律师"]
    assert stc3.buyer_turns() == [(0, "我要去12315投诉你们"), (2, "我还要请律师")]
    # JDDC: no roles, guessed from the wording
    assert _roles(by_id["jddcwin:test:1"]) == ["buyer", "agent", "buyer", "agent"]
    # ECD: the response is the last message
    assert _texts(by_id["ecd:1"]) == ["这个是正品吗", "亲,保证正品哦", "好的我拍了"]
    assert _roles(by_id["ecd:1"]) == ["buyer", "agent", "buyer"]
    review = by_id["rev:3"]
    assert _roles(review) == ["buyer"]
    assert _texts(review) == ["review 3"]
    assert all(c.platform is None and c.shop_id is None for c in conversations)


def test_read_chat_pool_leaves_out_excluded_ids(pool):
    exclude = frozenset({"stc3:1", "jddcwin:test:2", "ecd:1", "rev:0", "not-in-pool"})
    ids = {c.session_id for c in read_chat_pool(pool, exclude=exclude)}
    assert ids == {"stc3:2", "jddcwin:test:1", "rev:1", "rev:2", "rev:3", "rev:4"}


def test_reviews_are_capped_half_negative(tmp_path):
    folder = write_pool(tmp_path / "chats", reviews=_reviews(20, 10))
    reviews = [c for c in read_chat_pool(folder, max_reviews=8) if c.session_id.startswith("rev")]
    assert len(reviews) == 8
    numbers = [int(c.session_id.split(":")[1]) for c in reviews]
    assert sum(n < 20 for n in numbers) == 4  # negatives are rev:0 … rev:19
    assert len(set(numbers)) == 8


def test_reviews_cap_takes_every_negative_when_there_are_few(tmp_path):
    folder = write_pool(tmp_path / "chats", reviews=_reviews(2, 28))
    reviews = [c for c in read_chat_pool(folder, max_reviews=8) if c.session_id.startswith("rev")]
    numbers = {int(c.session_id.split(":")[1]) for c in reviews}
    assert len(numbers) == 8
    assert {0, 1} <= numbers


def test_reviews_cap_is_seeded(tmp_path):
    folder = write_pool(tmp_path / "chats", reviews=_reviews(20, 10))
    first = [c.session_id for c in read_chat_pool(folder, max_reviews=6, seed=3)]
    again = [c.session_id for c in read_chat_pool(folder, max_reviews=6, seed=3)]
    assert first == again


def test_reviews_under_the_cap_are_all_kept(tmp_path):
    folder = write_pool(tmp_path / "chats", reviews=_reviews(3, 2))
    reviews = [c for c in read_chat_pool(folder, max_reviews=5) if c.session_id.startswith("rev")]
    assert len(reviews) == 5


def test_reviews_cap_with_few_positives(tmp_path):
    folder = write_pool(tmp_path / "chats", reviews=_reviews(28, 2))
    reviews = [c for c in read_chat_pool(folder, max_reviews=8) if c.session_id.startswith("rev")]
    assert len(reviews) == 8


@pytest.mark.parametrize("source", list(POOL_FILES))
def test_a_missing_pool_file_names_pool(pool, source):
    (pool / POOL_FILES[source]).unlink()
    with pytest.raises(UnreadableFileError, match="--pool") as info:
        read_chat_pool(pool)
    assert POOL_FILES[source] in str(info.value)


def test_an_empty_folder_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFileError, match="--pool"):
        read_chat_pool(tmp_path)


# -- a hand-labelled set over the fake pool ------------------------------------------------------


@pytest.fixture
def fake_labels(monkeypatch):
    table = pd.DataFrame(
        {
            "id": ["stc3:1", "jddcwin:test:1", "stc3:2"],
            "labels": ["complaint_threat|legal_threat", "logistics_loss_damage", ""],
            "evidence": [
                json.dumps({"complaint_threat": [0], "legal_threat": [2]}),
                json.dumps({"logistics_loss_damage": [0]}),
                "",
            ],
            "buyer_indices": ["", "0|2", ""],
            "note": ["", "lost parcel", ""],
        }
    )
    names = []

    def fake(name: str = "dev") -> pd.DataFrame:
        names.append(name)
        return table.copy()

    monkeypatch.setattr(corpora, "labels_table", fake)
    return names


def test_read_labelled_set_from_the_pool(pool, fake_labels):
    labelled = read_labelled_set(pool, "train")
    assert fake_labels == ["train"]
    assert isinstance(labelled, LabelledSet)
    assert [c.session_id for c in labelled.conversations] == [
        "stc3:1",
        "jddcwin:test:1",
        "stc3:2",
    ]
    column = list(RiskLabel).index
    expected = np.zeros((3, len(RiskLabel)), dtype=np.int8)
    expected[0, column(RiskLabel.COMPLAINT_THREAT)] = 1
    expected[0, column(RiskLabel.LEGAL_THREAT)] = 1
    expected[1, column(RiskLabel.LOGISTICS_LOSS_DAMAGE)] = 1
    np.testing.assert_array_equal(labelled.labels, expected)
    assert labelled.labels.dtype == np.int8
    assert labelled.evidence == [
        {"complaint_threat": [0], "legal_threat": [2]},
        {"logistics_loss_damage": [0]},
        {},
    ]
    assert labelled.source == ["stc3", "jddcwin", "stc3"]


def test_read_labelled_set_takes_jddc_roles_from_the_readers(pool, fake_labels):
    labelled = read_labelled_set(pool)
    stc3, jddc, _ = labelled.conversations
    assert _roles(stc3) == ["buyer", "agent", "buyer"]
    assert _texts(jddc) == ["我的快递丢了", "亲,这边帮您查一下", "一直没人管", "请您稍等"]
    assert [m.role for m in jddc.messages] == [
        ChatRole.BUYER,
        ChatRole.AGENT,
        ChatRole.BUYER,
        ChatRole.AGENT,
    ]


def test_read_labelled_set_roles_follow_buyer_indices_even_against_the_wording(pool, monkeypatch):
    table = pd.DataFrame(
        {
            "id": ["jddcwin:test:1"],
            "labels": [""],
            "evidence": ["{}"],
            "buyer_indices": ["1"],
            "note": [""],
        }
    )
    monkeypatch.setattr(corpora, "labels_table", lambda name="dev": table)
    [conversation] = read_labelled_set(pool).conversations
    assert _roles(conversation) == ["agent", "buyer", "agent", "agent"]


def test_read_labelled_set_reads_a_review_as_one_buyer_message(tmp_path, monkeypatch):
    reviews = pd.DataFrame(
        {
            "id": ["os10:1", "waimai:2"],
            "review": ["假货，再也不买了", "吃完拉肚子"],
            "label": [0, 0],
        }
    )
    pool = write_pool(tmp_path / "chats", reviews=reviews)
    table = pd.DataFrame(
        {
            "id": ["waimai:2", "stc3:2", "os10:1"],
            "labels": ["safety_injury", "", "counterfeit|extreme_negative_churn"],
            "evidence": [
                json.dumps({"safety_injury": [0]}),
                "{}",
                json.dumps({"counterfeit": [0], "extreme_negative_churn": [0]}),
            ],
            "buyer_indices": ["0", "", "0"],
            "note": ["", "", ""],
        }
    )
    monkeypatch.setattr(corpora, "labels_table", lambda name="dev": table)
    labelled = read_labelled_set(pool)
    food, _, shop = labelled.conversations
    assert _texts(food) == ["吃完拉肚子"] and _roles(food) == ["buyer"]
    assert _texts(shop) == ["假货，再也不买了"] and _roles(shop) == ["buyer"]
    assert labelled.source == ["waimai", "stc3", "os10"]
    assert labelled.labels[2, list(RiskLabel).index(RiskLabel.COUNTERFEIT)] == 1


def test_read_labelled_set_of_a_conversation_not_in_the_pool(pool, monkeypatch):
    table = pd.DataFrame(
        {
            "id": ["stc3:1", "jddcwin:test:99"],
            "labels": ["", ""],
            "evidence": ["{}", "{}"],
            "buyer_indices": ["", "0"],
            "note": ["", ""],
        }
    )
    monkeypatch.setattr(corpora, "labels_table", lambda name="dev": table)
    with pytest.raises(UnreadableFileError, match="jddcwin:test:99"):
        read_labelled_set(pool)


def test_read_labelled_set_missing_file_names_pool(pool, fake_labels):
    (pool / POOL_FILES["jddc"]).unlink()
    with pytest.raises(UnreadableFileError, match="--pool"):
        read_labelled_set(pool)
